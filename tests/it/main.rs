//! The one integration-test binary: every module drives a real `scimform` — the built binary or
//! the library's in-process server — over real HTTP.

mod server;
mod support;
