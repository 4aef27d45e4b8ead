//! The integration tests: one binary, one module per area.

mod config;
mod schema;
mod support;
