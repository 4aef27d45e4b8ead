//! The one integration-test binary: every module drives a real `scimform` — the built binary or
//! the library's in-process server — over real HTTP, against the embedded server or an
//! independent one (scim2-server).

mod apply;
mod apply_cmd;
mod audit;
mod client;
mod config;
mod cursor;
mod doctor;
mod files;
mod gitops;
mod hostile;
mod import;
#[cfg(unix)]
mod install;
mod listing;
mod plan;
mod plan_review;
mod profiles;
mod read_path;
mod redaction;
mod saved_plan;
mod schema;
mod server;
mod support;
mod tools;
