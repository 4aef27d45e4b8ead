//! `scimform doctor`, the real binary: a passing report against the embedded server (in-process
//! and as `scimform serve`) and scim2-server, and each failure with its reason and hint: a
//! wrong token, a wrong path, nothing listening, a server without the role extension.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, run, scimform};

fn config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  tonkean:\n    url: {url}\n    token: ${{DOCTOR_TOKEN}}\n    preset: tonkean\n"
        ),
    )
    .unwrap();
    path
}

fn doctor(config: &Path, token: &str) -> Run {
    run(scimform()
        .env("DOCTOR_TOKEN", token)
        .args(["doctor", "--provider", "tonkean", "-f"])
        .arg(config))
}

#[track_caller]
fn assert_passes(out: &Run) {
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    for line in [
        "✓ server",
        "✓ token",
        "✓ schemas",
        "✓ resource types",
        "✓ role extension   urn:scim:tonkean:tonkeanRoles is announced",
        "writes  PATCH with only the changed attributes",
        "All checks passed",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains('\x1b'), "no colour without a terminal");
}

#[tokio::test]
async fn scim2_server_passes_and_the_plan_is_described() {
    let peer = PeerServer::start();
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&config(dir.path(), &peer.base_url), PEER_TOKEN);
    assert_passes(&out);
    assert!(
        out.stdout
            .contains("accepted with `Authorization: token …`"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(PEER_TOKEN), "the token is never shown");
}

#[test]
fn scimform_serve_passes() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&config(dir.path(), &serve.base), &serve.token);
    assert_passes(&out);
    assert!(
        out.stdout.contains("bulk    /Bulk available"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_embedded_provider_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(
        &path,
        "version: 1\nproviders:\n  tonkean:\n    url: embedded:store.db\n    preset: tonkean\n",
    )
    .unwrap();
    let out = doctor(&path, "unused");
    assert_passes(&out);
}

#[test]
fn a_wrong_token_is_rejected_with_both_schemes() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&config(dir.path(), &serve.base), "not-the-token");
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "✗ token            rejected (401) with `Authorization: token …`, and with `Bearer` too"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("hint: check the token"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 check failed"), "{}", out.stdout);
    assert!(!out.stdout.contains("not-the-token"));
}

// The proxy runs on the test's runtime while the binary runs: it needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sent_with_the_wrong_scheme_names_the_one_that_works() {
    let serve = Serve::start();
    let bearer_only = Rewriter::only_scheme(&serve.base, "Bearer").await;
    let dir = tempfile::tempdir().unwrap();
    // `preset: tonkean` sends `Authorization: token …`; this server knows only Bearer.
    let out = doctor(&config(dir.path(), &bearer_only.base_url), &serve.token);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "✗ token            rejected with `Authorization: token …` (401), but accepted with `Authorization: Bearer …`"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("hint: set `auth_scheme: Bearer` on the provider"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_wrong_path_is_a_404_with_the_right_url_suggested() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = serve.base.replace("/scim/v2", "/api/v1");
    let out = doctor(&config(dir.path(), &wrong), &serve.token);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "✗ server           GET {wrong}/ServiceProviderConfig answered 404"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "hint: a SCIM server answers at {}: set `url` to it",
            serve.base
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn nothing_listening_is_a_refused_connection() {
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(
        &config(dir.path(), &format!("http://127.0.0.1:{port}/scim/v2")),
        "t",
    );
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "✗ server           nothing listens at 127.0.0.1:{port} (connection refused)"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("hint: check the host and port in `url`, and that the server is running"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("token "), "later checks are not run");
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_failure() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let https = serve.base.replace("http://", "https://");
    let out = doctor(&config(dir.path(), &https), &serve.token);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("✗ server           the TLS handshake with 127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("hint: the certificate"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_server_without_the_role_extension_fails_that_check() {
    let peer = PeerServer::start_without_extension();
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&config(dir.path(), &peer.base_url), PEER_TOKEN);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✓ token"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "✗ role extension   the server does not announce the schema urn:scim:tonkean that holds roles (urn:scim:tonkean:tonkeanRoles)"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("hint: role writes would be rejected"));
}

#[test]
fn several_providers_need_provider() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(
        &path,
        "version: 1\nproviders:\n  a:\n    url: embedded:a.db\n  b:\n    url: embedded:b.db\n",
    )
    .unwrap();
    let out = run(scimform().args(["doctor", "-f"]).arg(&path));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(
            "doctor works on one provider: pass --provider NAME (the config declares: a, b)"
        ),
        "{}",
        out.stderr
    );
}
