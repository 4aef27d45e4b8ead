//! Servers that behave as a hostile or broken one would (docs/apply.md, Redirects), against the
//! real binary: redirects that would carry user data to another host, or turn a write into a read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::rewrite::{Rewriter, edit_query};
use crate::support::serve::Serve;
use crate::support::{Run, run_off_runtime};

/// A server that only records what reaches it, standing for the other host a redirect leads
/// to. It answers every request 201 with an empty JSON object.
struct Witness {
    base_url: String,
    received: Arc<Mutex<Vec<String>>>,
}

impl Witness {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let log = Arc::clone(&log);
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("{method} {uri} ({} bytes)", body.len()));
                Response::builder()
                    .status(StatusCode::CREATED)
                    .header("content-type", "application/scim+json")
                    .body(Body::from("{}"))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Witness {
            base_url: format!("http://{addr}/scim/v2"),
            received,
        }
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

fn redirect(status: u16, location: &str) -> Response {
    Response::builder()
        .status(status)
        .header("location", location)
        .body(Body::empty())
        .unwrap()
}

/// Two users and a group on the server at `url`.
fn config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  corp:\n    url: {url}\n    token: ${{CORP_TOKEN}}\n\
             users:\n  - userName: ada@example.com\n  - userName: bob@example.com\n\
             groups:\n  - displayName: Owners\n    members: [ada@example.com]\n"
        ),
    )
    .unwrap();
    path
}

async fn scim(config: &Path, token: &str, args: &[&str]) -> Run {
    run_off_runtime(config, "CORP_TOKEN", token, args).await
}

/// Every way a write can be redirected — to another host (307 and 308 keep the body), or on
/// the same host with a status that turns it into a `GET` (301, 302, 303) — is refused: no
/// byte of user data reaches the other host, the apply fails naming the redirect, and it does
/// not report as done what was not written.
#[tokio::test(flavor = "multi_thread")]
async fn writes_are_never_redirected() {
    let serve = Serve::start();
    let witness = Witness::start().await;
    for (status, elsewhere) in [
        (307, true),
        (308, true),
        (301, false),
        (302, false),
        (303, false),
    ] {
        let target = if elsewhere {
            format!("{}/Users", witness.base_url)
        } else {
            "/scim/v2/Users?page=2".to_owned()
        };
        let proxy = Rewriter::intercepting(&serve.base, str::to_owned, move |method, _| {
            (method != Method::GET).then(|| redirect(status, &target))
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &proxy.base_url);
        let applied = scim(&config, &serve.token, &["apply", "--auto-approve"]).await;
        assert_eq!(
            applied.code,
            Some(1),
            "{status}: {}\n{}",
            applied.stdout,
            applied.stderr
        );
        let said = format!("{}{}", applied.stdout, applied.stderr);
        assert!(
            said.contains("POST /Users: refused the server's redirect")
                && said.contains("a write is never redirected")
                && said.contains("0 done, 2 failed"),
            "{status}: {said}"
        );
        let writes = proxy
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("POST"))
            .count();
        assert!(writes >= 1, "{status}: the creates were tried");
        assert!(
            proxy.requests().iter().all(|r| !r.contains("page=2")),
            "{status}: a write turned into a GET was not sent: {:?}",
            proxy.requests()
        );
    }
    assert_eq!(witness.received(), Vec::<String>::new());
    let users = serve.get("/Users").await;
    assert_eq!(users.body["totalResults"], 0, "{}", users.body);
}

/// A `GET` follows a redirect that stays on the server's origin, and refuses one to another
/// host, port or scheme without sending anything there.
#[tokio::test(flavor = "multi_thread")]
async fn reads_follow_redirects_only_within_the_origin() {
    let serve = Serve::start();
    let witness = Witness::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Every read is first sent on to the same path with `moved=1`, which the proxy drops.
    let proxy = Rewriter::intercepting(
        &serve.base,
        |path| edit_query(path, |query| query.retain(|(k, _)| k != "moved")),
        |method, path_and_query| {
            (method == Method::GET && !path_and_query.contains("moved=1")).then(|| {
                let separator = if path_and_query.contains('?') {
                    '&'
                } else {
                    '?'
                };
                redirect(308, &format!("{path_and_query}{separator}moved=1"))
            })
        },
    )
    .await;
    let planned = scim(
        &config(dir.path(), &proxy.base_url),
        &serve.token,
        &["plan", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(planned.code, Some(2), "{}", planned.stderr);
    assert!(
        planned.stdout.contains("+ user ada@example.com"),
        "{}",
        planned.stdout
    );
    assert!(
        proxy.requests().iter().any(|r| r.contains("moved=1")),
        "the redirects were followed: {:?}",
        proxy.requests()
    );

    for status in [301, 302, 307, 308] {
        let elsewhere = format!("{}/Users", witness.base_url);
        let proxy = Rewriter::intercepting(&serve.base, str::to_owned, move |method, path| {
            (method == Method::GET && path.contains("/Users")).then(|| redirect(status, &elsewhere))
        })
        .await;
        let planned = scim(
            &config(dir.path(), &proxy.base_url),
            &serve.token,
            &["plan"],
        )
        .await;
        assert_eq!(planned.code, Some(1), "{status}: {}", planned.stdout);
        assert!(
            planned
                .stderr
                .contains("refused the server's redirect to http://127.0.0.1:")
                && planned.stderr.contains("another scheme, host or port"),
            "{status}: {}",
            planned.stderr
        );
    }
    assert_eq!(witness.received(), Vec::<String>::new());
}

/// A server that dies in the middle of an apply: once it has answered nothing for a quarter of
/// the retry deadline (5 s here; 30 s by default), apply stops sending, reports each op it did
/// not do, and exits 1, instead of retrying every remaining op in turn.
#[tokio::test(flavor = "multi_thread")]
async fn an_apply_stops_when_the_server_dies() {
    let mut serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    let mut text = format!(
        "version: 1\nproviders:\n  corp:\n    url: {}\n    token: ${{CORP_TOKEN}}\n    \
         rate_limit: 40/s\n    retry: {{deadline: 20s}}\nusers:\n",
        serve.base
    );
    for i in 0..200 {
        let _ = writeln!(text, "  - userName: u{i:03}@example.com");
    }
    std::fs::write(&path, text).unwrap();

    let mut apply = std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["apply", "--auto-approve", "--parallelism", "2", "-f"])
        .arg(&path)
        .env("CORP_TOKEN", &serve.token)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Killed once it has created some of the users.
    loop {
        let users = serve.get("/Users?count=1").await;
        if users.body["totalResults"].as_u64().unwrap_or(0) >= 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    serve.child().kill().unwrap();

    // A bound against a hang, far above what it takes: without the stop, the remaining ops
    // would each be retried for 20 s.
    let mut waited = 0;
    while apply.try_wait().unwrap().is_none() {
        assert!(
            waited < 600,
            "apply is still running 120 s after the server died"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        waited += 1;
    }
    let output = apply.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let said = format!("{stdout}{stderr}");
    let not_sent = said
        .lines()
        .filter(|l| {
            l.starts_with("skipped  create user u")
                && l.contains("not sent: the server has answered nothing for")
        })
        .count();
    let done = said
        .lines()
        .find_map(|l| l.strip_prefix("provider corp: "))
        .unwrap_or_else(|| panic!("a summary: {said}"));
    assert!(
        not_sent >= 100,
        "{not_sent} ops reported as not sent: {said}"
    );
    let counts: Vec<usize> = done
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        200,
        "every op is reported: {done}"
    );
    assert!(
        counts[0] >= 20,
        "the ops done before are reported done: {done}"
    );
    assert!(done.ends_with(&format!("{not_sent} skipped")), "{done}");
}

/// A provider's `limits` bound what is read of its server: a response larger than
/// `response_size` is refused as it arrives, and a listing that takes longer than
/// `listing_time` is given up, both naming the limit.
#[tokio::test(flavor = "multi_thread")]
async fn reading_is_bounded_by_the_provider_s_limits() {
    let serve = Serve::start();
    for i in 0..30 {
        serve.user(&format!("u{i:02}@example.com")).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    let write = |url: &str, extra: &str| {
        let mut text = format!(
            "version: 1\nproviders:\n  corp:\n    url: {url}\n    token: ${{CORP_TOKEN}}\n\
             {extra}users:\n"
        );
        for i in 0..30 {
            let _ = writeln!(text, "  - userName: u{i:02}@example.com");
        }
        std::fs::write(&path, text).unwrap();
        path.clone()
    };

    let small = write(&serve.base, "    limits: {response_size: 2 KiB}\n");
    let planned = scim(&small, &serve.token, &["plan"]).await;
    assert_eq!(planned.code, Some(1), "{}", planned.stdout);
    assert!(
        planned.stderr.contains(
            "GET /Users: the response is larger than 2 KiB, the most scimform reads (the \
             provider's `limits.response_size`)"
        ),
        "{}",
        planned.stderr
    );
    let roomy = write(&serve.base, "    limits: {response_size: 1 MiB}\n");
    let planned = scim(&roomy, &serve.token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(planned.code, Some(0), "{}", planned.stderr);

    // One user a page, five requests a second: thirty pages take six seconds.
    let proxy = Rewriter::start(
        &serve.base,
        |path| {
            edit_query(path, |query| {
                for (key, value) in query.iter_mut() {
                    if key == "count" {
                        "1".clone_into(value);
                    }
                }
            })
        },
        |_, _, _| {},
    )
    .await;
    let slow = write(
        &proxy.base_url,
        "    rate_limit: 5/s\n    limits: {listing_time: 1s}\n",
    );
    let planned = scim(&slow, &serve.token, &["plan"]).await;
    assert_eq!(planned.code, Some(1), "{}", planned.stdout);
    assert!(
        planned.stderr.contains(
            "GET /Users: the listing was not read in 1s, the most scimform waits for one (the \
             provider's `limits.listing_time`)"
        ),
        "{}",
        planned.stderr
    );
    let lists = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users?"))
        .count();
    assert!(lists < 30, "reading stopped: {lists} pages");
}

/// Two applies of the same twenty groups, run at once against a server that does not keep
/// group names unique: every group ends up there once, with its member, and both runs succeed.
async fn two_applies_at_once_create_each_group_once(base_url: &str, token: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    let mut text = format!(
        "version: 1\nproviders:\n  corp:\n    url: {base_url}\n    token: ${{CORP_TOKEN}}\n\
         users:\n  - userName: ada@example.com\ngroups:\n"
    );
    for i in 0..20 {
        let _ = writeln!(
            text,
            "  - displayName: Team {i:02}\n    members: [ada@example.com]"
        );
    }
    std::fs::write(&path, text).unwrap();
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
            .args(["apply", "--auto-approve", "-f"])
            .arg(&path)
            .env("CORP_TOKEN", token)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs = [start(), start()];
    let outputs =
        tokio::task::spawn_blocking(move || runs.map(|run| run.wait_with_output().unwrap()))
            .await
            .unwrap();
    for output in &outputs {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let groups: serde_json::Value = reqwest::Client::new()
        .get(format!("{base_url}/Groups?count=1000"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<&str> = groups["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let expected: Vec<String> = (0..20).map(|i| format!("Team {i:02}")).collect();
    assert_eq!(names, expected, "each group once");

    let planned = scim(&path, token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(planned.code, Some(0), "converged: {}", planned.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_at_once_create_each_group_once_on_the_embedded_server() {
    let serve = Serve::start();
    two_applies_at_once_create_each_group_once(&serve.base, &serve.token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_at_once_create_each_group_once_on_scim2_server() {
    let peer = PeerServer::start();
    two_applies_at_once_create_each_group_once(&peer.base_url, PEER_TOKEN).await;
}

/// The view of a plan whose listings straddle another writer's work: `ada` is created and put
/// in a group between the plan's read of the users and its read of the groups. The proxy
/// leaves ada out of every user read until the run's first write, so the plan creates ada and
/// removes from the group the member it cannot name; the create meets ada (409) and adopts
/// her, and the group keeps its member rather than losing her to a PATCH that adds and removes
/// the same id.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_the_plan_could_not_name_is_kept_once_its_user_is_adopted() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let serve = Serve::start();
    let ada = serve.user("ada@example.com").await;
    let team = serve.group("Team", &[&ada]).await;
    let written = Arc::new(AtomicBool::new(false));
    let seen_write = Arc::clone(&written);
    let proxy = Rewriter::editing_responses(&serve.base, str::to_owned, move |exchange| {
        if exchange.method != Method::GET {
            seen_write.store(true, Ordering::SeqCst);
        } else if exchange.path.contains("/Users") && !seen_write.load(Ordering::SeqCst) {
            if let Some(resources) = exchange.body["Resources"].as_array_mut() {
                resources.retain(|user| user["userName"] != "ada@example.com");
                let left = resources.len();
                exchange.body["totalResults"] = left.into();
                exchange.body["itemsPerPage"] = left.into();
            } else if exchange.body["userName"] == "ada@example.com" {
                exchange.status = 404;
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = |url: &str| {
        let path = dir.path().join("scimform.yaml");
        let text = format!(
            "version: 1\nproviders:\n  corp:\n    url: {url}\n    token: ${{CORP_TOKEN}}\n\
             users:\n  - userName: ada@example.com\n\
             groups:\n  - displayName: Team\n    members: [ada@example.com]\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    };

    let applied = scim(
        &config(&proxy.base_url),
        &serve.token,
        &["apply", "--auto-approve"],
    )
    .await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    // The torn view was planned: ada created, and a member of Team the plan could not name
    // removed.
    assert!(
        applied.stdout.contains("+ user ada@example.com"),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains(&format!("- member {ada}")),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("adopted     user ada@example.com"),
        "{}",
        applied.stdout
    );

    let group = serve
        .call(Method::GET, &format!("/Groups/{team}"), None)
        .await;
    let members: Vec<&str> = group.body["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(members, [ada.as_str()], "Team keeps ada: {}", group.body);
    let planned = scim(
        &config(&serve.base),
        &serve.token,
        &["plan", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(planned.code, Some(0), "converged: {}", planned.stdout);
}
