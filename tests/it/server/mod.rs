//! The embedded SCIM server: RFC 7643/7644 conformance, durability, the in-process start, and
//! an independent compliance checker.

mod bulk;
mod conformance;
mod durability;
mod embedded;
mod filters;
mod patch;
mod scim2_tester;
