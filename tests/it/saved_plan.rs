//! Saved plans bound to the server they were made against, applied without `-f` from anywhere,
//! and shown again; every format names the resolved server and never the token. The real
//! binary, over real HTTP, against `scimform serve`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, run, scimform};

/// A config whose provider's URL and token both come from the environment.
const CONFIG: &str = "version: 1
providers:
  corp:
    url: ${SCIM_URL}
    token: ${SCIM_TOKEN}
    preset: tonkean
users:
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

/// `scimform ARGS` in `dir`, with the provider's URL set to `url`, off the test's runtime.
async fn scim_in(dir: &Path, url: &str, token: &str, args: &[&str]) -> Run {
    let (dir, url, token) = (dir.to_owned(), url.to_owned(), token.to_owned());
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        run(scimform()
            .current_dir(dir)
            .env("SCIM_URL", url)
            .env("SCIM_TOKEN", token)
            .args(args))
    })
    .await
    .unwrap()
}

/// A folder `repo` holding `scimform.yaml`, inside a temporary folder.
fn repo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("scimform.yaml"), CONFIG).unwrap();
    (dir, repo)
}

async fn users(serve: &Serve) -> u64 {
    serve.get("/Users?count=0").await.body["totalResults"]
        .as_u64()
        .unwrap()
}

/// The reported case: a plan made against server A through `${SCIM_URL}`, the variable then
/// pointed at server B. `apply plan.json` refuses, naming both, and sends B nothing at all; with
/// the variable pointed back at A it applies.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_by_another_server_and_b_gets_nothing() {
    let a = Serve::start();
    let b_upstream = Serve::start();
    // B behind a proxy that logs every request it receives.
    let b = Rewriter::start(&b_upstream.base, str::to_owned, |_, _, _| {}).await;
    let (_dir, repo) = repo();

    let plan = scim_in(&repo, &a.base, &a.token, &["plan", "--out", "plan.json"]).await;
    assert_eq!(plan.code, Some(0), "{}{}", plan.stdout, plan.stderr);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap()).unwrap();
    let provider = &saved["providers"][0];
    assert_eq!(provider["url"], "${SCIM_URL}", "the template, as written");
    assert_eq!(provider["server"]["url"], a.base.as_str(), "{provider}");
    assert!(
        provider["server"]["identity"]["service_provider_config"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{provider}"
    );
    assert!(
        provider["server"]["identity"]["resource_types"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{provider}"
    );
    assert_eq!(saved["config_path"], "scimform.yaml");

    let refused = scim_in(
        &repo,
        &b.base_url,
        &a.token,
        &["apply", "-f", "scimform.yaml", "plan.json"],
    )
    .await;
    assert_eq!(
        refused.code,
        Some(1),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&format!(
            "refusing the saved plan: provider `corp` was planned against {}, but its url now \
             resolves to {}; nothing was sent",
            a.base, b.base_url
        )),
        "{}",
        refused.stderr
    );
    assert_eq!(b.requests(), Vec::<String>::new(), "B was sent nothing");
    assert_eq!(users(&b_upstream).await, 0);
    assert_eq!(users(&a).await, 0);

    // Without -f as well.
    let refused = scim_in(&repo, &b.base_url, &a.token, &["apply", "plan.json"]).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("planned against"),
        "{}",
        refused.stderr
    );
    assert_eq!(b.requests(), Vec::<String>::new(), "B was sent nothing");

    let applied = scim_in(&repo, &a.base, &a.token, &["apply", "plan.json"]).await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert!(applied.stdout.contains("3 done"), "{}", applied.stdout);
    assert_eq!(users(&a).await, 2);
    assert_eq!(users(&b_upstream).await, 0);
}

/// A server at the same URL that describes itself differently (here, its
/// `/ServiceProviderConfig` changed by a proxy) is not the one the plan was made against: the
/// plan is refused before anything is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_by_a_different_server_at_the_same_url() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let upstream = Serve::start();
    let swapped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&swapped);
    let proxy = Rewriter::start(&upstream.base, str::to_owned, move |_, path, body| {
        if flag.load(Ordering::SeqCst) && path.ends_with("/ServiceProviderConfig") {
            body["documentationUri"] = json!("https://another-tenant.example.com/docs");
        }
    })
    .await;
    let (_dir, repo) = repo();
    let plan = scim_in(
        &repo,
        &proxy.base_url,
        &upstream.token,
        &["plan", "--out", "plan.json"],
    )
    .await;
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);

    swapped.store(true, Ordering::SeqCst);
    let refused = scim_in(
        &repo,
        &proxy.base_url,
        &upstream.token,
        &["apply", "plan.json"],
    )
    .await;
    assert_eq!(
        refused.code,
        Some(1),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&format!(
            "refusing the saved plan: provider `corp`: the server at {} is not the one the plan \
             was made against: it describes itself differently, /ServiceProviderConfig (sha256:",
            proxy.base_url
        )),
        "{}",
        refused.stderr
    );
    assert!(
        proxy.requests().iter().all(|r| r.starts_with("GET ")),
        "only reads: {:?}",
        proxy.requests()
    );
    assert_eq!(users(&upstream).await, 0);

    swapped.store(false, Ordering::SeqCst);
    let applied = scim_in(
        &repo,
        &proxy.base_url,
        &upstream.token,
        &["apply", "plan.json"],
    )
    .await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(users(&upstream).await, 2);
}

/// A server that does not serve `/ResourceTypes` (404) is identified by its
/// `/ServiceProviderConfig` alone: its saved plans are made and applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_resource_types_still_binds_its_plans() {
    let upstream = Serve::start();
    let proxy = Rewriter::editing_responses(&upstream.base, str::to_owned, |exchange| {
        if exchange.path.ends_with("/ResourceTypes") {
            exchange.status = 404;
            *exchange.body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "404",
                "detail": "not found",
            });
        }
    })
    .await;
    let (_dir, repo) = repo();
    let plan = scim_in(
        &repo,
        &proxy.base_url,
        &upstream.token,
        &["plan", "--out", "plan.json", "--format", "json"],
    )
    .await;
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let printed: Value = serde_json::from_str(&plan.stdout).unwrap();
    let identity = &printed["providers"][0]["server"]["identity"];
    assert_eq!(identity["resource_types"], Value::Null, "{identity}");
    assert!(
        identity["service_provider_config"].is_string(),
        "{identity}"
    );

    let applied = scim_in(
        &repo,
        &proxy.base_url,
        &upstream.token,
        &["apply", "plan.json"],
    )
    .await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(users(&upstream).await, 2);
}

/// `apply plan.json` from another folder, without `-f`: the plan says where its config is
/// (relative to the plan), the config is checked by its digest and read for its secrets, and
/// the apply converges.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_from_another_folder_without_f() {
    let serve = Serve::start();
    let (dir, repo) = repo();
    // The token from a file next to the config, as well as the URL from the environment.
    std::fs::write(repo.join("token"), format!("{}\n", serve.token)).unwrap();
    std::fs::write(
        repo.join("scimform.yaml"),
        CONFIG.replace("token: ${SCIM_TOKEN}", "token_file: token"),
    )
    .unwrap();
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    let plan = scim_in(
        &repo,
        &serve.base,
        "",
        &["plan", "--out", "../plans/plan.json"],
    )
    .await;
    assert_eq!(plan.code, Some(0), "{}{}", plan.stdout, plan.stderr);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(plans.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["config_path"], "../repo/scimform.yaml");

    let elsewhere = tempfile::tempdir().unwrap();
    let plan_path = plans.join("plan.json");
    let applied = scim_in(
        elsewhere.path(),
        &serve.base,
        "",
        &["apply", plan_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert!(
        applied
            .stdout
            .contains("provider corp: 3 done, 0 failed, 0 skipped"),
        "{}",
        applied.stdout
    );
    let again = scim_in(&repo, &serve.base, "", &["plan", "--detailed-exitcode"]).await;
    assert_eq!(
        again.code,
        Some(0),
        "converged: {}{}",
        again.stdout,
        again.stderr
    );

    // A config changed since is found and refused by its digest.
    std::fs::write(
        repo.join("scimform.yaml"),
        CONFIG
            .replace("token: ${SCIM_TOKEN}", "token_file: token")
            .replace("Analyst", "Lead"),
    )
    .unwrap();
    let stale = scim_in(
        elsewhere.path(),
        &serve.base,
        "",
        &["apply", plan_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(stale.code, Some(1), "{}", stale.stdout);
    assert!(
        stale.stderr.contains("stale plan:") && stale.stderr.contains("scimform.yaml changed"),
        "{}",
        stale.stderr
    );

    // The config gone: the message says where it was looked for, and how to name it.
    std::fs::rename(repo.join("scimform.yaml"), repo.join("moved.yaml")).unwrap();
    let missing = scim_in(
        elsewhere.path(),
        &serve.base,
        "",
        &["apply", plan_path.to_str().unwrap()],
    )
    .await;
    assert_eq!(missing.code, Some(1));
    assert!(
        missing
            .stderr
            .contains("repo/scimform.yaml, which is not there (")
            && missing.stderr.contains("-f PATH"),
        "{}",
        missing.stderr
    );
}

/// `show plan.json` prints the saved plan again in each format, as `plan` printed it; an edited
/// plan is refused.
#[tokio::test(flavor = "multi_thread")]
async fn show_prints_a_saved_plan_in_each_format() {
    let serve = Serve::start();
    let (_dir, repo) = repo();
    let mut printed = Vec::new();
    for format in ["text", "markdown", "json"] {
        let out = scim_in(
            &repo,
            &serve.base,
            &serve.token,
            &["plan", "--format", format, "--out", "plan.json"],
        )
        .await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let shown = scim_in(
            &repo,
            &serve.base,
            &serve.token,
            &["show", "plan.json", "--format", format],
        )
        .await;
        assert_eq!(shown.code, Some(0), "{}", shown.stderr);
        printed.push((format, out.stdout, shown.stdout));
    }
    for (format, planned, shown) in &printed {
        if *format == "json" {
            // The saved document itself, whatever the order it is printed in.
            let saved: Value =
                serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap())
                    .unwrap();
            assert_eq!(serde_json::from_str::<Value>(shown).unwrap(), saved);
            assert_eq!(serde_json::from_str::<Value>(planned).unwrap(), saved);
        } else {
            assert_eq!(shown, planned, "{format}");
        }
        assert!(shown.contains("ada@example.com"), "{format}: {shown}");
        assert!(shown.contains(&serve.base), "{format}: {shown}");
    }
    // Without --format, text.
    let text = scim_in(&repo, &serve.base, &serve.token, &["show", "plan.json"]).await;
    assert!(
        text.stdout
            .starts_with(&format!("corp at {}: read in", serve.base)),
        "{}",
        text.stdout
    );

    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap()).unwrap();
    document["providers"][0]["server"]["url"] = json!("https://elsewhere.example.com/scim/v2");
    std::fs::write(repo.join("plan.json"), document.to_string()).unwrap();
    let edited = scim_in(&repo, &serve.base, &serve.token, &["show", "plan.json"]).await;
    assert_eq!(edited.code, Some(1), "{}", edited.stdout);
    assert!(edited.stdout.is_empty(), "{}", edited.stdout);
    assert!(
        edited
            .stderr
            .contains("the plan was changed after it was saved"),
        "{}",
        edited.stderr
    );
}

/// Every format names the server by its resolved URL, never by the `${VAR}` it was written
/// with, and no output, saved plan or error holds the token; so does `doctor`.
#[tokio::test(flavor = "multi_thread")]
async fn every_format_names_the_resolved_server_and_never_the_token() {
    let serve = Serve::start();
    let (_dir, repo) = repo();
    for (format, empty) in [
        ("text", false),
        ("markdown", false),
        ("json", false),
        ("text", true),
        ("markdown", true),
        ("json", true),
    ] {
        if empty {
            let applied = scim_in(
                &repo,
                &serve.base,
                &serve.token,
                &["apply", "--auto-approve"],
            )
            .await;
            assert_eq!(applied.code, Some(0), "{}", applied.stderr);
        }
        let out = scim_in(
            &repo,
            &serve.base,
            &serve.token,
            &["plan", "--format", format, "--out", "plan.json"],
        )
        .await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let saved = std::fs::read_to_string(repo.join("plan.json")).unwrap();
        for text in [&out.stdout, &out.stderr, &saved] {
            assert!(!text.contains(&serve.token), "{format}: {text}");
        }
        assert!(
            out.stdout.contains(&serve.base),
            "{format} (empty: {empty}): {}",
            out.stdout
        );
        match format {
            "text" => assert!(
                out.stdout
                    .contains(&format!("corp at {}: read in", serve.base)),
                "{}",
                out.stdout
            ),
            "markdown" if empty => assert!(
                out.stdout
                    .contains(&format!("Servers read: corp at {}.", serve.base)),
                "{}",
                out.stdout
            ),
            "markdown" => assert!(
                out.stdout.contains(&format!("| corp | {} |", serve.base)),
                "{}",
                out.stdout
            ),
            _ => {
                let json: Value = serde_json::from_str(&out.stdout).unwrap();
                assert_eq!(json["providers"][0]["server"]["url"], serve.base.as_str());
            }
        }
        if format != "json" {
            assert!(!out.stdout.contains("${SCIM_URL}"), "{}", out.stdout);
        }
    }
    let doctor = scim_in(&repo, &serve.base, &serve.token, &["doctor"]).await;
    assert!(
        doctor.stdout.starts_with(&format!(
            "scimform doctor: provider `corp` at {}\n",
            serve.base
        )),
        "{}{}",
        doctor.stdout,
        doctor.stderr
    );
}

/// [`CONFIG`] as a folder of three files.
const PROVIDERS_YAML: &str = "version: 1
providers:
  corp:
    url: ${SCIM_URL}
    token: ${SCIM_TOKEN}
    preset: tonkean
";
const USERS_YAML: &str = "version: 1
users:
  - userName: ada@example.com
    title: Analyst
  - userName: bob@example.com
";
const GROUPS_YAML: &str = "version: 1
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com]
roles:
  SYSTEM_USER:
    groups: [Owners]
";

/// A saved plan is bound to what its config says, not to how it is written. A change of
/// meaning is refused, naming the file that changed (not the folder), and so is a file added
/// to the folder; comments, blank lines, quoting, flow style and key order may change, and the
/// plan still applies. A plan saved in format version 1 is refused with that reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_survives_a_comment_and_names_the_file_whose_meaning_changed() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    for (name, text) in [
        ("providers.yaml", PROVIDERS_YAML),
        ("users.yaml", USERS_YAML),
        ("groups.yaml", GROUPS_YAML),
    ] {
        std::fs::write(repo.join(name), text).unwrap();
    }
    let scim = |args: &'static [&'static str]| scim_in(dir.path(), &serve.base, &serve.token, args);
    let plan = scim(&["plan", "-f", "repo", "--out", "plan.json"]).await;
    assert_eq!(plan.code, Some(0), "{}{}", plan.stdout, plan.stderr);
    let saved = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    let document: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(document["format_version"], 2);
    let files: Vec<&String> = document["config_files"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(files, ["groups.yaml", "providers.yaml", "users.yaml"]);

    // The same plan as version 1 wrote it.
    let mut old = document.clone();
    old["format_version"] = json!(1);
    old.as_object_mut().unwrap().remove("config_files");
    std::fs::write(dir.path().join("old.json"), old.to_string()).unwrap();
    let out = scim(&["apply", "old.json"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "the plan has format_version 1, but this scimform reads format_version 2; plan \
             again with this version"
        ),
        "{}",
        out.stderr
    );

    // A change of meaning in one file.
    std::fs::write(
        repo.join("users.yaml"),
        USERS_YAML.replace("Analyst", "Lead"),
    )
    .unwrap();
    let out = scim(&["apply", "plan.json"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    // The config is found through the plan, and named by its canonical path.
    let shown = repo.canonicalize().unwrap();
    let users_yaml = shown.join("users.yaml");
    assert!(
        out.stderr.contains(&format!(
            "error: stale plan: {} changed since the plan was made; run `scimform plan` again",
            users_yaml.display()
        )),
        "{}",
        out.stderr
    );

    // The meaning restored, the writing not: comments, blank lines, quoting, flow style and
    // key order. A file added beside it is a change of the config.
    let rewritten = "# yaml-language-server: $schema=../scimform.schema.json
# Who works here.
version: 1

users:
  # Ada leads the analysts.
  - title: \"Analyst\"   # since 2025
    userName: 'ada@example.com'
  - {userName: bob@example.com}
";
    std::fs::write(repo.join("users.yaml"), rewritten).unwrap();
    std::fs::write(repo.join("notes.yaml"), "version: 1\n").unwrap();
    let out = scim(&["apply", "plan.json"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "stale plan: {} was added since the plan was made",
            shown.join("notes.yaml").display()
        )) && !out.stderr.contains("users.yaml"),
        "{}",
        out.stderr
    );
    assert_eq!(users(&serve).await, 0, "nothing was written");

    std::fs::remove_file(repo.join("notes.yaml")).unwrap();
    let out = scim(&["apply", "plan.json"]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("provider corp: 3 done, 0 failed, 0 skipped"),
        "{}",
        out.stdout
    );
    let again = scim(&["plan", "-f", "repo", "--detailed-exitcode"]).await;
    assert_eq!(again.code, Some(0), "{}{}", again.stdout, again.stderr);
}
