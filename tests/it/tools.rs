//! The commands around the config and the binary: `fmt`, `completions` and `man`, run as the
//! built binary.

use std::path::Path;

use crate::support::{run, scimform};

const MESSY: &str = "# the directory\nversion:   1\nproviders:\n  corp:\n      url: https://scim.example.com/scim/v2   # the tenant\n      token: ${CORP_TOKEN}\nusers:\n    -   userName:  ada@example.com\n        displayName: \"Ada\"\n    - {userName: bob@example.com,   active: false}\n";

fn fmt(dir: &Path, args: &[&str]) -> crate::support::Run {
    run(scimform().arg("fmt").args(args).current_dir(dir))
}

#[test]
fn fmt_lays_out_a_config_keeping_comments_order_and_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(&path, MESSY).unwrap();

    let out = fmt(dir.path(), &["--check"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "scimform.yaml is not formatted\n");
    assert!(
        out.stderr.contains("1 of 1 file is not formatted"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        MESSY,
        "--check writes nothing"
    );

    let out = fmt(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "formatted scimform.yaml\n");
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert_ne!(formatted, MESSY);
    for kept in ["# the directory", "# the tenant", "${CORP_TOKEN}"] {
        assert!(formatted.contains(kept), "{kept} kept:\n{formatted}");
    }
    assert!(
        formatted.find("ada@example.com").unwrap() < formatted.find("bob@example.com").unwrap()
    );
    assert!(
        formatted.contains("\n  - userName: ada@example.com\n"),
        "{formatted}"
    );

    assert_eq!(
        fmt(dir.path(), &["--check"]).code,
        Some(0),
        "formatted stays formatted"
    );
    let out = run(scimform().args(["validate"]).current_dir(dir.path()));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn fmt_leaves_a_folder_alone_when_one_file_cannot_be_formatted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), MESSY).unwrap();
    std::fs::write(dir.path().join("b.yaml"), "users: [unclosed\n").unwrap();
    let out = fmt(dir.path(), &["-f", "."]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("b.yaml was not formatted: it does not parse as YAML"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
        MESSY,
        "nothing written"
    );
}

#[test]
fn fmt_does_not_replace_a_symlink_with_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("real.yaml"), MESSY).unwrap();
    std::os::unix::fs::symlink("real.yaml", dir.path().join("scimform.yaml")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), MESSY).unwrap();
    let out = fmt(dir.path(), &["-f", "."]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("it is a symlink"), "{}", out.stderr);
    let link = std::fs::symlink_metadata(dir.path().join("scimform.yaml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still a link");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("real.yaml")).unwrap(),
        MESSY
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() {
    let commands = [
        "validate", "plan", "apply", "show", "import", "doctor", "serve", "schema", "fmt",
    ];
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(scimform().args(["completions", shell]));
        assert_eq!(out.code, Some(0), "{shell}: {}", out.stderr);
        for command in commands {
            assert!(out.stdout.contains(command), "{shell} completes {command}");
        }
        assert!(
            out.stdout.contains("--detailed-exitcode"),
            "{shell} completes plan's flags"
        );
    }
    let out = run(scimform().args(["completions", "tcsh"]));
    assert_eq!(out.code, Some(2), "an unknown shell is a usage error");

    let out = run(scimform().arg("man"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(".TH scimform 1"),
        "a man page: {}",
        &out.stdout[..200]
    );
    for command in commands {
        assert!(
            out.stdout
                .contains(&format!(".SH \"SCIMFORM {}\"", command.to_uppercase())),
            "the man page has a section for {command}"
        );
    }
    assert!(
        out.stdout.contains("detailed\\-exitcode"),
        "and their flags"
    );
}
