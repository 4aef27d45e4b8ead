//! The GitHub Actions workflows of `examples/github-actions/`: valid YAML shaped like workflows,
//! and every `scimform …` command they run is one the real command line accepts.

use std::path::PathBuf;

use clap::Parser as _;
use scimform::cli::{Cli, Command};
use serde_json::Value;

use crate::support::root;

fn workflows() -> Vec<PathBuf> {
    let dir = root().join("examples/github-actions/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every `run:` script of every step.
fn scripts(workflow: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        assert!(job["runs-on"].is_string(), "each job says where it runs");
        for step in job["steps"].as_array().expect("steps") {
            if let Some(run) = step["run"].as_str() {
                out.push(run.to_owned());
            }
        }
    }
    out
}

/// The `scimform` commands of a shell script: lines (backslash continuations joined) that
/// start with `scimform`, cut at the first redirection, pipe or list operator.
fn invocations(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("scimform "))
        .map(words)
        .collect()
}

/// Splits a shell command into words, honouring quotes, up to the first unquoted `>`, `|`,
/// `;` or `&`.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '>' | '|' | ';' | '&') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    // `2>` leaves its `2` behind.
    if words.last().is_some_and(|w| w == "2") {
        words.pop();
    }
    words
}

#[test]
fn workflows_are_valid_yaml_and_call_only_commands_that_exist() {
    let files = workflows();
    assert_eq!(files.len(), 3, "plan, apply and drift: {files:?}");
    let mut used = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let workflow: Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
        assert!(workflow["name"].is_string(), "{}", file.display());
        assert!(
            workflow.get("on").is_some() || workflow.get("true").is_some(),
            "{} says when it runs",
            file.display()
        );
        for script in scripts(&workflow) {
            for args in invocations(&script) {
                let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| {
                    panic!(
                        "{}: `{}` does not parse:\n{e}",
                        file.display(),
                        args.join(" ")
                    )
                });
                used.push((file.file_name().unwrap().to_owned(), cli.command));
            }
        }
    }
    let count = |f: fn(&Command) -> bool| used.iter().filter(|(_, c)| f(c)).count();
    assert!(count(|c| matches!(c, Command::Validate(_))) >= 1);
    assert!(count(|c| matches!(c, Command::Doctor(_))) >= 1);
    assert!(
        count(|c| matches!(c, Command::Import(i) if i.out.is_some())) >= 1,
        "the nightly job takes a backup"
    );
    assert!(
        count(|c| matches!(c, Command::Plan(p) if p.detailed_exitcode)) >= 2,
        "the PR plan and the drift check use --detailed-exitcode"
    );
    assert!(
        count(|c| matches!(c, Command::Plan(p) if p.out.is_some())) >= 1,
        "apply on merge saves the plan"
    );
    assert!(
        count(|c| matches!(c, Command::Apply(a) if a.plan.is_some())) >= 1,
        "apply on merge applies the saved plan"
    );
    assert!(
        count(|c| matches!(c, Command::Show(_))) >= 1,
        "apply on merge shows the saved plan"
    );
}

#[test]
fn shell_words_are_split_like_a_shell() {
    assert_eq!(
        words(r#"scimform plan -f "my dir" --format markdown > plan.md"#),
        ["scimform", "plan", "-f", "my dir", "--format", "markdown"]
    );
    assert_eq!(
        words("scimform validate -f directory 2>&1 | tee out"),
        ["scimform", "validate", "-f", "directory"]
    );
    assert_eq!(
        invocations("set -e\nscimform apply \\\n  plan.json\necho done"),
        [vec!["scimform", "apply", "plan.json"]]
    );
}

#[test]
fn a_misspelt_flag_would_be_caught() {
    assert!(Cli::try_parse_from(words("scimform plan --detailed-exit-code")).is_err());
    assert!(Cli::try_parse_from(words("scimform drift")).is_err());
}
