//! The GitHub Actions workflows of `examples/github-actions/`: valid YAML shaped like workflows,
//! every `scimform …` command they run is one the real command line accepts, and their jobs,
//! run step by step under bash with `scimform`, `gh` and `cargo` stubbed, do what each exit
//! code of `scimform plan` calls for.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use scimform::cli::{Cli, Command};
use std::fmt::Write as _;

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
    assert!(count(|c| matches!(c, Command::Doctor(_))) >= 1);
    assert!(
        count(|c| matches!(c, Command::Import(i) if i.out.is_some())) >= 1,
        "the nightly job takes a backup"
    );
    assert!(
        used.iter().any(|(file, c)| file == "scimform-drift.yml"
            && matches!(c, Command::Plan(p) if p.detailed_exitcode && p.fail_on_unmanaged)),
        "the drift check fails on changes and on unmanaged objects"
    );
    // The steps that use the action pass only inputs it declares, and name its commands.
    let inputs = action()["inputs"].as_object().unwrap().clone();
    let mut commands = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let workflow: Value = serde_saphyr::from_str(&text).unwrap();
        for job in workflow["jobs"].as_object().unwrap().values() {
            for step in job["steps"].as_array().unwrap() {
                let Some(action_ref) = step["uses"].as_str() else {
                    continue;
                };
                if !action_ref.contains("/scimform@") {
                    continue;
                }
                assert!(
                    action_ref
                        .rsplit_once('@')
                        .is_some_and(|(_, tag)| tag.starts_with('v')),
                    "{}: pinned to a release tag: {action_ref}",
                    file.display()
                );
                for key in step["with"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    assert!(
                        inputs.contains_key(key),
                        "{}: no input `{key}`",
                        file.display()
                    );
                }
                let command = step["with"]["command"]
                    .as_str()
                    .unwrap_or("plan")
                    .to_owned();
                assert!(["plan", "apply", "install"].contains(&command.as_str()));
                commands.push((file.file_name().unwrap().to_owned(), command));
            }
        }
    }
    for (file, command) in [
        ("scimform-plan.yml", "plan"),
        ("scimform-apply.yml", "apply"),
        ("scimform-drift.yml", "install"),
    ] {
        assert!(
            commands.iter().any(|(f, c)| f == file && c == command),
            "{file} uses the action to {command}: {commands:?}"
        );
    }
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

/// What a job did when run with stubs: the `gh` command lines, and whether it failed.
struct JobRun {
    gh: Vec<String>,
    failed: bool,
}

/// Runs the steps of `job` in `workflow` the way GitHub Actions does, as far as these workflows
/// need: `run` steps under `bash -eo pipefail` in one working folder, `uses` steps skipped, an
/// `if` of the form `steps.ID.outputs.NAME == 'V'` (or `!=`) read from the step's
/// `$GITHUB_OUTPUT`, and no step after a failed one but those whose `if` says `always()`. The
/// stub `scimform plan` prints `plan_output` and exits `plan_code`; every other command
/// succeeds; `gh` prints what `gh_says` for the first pattern its arguments contain.
fn run_job(
    workflow: &str,
    job: &str,
    plan_output: &str,
    plan_code: i32,
    gh_says: &[(&str, &str)],
) -> JobRun {
    let text = std::fs::read_to_string(
        root()
            .join("examples/github-actions/workflows")
            .join(workflow),
    )
    .unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(dir.path().join("plan-output"), plan_output).unwrap();
    let log = dir.path().join("gh.log");
    stub(
        &bin,
        "scimform",
        &format!(
            "if [ \"$1\" = plan ]; then cat '{}'; exit {plan_code}; fi",
            dir.path().join("plan-output").display()
        ),
    );
    // `gh` logs its arguments, and prints what `gh_says` for arguments that contain a pattern.
    let mut answers = String::new();
    for (pattern, says) in gh_says {
        let _ = writeln!(answers, "  *'{pattern}'*) echo '{says}' ;;");
    }
    stub(
        &bin,
        "gh",
        &format!(
            "echo \"gh $*\" >> '{}'\ncase \"$*\" in\n{answers}esac",
            log.display()
        ),
    );
    stub(&bin, "cargo", "true");
    let mut outputs: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
        std::collections::HashMap::new();
    let mut failed = false;
    for step in workflow["jobs"][job]["steps"].as_array().expect("steps") {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let condition = step["if"].as_str().unwrap_or("success()");
        let wanted = condition_holds(condition, &outputs);
        if !(wanted && (!failed || condition.contains("always()"))) {
            continue;
        }
        let output_file = dir.path().join("github-output");
        std::fs::write(&output_file, "").unwrap();
        let mut command = std::process::Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(&work)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("GITHUB_OUTPUT", &output_file);
        for (name, value) in step["env"].as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default();
            // `${{ steps.ID.outputs.NAME }}` is filled in; other expressions stay as written.
            let output = value
                .strip_prefix("${{ steps.")
                .and_then(|rest| rest.strip_suffix(" }}"))
                .and_then(|path| path.split_once(".outputs."))
                .map(|(id, name)| {
                    outputs
                        .get(id)
                        .and_then(|o| o.get(name))
                        .cloned()
                        .unwrap_or_default()
                });
            command.env(name, output.as_deref().unwrap_or(value));
        }
        let status = command.status().unwrap();
        failed |= !status.success();
        if let Some(id) = step["id"].as_str() {
            let written = std::fs::read_to_string(&output_file).unwrap();
            let values = written
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            outputs.insert(id.to_owned(), values);
        }
    }
    let gh = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    JobRun { gh, failed }
}

fn stub(bin: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The conditions these workflows use: `success()`, `always()`, and comparisons of a step's
/// output with a quoted value.
fn condition_holds(
    condition: &str,
    outputs: &std::collections::HashMap<String, std::collections::HashMap<String, String>>,
) -> bool {
    let condition = condition.trim();
    if condition == "success()" || condition == "always()" {
        return true;
    }
    if let Some((left, right)) = condition.split_once("&&") {
        return condition_holds(left, outputs) && condition_holds(right, outputs);
    }
    let (left, equal, right) = if let Some((l, r)) = condition.split_once("==") {
        (l, true, r)
    } else if let Some((l, r)) = condition.split_once("!=") {
        (l, false, r)
    } else {
        panic!("a condition this test does not read: {condition}");
    };
    let path: Vec<&str> = left.trim().split('.').collect();
    let ["steps", id, "outputs", name] = path[..] else {
        panic!("a condition this test does not read: {condition}");
    };
    let value = outputs
        .get(id)
        .and_then(|o| o.get(name))
        .map_or("", String::as_str);
    let expected = right.trim().trim_matches('\'');
    (value == expected) == equal
}

/// The pull request's plan is the one the merge applies: saved as the artifact named after
/// the pull request's head commit, which the merge fetches; and only a label lets it pass the
/// mass-delete guard.
#[test]
fn the_merge_applies_the_plan_reviewed_on_the_pull_request() {
    let text =
        std::fs::read_to_string(root().join("examples/github-actions/workflows/scimform-plan.yml"))
            .unwrap();
    let plan: Value = serde_saphyr::from_str(&text).unwrap();
    let step = plan["jobs"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.contains("/scimform@")))
        .expect("the plan job uses the action")
        .clone();
    assert_eq!(step["with"]["plan-file"], "plan.json");
    assert_eq!(
        step["with"]["artifact"],
        "scimform-plan-${{ github.event.pull_request.head.sha }}"
    );
    assert_eq!(
        step["with"]["allow-mass-delete"],
        "${{ contains(github.event.pull_request.labels.*.name, 'scimform:allow-mass-delete') }}"
    );

    // Merged from pull request 7, whose head was planned by run 99: that run's plan is fetched.
    let merged = run_job(
        "scimform-apply.yml",
        "apply",
        "",
        0,
        &[("commits/", "7"), ("pulls/7", "abc123"), ("run list", "99")],
    );
    assert!(!merged.failed, "{:?}", merged.gh);
    assert!(
        merged.gh.iter().any(|c| c
            .contains("run list --workflow scimform-plan.yml --commit abc123 --status success")),
        "{:?}",
        merged.gh
    );
    assert!(
        merged
            .gh
            .iter()
            .any(|c| c == "gh run download 99 --name scimform-plan-abc123 --dir ."),
        "{:?}",
        merged.gh
    );

    // A push that no pull request made, or a pull request with no plan: nothing is applied.
    let unreviewed = run_job("scimform-apply.yml", "apply", "", 0, &[]);
    assert!(unreviewed.failed);
    assert!(!unreviewed.gh.iter().any(|c| c.contains("run download")));
    let unplanned = run_job(
        "scimform-apply.yml",
        "apply",
        "",
        0,
        &[("commits/", "7"), ("pulls/7", "abc123")],
    );
    assert!(unplanned.failed);
    assert!(!unplanned.gh.iter().any(|c| c.contains("run download")));
}

#[test]
fn the_drift_check_keeps_one_issue_while_the_drift_lasts() {
    for code in [2, 3, 1] {
        // The first night: a new issue, labelled so that later nights find it.
        let first = run_job(
            "scimform-drift.yml",
            "drift",
            "### scimform plan\n",
            code,
            &[],
        );
        assert!(
            first.gh.iter().any(|c| c.contains("issue create")
                && c.contains("--label scimform-drift")
                && c.contains("--body-file drift.md")),
            "exit {code}: {:?}",
            first.gh
        );
        assert!(first.failed, "exit {code}");
        // The nights after: the same issue gets tonight's plan.
        let later = run_job(
            "scimform-drift.yml",
            "drift",
            "### scimform plan\n",
            code,
            &[("issue list", "12")],
        );
        assert!(
            later
                .gh
                .iter()
                .any(|c| c == "gh issue edit 12 --body-file drift.md"),
            "{:?}",
            later.gh
        );
        assert!(!later.gh.iter().any(|c| c.contains("issue create")));
        assert!(later.failed);
    }
    // No drift: the open issue is closed; with none open, nothing is done.
    let gone = run_job(
        "scimform-drift.yml",
        "drift",
        "**scimform plan:** No changes.\n",
        0,
        &[("issue list", "12")],
    );
    assert!(
        gone.gh.iter().any(|c| c.starts_with("gh issue close 12")),
        "{:?}",
        gone.gh
    );
    assert!(!gone.failed);
    let clean = run_job(
        "scimform-drift.yml",
        "drift",
        "**scimform plan:** No changes.\n",
        0,
        &[],
    );
    assert!(
        clean.gh.iter().all(|c| c.contains("issue list")),
        "{:?}",
        clean.gh
    );
    assert!(!clean.failed);
}

/// The repository's own workflow: the release builds every target the install script
/// downloads, and publishes the `SHA256SUMS` it checks.
#[test]
fn the_release_workflow_builds_what_the_install_script_downloads() {
    let path = root().join(".github/workflows/release.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).expect("release.yml is YAML");
    let targets: Vec<&str> = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a build matrix")
        .iter()
        .map(|entry| entry["target"].as_str().expect("a target"))
        .collect();
    let install = std::fs::read_to_string(root().join(".github/install.sh")).unwrap();
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(targets.contains(&target), "release.yml builds {target}");
        assert!(install.contains(target), "install.sh knows {target}");
    }
    let scripts = scripts(&workflow).join("\n");
    assert!(scripts.contains("sha256sum scimform-* > SHA256SUMS"));
    assert!(scripts.contains("scimform-${GITHUB_REF_NAME}-${{ matrix.target }}"));
    assert!(install.contains("scimform-$version-$target.tar.gz"));
}

/// The action (`action.yml` at the repository's root): valid YAML shaped like a composite
/// action, whose `scimform` commands parse with the real CLI, with and without the optional
/// arguments its scripts add.
#[test]
fn the_action_calls_only_commands_that_exist() {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let mut commands = Vec::new();
    for step in action_steps(&action) {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        assert_eq!(step["shell"], "bash", "a composite step names its shell");
        for args in invocations(script) {
            // `"${args[@]}"` is where a script adds the optional arguments.
            let optional: &[&[&str]] = if args.iter().any(|w| w == "${args[@]}") {
                &[&[], &["--provider", "corp"]]
            } else {
                &[&[]]
            };
            for optional in optional {
                let mut args: Vec<String> = args
                    .iter()
                    .filter(|w| w.as_str() != "${args[@]}")
                    .cloned()
                    .collect();
                args.extend(optional.iter().map(|w| (*w).to_owned()));
                let cli = Cli::try_parse_from(&args)
                    .unwrap_or_else(|e| panic!("`{}` does not parse:\n{e}", args.join(" ")));
                commands.push(cli.command);
            }
        }
    }
    assert!(commands.iter().any(|c| matches!(c, Command::Validate(_))));
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Plan(p) if p.detailed_exitcode && p.out.is_some()))
    );
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Apply(a) if a.plan.is_some())),
        "apply runs the saved plan"
    );
    assert!(
        commands.iter().any(|c| matches!(c, Command::Show(_))),
        "and shows it on the run's summary first"
    );
}

fn action() -> Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("action.yml is YAML")
}

fn action_steps(action: &Value) -> Vec<Value> {
    action["runs"]["steps"].as_array().expect("steps").clone()
}

fn action_step(action: &Value, name: &str) -> Value {
    action_steps(action)
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("a step named {name}"))
}

/// Runs the action's Plan step, then its comment step, with stub `scimform` and `gh`: the
/// plan goes on the pull request as one comment, created once and then edited, and a refused
/// plan says so above the plan.
#[test]
fn the_action_keeps_one_plan_comment_per_pull_request() {
    let action = action();
    let plan = action_step(&action, "Plan");
    let comment = action_step(&action, "Comment the plan on the pull request");
    let run = |existing: &str, code: i32| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.path().join("calls.log");
        stub(
            &bin,
            "scimform",
            &format!(
                "echo \"scimform $*\" >> '{log}'; echo '### Plan: 1 to create'; exit {code}",
                log = log.display()
            ),
        );
        stub(
            &bin,
            "gh",
            &format!(
                "echo \"gh $*\" >> '{log}'\ncase \"$*\" in *--paginate*) echo '{existing}' ;; \
                 *body=@*) cp scimform-comment.md '{body}' ;; esac",
                log = log.display(),
                body = dir.path().join("body.md").display()
            ),
        );
        let output = dir.path().join("output");
        let summary = dir.path().join("summary");
        for (step, env) in [
            (
                &plan,
                vec![
                    ("CONFIG", "directory".to_owned()),
                    ("PROVIDER", String::new()),
                    ("PLAN_FILE", "plan.json".to_owned()),
                    ("ALLOW_MASS_DELETE", "true".to_owned()),
                ],
            ),
            (
                &comment,
                vec![
                    ("GH_TOKEN", "t".to_owned()),
                    ("PR", "7".to_owned()),
                    ("CODE", code.to_string()),
                ],
            ),
        ] {
            let status = std::process::Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
                .arg(step["run"].as_str().unwrap())
                .current_dir(dir.path())
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_REPOSITORY", "acme/directory")
                .envs(env)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let calls = std::fs::read_to_string(&log).unwrap();
        let body = std::fs::read_to_string(dir.path().join("body.md")).unwrap();
        let output = std::fs::read_to_string(&output).unwrap();
        (calls, body, output)
    };

    let (calls, body, output) = run("", 2);
    assert!(
        calls.contains(
            "scimform plan -f directory --format markdown --detailed-exitcode --out plan.json \
             --allow-mass-delete"
        ),
        "{calls}"
    );
    assert!(output.contains("exitcode=2"));
    assert!(
        calls.contains("gh api --method POST repos/acme/directory/issues/7/comments"),
        "{calls}"
    );
    assert!(
        body.starts_with("<!-- scimform plan -->\n### Plan: 1 to create"),
        "{body}"
    );

    let (calls, body, _) = run("4242", 1);
    assert!(
        calls.contains("gh api --method PATCH repos/acme/directory/issues/comments/4242"),
        "{calls}"
    );
    assert!(!calls.contains("--method POST"), "{calls}");
    assert!(
        body.contains("refused the plan") && body.contains("### Plan"),
        "{body}"
    );
}
