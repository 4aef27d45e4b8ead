//! What the integration tests stand on: servers to talk to, and a proxy that breaks things.

pub mod faults;
pub mod peer;
pub mod python;
