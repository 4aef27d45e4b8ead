//! `scimform validate` on configs with many errors: the time to find and print them all.
//!
//! Each size writes one config file whose providers, users and groups hold that many errors, in
//! equal shares of five kinds: a provider whose token is written literally (each its own, all
//! masked in the snippets), an unknown key in a user (`titel`, with its "did you mean"), a
//! malformed email, a userName declared twice (names differing in case), and a group member
//! that names nobody (one typo away from a declared userName, so that the "did you mean" has to
//! be found among all of them). Then `scimform validate -f FILE` runs as a
//! child process, its stderr read to the end: the table shows its wall time, and checks that
//! every error was printed with its snippet.
//!
//! Sizes default to 10,000 and 100,000 errors; `SCIMFORM_BENCH_ERRORS=1000,16000` picks others.
//! Run with `cargo bench --bench validate`.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

const SIZES_ENV: &str = "SCIMFORM_BENCH_ERRORS";
const DEFAULT_SIZES: [usize; 2] = [10_000, 100_000];
/// Error kinds; each size holds as many of each.
const KINDS: usize = 5;

fn main() {
    let sizes: Vec<usize> = std::env::var(SIZES_ENV).map_or_else(
        |_| DEFAULT_SIZES.to_vec(),
        |list| {
            list.split(',')
                .map(|n| n.trim().parse().expect("sizes are numbers"))
                .collect()
        },
    );
    println!(
        "{:>8} {:>8} {:>10} {:>9} {:>12}",
        "errors", "users", "file", "wall", "stderr"
    );
    for errors in sizes {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("scimform.yaml");
        let (text, users) = config(errors / KINDS);
        std::fs::write(&path, &text).expect("the config is written");
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_scimform"))
            .args(["validate", "-f"])
            .arg(&path)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("scimform runs");
        let wall = started.elapsed();
        let stderr = String::from_utf8(output.stderr).expect("UTF-8");
        let found = stderr.matches("  × ").count();
        let located = stderr.matches("╭─[").count();
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(found, errors / KINDS * KINDS, "every error is reported");
        assert_eq!(located, found, "every error points into the file");
        assert!(stderr.contains(&format!("{found} errors found")));
        assert!(!stderr.contains("-secret"), "no token is shown");
        println!(
            "{:>8} {:>8} {:>7} MB {:>7.2} s {:>9} MB",
            found,
            users,
            text.len() / 1_000_000,
            wall.as_secs_f64(),
            stderr.len() / 1_000_000
        );
    }
}

/// A config with `each` errors of each kind, and the number of users it declares.
fn config(each: usize) -> (String, usize) {
    let mut text = String::from(
        "version: 1\nproviders:\n  local:\n    url: embedded:.scimform/local\n    preset: tonkean\n",
    );
    for i in 0..each {
        let _ = writeln!(
            text,
            "  p{i}:\n    url: https://scim{i}.example.com/scim/v2\n    token: tok-{i:06}-secret"
        );
    }
    text.push_str("users:\n");
    let name = |i: usize| format!("user{i:06}@example.com");
    // Users `0..each` hold an unknown key, `each..2 * each` a malformed email; the others are
    // valid, and the ones the remaining errors are about.
    let users = 3 * each;
    for i in 0..users {
        let _ = writeln!(text, "  - userName: {}", name(i));
        if i < each {
            // An unknown key, one typo from `title`.
            text.push_str("    titel: Analyst\n");
        } else if i < 2 * each {
            // A malformed email: no dot in the domain.
            let _ = writeln!(text, "    emails: [user{i}@example]");
        }
    }
    let valid = 2 * each..users;
    // The valid userNames again, in capitals.
    for i in valid.clone() {
        let _ = writeln!(text, "  - userName: {}", name(i).to_uppercase());
    }
    // Members that name nobody, each one typo away from a valid user.
    text.push_str("groups:\n  - displayName: Everyone\n    members:\n");
    for i in valid {
        let _ = writeln!(text, "      - {}", typo(&name(i)));
    }
    (text, users + each)
}

/// `name` with its `@` doubled: one typo away.
fn typo(name: &str) -> String {
    name.replacen('@', "@@", 1)
}
