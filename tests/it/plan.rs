//! `scimform plan`, the real binary against real servers: scim2-server (Tonkean-shaped) and the
//! embedded server. The costs of reading and writing (README, Plans) are asserted exactly: the
//! requests each server received and the writes the plan announces.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::rewrite::{Rewriter, raw_json};
use crate::support::{Run, run, scimform};

/// A config naming the peer as provider `tonkean`, its token from `$PEER_TOKEN`.
fn peer_config(dir: &Path, peer: &PeerServer, provider_extra: &str, rest: &str) -> PathBuf {
    config_at(dir, &peer.base_url, provider_extra, rest)
}

/// A config naming the server at `url` as provider `tonkean`, its token from `$PEER_TOKEN`.
fn config_at(dir: &Path, url: &str, provider_extra: &str, rest: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    let text = format!(
        "version: 1\nproviders:\n  tonkean:\n    url: {url}\n    token: ${{PEER_TOKEN}}\n    preset: tonkean\n{provider_extra}{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn plan(config: &Path, extra: &[&str]) -> Run {
    run(scimform()
        .env("PEER_TOKEN", PEER_TOKEN)
        .arg("plan")
        .arg("-f")
        .arg(config)
        .args(extra))
}

/// The plan as JSON, asserting the command succeeded.
fn plan_json(config: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = plan(config, &args);
    assert!(
        matches!(out.code, Some(0 | 2)),
        "plan failed ({:?}): {}",
        out.code,
        out.stderr
    );
    serde_json::from_str(&out.stdout).expect("--format json prints JSON")
}

/// (action, key, method) of every op of the first provider.
fn ops(plan: &Value) -> Vec<(String, String, String)> {
    plan["providers"][0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            (
                op["action"].as_str().unwrap().to_owned(),
                op["key"].as_str().unwrap().to_owned(),
                op["request"]["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn op(action: &str, key: &str, method: &str) -> (String, String, String) {
    (action.into(), key.into(), method.into())
}

const CONVERGED: &str = "users:
  - userName: ada@example.com
    title: Analyst
    emails: [ADA@example.com]
  - userName: bob@example.com
    active: true
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com]
roles:
  SYSTEM_USER:
    users: [ada@example.com]
  PROCESS_CONTRIBUTOR:
    groups: [Owners]
";

async fn seed_converged(peer: &PeerServer) {
    let ada = peer
        .user(json!({
            "userName": "ada@example.com", "title": "Analyst",
            "emails": [{"value": "ada@example.com", "type": "work"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["PROCESS_CONTRIBUTOR", "SYSTEM_USER"]}
        }))
        .await;
    let bob = peer
        .user(json!({
            "userName": "bob@example.com", "active": true,
            "urn:scim:tonkean": {"tonkeanRoles": ["PROCESS_CONTRIBUTOR"]}
        }))
        .await;
    peer.group("Owners", &[&ada, &bob]).await;
}

#[tokio::test]
async fn a_converged_directory_costs_three_reads_and_no_write() {
    let peer = PeerServer::start();
    seed_converged(&peer).await;
    let dir = tempfile::tempdir().unwrap();
    let config = peer_config(dir.path(), &peer, "", CONVERGED);
    let before = peer.requests().len();

    let out = plan(&config, &["--detailed-exitcode"]);

    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
    let mut requests = peer.requests()[before..].to_vec();
    requests.sort();
    assert_eq!(
        requests,
        vec![
            "GET /scim/v2/Groups?startIndex=1&count=1000",
            "GET /scim/v2/ServiceProviderConfig",
            "GET /scim/v2/Users?startIndex=1&count=1000&excludedAttributes=groups",
        ]
    );
}

#[tokio::test]
async fn each_kind_of_change_is_exactly_one_op() {
    let peer = PeerServer::start();
    seed_converged(&peer).await;
    let carol = peer
        .user(json!({"userName": "carol@example.com", "externalId": "00u3", "active": true}))
        .await;
    let _ = carol;
    peer.user(json!({"userName": "dave@example.com", "active": true}))
        .await;
    peer.user(json!({"userName": "stranger@example.com"})).await;
    peer.group("Strangers", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    // ada: new title (update); bob: unchanged; carol renamed through her externalId; dave
    // tombstoned; erin new and a new member of Owners, which gives her a role.
    let config = peer_config(
        dir.path(),
        &peer,
        "",
        "users:
  - userName: ada@example.com
    title: Lead Analyst
    emails: [ada@EXAMPLE.com]
  - userName: bob@example.com
    active: true
  - userName: carol.new@example.com
    externalId: 00u3
  - userName: dave@example.com
    absent: true
  - userName: erin@example.com
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com, erin@example.com]
roles:
  SYSTEM_USER:
    users: [ada@example.com]
  PROCESS_CONTRIBUTOR:
    groups: [Owners]
",
    );
    let before = peer.requests().len();

    let plan = plan_json(&config, &[]);

    assert_eq!(
        ops(&plan),
        vec![
            op("update", "ada@example.com", "PATCH"),
            op("update", "carol.new@example.com", "PATCH"),
            op("create", "erin@example.com", "POST"),
            op("update", "Owners", "PATCH"),
            op("deactivate", "dave@example.com", "PATCH"),
        ]
    );
    let provider = &plan["providers"][0];
    assert_eq!(
        provider["unmanaged"],
        json!({"users": 1, "groups": 1,
               "user_names": ["stranger@example.com"], "group_names": ["Strangers"]})
    );
    assert_eq!(provider["reads"], 3);
    assert_eq!(
        peer.requests().len() - before,
        3,
        "no write is sent by plan"
    );
    let erin = &provider["ops"][2]["request"]["body"];
    assert_eq!(
        erin["urn:scim:tonkean"]["tonkeanRoles"],
        json!(["PROCESS_CONTRIBUTOR"])
    );
    let owners = &provider["ops"][3];
    assert_eq!(
        owners["request"]["body"]["Operations"],
        json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}])
    );
    assert_eq!(owners["depends_on"], json!(["u1"]));
}

#[tokio::test]
async fn detailed_exitcode_is_two_with_changes_and_the_token_appears_nowhere() {
    let peer = PeerServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = peer_config(
        dir.path(),
        &peer,
        "",
        "users:\n  - userName: ada@example.com\n",
    );
    let saved = dir.path().join("plan.json");
    for format in ["text", "markdown", "json"] {
        let out = plan(
            &config,
            &[
                "--detailed-exitcode",
                "--format",
                format,
                "--out",
                saved.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, Some(2), "{format}: {}", out.stderr);
        assert!(
            out.stdout.contains("ada@example.com"),
            "{format}: {}",
            out.stdout
        );
        assert!(!out.stdout.contains(PEER_TOKEN) && !out.stderr.contains(PEER_TOKEN));
        let file = std::fs::read_to_string(&saved).unwrap();
        assert!(!file.contains(PEER_TOKEN), "the saved plan holds no token");
    }
}

#[tokio::test]
async fn mass_deprovisioning_is_refused_unless_allowed() {
    let peer = PeerServer::start();
    for i in 0..12 {
        peer.user(json!({"userName": format!("u{i}@example.com"), "active": true}))
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = peer_config(
        dir.path(),
        &peer,
        "    prune: true\n",
        "users:\n  - userName: u0@example.com\n  - userName: u1@example.com\n",
    );
    let before = peer.requests().len();
    let out = plan(&config, &[]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("10 of its 12 users") && out.stderr.contains("--allow-mass-delete"),
        "{}",
        out.stderr
    );
    assert_eq!(
        peer.requests().len() - before,
        3,
        "refused after reading, nothing written"
    );

    let plan = plan_json(&config, &["--allow-mass-delete"]);
    let deactivations = ops(&plan)
        .iter()
        .filter(|(action, _, _)| action == "deactivate")
        .count();
    assert_eq!(deactivations, 10);
}

#[tokio::test]
async fn a_server_without_patch_gets_a_put() {
    let dir = tempfile::tempdir().unwrap();
    let spc = PeerServer::service_provider_config(dir.path(), false, 1000);
    let peer = PeerServer::start_with_config(Some(&spc));
    peer.user(json!({"userName": "ada@example.com", "title": "Analyst", "locale": "fr"}))
        .await;
    let config = peer_config(
        dir.path(),
        &peer,
        "",
        "users:\n  - userName: ada@example.com\n    title: Lead\n",
    );
    let plan = plan_json(&config, &[]);
    assert_eq!(ops(&plan), vec![op("update", "ada@example.com", "PUT")]);
    let body = &plan["providers"][0]["ops"][0]["request"]["body"];
    assert_eq!(body["title"], "Lead");
    assert_eq!(
        body["locale"], "fr",
        "a PUT keeps what the file does not manage"
    );
}

#[tokio::test]
async fn every_page_is_read_once_before_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let peer = PeerServer::start();
    peer.bulk_users("m", 2100).await;
    let users: String = (0..2100).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "  - userName: m{i:05}@example.com");
        out
    });
    let config = peer_config(
        dir.path(),
        &peer,
        "    prune: true\n",
        &format!("users:\n{users}"),
    );
    let before = peer.requests().len();

    let plan = plan_json(&config, &[]);

    assert!(ops(&plan).is_empty(), "{:?}", ops(&plan));
    let mut lists: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users"))
        .cloned()
        .collect();
    lists.sort();
    assert_eq!(
        lists,
        vec![
            "GET /scim/v2/Users?startIndex=1&count=1000&excludedAttributes=groups",
            "GET /scim/v2/Users?startIndex=1001&count=1000&excludedAttributes=groups",
            "GET /scim/v2/Users?startIndex=2001&count=1000&excludedAttributes=groups",
        ]
    );
    assert_eq!(plan["providers"][0]["reads"], 5);
}

#[tokio::test]
async fn few_declared_users_in_a_large_directory_are_looked_up_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let spc = PeerServer::service_provider_config(dir.path(), true, 10);
    let peer = PeerServer::start_with_config(Some(&spc));
    peer.bulk_users("m", 45).await;
    // The server orders its list by id, so find a user that is not on the first page.
    let first = peer
        .call(reqwest::Method::GET, "/Users?startIndex=1&count=10", None)
        .await;
    let on_first: Vec<&str> = first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    let elsewhere = (0..45)
        .map(|i| format!("m{i:05}@example.com"))
        .find(|name| !on_first.contains(&name.as_str()))
        .unwrap();
    let config = peer_config(
        dir.path(),
        &peer,
        "",
        &format!("users:\n  - userName: {elsewhere}\n  - userName: new@example.com\n"),
    );
    let before = peer.requests().len();

    let plan = plan_json(&config, &[]);

    assert_eq!(ops(&plan), vec![op("create", "new@example.com", "POST")]);
    let users: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users"))
        .cloned()
        .collect();
    // The first page, then two lookups instead of four more pages.
    assert_eq!(users.len(), 3, "{users:?}\n{:?}", peer.requests());
    assert_eq!(plan["providers"][0]["unmanaged"]["users"], 44);
}

#[test]
fn the_embedded_provider_is_planned_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    std::fs::write(
        &config,
        "version: 1\nproviders:\n  local:\n    url: embedded:store/scim.db\n    preset: tonkean\nusers:\n  - userName: ada@example.com\n    title: Analyst\ngroups:\n  - displayName: Owners\n    members: [ada@example.com]\n",
    )
    .unwrap();
    let plan = plan_json(&config, &[]);
    assert_eq!(
        ops(&plan),
        vec![
            op("create", "ada@example.com", "POST"),
            op("create", "Owners", "POST"),
        ]
    );
    assert_eq!(plan["providers"][0]["reads"], 3);
    assert!(
        dir.path().join("store/scim.db").exists(),
        "the store is beside the config"
    );
}

#[test]
fn an_unknown_provider_and_a_missing_variable_are_errors_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    std::fs::write(
        &config,
        "version: 1\nproviders:\n  tonkean:\n    url: https://scim.invalid/scim/v2\n    token: ${SCIMFORM_TEST_UNSET_TOKEN}\n",
    )
    .unwrap();
    let out = run(scimform().arg("plan").arg("-f").arg(&config));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("SCIMFORM_TEST_UNSET_TOKEN") && out.stderr.contains(":5:"),
        "{}",
        out.stderr
    );
    let out = run(scimform()
        .arg("plan")
        .arg("-f")
        .arg(&config)
        .args(["--provider", "nope"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no such provider"), "{}", out.stderr);
}

/// Runs `plan` off the async runtime, so a proxy in this test's runtime keeps serving.
async fn plan_off_runtime(config: &Path, extra: &[&str]) -> Run {
    let config = config.to_owned();
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        plan(&config, &extra)
    })
    .await
    .unwrap()
}

fn user_lists(requests: &[String]) -> Vec<String> {
    let mut lists: Vec<String> = requests
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users?"))
        .cloned()
        .collect();
    lists.sort();
    lists
}

/// Plans 20 converged users, with pruning on, through a proxy that rewrites each request's
/// path and query with `rewrite`; returns the user listings the server received, sorted.
async fn converged_users_through(rewrite: fn(&str) -> String) -> Vec<String> {
    let peer = PeerServer::start();
    peer.bulk_users("m", 20).await;
    let proxy = Rewriter::start(&peer.base_url, rewrite, |_, _, _| {}).await;
    let users: String = (0..20).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "  - userName: m{i:05}@example.com");
        out
    });
    let dir = tempfile::tempdir().unwrap();
    let config = config_at(
        dir.path(),
        &proxy.base_url,
        "    prune: true\n",
        &format!("users:\n{users}"),
    );
    let before = peer.requests().len();

    let out = plan_off_runtime(&config, &["--format", "json"]).await;

    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(ops(&plan).is_empty(), "{:?}", ops(&plan));
    user_lists(&peer.requests()[before..])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_clamps_count_is_paged_at_the_size_it_returns() {
    // Whatever count is asked for, the server returns at most 7.
    let lists = converged_users_through(|path| path.replace("count=1000", "count=7")).await;
    assert_eq!(
        lists,
        vec![
            "GET /scim/v2/Users?startIndex=1&count=7&excludedAttributes=groups",
            "GET /scim/v2/Users?startIndex=15&count=7&excludedAttributes=groups",
            "GET /scim/v2/Users?startIndex=8&count=7&excludedAttributes=groups",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_excluded_attributes_is_listed_whole() {
    // The server answers 400 to a listing that names attributes to leave out.
    let lists =
        converged_users_through(|path| path.replace("excludedAttributes=groups", "filter=%28%28"))
            .await;
    assert_eq!(
        lists,
        vec![
            "GET /scim/v2/Users?startIndex=1&count=1000",
            "GET /scim/v2/Users?startIndex=1&count=1000&filter=%28%28",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_number_no_json_tree_can_hold_refuses_the_plan_and_sends_nothing() {
    let peer = PeerServer::start();
    seed_converged(&peer).await;
    let proxy = Rewriter::start(&peer.base_url, str::to_owned, |method, path, body| {
        if method == axum::http::Method::GET && path.ends_with("/Users") {
            for user in body["Resources"].as_array_mut().into_iter().flatten() {
                user["title"] = raw_json("1e400");
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_at(dir.path(), &proxy.base_url, "", CONVERGED);
    let before = peer.requests().len();

    let out = plan_off_runtime(&config, &["--format", "json"]).await;

    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("GET /Users") && out.stderr.contains("number out of range"),
        "the error names the request and the reason: {}",
        out.stderr
    );
    let requests = peer.requests();
    assert!(
        requests[before..].iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        &requests[before..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_listed_without_members_are_read_one_by_one() {
    let peer = PeerServer::start();
    seed_converged(&peer).await;
    peer.group("Unmanaged", &[]).await;
    let proxy = Rewriter::start(&peer.base_url, str::to_owned, |method, path, body| {
        if method == axum::http::Method::GET && path.ends_with("/Groups") {
            for group in body["Resources"].as_array_mut().into_iter().flatten() {
                group.as_object_mut().unwrap().remove("members");
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_at(dir.path(), &proxy.base_url, "", CONVERGED);
    let before = peer.requests().len();

    let out = plan_off_runtime(&config, &["--format", "json"]).await;

    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        ops(&plan).is_empty(),
        "members were read, not taken as empty: {:?}",
        ops(&plan)
    );
    let by_id: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Groups/"))
        .cloned()
        .collect();
    assert_eq!(by_id.len(), 1, "only the declared group is read: {by_id:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pruning_is_refused_when_the_listing_cannot_be_proven_complete() {
    let peer = PeerServer::start();
    peer.bulk_users("m", 3).await;
    // The server claims one user more than it can list.
    let proxy = Rewriter::start(&peer.base_url, str::to_owned, |method, path, body| {
        if method == axum::http::Method::GET
            && path.ends_with("/Users")
            && let Some(total) = body["totalResults"].as_u64()
        {
            body["totalResults"] = Value::from(total + 1);
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_at(
        dir.path(),
        &proxy.base_url,
        "    prune: true\n",
        "users:\n  - userName: m00000@example.com\n",
    );
    let before = peer.requests().len();

    let out = plan_off_runtime(&config, &[]).await;

    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "the user listing failed the check \"as many distinct ids as totalResults\": \
             the server reported 4 users but listed 3 distinct ones; refusing to prune"
        ),
        "{}",
        out.stderr
    );
    assert!(
        peer.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET ")),
        "nothing is written"
    );
}

#[tokio::test]
async fn a_rename_in_a_large_directory_costs_two_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let spc = PeerServer::service_provider_config(dir.path(), true, 10);
    let peer = PeerServer::start_with_config(Some(&spc));
    peer.bulk_users("m", 40).await;
    peer.user(json!({"userName": "old.name@example.com", "externalId": "00u9"}))
        .await;
    // The renamed user must not be on the first page for the lookups to be needed.
    let first = peer
        .call(reqwest::Method::GET, "/Users?startIndex=1&count=10", None)
        .await;
    let on_first = first["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userName"] == "old.name@example.com");
    let config = peer_config(
        dir.path(),
        &peer,
        "",
        "users:\n  - userName: new.name@example.com\n    externalId: 00u9\n",
    );
    let before = peer.requests().len();

    let plan = plan_json(&config, &[]);

    assert_eq!(
        ops(&plan),
        vec![op("update", "new.name@example.com", "PATCH")]
    );
    let users: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users"))
        .cloned()
        .collect();
    let expected = if on_first { 1 } else { 3 };
    assert_eq!(users.len(), expected, "{users:?}");
}
