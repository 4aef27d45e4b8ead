//! `scimform apply`, the real binary: confirmation, convergence, saved plans and stale-plan
//! refusal, and the report of a partial failure.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::{Run, run, scimform};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn embedded(dir: &Path, rest: &str) -> PathBuf {
    write(
        dir,
        &format!(
            "version: 1\nproviders:\n  local:\n    url: embedded:store.db\n    preset: tonkean\n{rest}"
        ),
    )
}

fn scim(config: &Path, args: &[&str]) -> Run {
    run(scimform()
        .env("PEER_TOKEN", PEER_TOKEN)
        .args(args)
        .arg("-f")
        .arg(config))
}

const DIRECTORY: &str = "users:
  - userName: ada@example.com
    title: Analyst
  - userName: bob@example.com
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com]
roles:
  SYSTEM_USER:
    groups: [Owners]
";

#[test]
fn apply_converges_and_the_next_plan_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(dir.path(), DIRECTORY);
    let out = scim(&config, &["apply", "--auto-approve"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("provider local: 3 done, 0 failed, 0 skipped"),
        "{}",
        out.stdout
    );
    let again = scim(&config, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{}", again.stdout);
    assert!(again.stdout.contains("No changes."));
}

#[test]
fn without_a_terminal_apply_needs_auto_approve_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(dir.path(), DIRECTORY);
    let out = scim(&config, &["apply"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    let plan = scim(&config, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "nothing was created: {}", plan.stdout);
}

#[test]
fn a_saved_plan_is_applied_as_it_is_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(dir.path(), DIRECTORY);
    let saved = dir.path().join("plan.json");
    let plan = scim(&config, &["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);

    let out = scim(&config, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("3 done"), "{}", out.stdout);

    // Applying it again would create the same users twice: the creates' keys now exist.
    let again = scim(&config, &["apply", saved.to_str().unwrap()]);
    assert_eq!(again.code, Some(1));
    assert!(
        again.stderr.contains("stale plan") && again.stderr.contains("user ada@example.com"),
        "{}",
        again.stderr
    );
}

/// A saved plan edited by hand (an update turned into a delete) is refused before anything is
/// sent: by its digest, and when the digest was made to match as well, because the operation
/// is not the one the config calls for.
#[test]
fn an_edited_saved_plan_is_refused_naming_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(dir.path(), DIRECTORY);
    assert_eq!(scim(&config, &["apply", "--auto-approve"]).code, Some(0));
    let config = embedded(dir.path(), &DIRECTORY.replace("Analyst", "Lead"));
    let saved = dir.path().join("plan.json");
    let plan = scim(&config, &["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);

    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let op = &mut document["providers"][0]["ops"][0];
    assert_eq!(op["request"]["method"], "PATCH", "{op}");
    let path = op["request"]["path"].as_str().unwrap().to_owned();
    op["request"]["method"] = json!("DELETE");
    op["request"].as_object_mut().unwrap().remove("body");
    op["action"] = json!("delete");
    std::fs::write(&saved, document.to_string()).unwrap();
    let out = scim(&config, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "the plan was changed after it was saved: its operations do not match its digest"
        ),
        "{}",
        out.stderr
    );

    // The digest made again as the documentation says: the refusal names the operation.
    let providers = serde_json::to_vec(&document["providers"]).unwrap();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, document["config_digest"].as_str().unwrap());
    sha2::Digest::update(&mut hasher, b"\n");
    sha2::Digest::update(&mut hasher, &providers);
    let hex = sha2::Digest::finalize(hasher)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    document["digest"] = json!(format!("sha256:{hex}"));
    std::fs::write(&saved, document.to_string()).unwrap();
    let out = scim(&config, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "refusing the saved plan: provider `local`: operation 1 of the plan, DELETE {path} \
             (delete user ada@example.com), is not the one the config calls for, PATCH {path} \
             (update user ada@example.com)"
        )),
        "{}",
        out.stderr
    );

    // Nothing was sent: the user is still there, not deleted, with its old title.
    let plan = scim(&config, &["plan"]);
    assert!(
        plan.stdout.contains("~ user ada@example.com"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to deactivate, 0 to delete"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_plan_from_another_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(dir.path(), DIRECTORY);
    let saved = dir.path().join("plan.json");
    assert_eq!(
        scim(&config, &["plan", "--out", saved.to_str().unwrap()]).code,
        Some(0)
    );
    embedded(dir.path(), &DIRECTORY.replace("Analyst", "Lead"));
    let out = scim(&config, &["apply", saved.to_str().unwrap()]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("stale plan"), "{}", out.stderr);
    assert!(out.stderr.contains("changed since the plan was made"));
}

#[tokio::test]
async fn a_stale_saved_plan_lists_what_moved_and_writes_nothing() {
    let peer = PeerServer::start();
    let ada = peer
        .user(json!({"userName": "ada@example.com", "title": "Analyst"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            "version: 1\nproviders:\n  tonkean:\n    url: {}\n    token: ${{PEER_TOKEN}}\n    preset: tonkean\nusers:\n  - userName: ada@example.com\n    title: Lead\n",
            peer.base_url
        ),
    );
    let saved = dir.path().join("plan.json");
    assert_eq!(
        scim(&config, &["plan", "--out", saved.to_str().unwrap()]).code,
        Some(0)
    );
    // Someone changes ada after the plan was made.
    peer.call(
        reqwest::Method::PATCH,
        &format!("/Users/{ada}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Director"}]
        })),
    )
    .await;
    let before = peer.requests().len();

    let out = scim(&config, &["apply", saved.to_str().unwrap()]);

    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains("stale plan") && out.stderr.contains("user ada@example.com: version"),
        "{}",
        out.stderr
    );
    let after = peer.requests();
    assert!(
        after[before..].iter().all(|r| r.starts_with("GET ")),
        "only reads: {:?}",
        &after[before..]
    );
    let ada_now = peer
        .call(reqwest::Method::GET, &format!("/Users/{ada}"), None)
        .await;
    assert_eq!(ada_now["title"], "Director");
}

#[test]
fn a_rejected_op_fails_its_dependants_are_skipped_and_the_rest_is_done() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded server refuses an attribute the enterprise extension does not define.
    let config = embedded(
        dir.path(),
        "users:
  - userName: ada@example.com
    extensions:
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:
        noSuchAttribute: x
  - userName: bob@example.com
groups:
  - displayName: Owners
    members: [ada@example.com]
",
    );
    let out = scim(&config, &["apply", "--auto-approve"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("failed   create user ada@example.com:") && out.stdout.contains("400"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("skipped  create group Owners"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 done, 1 failed, 1 skipped"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn with_bulk_the_writes_of_a_phase_share_requests() {
    let peer = PeerServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            "version: 1\nproviders:\n  tonkean:\n    url: {}\n    token: ${{PEER_TOKEN}}\n    preset: tonkean\n{DIRECTORY}",
            peer.base_url
        ),
    );
    let before = peer.requests().len();
    let out = tokio::task::spawn_blocking(move || {
        let out = scim(&config, &["apply", "--auto-approve", "--bulk"]);
        let again = scim(&config, &["plan", "--detailed-exitcode"]);
        (out, again)
    })
    .await
    .unwrap();
    assert_eq!(out.0.code, Some(0), "{}{}", out.0.stdout, out.0.stderr);
    assert_eq!(out.1.code, Some(0), "converged: {}", out.1.stdout);
    let writes: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect();
    // Two users in one request; the group, alone in its phase, needs no batch.
    assert_eq!(writes, vec!["POST /scim/v2/Bulk", "POST /scim/v2/Groups"]);
}

/// `apply` killed with SIGKILL in the middle of a large run leaves nothing a re-run cannot
/// finish: the re-run converges, the next plan is empty, and nothing the file keeps is lost.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_midway_is_finished_by_the_next_one() {
    use crate::support::serve::Serve;

    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let users: String = (0..1500).fold(String::new(), |mut out, i| {
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!("  - userName: k{i:04}@example.com\n    title: Engineer\n"),
        );
        out
    });
    let members: Vec<String> = (0..1500).map(|i| format!("k{i:04}@example.com")).collect();
    let config = write(
        dir.path(),
        &format!(
            "version: 1\nproviders:\n  local:\n    url: {}\n    token: ${{SERVE_TOKEN}}\n    preset: tonkean\nusers:\n{users}groups:\n  - displayName: Everyone\n    members: [{}]\n",
            serve.base,
            members.join(", ")
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["apply", "--auto-approve", "--quiet", "-f"])
        .arg(&config)
        .env("SERVE_TOKEN", &serve.token)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run is well under way, then kill it without warning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let total = serve.get("/Users?count=0").await.body["totalResults"]
            .as_u64()
            .unwrap_or(0);
        if total >= 300 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply finished before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "apply made no progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let created = serve.get("/Users?count=0").await.body["totalResults"]
        .as_u64()
        .unwrap();
    assert!(created < 1500, "killed before the end: {created} users");

    let token = serve.token.clone();
    let rerun = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let rerun = run(scimform()
                .env("SERVE_TOKEN", &token)
                .args(["apply", "--auto-approve", "--quiet", "-f"])
                .arg(&config));
            let plan = run(scimform()
                .env("SERVE_TOKEN", &token)
                .args(["plan", "--detailed-exitcode", "-f"])
                .arg(&config));
            (rerun, plan)
        })
        .await
        .unwrap()
    };
    assert_eq!(
        rerun.0.code,
        Some(0),
        "{}{}",
        rerun.0.stdout,
        rerun.0.stderr
    );
    assert_eq!(rerun.1.code, Some(0), "{}", rerun.1.stdout);
    assert_eq!(
        serve.get("/Users?count=0").await.body["totalResults"],
        1500,
        "no user lost or duplicated"
    );
    let groups = serve
        .get("/Groups?filter=displayName%20eq%20%22Everyone%22")
        .await;
    assert_eq!(groups.body["totalResults"], 1);
    assert_eq!(
        groups.body["Resources"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        1500
    );
}

#[tokio::test]
async fn a_plan_made_with_bulk_states_its_requests_and_is_applied_so() {
    let peer = PeerServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &format!(
            "version: 1\nproviders:\n  tonkean:\n    url: {}\n    token: ${{PEER_TOKEN}}\n    preset: tonkean\n{DIRECTORY}",
            peer.base_url
        ),
    );
    let saved = dir.path().join("plan.json");
    let before = peer.requests().len();
    let (plan, applied) = {
        let (config, saved) = (config.clone(), saved.clone());
        tokio::task::spawn_blocking(move || {
            let plan = scim(
                &config,
                &[
                    "plan",
                    "--bulk",
                    "--format",
                    "json",
                    "--out",
                    saved.to_str().unwrap(),
                ],
            );
            let applied = scim(&config, &["apply", saved.to_str().unwrap()]);
            (plan, applied)
        })
        .await
        .unwrap()
    };
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["providers"][0]["bulk"], true);
    assert_eq!(
        json["summary"]["requests"], 2,
        "two users in one /Bulk, the group alone"
    );
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    let writes: Vec<String> = peer.requests()[before..]
        .iter()
        .filter(|r| !r.starts_with("GET "))
        .cloned()
        .collect();
    assert_eq!(writes, vec!["POST /scim/v2/Bulk", "POST /scim/v2/Groups"]);
}

/// The README's main job: apply the quickstart to the embedded server, then plan it again and
/// find nothing to do. Run on a copy, so the repository's `examples/` gains no store; the folder
/// example's embedded provider is applied the same way.
#[test]
fn the_examples_apply_to_the_embedded_server_and_converge() {
    let root = crate::support::root().join("examples");
    let dir = tempfile::tempdir().unwrap();
    let quickstart = dir.path().join("quickstart.yaml");
    std::fs::copy(root.join("quickstart.yaml"), &quickstart).unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for entry in std::fs::read_dir(root.join("folder")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, folder.join(path.file_name().unwrap())).unwrap();
    }
    for (config, provider) in [(&quickstart, None), (&folder, Some("local"))] {
        let only: Vec<&str> = provider.map(|p| vec!["--provider", p]).unwrap_or_default();
        let mut apply = vec!["apply", "--auto-approve"];
        apply.extend(&only);
        let out = scim(config, &apply);
        assert_eq!(
            out.code,
            Some(0),
            "{}: {}{}",
            config.display(),
            out.stdout,
            out.stderr
        );
        assert!(out.stdout.contains("0 failed, 0 skipped"), "{}", out.stdout);
        let mut plan = vec!["plan", "--detailed-exitcode"];
        plan.extend(&only);
        let again = scim(config, &plan);
        assert_eq!(
            again.code,
            Some(0),
            "{}: {}",
            config.display(),
            again.stdout
        );
    }
}

/// Every request names its sender: AWS IAM Identity Center refuses a `PATCH` that carries no
/// `User-Agent`. Through a proxy that records each request's, a create and then an update.
// The proxy runs on the test's runtime while the binary runs: it needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_carries_scimforms_user_agent() {
    let serve = crate::support::serve::Serve::start();
    let proxy = crate::support::rewrite::Rewriter::editing_responses(
        &serve.base,
        str::to_owned,
        |_: &mut crate::support::rewrite::Exchange<'_>| {},
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = |title: &str| {
        write(
            dir.path(),
            &format!(
                "version: 1\nproviders:\n  corp:\n    url: {}\n    token: ${{CORP_TOKEN}}\n\
                 users:\n  - userName: ada@example.com\n    title: {title}\n",
                proxy.base_url
            ),
        )
    };
    for title in ["Analyst", "Engineer"] {
        let path = config(title);
        let out = crate::support::run_off_runtime(
            &path,
            "CORP_TOKEN",
            &serve.token,
            &["apply", "--auto-approve"],
        )
        .await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let requests = proxy.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("POST ")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.starts_with("PATCH ")),
        "{requests:?}"
    );
    let agents = proxy.user_agents();
    let expected = format!("scimform/{}", env!("CARGO_PKG_VERSION"));
    assert!(agents.iter().all(|a| *a == expected), "{agents:?}");
}
