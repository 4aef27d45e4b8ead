//! A server that echoes the token in what it answers (here, in SCIM errors that quote the
//! `Authorization` header) never gets it printed: not by `plan`, whose read fails, nor by
//! `apply`, whose write fails (README, Secrets in output).

use std::path::{Path, PathBuf};

use axum::http::Method;
use serde_json::json;

use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, run_off_runtime};

const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A config for the server at `base`, declaring one user, the token from `$ECHO_TOKEN`.
fn config(dir: &Path, base: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  echo:\n    url: {base}\n    token: ${{ECHO_TOKEN}}\nusers:\n  - userName: ada@example.com\n"
        ),
    )
    .unwrap();
    path
}

async fn scim(token: &str, config: &Path, args: &[&str]) -> Run {
    run_off_runtime(config, "ECHO_TOKEN", token, args).await
}

fn assert_redacted(out: &Run, token: &str) {
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let half = &token[..token.len() / 2];
    assert!(
        !out.stdout.contains(half) && !out.stderr.contains(half),
        "the token is printed:\n{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("[redacted]") || out.stderr.contains("[redacted]"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

/// The SCIM error a server that echoes what it was sent would answer.
fn echo(token: &str) -> serde_json::Value {
    json!({
        "schemas": [ERROR],
        "status": "400",
        "scimType": format!("invalidValue:{token}"),
        "detail": format!("cannot accept Authorization: Bearer {token} for this request"),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_echoed_in_a_read_error_is_redacted() {
    let serve = Serve::start();
    let token = serve.token.clone();
    let echoed = token.clone();
    let proxy = Rewriter::editing_responses(&serve.base, str::to_owned, move |exchange| {
        if exchange.path.ends_with("/Users") {
            exchange.status = 400;
            *exchange.body = echo(&echoed);
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &proxy.base_url);
    let out = scim(&token, &config, &["plan"]).await;
    assert_redacted(&out, &token);
    assert!(
        out.stderr
            .contains("cannot accept Authorization: Bearer [redacted] for this request"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_echoed_in_a_write_error_is_redacted() {
    let serve = Serve::start();
    let token = serve.token.clone();
    let echoed = token.clone();
    let proxy = Rewriter::editing_responses(&serve.base, str::to_owned, move |exchange| {
        if *exchange.method == Method::POST {
            exchange.status = 400;
            *exchange.body = echo(&echoed);
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &proxy.base_url);
    let out = scim(&token, &config, &["apply", "--auto-approve"]).await;
    assert_redacted(&out, &token);
    assert!(
        out.stdout
            .contains("cannot accept Authorization: Bearer [redacted]"),
        "{}",
        out.stdout
    );
}

/// A server that puts the token where the plan shows server text (an id, in the request path
/// of an update): the plan in every format, and the saved plan file, show `[redacted]`.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_in_server_data_is_redacted_from_every_output() {
    let serve = Serve::start();
    let id = serve.user("ada@example.com").await;
    let token = serve.token.clone();
    let planted = token.clone();
    let proxy = Rewriter::start(&serve.base, str::to_owned, move |_, path, body| {
        if path.ends_with("/Users")
            && let Some(users) = body["Resources"].as_array_mut()
        {
            for user in users {
                if user["id"] == json!(id) {
                    user["id"] = json!(planted);
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  echo:\n    url: {}\n    token: ${{ECHO_TOKEN}}\nusers:\n  \
             - userName: ada@example.com\n    title: Analyst\n",
            proxy.base_url
        ),
    )
    .unwrap();
    let saved = dir.path().join("plan.json");
    for args in [
        vec!["plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--format", "markdown"],
        vec!["plan", "--out", saved.to_str().unwrap()],
    ] {
        let out = scim(&token, &path, &args).await;
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !said.contains(&token),
            "{args:?}: the token is printed:\n{said}"
        );
        assert!(said.contains("/Users/[redacted]"), "{args:?}: {said}");
    }
    let file = std::fs::read_to_string(&saved).unwrap();
    assert!(!file.contains(&token), "the saved plan holds the token");
}
