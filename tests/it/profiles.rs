//! Provider profiles end to end (README, Provider profiles): the real binary against
//! `scimform serve --emulate NAME` over HTTP, for every profile in `scim::profile::PROFILES`.
//! A directory applied with `preset: NAME` plans empty, converges after a member removal and a
//! rename, and imports exactly; AWS IAM Identity Center's large group goes in requests the
//! service takes; `validate` refuses what a service refuses; `doctor` tells profiles apart.
//!
//! Limits are read from the profiles, not written here. Nothing depends on how pages are
//! requested: every listing a test makes fits in one page, and larger reads go by filter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reqwest::Method;
use scim::profile::{AWS_IDENTITY_CENTER, GITHUB_EMU, Members, PROFILES, Profile, SLACK, TONKEAN};
use serde_json::Value;

use crate::support::logged_requests;
use crate::support::serve::Serve;
use crate::support::{Run, contents, run, scimform};

const TOKEN_VAR: &str = "PROFILE_TOKEN";

fn profile(name: &str) -> &'static Profile {
    scim::profile::find(name).expect("a known profile")
}

/// `providers:` with one provider `svc` at `base` with `preset: NAME`, paced fast (Slack's
/// documented 3 requests a second would make the test slow), then `rest`.
fn config_text(base: &str, profile: &Profile, rest: &str) -> String {
    format!(
        "version: 1\nproviders:\n  svc:\n    url: {base}\n    token: ${{{TOKEN_VAR}}}\n    \
         preset: {}\n    rate_limit: 1000/s\n{rest}",
        profile.name
    )
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_owned()
}

fn scim(serve: &Serve, args: &[&str]) -> Run {
    run(scimform().env(TOKEN_VAR, &serve.token).args(args))
}

fn scim_on(serve: &Serve, config: &Path, args: &[&str]) -> Run {
    run(scimform()
        .env(TOKEN_VAR, &serve.token)
        .args(args)
        .arg("-f")
        .arg(config))
}

#[track_caller]
fn apply(serve: &Serve, config: &Path) {
    scim_on(serve, config, &["apply", "--auto-approve"]).assert_code(0);
}

#[track_caller]
fn assert_no_changes(serve: &Serve, config: &Path) {
    let plan = scim_on(serve, config, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.code,
        Some(0),
        "the plan has no changes:\n{}\n{}\n{}",
        plan.stdout,
        plan.stderr,
        std::fs::read_to_string(config).unwrap_or_default()
    );
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

/// The id of the user `user_name`, found by filter.
async fn user_id(serve: &Serve, user_name: &str) -> String {
    let found = serve
        .send(
            serve
                .request(Method::GET, "/Users")
                .query(&[("filter", format!("userName eq \"{user_name}\""))]),
        )
        .await;
    assert!(found.status.is_success(), "{}", found.body);
    assert_eq!(found.body["totalResults"], 1, "{user_name}: {}", found.body);
    found.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The displayNames of the groups `id` is a member of, by the member filter the service
/// documents, which every emulation answers.
async fn groups_of(serve: &Serve, profile: &Profile, id: &str) -> BTreeSet<String> {
    let attribute = match profile.members {
        Members::Hidden { filter } => filter,
        Members::Shown => "members.value",
    };
    let found = serve
        .send(
            serve
                .request(Method::GET, "/Groups")
                .query(&[("filter", format!("{attribute} eq \"{id}\""))]),
        )
        .await;
    assert!(found.status.is_success(), "{}", found.body);
    let groups = found.body["Resources"].as_array().unwrap();
    assert_eq!(found.body["totalResults"], groups.len(), "one page");
    groups
        .iter()
        .map(|g| g["displayName"].as_str().unwrap().to_owned())
        .collect()
}

/// Each group's members by userName, as the server holds them: read through the member filter,
/// one request per user, so that it works where groups hide their members.
async fn membership(
    serve: &Serve,
    profile: &Profile,
    users: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for user in users {
        let id = user_id(serve, user).await;
        for group in groups_of(serve, profile, &id).await {
            groups.entry(group).or_default().insert(user.clone());
        }
    }
    groups
}

/// Where a group shows its members, the group listing agrees with the filter.
async fn shown_membership(serve: &Serve) -> BTreeMap<String, BTreeSet<String>> {
    let users = serve.get("/Users").await;
    let names: BTreeMap<&str, &str> = (users.body["Resources"].as_array().unwrap().iter())
        .map(|u| (u["id"].as_str().unwrap(), u["userName"].as_str().unwrap()))
        .collect();
    let groups = serve.get("/Groups").await;
    (groups.body["Resources"].as_array().unwrap().iter())
        .map(|g| {
            let members = (g["members"].as_array().into_iter().flatten())
                .map(|m| names[m["value"].as_str().unwrap()].to_owned())
                .collect();
            (g["displayName"].as_str().unwrap().to_owned(), members)
        })
        .filter(|(_, members): &(String, BTreeSet<String>)| !members.is_empty())
        .collect()
}

/// The role values the server holds for `user_name`, from the profile's role attribute.
async fn roles_of(serve: &Serve, profile: &Profile, user_name: &str) -> BTreeSet<String> {
    let roles = profile.roles.expect("the profile has roles");
    let id = user_id(serve, user_name).await;
    let user = serve.get(&format!("/Users/{id}")).await;
    let values = if roles.schema == scim::urn::USER {
        &user.body[roles.attribute]
    } else {
        &user.body[roles.schema][roles.attribute]
    };
    (values.as_array().into_iter().flatten())
        .map(|v| v.get("value").unwrap_or(v).as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

const USERS: [&str; 4] = [
    "ada@example.com",
    "bob@example.com",
    "carol@example.com",
    "dan@example.com",
];

/// Users with at most the profile's emails and phone numbers, three groups (two with an
/// externalId) and, where the profile has roles, a role held directly and one held through a
/// group. `ops` and `engineering` are the names and members that step 2 changes.
fn directory(profile: &Profile, ops: &str, engineering: &[&str]) -> String {
    let mut out = String::from("users:\n");
    for (i, user) in USERS.iter().enumerate() {
        let given = user.split('@').next().unwrap();
        write!(
            out,
            "  - userName: {user}\n    displayName: {given} Example\n    \
             name: {{ givenName: {given}, familyName: Example }}\n"
        )
        .unwrap();
        // Up to the profile's bound, and never more than two.
        let emails = profile.max_emails.unwrap_or(2).min(2);
        let list: Vec<String> = (0..emails)
            .map(|n| {
                let primary = if n == 0 { ", primary: true" } else { "" };
                format!("{{ value: \"{given}{n}@example.com\", type: work{primary} }}")
            })
            .collect();
        writeln!(out, "    emails: [{}]", list.join(", ")).unwrap();
        if profile.max_phone_numbers.unwrap_or(1) >= 1 {
            writeln!(
                out,
                "    phoneNumbers: [{{ value: \"+1 555 010{i}\", type: work }}]"
            )
            .unwrap();
        }
    }
    write!(out,
        "groups:\n  - displayName: Engineering\n    externalId: eng-1\n    members: [{}]\n  \
         - displayName: {ops}\n    externalId: ops-1\n    members: [bob@example.com, dan@example.com]\n  \
         - displayName: Sales\n    members: [carol@example.com]\n",
        engineering.join(", ")
    ).unwrap();
    if let Some(roles) = profile.roles {
        let first = roles.values[0];
        let last = roles.values[roles.values.len() - 1];
        if first == last {
            write!(
                out,
                "roles:\n  {first}:\n    users: [ada@example.com]\n    groups: [{ops}]\n"
            )
            .unwrap();
        } else {
            write!(
                out,
                "roles:\n  {first}:\n    users: [ada@example.com]\n  {last}:\n    groups: [{ops}]\n"
            )
            .unwrap();
        }
    }
    out
}

/// Steps 1 to 3 of the brief for one profile: apply and plan empty; a member removal and a
/// rename converge, as the server shows; import, plan the import empty, import again the same.
async fn round_trip(profile: &'static Profile) {
    let serve = Serve::emulating(profile);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    let all = ["ada@example.com", "bob@example.com", "carol@example.com"];
    write(
        &config,
        &config_text(&serve.base, profile, &directory(profile, "Ops", &all)),
    );

    applies_and_plans_empty(&serve, profile, &config).await;
    removal_and_rename_converge(&serve, profile, &config).await;
    import_round_trips(&serve, profile, &config, dir.path());
}

/// Step 1: applied, then nothing left to do; the server holds the members and roles declared.
async fn applies_and_plans_empty(serve: &Serve, profile: &Profile, config: &Path) {
    let all = ["ada@example.com", "bob@example.com", "carol@example.com"];
    apply(serve, config);
    assert_no_changes(serve, config);
    let users: Vec<String> = USERS.iter().map(|s| (*s).to_owned()).collect();
    let expected = BTreeMap::from([
        ("Engineering".to_owned(), set(&all)),
        (
            "Ops".to_owned(),
            set(&["bob@example.com", "dan@example.com"]),
        ),
        ("Sales".to_owned(), set(&["carol@example.com"])),
    ]);
    assert_eq!(membership(serve, profile, &users).await, expected);
    if let Some(roles) = profile.roles {
        let (first, last) = (roles.values[0], roles.values[roles.values.len() - 1]);
        assert_eq!(
            roles_of(serve, profile, "ada@example.com").await,
            set(&[first])
        );
        assert_eq!(
            roles_of(serve, profile, "bob@example.com").await,
            set(&[last])
        );
        assert_eq!(
            roles_of(serve, profile, "dan@example.com").await,
            set(&[last])
        );
        assert!(
            roles_of(serve, profile, "carol@example.com")
                .await
                .is_empty()
        );
    }
}

/// Step 2: carol leaves Engineering, Ops becomes Operations (the same externalId): applied, the
/// plan is empty and the server holds what the file says.
async fn removal_and_rename_converge(serve: &Serve, profile: &Profile, config: &Path) {
    let users: Vec<String> = USERS.iter().map(|s| (*s).to_owned()).collect();
    let two = ["ada@example.com", "bob@example.com"];
    write(
        config,
        &config_text(
            &serve.base,
            profile,
            &directory(profile, "Operations", &two),
        ),
    );
    let plan = scim_on(serve, config, &["plan"]);
    plan.assert_code(0);
    assert!(
        plan.stdout.contains("rename from Ops"),
        "a rename, not a create:\n{}",
        plan.stdout
    );
    apply(serve, config);
    assert_no_changes(serve, config);
    let expected = BTreeMap::from([
        ("Engineering".to_owned(), set(&two)),
        (
            "Operations".to_owned(),
            set(&["bob@example.com", "dan@example.com"]),
        ),
        ("Sales".to_owned(), set(&["carol@example.com"])),
    ]);
    assert_eq!(membership(serve, profile, &users).await, expected);
    if profile.members == Members::Shown {
        assert_eq!(shown_membership(serve).await, expected);
    }
    let groups = serve.get("/Groups").await;
    let mut names: Vec<(&str, &str)> = (groups.body["Resources"].as_array().unwrap().iter())
        .map(|g| {
            (
                g["displayName"].as_str().unwrap(),
                g["externalId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("Engineering", "eng-1"),
            ("Operations", "ops-1"),
            ("Sales", "")
        ],
        "the rename kept the group"
    );
    if let Some(roles) = profile.roles {
        let last = roles.values[roles.values.len() - 1];
        assert_eq!(
            roles_of(serve, profile, "dan@example.com").await,
            set(&[last]),
            "the role follows the renamed group"
        );
    }
}

/// Step 3: import into an empty folder, plan it, import again elsewhere: the same text, with the
/// preset and the roles.
fn import_round_trips(serve: &Serve, profile: &Profile, config: &Path, dir: &Path) {
    let first = dir.join("first/");
    let second = dir.join("second/");
    for folder in [&first, &second] {
        let out = scim_on(
            serve,
            config,
            &[
                "import",
                "--provider",
                "svc",
                "-o",
                folder.to_str().unwrap(),
            ],
        );
        out.assert_code(0);
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    }
    assert_no_changes(serve, &first);
    let imported = contents(&first);
    assert_eq!(imported, contents(&second), "import is deterministic");
    let providers = &imported["providers.yaml"];
    assert!(
        providers.contains(&format!("preset: {}", profile.name)),
        "{providers}"
    );
    // The pace the config sets is kept: it is not the one any preset gives.
    assert!(providers.contains("rate_limit: 1000/s"), "{providers}");
    assert!(!providers.contains(&serve.token), "{providers}");
    let groups = &imported["groups.yaml"];
    assert!(
        groups.contains("Operations") && !groups.contains("Ops\n"),
        "{groups}"
    );
    if let Some(roles) = profile.roles {
        let roles_yaml = &imported["roles.yaml"];
        // Import may assign a role through a group whose members all hold it, so only the
        // values are looked for; the empty plan above shows that every holder is kept.
        for value in [roles.values[0], roles.values[roles.values.len() - 1]] {
            assert!(
                roles_yaml.contains(&format!("\n  {value}:\n")),
                "{value} in:\n{roles_yaml}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_profile_is_covered() {
    // The tests below name each profile; a new one must get its own.
    let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "tonkean",
            "aws-identity-center",
            "github-emu",
            "slack",
            "databricks"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tonkean_round_trips() {
    round_trip(profile("tonkean")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_identity_center_round_trips() {
    round_trip(profile("aws-identity-center")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn github_emu_round_trips() {
    round_trip(profile("github-emu")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_round_trips() {
    round_trip(profile("slack")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn databricks_round_trips() {
    round_trip(profile("databricks")).await;
}

/// The group PATCH and POST requests of a saved plan, with their phase.
fn group_writes(plan: &Value) -> Vec<(String, &Value)> {
    let ops = plan["providers"][0]["ops"].as_array().unwrap();
    for op in ops {
        let path = op["request"]["path"].as_str().unwrap();
        assert!(!path.contains("/Bulk"), "no /Bulk: {op}");
    }
    ops.iter()
        .filter(|op| op["resource"] == "group")
        .map(|op| (op["phase"].as_str().unwrap().to_owned(), &op["request"]))
        .collect()
}

/// How many members one PATCH adds and removes, all operations counted; asserts no `replace`
/// and that removals list values (no filter in the path).
fn member_changes(body: &Value) -> usize {
    let mut changes = 0;
    for operation in body["Operations"].as_array().unwrap() {
        let op = operation["op"].as_str().unwrap().to_ascii_lowercase();
        assert_ne!(op, "replace", "{body}");
        let path = operation["path"].as_str().unwrap_or_default();
        if path == "members" {
            changes += operation["value"].as_array().unwrap().len();
        } else {
            assert!(
                !path.starts_with("members["),
                "removal by value list: {body}"
            );
        }
    }
    changes
}

fn big_config(base: &str, members: usize) -> String {
    let users: Vec<String> = (0..150).map(|i| format!("u{i:03}@example.com")).collect();
    let mut rest = String::from("users:\n");
    for user in &users {
        writeln!(rest, "  - userName: {user}").unwrap();
    }
    write!(
        rest,
        "groups:\n  - displayName: Big\n    members: [{}]\n",
        users[..members].join(", ")
    )
    .unwrap();
    config_text(base, &AWS_IDENTITY_CENTER, &rest)
}

/// Applies the plan saved at `saved`, logging requests as JSON; returns them, none a /Bulk.
fn apply_saved(serve: &Serve, saved: &Path) -> Vec<Value> {
    let applied = scim(
        serve,
        &["apply", "--log-format", "json", saved.to_str().unwrap()],
    );
    applied.assert_code(0);
    let requests = logged_requests(&applied.stderr);
    assert!(!requests.is_empty(), "{}", applied.stderr);
    for request in &requests {
        let path = request["path"].as_str().unwrap();
        assert!(!path.starts_with("/Bulk"), "{}", applied.stderr);
    }
    requests
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_identity_center_takes_a_large_group_in_requests_of_100() {
    let profile = &AWS_IDENTITY_CENTER;
    let most = profile
        .group_patch
        .member_changes_per_request
        .expect("AWS bounds member changes");
    assert_eq!(most, 100);
    let serve = Serve::emulating(profile);
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir.path().join("scimform.yaml"),
        &big_config(&serve.base, 150),
    );
    let saved = dir.path().join("create.json");

    // The create carries 100 members, a PATCH the other 50, after it.
    let plan = scim_on(&serve, &config, &["plan", "--out", saved.to_str().unwrap()]);
    plan.assert_code(0);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let writes = group_writes(&document);
    let (phase, create) = &writes[0];
    assert_eq!(
        (phase.as_str(), &create["method"]),
        ("groups", &Value::from("POST"))
    );
    let on_create = create["body"]["members"].as_array().unwrap().len();
    assert_eq!(on_create, most);
    let mut added = on_create;
    for (phase, request) in &writes[1..] {
        assert_eq!(phase, "add_members", "{request}");
        assert_eq!(request["method"], "PATCH");
        let changes = member_changes(&request["body"]);
        assert!(changes <= most, "{changes} member changes: {request}");
        added += changes;
    }
    assert_eq!(added, 150);

    apply_saved(&serve, &saved);
    let users: Vec<String> = (0..150).map(|i| format!("u{i:03}@example.com")).collect();
    let held = membership(&serve, profile, &users).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held["Big"].len(), 150);
    assert_no_changes(&serve, &config);

    // 120 leave: removed by value list, in PATCH requests of at most 100.
    write(&config, &big_config(&serve.base, 30));
    let text = scim_on(&serve, &config, &["plan"]);
    text.assert_code(0);
    let filter = match profile.members {
        Members::Hidden { filter } => filter,
        Members::Shown => unreachable!("AWS hides members"),
    };
    assert!(
        text.stdout.contains(&format!(
            "one GET /Groups?filter={filter} eq \"<user id>\" per user (150 users)"
        )),
        "the plan says how members were read:\n{}",
        text.stdout
    );
    let saved = dir.path().join("remove.json");
    let plan = scim_on(&serve, &config, &["plan", "--out", saved.to_str().unwrap()]);
    plan.assert_code(0);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let writes = group_writes(&document);
    assert!(
        writes.len() >= 2,
        "120 removals take two requests: {writes:?}"
    );
    let mut removed = 0;
    for (phase, request) in &writes {
        assert_eq!(phase, "remove_members", "{request}");
        assert_eq!(request["method"], "PATCH");
        for operation in request["body"]["Operations"].as_array().unwrap() {
            assert_eq!(operation["op"], "remove", "{request}");
            assert_eq!(operation["path"], "members", "{request}");
        }
        let changes = member_changes(&request["body"]);
        assert!(changes <= most, "{changes} member changes: {request}");
        removed += changes;
    }
    assert_eq!(removed, 120);
    let requests = apply_saved(&serve, &saved);
    let patches = (requests.iter())
        .filter(|r| r["method"] == "PATCH" && r["path"].as_str().unwrap().starts_with("/Groups/"))
        .count();
    assert_eq!(patches, writes.len(), "{requests:?}");

    assert_no_changes(&serve, &config);
    let held = membership(&serve, profile, &users).await;
    assert_eq!(held["Big"], users[..30].iter().cloned().collect());
}

/// A config for `validate`, whose provider names a loopback port nothing is sent to.
fn offline(dir: &Path, listener: &std::net::TcpListener, preset: &str, rest: &str) -> PathBuf {
    let base = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    write(
        &dir.join("scimform.yaml"),
        &format!(
            "version: 1\nproviders:\n  {preset}:\n    url: {base}\n    token: ${{{TOKEN_VAR}}}\n    \
             preset: {preset}\n{rest}"
        ),
    )
}

/// Validates `config` and returns its JSON report and text output; asserts it failed and that
/// no connection reached `listener`.
fn validate_fails(config: &Path, listener: &std::net::TcpListener) -> (Value, Run) {
    let json = run(scimform()
        .args(["validate", "--format", "json", "-f"])
        .arg(config));
    json.assert_code(1);
    let text = run(scimform().args(["validate", "-f"]).arg(config));
    text.assert_code(1);
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "validate connected to the provider"
    );
    (serde_json::from_str(&json.stdout).unwrap(), text)
}

/// The 1-based line of the `nth` line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle} in {text}"))
        .0
        + 1
}

#[test]
fn a_second_email_on_aws_identity_center_is_refused_at_its_line() {
    assert_eq!(AWS_IDENTITY_CENTER.max_emails, Some(1));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = offline(
        dir.path(),
        &listener,
        AWS_IDENTITY_CENTER.name,
        "users:\n  - userName: ada@example.com\n    emails:\n      - ada@example.com\n      \
         - ada.lovelace@example.com\n  - userName: bob@example.com\n    emails: [bob@example.com]\n",
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let line = line_of(&text, "ada.lovelace@example.com", 0);
    let (report, out) = validate_fails(&config, &listener);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["line"], line, "{report}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("`aws-identity-center`"), "{message}");
    assert!(
        out.stderr.contains(&format!("scimform.yaml:{line}:")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_role_github_emu_does_not_have_is_refused_at_its_line() {
    let roles = GITHUB_EMU.roles.expect("GitHub EMU has roles");
    assert!(!roles.values.contains(&"admin"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = offline(
        dir.path(),
        &listener,
        GITHUB_EMU.name,
        &format!(
            "users:\n  - userName: ada@example.com\nroles:\n  {}:\n    users: [ada@example.com]\n  \
             admin:\n    users: [ada@example.com]\n",
            roles.values[0]
        ),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let line = line_of(&text, "admin:", 0);
    let (report, out) = validate_fails(&config, &listener);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["line"], line, "{report}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("`admin`") && message.contains("`github-emu`"),
        "{message}"
    );
    assert!(
        out.stderr.contains(&format!("scimform.yaml:{line}:")),
        "{}",
        out.stderr
    );
}

/// `scimform serve --emulate aws-identity-center` holding a group with a member, so that
/// doctor can see that groups hide their members.
async fn aws_with_a_group() -> Serve {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let ada = serve.user("ada@example.com").await;
    serve.group("Owners", &[&ada]).await;
    serve
}

fn doctor(serve: &Serve, dir: &Path, preset: &str, extra: &str) -> Run {
    let config = write(
        &dir.join("scimform.yaml"),
        &format!(
            "version: 1\nproviders:\n  svc:\n    url: {}\n    token: ${{{TOKEN_VAR}}}\n    \
             preset: {preset}\n{extra}",
            serve.base
        ),
    );
    scim_on(serve, &config, &["doctor", "--provider", "svc"])
}

/// The report line of check `name`.
fn check_line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("a `{name}` line in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_knows_an_emulated_aws_identity_center() {
    let serve = aws_with_a_group().await;
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&serve, dir.path(), AWS_IDENTITY_CENTER.name, "");
    out.assert_code(0);
    let line = check_line(&out.stdout, "profile");
    assert!(line.starts_with("  ✓"), "{line}");
    assert!(
        line.contains("behaves like `aws-identity-center`") && line.contains("as the config says"),
        "{line}"
    );
}

/// A plain server whose groups are all empty shows no member either: doctor cannot tell it
/// from one that hides them, says so, and does not hold it against a profile whose groups
/// show their members.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_does_not_take_empty_groups_for_hidden_members() {
    let serve = Serve::start();
    serve.user("ada@example.com").await;
    serve.group("Owners", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&serve, dir.path(), TONKEAN.name, "");
    let members = check_line(&out.stdout, "group");
    assert!(
        members.contains("(or every group read is empty)"),
        "{members}"
    );
    let line = check_line(&out.stdout, "profile");
    assert!(!line.contains("hides group members"), "{line}");
    assert!(line.starts_with("  ✓"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_warns_when_the_preset_names_another_service() {
    let serve = aws_with_a_group().await;
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&serve, dir.path(), SLACK.name, "");
    let line = check_line(&out.stdout, "profile");
    assert!(!line.starts_with("  ✓"), "a warning: {line}");
    assert!(line.contains("the config names `slack`"), "{line}");
    assert!(line.contains("it hides group members"), "{line}");
    assert!(
        line.contains(&format!(
            "its pages hold up to {}, not {}",
            AWS_IDENTITY_CENTER.paging.max_count, SLACK.paging.max_count
        )),
        "{line}"
    );
    assert!(
        line.contains("behaves like `aws-identity-center`"),
        "{line}"
    );

    // Slack's documented rate is the provider's pacing unless the config sets one.
    let rate = SLACK.rate_limit.expect("Slack documents a rate");
    let pacing = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("pacing"))
        .unwrap_or_else(|| panic!("a pacing line in:\n{}", out.stdout));
    assert!(pacing.contains(&format!("at most {rate}/s")), "{pacing}");
    let out = doctor(&serve, dir.path(), SLACK.name, "    rate_limit: 1000/s\n");
    let pacing = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("pacing"))
        .unwrap();
    assert!(pacing.contains("at most 1000/s"), "{pacing}");
}
