//! Integration tests: one binary, linked once, with a module per area.

mod apply;
mod client;
mod support;
