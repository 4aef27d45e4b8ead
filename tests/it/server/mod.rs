//! The embedded SCIM server: RFC 7643/7644 conformance, durability, the in-process start,
//! what it checks as it starts, how it holds up against stalled connections, and an independent
//! compliance checker.

mod bulk;
mod conformance;
mod connections;
mod durability;
mod embedded;
mod emulate;
mod filters;
mod patch;
mod scim2_tester;
mod startup;
