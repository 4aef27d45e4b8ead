//! scimform: a Terraform-style reconciler for SCIM 2.0 directories.
//!
//! The data flows one way, and the module list follows it: `config` (raw YAML → validated
//! model) → `state` (what a server holds) → `diff` (pure) → `plan` (ordered ops) → `render`
//! (text / markdown / json) → `apply` → `report`. The SCIM HTTP `client` stands on its own.
//! The embedded server (`scim_server`) and the SCIM vocabulary both sides speak (`scim`) are
//! crates of their own: `docs/architecture.md` shows the crates and which may import which.
//!
//! Two modules read a server for another purpose: `import` writes what `state` read back as
//! config text (the flow reversed, exact because it follows the diff's own rules), and
//! `doctor` probes a provider with the client before anything is planned.

/// What a server that shows no group members does, in the words of every message that says so
/// (`state`'s reasons, the plan's and import's notes): a macro so that messages can extend it
/// with `concat!`.
macro_rules! shows_no_group_members {
    () => {
        "the server shows no group members on GET /Groups or GET /Groups/{id}"
    };
}

pub mod apply;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connect;
pub mod diff;
pub mod digest;
pub mod doctor;
pub mod import;
pub mod log;
pub mod make_plan;
pub mod plan;
pub mod render;
pub mod report;
pub mod scrub;
pub mod state;

/// The seeded generator the randomised tests share with the integration tests.
#[cfg(test)]
#[path = "../tests/it/support/random.rs"]
mod random;

pub use cli::run;
