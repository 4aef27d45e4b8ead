//! Installing a released binary: `scimform --version` names its commit, and
//! `.github/install.sh` (the action's install step) installs a release's archive only when it
//! matches the release's `SHA256SUMS`, from a local fake release served over HTTP.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::support::root;

const VERSION: &str = "v9.8.7";

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    let commit = std::env::var("SCIMFORM_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map_or(commit, |c| c.trim().chars().take(12).collect());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("scimform {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// The target triple the install script picks on this machine, as `uname` says.
fn target() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

/// A release folder laid out as `.github/workflows/release.yml` publishes one: the archive
/// holds `scimform-TAG-TARGET/scimform` and the README; `SHA256SUMS` lists it. The binary is a
/// stand-in that prints a version (this build's is hundreds of megabytes unoptimised).
/// `tamper` changes the archive after its checksum was taken.
fn fake_release(dir: &Path, target: &str, tamper: bool) {
    let name = format!("scimform-{VERSION}-{target}");
    let release = dir.join(VERSION);
    let staging = dir.join("staging").join(&name);
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::create_dir_all(&release).unwrap();
    let binary = staging.join("scimform");
    std::fs::write(
        &binary,
        format!("#!/bin/sh\necho 'scimform {VERSION} (fake)'\n"),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&binary).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&binary, permissions).unwrap();
    std::fs::copy(root().join("README.md"), staging.join("README.md")).unwrap();
    let archive = release.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-C")
        .arg(dir.join("staging"))
        .arg("-czf")
        .arg(&archive)
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&archive).unwrap();
    let sum = Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut sum, b| {
            let _ = write!(sum, "{b:02x}");
            sum
        });
    std::fs::write(
        release.join("SHA256SUMS"),
        format!("{sum}  {name}.tar.gz\n0000  scimform-{VERSION}-other.tar.gz\n"),
    )
    .unwrap();
    if tamper {
        let mut bytes = bytes;
        bytes.extend_from_slice(b"appended");
        std::fs::write(&archive, bytes).unwrap();
    }
}

/// Serves `dir` over HTTP as a release host does: `GET /TAG/FILE`; everything else is a 404.
async fn serve(dir: PathBuf) -> String {
    async fn file(
        State(dir): State<Arc<PathBuf>>,
        UrlPath((tag, name)): UrlPath<(String, String)>,
    ) -> Result<Vec<u8>, StatusCode> {
        if tag.contains("..") || name.contains("..") {
            return Err(StatusCode::NOT_FOUND);
        }
        std::fs::read(dir.join(tag).join(name)).map_err(|_| StatusCode::NOT_FOUND)
    }
    let app = Router::new()
        .route("/{tag}/{name}", axum::routing::get(file))
        .with_state(Arc::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Runs the install script for release `version` off the test's runtime, which serves the
/// release.
async fn install(version: &str, releases: &str, bin_dir: &Path, github_path: &Path) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(root().join(".github/install.sh"))
        .env("SCIMFORM_VERSION", version)
        .env("SCIMFORM_RELEASES_URL", releases)
        .env("SCIMFORM_INSTALL_DIR", bin_dir)
        .env("GITHUB_PATH", github_path)
        .env_remove("SCIMFORM_BUILD_FROM");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_install_script_installs_a_release_that_matches_its_checksums() {
    let Some(target) = target() else {
        eprintln!("no release target for this machine; the install script would build instead");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fake_release(&dir.path().join("releases"), target, false);
    let releases = serve(dir.path().join("releases")).await;
    let bin_dir = dir.path().join("bin");
    let github_path = dir.path().join("github_path");
    let output = install(VERSION, &releases, &bin_dir, &github_path).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The installed binary runs, and the runner's PATH gets its folder.
    let installed = Command::new(bin_dir.join("scimform"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&installed.stdout).trim(),
        format!("scimform {VERSION} (fake)")
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("(fake)"),
        "the script runs what it installed"
    );
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        bin_dir.to_str().unwrap()
    );
}

#[tokio::test]
async fn the_install_script_refuses_an_archive_that_does_not_match_and_installs_nothing() {
    let Some(target) = target() else {
        eprintln!("no release target for this machine; the install script would build instead");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fake_release(&dir.path().join("releases"), target, true);
    let releases = serve(dir.path().join("releases")).await;
    let bin_dir = dir.path().join("bin");
    let github_path = dir.path().join("github_path");
    let output = install(VERSION, &releases, &bin_dir, &github_path).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not match SHA256SUMS") && stderr.contains("nothing was installed"),
        "{stderr}"
    );
    assert!(!bin_dir.join("scimform").exists());
    assert!(!github_path.exists());

    // A version with no release fails, naming what it looked for, unless told to build.
    let output = install("v0.0.0-none", &releases, &bin_dir, &github_path).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!(
            "release v0.0.0-none has no scimform-v0.0.0-none-{target}"
        )),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The action's own install step (`action.yml`), run as GitHub runs it: its `env` with the
/// action's expressions filled in as a runner would for `uses: acme/scimform@v9.8.7`, against
/// the local fake release. The binary lands in `$RUNNER_TEMP/scimform/bin`, on the job's PATH.
#[tokio::test]
async fn the_actions_install_step_installs_the_release_of_its_tag() {
    let Some(target) = target() else {
        eprintln!("no release target for this machine; the install step would build instead");
        return;
    };
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let action: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Install scimform")
        .expect("an install step")
        .clone();
    let dir = tempfile::tempdir().unwrap();
    fake_release(&dir.path().join("releases"), target, false);
    let releases = serve(dir.path().join("releases")).await;
    let runner_temp = dir.path().join("runner-temp");
    let github_path = dir.path().join("github_path");
    let expression = |value: &str| -> String {
        match value {
            "${{ inputs.version || github.action_ref }}" => VERSION.to_owned(),
            "${{ github.action_repository }}" => "acme/scimform".to_owned(),
            "${{ github.action_path }}" => root().display().to_string(),
            "${{ steps.cache.outputs.cache-hit }}" => String::new(),
            other => panic!("an expression this test does not fill in: {other}"),
        }
    };
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(step["run"].as_str().unwrap())
        .env("GITHUB_ACTION_PATH", root())
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_PATH", &github_path)
        // Where the fake release is served; the step itself reads GitHub's.
        .env("SCIMFORM_RELEASES_URL", &releases)
        .env_remove("SCIMFORM_INSTALL_DIR");
    for (name, value) in step["env"].as_object().unwrap() {
        command.env(name, expression(value.as_str().unwrap()));
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bin_dir = runner_temp.join("scimform/bin");
    assert!(bin_dir.join("scimform").exists());
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        bin_dir.to_str().unwrap()
    );
}
