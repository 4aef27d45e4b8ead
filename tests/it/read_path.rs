//! Every request through one policy (README, Apply): the real binary plans and applies through
//! proxies that behave like the SCIM APIs of real services, in front of the embedded server and of
//! scim2-server. Reads and writes are retried through a link that loses one request in four;
//! `501 Not Implemented` fails at once; a server that refuses above a rate is met by pacing
//! the whole provider.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::http::Method;
use serde_json::json;

use crate::support::faults::{FaultProxy, FaultRates, FaultStats};
use crate::support::limiter::{Limiter, Limits};
use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, run_off_runtime};

/// A server to plan and apply against.
enum Server {
    Peer(PeerServer),
    Embedded(Serve),
}

impl Server {
    fn base_url(&self) -> &str {
        match self {
            Server::Peer(peer) => &peer.base_url,
            Server::Embedded(serve) => &serve.base,
        }
    }

    fn token(&self) -> String {
        match self {
            Server::Peer(_) => PEER_TOKEN.to_owned(),
            Server::Embedded(serve) => serve.token.clone(),
        }
    }
}

/// A config of `users` users, the first of them in two groups and holding a role, on the
/// server at `url` as provider `corp`.
fn config(dir: &Path, url: &str, provider_extra: &str, users: usize) -> PathBuf {
    let mut text = format!(
        "version: 1\nproviders:\n  corp:\n    url: {url}\n    token: ${{CORP_TOKEN}}\n    \
         auth_scheme: Bearer\n    roles: {{schema: \"urn:scim:tonkean\", attribute: tonkeanRoles, \
         values: [PROCESS_CONTRIBUTOR, SYSTEM_USER]}}\n{provider_extra}users:\n"
    );
    for i in 0..users {
        let _ = writeln!(
            text,
            "  - userName: u{i:03}@example.com\n    displayName: User {i}\n    title: Analyst"
        );
    }
    text.push_str(
        "groups:\n  - displayName: Owners\n    members: [u000@example.com, u001@example.com]\n  \
         - displayName: Readers\n    members: [u002@example.com]\nroles:\n  SYSTEM_USER:\n    \
         users: [u000@example.com]\n",
    );
    let path = dir.join("scimform.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn scim(config: &Path, token: &str, args: &[&str]) -> Run {
    run_off_runtime(config, "CORP_TOKEN", token, args).await
}

/// Plans and applies 30 users and two groups through a link that fails a quarter of all
/// requests (throttled, reset, or for writes, answered but the response lost), then checks with
/// a direct plan that the server converged.
async fn a_lossy_link_is_crossed_in_one_run(server: Server) {
    let proxy = FaultProxy::start(
        server.base_url(),
        FaultRates {
            seed: 12,
            throttle: 0.12,
            reset: 0.13,
            drop_response: 0.08,
            max_in_a_row: 4,
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let lossy = config(dir.path(), &proxy.base_url, "", 30);
    let token = server.token();

    let planned = scim(&lossy, &token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(planned.code, Some(2), "{}", planned.stderr);
    assert!(
        planned.stdout.contains("+ user u029@example.com")
            && planned.stdout.contains("32 to create"),
        "{}",
        planned.stdout
    );
    let faults_while_reading =
        FaultStats::get(&proxy.stats.throttled) + FaultStats::get(&proxy.stats.reset);
    assert!(
        faults_while_reading >= 1,
        "the plan's reads met faults: {:?}",
        proxy.stats
    );

    // A saved plan: its precondition reads go through the link too.
    let saved = dir.path().join("plan.json");
    let saved_arg = saved.to_str().unwrap();
    let out = scim(&lossy, &token, &["plan", "--out", saved_arg]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let applied = scim(&lossy, &token, &["apply", saved_arg]).await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let faults = FaultStats::get(&proxy.stats.throttled)
        + FaultStats::get(&proxy.stats.reset)
        + FaultStats::get(&proxy.stats.responses_dropped);
    assert!(faults >= 10, "faults were injected: {:?}", proxy.stats);

    // Import and doctor read through the same link.
    let imported = scim(&lossy, &token, &["import", "--provider", "corp"]).await;
    assert_eq!(imported.code, Some(0), "{}", imported.stderr);
    assert!(
        imported.stdout.contains("u029@example.com") && imported.stdout.contains("Owners"),
        "{}",
        imported.stdout
    );
    let doctor = scim(&lossy, &token, &["doctor", "--provider", "corp"]).await;
    assert_eq!(doctor.code, Some(0), "{}\n{}", doctor.stdout, doctor.stderr);

    // Planned again, through the same link: converged.
    let again = scim(&lossy, &token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    let direct = config(dir.path(), server.base_url(), "", 30);
    let checked = scim(&direct, &token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(
        checked.code,
        Some(0),
        "{}\n{}",
        checked.stdout,
        checked.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lossy_link_is_crossed_in_one_run_on_the_embedded_server() {
    a_lossy_link_is_crossed_in_one_run(Server::Embedded(Serve::start())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lossy_link_is_crossed_in_one_run_on_scim2_server() {
    a_lossy_link_is_crossed_in_one_run(Server::Peer(PeerServer::start())).await;
}

/// A server that answers PATCH with 501: the update fails at once with the server's error,
/// after one attempt, and the other writes are done.
async fn not_implemented_fails_at_once(server: Server) {
    let dir = tempfile::tempdir().unwrap();
    let token = server.token();
    let direct = config(dir.path(), server.base_url(), "", 3);
    let seeded = scim(&direct, &token, &["apply", "--auto-approve"]).await;
    assert_eq!(seeded.code, Some(0), "{}", seeded.stderr);

    let proxy = Limiter::start(
        server.base_url(),
        Limits {
            not_implemented: Some((Method::PATCH, "")),
            ..Limits::default()
        },
    )
    .await;
    let text = std::fs::read_to_string(&direct)
        .unwrap()
        .replace(server.base_url(), &proxy.base_url)
        .replace("title: Analyst", "title: Lead");
    std::fs::write(&direct, text).unwrap();

    let applied = scim(&direct, &token, &["apply", "--auto-approve"]).await;
    assert_eq!(
        applied.code,
        Some(1),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let output = format!("{}{}", applied.stdout, applied.stderr);
    assert!(
        output.contains("501"),
        "the server's answer is shown: {output}"
    );
    assert_eq!(
        proxy.stats.not_implemented(),
        3,
        "each of the three PATCHes was sent once, never retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn not_implemented_fails_at_once_on_the_embedded_server() {
    not_implemented_fails_at_once(Server::Embedded(Serve::start())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn not_implemented_fails_at_once_on_scim2_server() {
    not_implemented_fails_at_once(Server::Peer(PeerServer::start())).await;
}

/// Applies 60 users with `--parallelism 8` through a proxy that lets 25 requests a second
/// through and refuses the rest with 429 and `Retry-After`.
async fn rate_limited(server: &Server, provider_extra: &str) -> (usize, usize) {
    let proxy = Limiter::start(
        server.base_url(),
        Limits {
            rate: Some(25.0),
            burst: 5.0,
            ..Limits::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let limited = config(dir.path(), &proxy.base_url, provider_extra, 60);
    let token = server.token();
    let applied = scim(
        &limited,
        &token,
        &["apply", "--auto-approve", "--parallelism", "8"],
    )
    .await;
    assert_eq!(
        applied.code,
        Some(0),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let again = scim(&limited, &token, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    (proxy.stats.forwarded(), proxy.stats.refused())
}

async fn a_rate_limit_is_met_by_the_whole_provider(make: fn() -> Server) {
    // Learnt from the server's refusals: some are met, and a whole run gets through.
    let server = make();
    let (forwarded, refused) = rate_limited(&server, "").await;
    assert!(forwarded >= 60, "{forwarded}");
    assert!(
        refused * 4 < forwarded,
        "refusals stay a small share once the rate is learnt: {refused} of {forwarded}"
    );
    // Set in the config, a little under the server's: none refused.
    let server = make();
    let (forwarded, refused) = rate_limited(&server, "    rate_limit: 20/s\n").await;
    assert!(forwarded >= 60, "{forwarded}");
    assert_eq!(refused, 0, "paced under the limit, nothing is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_is_met_by_the_whole_provider_on_the_embedded_server() {
    a_rate_limit_is_met_by_the_whole_provider(|| Server::Embedded(Serve::start())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_is_met_by_the_whole_provider_on_scim2_server() {
    a_rate_limit_is_met_by_the_whole_provider(|| Server::Peer(PeerServer::start())).await;
}

/// `--bulk` asked of a server that offers no `/Bulk`: the plan says so, and sends one request
/// per write.
async fn bulk_not_offered_is_said(server: Server) {
    let proxy = Rewriter::start(server.base_url(), str::to_owned, |_, path, body| {
        if path.ends_with("/ServiceProviderConfig") {
            body["bulk"] = json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0});
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &proxy.base_url, "", 3);
    let token = server.token();

    let text = scim(&path, &token, &["plan", "--bulk"]).await;
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(
        text.stdout
            .contains("\n  note: Bulk not offered: one request per write\n"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("5 write requests"), "{}", text.stdout);
    let json = scim(&path, &token, &["plan", "--bulk", "--format", "json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        plan["providers"][0]["notes"],
        json!(["Bulk not offered: one request per write"])
    );
    let without_bulk = scim(&path, &token, &["plan"]).await;
    assert!(
        !without_bulk.stdout.contains("note:"),
        "{}",
        without_bulk.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_not_offered_is_said_on_the_embedded_server() {
    bulk_not_offered_is_said(Server::Embedded(Serve::start())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_not_offered_is_said_on_scim2_server() {
    bulk_not_offered_is_said(Server::Peer(PeerServer::start())).await;
}
