//! What `scimform serve` checks and creates as it starts: a token strong enough, private files
//! never written through a symbolic link, and a warning when it listens beyond loopback.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use reqwest::StatusCode;

use crate::support::serve::{Options, Serve, command};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `scimform serve ARGS`, which must refuse to start: its exit code and stderr. A server
/// that starts instead is stopped and reported.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let mut child = command(&Options {
        args,
        ..Options::default()
    })
    .args(["--listen", "127.0.0.1:0"])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("scimform serve {args:?} started instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(stdout.is_empty(), "no base URL is printed: {stdout}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

#[test]
fn a_short_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    for (token, length) in [("t", "1 character"), ("0123456789abcde\n", "15 characters")] {
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, token).unwrap();
        let (code, stderr) = refused(&[
            "--store",
            store.to_str().unwrap(),
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains(&format!("is {length} long")), "{stderr}");
        assert!(stderr.contains("at least 16 characters"), "{stderr}");
        if token.trim().len() > 1 {
            assert!(
                !stderr.contains(token.trim()),
                "the token is not shown: {stderr}"
            );
        }
    }
    assert!(
        !store.exists(),
        "nothing is created before the token is accepted"
    );
}

#[test]
fn a_token_file_with_a_byte_order_mark_and_spaces_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "\u{feff}  test-token-0123456789 \t\r\n").unwrap();
    let serve = Serve::start_on(&dir.path().join("s.db"), &token_file);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        serve
            .client
            .get(format!("{}/Users", serve.base))
            .header("Authorization", "Bearer test-token-0123456789")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn the_store_and_its_folder_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new").join("folder");
    let store = folder.join("s.db");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token-0123456789").unwrap();
    let serve = Serve::start_on(&store, &token_file);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A write, so that SQLite has made its WAL and shared-memory files.
    runtime.block_on(serve.user("ada"));
    assert_eq!(mode(&store), 0o600);
    for companion in ["-wal", "-shm"] {
        let path = folder.join(format!("s.db{companion}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
}

#[test]
fn a_store_made_by_an_older_version_is_narrowed_to_0600() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    std::fs::write(&store, "").unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token-0123456789").unwrap();
    let _serve = Serve::start_on(&store, &token_file);
    assert_eq!(mode(&store), 0o600);
}

#[test]
fn a_symlinked_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token-0123456789").unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "not a database").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The store itself, a dangling link, and a link in place of SQLite's WAL file.
    let linked = dir.path().join("linked.db");
    std::os::unix::fs::symlink(&target, &linked).unwrap();
    let dangling = dir.path().join("dangling.db");
    std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
    let wal_store = dir.path().join("wal.db");
    std::os::unix::fs::symlink(&target, dir.path().join("wal.db-wal")).unwrap();
    for (store, link) in [
        (&linked, linked.clone()),
        (&dangling, dangling.clone()),
        (&wal_store, dir.path().join("wal.db-wal")),
    ] {
        let (code, stderr) = refused(&[
            "--store",
            store.to_str().unwrap(),
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "refusing {}: it is a symbolic link",
                link.display()
            )),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not a database");
    assert_eq!(mode(&target), 0o644);
    assert!(!dir.path().join("nothing").exists());
}

#[test]
fn a_symlinked_token_file_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("s.db.token")).unwrap();
    let (code, stderr) = refused(&["--store", store.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("it is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert_eq!(mode(&target), 0o644);
}

/// Starts `scimform serve --listen ADDR`, waits for its base URL, stops it, and returns what
/// it wrote to stderr.
fn stderr_when_listening_on(addr: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token-0123456789").unwrap();
    let mut child = command(&Options::default())
        .args(["--listen", addr, "--store"])
        .arg(dir.path().join("s.db"))
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(base.starts_with("http://"), "{base} {stderr}");
    stderr
}

#[test]
fn listening_beyond_loopback_is_warned_about() {
    let everywhere = stderr_when_listening_on("0.0.0.0:0");
    assert!(
        everywhere.contains("warning: listening on 0.0.0.0:")
            && everywhere.contains("every network interface")
            && everywhere.contains("plain HTTP"),
        "{everywhere}"
    );
    let local = stderr_when_listening_on("127.0.0.1:0");
    assert!(!local.contains("warning"), "{local}");
}
