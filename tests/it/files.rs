//! The files scimform reads besides the config's YAML: token files, and the entries of a `-f`
//! folder. Only regular files are read; a FIFO, a device, a directory, a dangling symlink or a
//! symlink loop is refused with its name and what it is, never skipped and never waited on.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use scimform::config::{self, LoadOptions, Style};
use secrecy::ExposeSecret;

use crate::support::{Run, run, scimform};

/// Long enough for any machine; reached only when reading blocks, which is the bug.
const WATCHDOG: Duration = Duration::from_secs(60);

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// `scimform validate -f PATH`, killed by the watchdog if it blocks.
fn validate(path: &Path) -> Run {
    run(scimform()
        .args(["validate", "-f"])
        .arg(path)
        .timeout(WATCHDOG))
}

const PROVIDER: &str = "version: 1\nproviders:\n  p:\n    url: https://scim.example.com/scim/v2\n    token_file: token\n";

/// A config whose provider reads its token from `dir/token`.
fn config_in(dir: &Path) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(&path, PROVIDER).unwrap();
    path
}

/// The provider's token, or the rendered error, read on another thread so that a read that
/// blocks fails the test instead of hanging it.
fn resolve(config: &Path) -> Result<String, String> {
    let config = config::load(config, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", config::render(&e.0, Style::Plain)));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let provider = config.provider("p").unwrap();
        let result = provider
            .resolve_token()
            .map(|token| token.unwrap().expose_secret().to_owned())
            .map_err(|e| config::render(&[e], Style::Plain));
        let _ = sender.send(result);
    });
    receiver
        .recv_timeout(WATCHDOG)
        .expect("reading the token file does not block")
}

#[test]
fn token_files_are_trimmed_of_whitespace_and_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    for written in [
        "tok-3f9a\n",
        "\u{feff}tok-3f9a\r\n",
        "  \t tok-3f9a \t \n\n",
        "\u{feff} tok-3f9a\u{feff}",
    ] {
        std::fs::write(dir.path().join("token"), written).unwrap();
        assert_eq!(resolve(&config).as_deref(), Ok("tok-3f9a"), "{written:?}");
    }
}

#[test]
fn token_files_that_are_not_regular_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let token = dir.path().join("token");

    mkfifo(&token);
    let error = resolve(&config).unwrap_err();
    assert!(
        error.contains("is a FIFO (named pipe), not a regular file"),
        "{error}"
    );
    std::fs::remove_file(&token).unwrap();

    std::fs::create_dir(&token).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(
        error.contains("is a directory, not a regular file"),
        "{error}"
    );
    std::fs::remove_dir(&token).unwrap();

    // An endless device: refused for what it is, not read up to a limit.
    symlink("/dev/zero", &token).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(error.contains("is a device, not a regular file"), "{error}");
    std::fs::remove_file(&token).unwrap();

    symlink("nowhere", &token).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(
        error.contains("is a symlink to nowhere, which does not exist"),
        "{error}"
    );
    assert!(error.contains("scimform.yaml:5:17"), "located: {error}");
}

#[test]
fn token_files_are_bounded_and_their_content_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let token = dir.path().join("token");
    let secret = "s3cr3t-t0k3n";

    std::fs::write(&token, secret.repeat(64 * 1024 / secret.len() + 1)).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(error.contains("is larger than 64 KiB"), "{error}");

    std::fs::write(&token, format!("{secret}\nsecond-{secret}\n")).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(error.contains("holds more than one line"), "{error}");

    let mut bytes = secret.as_bytes().to_vec();
    bytes.push(0xff);
    std::fs::write(&token, bytes).unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(error.contains("is not UTF-8 text"), "{error}");
    assert!(!error.contains(secret), "{error}");

    std::fs::write(&token, "\u{feff} \n\t\n").unwrap();
    let error = resolve(&config).unwrap_err();
    assert!(error.contains("is empty"), "{error}");

    // Exactly at the limit is read.
    let at_limit = format!("{}{secret}", " ".repeat(64 * 1024 - secret.len()));
    std::fs::write(&token, at_limit).unwrap();
    assert_eq!(resolve(&config).as_deref(), Ok(secret));
}

/// A folder whose config files include one that is not a regular file: each is an error that
/// names it and says what it is, and the rest are still checked.
#[test]
fn folder_entries_that_are_not_regular_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    std::fs::write(
        folder.join("providers.yaml"),
        "version: 1\nproviders:\n  local:\n    url: embedded:store\n",
    )
    .unwrap();
    symlink("gone/users.yaml", folder.join("users.yaml")).unwrap();
    symlink("loop-b.yaml", folder.join("loop-a.yaml")).unwrap();
    symlink("loop-a.yaml", folder.join("loop-b.yaml")).unwrap();
    mkfifo(&folder.join("pipe.yaml"));
    std::fs::create_dir(folder.join("nested.yml")).unwrap();
    // Not a config file by name: left alone, whatever it is.
    mkfifo(&folder.join("notes.txt"));

    let out = validate(folder);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let name = |file: &str| folder.join(file).display().to_string();
    for expected in [
        format!(
            "{} is a symlink to gone/users.yaml, which does not exist",
            name("users.yaml")
        ),
        format!(
            "{} is a symlink loop: following it leads back to a link",
            name("loop-a.yaml")
        ),
        format!(
            "{} is a symlink loop: following it leads back to a link",
            name("loop-b.yaml")
        ),
        format!(
            "{} is a FIFO (named pipe), not a regular file",
            name("pipe.yaml")
        ),
        format!("{} is a directory, not a regular file", name("nested.yml")),
    ] {
        assert!(out.stderr.contains(&expected), "{expected}\n{}", out.stderr);
    }
    assert!(out.stderr.contains("5 errors found"), "{}", out.stderr);
    assert!(!out.stderr.contains("notes.txt"), "{}", out.stderr);
}

#[test]
fn a_fifo_given_as_the_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("scimform.yaml");
    mkfifo(&fifo);
    let out = validate(&fifo);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} is a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{}",
        out.stderr
    );

    let link = dir.path().join("link.yaml");
    symlink("link.yaml", &link).unwrap();
    let out = validate(&link);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("is a symlink loop"), "{}", out.stderr);
}
