//! Helpers shared by the integration tests.

pub mod faults;
pub mod limiter;
pub mod peer;
pub mod python;
pub mod random;
pub mod rewrite;
pub mod serve;

use assert_cmd::Command;
use std::path::Path;

/// The repository root: tests run the binary from here so that paths in its output are
/// relative and snapshots are stable.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `scimform` binary, run from the repository root, without colour.
pub fn scimform() -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("scimform");
    cmd.current_dir(root()).env("NO_COLOR", "1");
    cmd
}

/// What a command printed and how it ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that the command ended with `code`, showing what it printed if not.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("the scimform binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `scimform ARGS -f CONFIG` with `token` in the environment variable `var`, off the async
/// runtime, so that the servers and proxies a test runs on its runtime keep serving.
pub async fn run_off_runtime(config: &Path, var: &str, token: &str, args: &[&str]) -> Run {
    let (config, var, token) = (config.to_owned(), var.to_owned(), token.to_owned());
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        run(scimform()
            .env(var, token)
            .args(&args)
            .arg("-f")
            .arg(&config))
    })
    .await
    .unwrap()
}

/// The requests of a `--log-format json` log on stderr, each a JSON object.
pub fn logged_requests(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request")
        .collect()
}

/// The files of `folder`, by name, in name order.
pub fn listing(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The text of each file of `folder`, by name.
pub fn contents(folder: &Path) -> std::collections::BTreeMap<String, String> {
    listing(folder)
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(folder.join(&name)).unwrap();
            (name, text)
        })
        .collect()
}
