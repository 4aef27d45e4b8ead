//! What `scimform plan` tells a reviewer, the real binary against the embedded server over
//! HTTP: a plan the mass-delete guard refuses, shown with every user it would deprovision;
//! unmanaged users and groups by name; warnings about unmanaged users that hold roles and about
//! likely renames; `--fail-on-unmanaged`; one word per action in every format; and renames.
//!
//! Each test applies one config to a fresh store, then plans another against it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Run, run, scimform};

/// Writes `scimform.yaml` in `dir`: provider `local` over the embedded store `store.db` there.
fn config(dir: &Path, provider_extra: &str, rest: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    let text = format!(
        "version: 1\nproviders:\n  local:\n    url: embedded:store.db\n    preset: tonkean\n{provider_extra}{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn scim(config: &Path, args: &[&str]) -> Run {
    run(scimform().args(args).arg("-f").arg(config))
}

/// Applies `rest` to the store in `dir`.
fn seed(dir: &Path, rest: &str) {
    let seeded = config(dir, "", rest);
    let out = scim(&seeded, &["apply", "--auto-approve"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

fn users(names: impl IntoIterator<Item = String>) -> String {
    names
        .into_iter()
        .fold("users:\n".to_owned(), |mut out, name| {
            let _ = writeln!(out, "  - userName: {name}");
            out
        })
}

fn json_of(out: &Run) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", out.stdout, out.stderr))
}

#[test]
fn a_plan_the_guard_refuses_is_shown_with_every_user_it_would_deprovision() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<String> = (0..12).map(|i| format!("u{i:02}@example.com")).collect();
    seed(dir.path(), &users(all.clone()));
    let plan = config(dir.path(), "    prune: true\n", &users([all[0].clone()]));
    let saved = dir.path().join("plan.json");
    let refusal = "provider `local`: the plan would deprovision 11 of its 12 users (92%), more \
                   than max_changes.delete_percent (10%) allows: u01@example.com, \
                   u02@example.com";

    let text = scim(&plan, &["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(text.code, Some(1), "{}", text.stderr);
    for name in &all[1..] {
        assert!(
            text.stdout.contains(&format!(
                "\n  - user {name} (deactivate, pruned)  # PATCH /Users/"
            )),
            "{name} is named: {}",
            text.stdout
        );
    }
    assert!(
        text.stdout
            .contains("Plan: 0 to create, 0 to update, 11 to deactivate, 0 to delete;"),
        "{}",
        text.stdout
    );
    let refused_at = text
        .stdout
        .find(&format!("\nRefused: {refusal}"))
        .expect(&text.stdout);
    assert!(
        refused_at > text.stdout.find("u11@example.com").unwrap(),
        "the refusal comes after the plan"
    );
    assert!(
        text.stderr.contains(&format!("error: {refusal}")),
        "{}",
        text.stderr
    );
    assert!(!saved.exists(), "a refused plan is not saved");

    let markdown = scim(&plan, &["plan", "--format", "markdown"]);
    assert_eq!(markdown.code, Some(1), "{}", markdown.stderr);
    assert!(
        markdown.stdout.starts_with(&format!(
            "### scimform plan: refused\n\n> **Refused:** {}",
            refusal.replace('`', "\\`")
        )),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("<details open><summary>local: 11 changes</summary>")
    );
    for name in &all[1..] {
        assert!(
            markdown.stdout.contains(&format!(
                "\n-   user {name} (deactivate, pruned)  # PATCH /Users/"
            )),
            "{name} is named: {}",
            markdown.stdout
        );
    }

    // JSON is what a saved plan is: a refused plan has none.
    let json = scim(&plan, &["plan", "--format", "json"]);
    assert_eq!(json.code, Some(1));
    assert!(json.stdout.is_empty(), "{}", json.stdout);
    assert!(json.stderr.contains(refusal), "{}", json.stderr);

    // `apply` shows the same refused plan, naming everyone, and sends nothing.
    let applied = scim(&plan, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, Some(1), "{}", applied.stderr);
    for name in &all[1..] {
        assert!(
            applied
                .stdout
                .contains(&format!("\n  - user {name} (deactivate, pruned)")),
            "{name} is named: {}",
            applied.stdout
        );
    }
    assert!(
        applied.stdout.contains(&format!("\nRefused: {refusal}")),
        "{}",
        applied.stdout
    );
    assert!(
        !applied.stdout.contains(" done,"),
        "nothing was sent: {}",
        applied.stdout
    );

    let allowed = scim(&plan, &["plan", "--allow-mass-delete"]);
    assert_eq!(allowed.code, Some(0), "{}", allowed.stderr);
    assert!(!allowed.stdout.contains("Refused"), "{}", allowed.stdout);
}

#[test]
fn unmanaged_users_and_groups_are_named_capped_in_text_collapsed_in_markdown_all_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let strangers: Vec<String> = (1..=25).map(|i| format!("m{i:02}@example.com")).collect();
    let mut all = strangers.clone();
    all.push("keep@example.com".to_owned());
    seed(
        dir.path(),
        &format!(
            "{}groups:\n  - displayName: Interns\n  - displayName: Contractors\n  - displayName: Owners\n",
            users(all)
        ),
    );
    let plan = config(
        dir.path(),
        "",
        "users:\n  - userName: keep@example.com\ngroups:\n  - displayName: Owners\n",
    );

    let text = scim(&plan, &["plan"]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    let mut expected = "  # unmanaged, left alone\n".to_owned();
    for name in &strangers[..20] {
        let _ = writeln!(expected, "    user {name}");
    }
    expected.push_str(
        "    ... and 5 more users (--format json lists every one)\n    group Contractors\n    \
         group Interns\n\nNo changes. The directory matches the configuration. 25 unmanaged \
         users, 2 unmanaged groups left alone.\n",
    );
    assert!(text.stdout.ends_with(&expected), "{}", text.stdout);

    let markdown = scim(&plan, &["plan", "--format", "markdown"]);
    let at = markdown
        .stdout
        .find(
            "<details><summary>local: 25 unmanaged users, 2 unmanaged groups, left alone</summary>",
        )
        .unwrap_or_else(|| panic!("{}", markdown.stdout));
    let details = &markdown.stdout[at..];
    for name in &strangers {
        assert!(details.contains(&format!("\nuser {name}\n")), "{details}");
    }
    assert!(
        details.contains("\ngroup Contractors\ngroup Interns\n"),
        "{details}"
    );

    let json = json_of(&scim(&plan, &["plan", "--format", "json"]));
    assert_eq!(
        json["providers"][0]["unmanaged"],
        json!({
            "users": 25,
            "groups": 2,
            "user_names": strangers,
            "group_names": ["Contractors", "Interns"],
        })
    );
}

#[test]
fn unmanaged_users_that_hold_roles_and_likely_renames_are_warned_about_by_name() {
    let dir = tempfile::tempdir().unwrap();
    seed(
        dir.path(),
        "users:
  - userName: ada@example.com
    emails: [ada@example.com]
  - userName: dave@example.com
    name: { givenName: Dave, familyName: Smith }
  - userName: bob@example.com
  - userName: carol@example.com
groups:
  - displayName: Owners
    members: [bob@example.com, carol@example.com]
roles:
  SYSTEM_USER:
    users: [ada@example.com]
",
    );
    // Ada and Dave renamed, Owners renamed, none with an externalId.
    let plan = config(
        dir.path(),
        "",
        "users:
  - userName: ada.lovelace@example.com
    emails: [ADA@example.com]
  - userName: d.smith@example.com
    name: { givenName: Dave, familyName: Smith }
  - userName: bob@example.com
  - userName: carol@example.com
groups:
  - displayName: Process Owners
    members: [bob@example.com, carol@example.com]
",
    );
    let expected = [
        "user ada.lovelace@example.com looks like a rename of unmanaged user ada@example.com \
         (same email ada@example.com), but no externalId ties them: ada.lovelace@example.com is \
         created and ada@example.com left as it is; declare ada@example.com with absent: true to \
         deprovision it, or give it an externalId and declare that on ada.lovelace@example.com \
         to rename it in place",
        "user d.smith@example.com looks like a rename of unmanaged user dave@example.com (same \
         name Dave Smith), but no externalId ties them",
        "group Process Owners looks like a rename of unmanaged group Owners (the same 2 \
         members), but no externalId ties them: Process Owners is created and Owners left as it \
         is",
        "unmanaged user ada@example.com holds SYSTEM_USER, which the plan leaves as it is \
         (prune: false)",
    ];

    let text = scim(&plan, &["plan"]);
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    for warning in expected {
        assert!(
            text.stdout.contains(&format!("\n  warning: {warning}")),
            "{warning}\n{}",
            text.stdout
        );
    }
    let markdown = scim(&plan, &["plan", "--format", "markdown"]);
    for warning in expected {
        assert!(
            markdown
                .stdout
                .contains(&format!("\n> **warning** (local): {warning}")),
            "{warning}\n{}",
            markdown.stdout
        );
    }
    let json = json_of(&scim(&plan, &["plan", "--format", "json"]));
    assert_eq!(
        json["providers"][0]["warnings"],
        json!([
            {"warning": "likely_rename", "resource": "user", "key": "ada.lovelace@example.com",
             "of": "ada@example.com", "because": "same email ada@example.com", "then": "left_alone"},
            {"warning": "likely_rename", "resource": "user", "key": "d.smith@example.com",
             "of": "dave@example.com", "because": "same name Dave Smith", "then": "left_alone"},
            {"warning": "likely_rename", "resource": "group", "key": "Process Owners",
             "of": "Owners", "because": "the same 2 members", "then": "left_alone"},
            {"warning": "unmanaged_roles", "user": "ada@example.com", "roles": ["SYSTEM_USER"]},
        ])
    );
}

#[test]
fn fail_on_unmanaged_exits_3_when_a_server_holds_what_the_config_does_not_declare() {
    let dir = tempfile::tempdir().unwrap();
    seed(
        dir.path(),
        "users:\n  - userName: ada@example.com\n  - userName: stranger@example.com\n",
    );
    let exit = |rest: &str, args: &[&str]| {
        let plan = config(dir.path(), "", rest);
        let mut all = vec!["plan"];
        all.extend_from_slice(args);
        let out = scim(&plan, &all);
        assert!(out.stderr.is_empty(), "{}", out.stderr);
        out.code
    };
    let converged = "users:\n  - userName: ada@example.com\n";
    let changed = "users:\n  - userName: ada@example.com\n    title: Lead\n";
    let everyone = "users:\n  - userName: ada@example.com\n  - userName: stranger@example.com\n";

    // Under prune: false an unmanaged user is no change: --detailed-exitcode says 0.
    assert_eq!(exit(converged, &["--detailed-exitcode"]), Some(0));
    assert_eq!(exit(converged, &["--fail-on-unmanaged"]), Some(3));
    assert_eq!(
        exit(converged, &["--detailed-exitcode", "--fail-on-unmanaged"]),
        Some(3)
    );
    // Changes pending come first with --detailed-exitcode.
    assert_eq!(
        exit(changed, &["--detailed-exitcode", "--fail-on-unmanaged"]),
        Some(2)
    );
    assert_eq!(exit(changed, &["--fail-on-unmanaged"]), Some(3));
    assert_eq!(exit(everyone, &["--fail-on-unmanaged"]), Some(0));
}

#[test]
fn each_action_has_one_word_in_text_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    seed(
        dir.path(),
        "users:\n  - userName: ada@example.com\n  - userName: bob@example.com\ngroups:\n  - displayName: Old\n",
    );
    let plan = config(
        dir.path(),
        "",
        "users:
  - userName: ada@example.com
    title: Lead
  - userName: bob@example.com
    absent: true
  - userName: dave@example.com
groups:
  - displayName: Old
    absent: true
",
    );
    let text = scim(&plan, &["plan"]).stdout;
    let markdown = scim(&plan, &["plan", "--format", "markdown"]).stdout;
    let json = json_of(&scim(&plan, &["plan", "--format", "json"]));

    let ops: Vec<(String, String)> = json["providers"][0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            (
                op["action"].as_str().unwrap().to_owned(),
                op["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let pair = |action: &str, key: &str| (action.to_owned(), key.to_owned());
    assert_eq!(
        ops,
        [
            pair("update", "ada@example.com"),
            pair("create", "dave@example.com"),
            pair("deactivate", "bob@example.com"),
            pair("delete", "Old"),
        ]
    );
    for (action, count) in [
        ("create", 1),
        ("update", 1),
        ("deactivate", 1),
        ("delete", 1),
    ] {
        assert_eq!(json["summary"][action], count, "{}", json["summary"]);
    }
    let summary = "Plan: 1 to create, 1 to update, 1 to deactivate, 1 to delete; 4 write requests.";
    assert!(text.contains(summary), "{text}");
    assert!(markdown.contains(summary), "{markdown}");
    let server = json["providers"][0]["server"]["url"].as_str().unwrap();
    assert!(server.starts_with("embedded:"), "{server}");
    assert!(
        markdown.contains(&format!(
            "| provider | server | create | update | deactivate | delete | write requests | unmanaged |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n| local | {server} | 1 | 1 | 1 | 1 | 4 | 0 |"
        )),
        "{markdown}"
    );
    // A removal says its action on its line, in the JSON's word.
    assert!(
        text.contains("\n  - user bob@example.com (deactivate, tombstone)  # PATCH"),
        "{text}"
    );
    assert!(
        text.contains("\n  - group Old (delete, tombstone)  # DELETE"),
        "{text}"
    );
    assert!(markdown.contains("\n-   user bob@example.com (deactivate, tombstone)  # PATCH"));
    assert!(markdown.contains("\n-   group Old (delete, tombstone)  # DELETE"));
    // The word format version 1 started with is gone from version 2, as it never was in text.
    assert_eq!(json["summary"]["deactivate"], 1);
    assert_eq!(json["summary"]["delete"], 1);
    assert!(json["summary"].get("destroy").is_none(), "{json}");
    for format in [&text, &markdown] {
        assert!(
            !format.contains("destroy") && !format.contains("to deprovision"),
            "{format}"
        );
    }
}

#[test]
fn a_group_rename_is_shown_as_a_rename_or_a_replacement_with_its_reason() {
    // Renamed with the same externalId: an update that says it renames.
    let dir = tempfile::tempdir().unwrap();
    let members = "users:\n  - userName: ada@example.com\n  - userName: bob@example.com\n";
    seed(
        dir.path(),
        &format!(
            "{members}groups:\n  - displayName: Owners\n    externalId: g-1\n    members: [ada@example.com, bob@example.com]\n"
        ),
    );
    let renamed = format!(
        "{members}groups:\n  - displayName: Process Owners\n    externalId: g-1\n    members: [ada@example.com, bob@example.com]\n"
    );
    let plan = config(dir.path(), "", &renamed);
    let text = scim(&plan, &["plan"]).stdout;
    assert!(
        text.contains(
            "\n  ~ group Process Owners (rename from Owners, same externalId)  # PATCH /Groups/"
        ) && text.contains("\n      ~ displayName: \"Owners\" -> \"Process Owners\"\n"),
        "{text}"
    );
    let markdown = scim(&plan, &["plan", "--format", "markdown"]).stdout;
    assert!(
        markdown.contains("\n!   group Process Owners (rename from Owners, same externalId)"),
        "{markdown}"
    );
    let json = json_of(&scim(&plan, &["plan", "--format", "json"]));
    let op = &json["providers"][0]["ops"][0];
    assert_eq!(op["action"], "update");
    assert_eq!(
        op["changes"],
        json!([{"attribute": "displayName", "old": "Owners", "new": "Process Owners"}])
    );

    // Renamed without an externalId, pruning on: a create and a delete, marked as a
    // replacement, with the reason.
    let dir = tempfile::tempdir().unwrap();
    seed(
        dir.path(),
        &format!(
            "{members}groups:\n  - displayName: Owners\n    members: [ada@example.com, bob@example.com]\n"
        ),
    );
    let plan = config(
        dir.path(),
        "    prune: true\n",
        &format!(
            "{members}groups:\n  - displayName: Process Owners\n    members: [ada@example.com, bob@example.com]\n"
        ),
    );
    let text = scim(&plan, &["plan"]).stdout;
    assert!(
        text.contains(
            "\n  + group Process Owners (replaces Owners: the same 2 members, no externalId)  # POST /Groups\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\n  - group Owners (delete, pruned, replaced by Process Owners)  # DELETE /Groups/"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\n  warning: group Process Owners looks like a rename of group Owners (the same 2 \
             members), but no externalId ties them: Process Owners replaces Owners, which is \
             pruned"
        ),
        "{text}"
    );
    let markdown = scim(&plan, &["plan", "--format", "markdown"]).stdout;
    assert!(
        markdown.contains(
            "\n+   group Process Owners (replaces Owners: the same 2 members, no externalId)"
        ) && markdown.contains("\n-   group Owners (delete, pruned, replaced by Process Owners)"),
        "{markdown}"
    );
    let json = json_of(&scim(&plan, &["plan", "--format", "json"]));
    assert_eq!(
        json["providers"][0]["warnings"],
        json!([{"warning": "likely_rename", "resource": "group", "key": "Process Owners",
                "of": "Owners", "because": "the same 2 members", "then": "replaced"}])
    );
}
