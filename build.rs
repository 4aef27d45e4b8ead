//! Records the commit the binary is built from, for `scimform --version`.
//!
//! `SCIMFORM_COMMIT` in the build's environment wins (a release build sets it to the tagged
//! commit); otherwise the commit git checked out; otherwise (a source archive without `.git`)
//! `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SCIMFORM_COMMIT");
    let commit = match std::env::var("SCIMFORM_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().chars().take(12).collect(),
        _ => match git(&["rev-parse", "--short=12", "HEAD"]) {
            Some(commit) => {
                // Built again when HEAD moves: a commit, a checkout or a reset writes its log.
                if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
                    println!("cargo:rerun-if-changed={dir}/HEAD");
                    println!("cargo:rerun-if-changed={dir}/logs/HEAD");
                }
                commit
            }
            None => "unknown".to_owned(),
        },
    };
    println!(
        "cargo:rustc-env=SCIMFORM_VERSION_LONG={} ({commit})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
}
