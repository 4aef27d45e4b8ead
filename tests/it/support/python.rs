//! The Python tools the tests run against `scimform serve`: `scim2-cli` with `scim2-tester`
//! (and `scim2-server`, an independent peer), pinned, in a virtualenv.
//!
//! `$SCIMFORM_TEST_VENV` names a prepared venv. Otherwise one is created once under the target
//! directory (`target/test-venv`), behind a file lock so that concurrent test processes neither
//! race nor install twice. Missing `python3` or a failed install fails the test loudly: these
//! checks are part of the suite, never silently skipped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

const REQUIREMENTS_FILE: &str = include_str!("../../peers/requirements.txt");

/// The pinned packages, as `.ci/run` installs them: `tests/peers/requirements.txt`.
pub fn requirements() -> Vec<&'static str> {
    REQUIREMENTS_FILE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The venv's root; its `bin/scim2` is ready to run.
pub fn venv() -> PathBuf {
    if let Some(path) = std::env::var_os("SCIMFORM_TEST_VENV") {
        let path = PathBuf::from(path);
        assert!(
            path.join("bin/scim2").exists(),
            "SCIMFORM_TEST_VENV={} has no bin/scim2; install {} into it",
            path.display(),
            requirements().join(" ")
        );
        return path;
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target tmp dir lies in the target dir")
        .to_owned();
    let venv = target.join("test-venv");
    let lock = File::create(target.join("test-venv.lock")).expect("create the venv lock file");
    lock.lock().expect("lock the venv");
    let marker = venv.join("scimform-requirements.txt");
    let wanted = requirements().join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return venv;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to create the test venv ({e}); install python3 with venv and pip, or set SCIMFORM_TEST_VENV")
        });
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements())
        .status()
        .unwrap_or_else(|e| panic!("pip is missing from the venv {} ({e})", venv.display()));
    assert!(
        status.success(),
        "pip install {} failed",
        requirements().join(" ")
    );
    std::fs::write(&marker, wanted).expect("write the venv marker");
    venv
}
