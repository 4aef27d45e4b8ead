//! The Python environment the peer servers run in.
//!
//! `$SCIMFORM_TEST_VENV` names a ready one (CI builds it once); otherwise one is made in
//! `target/test-venv` from `tests/peers/requirements.txt`, once, under a file lock that
//! serializes the test processes that need it at the same time.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A virtual environment with the packages of `tests/peers/requirements.txt` installed.
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(path) = std::env::var_os("SCIMFORM_TEST_VENV") {
            return PathBuf::from(path);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = root.join("target");
        std::fs::create_dir_all(&target).expect("create target/");
        let venv = target.join("test-venv");
        let lock: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(target.join("test-venv.lock"))
            .expect("open the venv lock file");
        lock.lock().expect("lock the venv");
        let ready = venv.join(".ready");
        if !ready.exists() {
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
            run(Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(root.join("tests/peers/requirements.txt")));
            std::fs::write(&ready, "").expect("mark the venv ready");
        }
        lock.unlock().expect("unlock the venv");
        venv
    })
    .clone()
}

fn run(command: &mut Command) {
    let status = command.status().expect("run a Python setup step");
    assert!(status.success(), "{command:?} failed: {status}");
}
