//! The executor's own cost (docs/benchmarks.md, Targets): N creates applied through
//! `scimform::apply::execute` next to the same N requests sent raw, at the same concurrency,
//! against the same server.
//!
//! Two servers: a minimal in-process stub that answers every POST with 201 and an id, so that
//! what is measured is the executor's overhead alone; and the embedded server, each run over a
//! fresh store. The target is a ratio of at most 1.25 (docs/benchmarks.md, Targets).
//! `SCIMFORM_BENCH_CREATES` (default 10000), `SCIMFORM_BENCH_PARALLELISM` (default 4) and
//! `SCIMFORM_BENCH_ROUNDS` (default 3, the best is kept) change the load. Run with
//! `cargo bench --bench apply`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use scim::ResourceKind;
use scimform::apply::{self, ExecOptions, Quiet};
use scimform::client::{Capabilities, Connection, ScimClient};
use scimform::plan::{Action, Method, Observed, Op, Phase, ProviderPlan, Request, Unmanaged};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::task::JoinSet;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn body(i: usize) -> Value {
    json!({
        "schemas": [scim::urn::USER],
        "userName": format!("user{i:06}@example.com"),
        "displayName": format!("User {i}"),
        "emails": [{"value": format!("user{i:06}@example.com")}],
    })
}

async fn start_stub() -> String {
    let next = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/scim/v2/Users",
        axum::routing::post(move |Json(mut user): Json<Value>| {
            let next = Arc::clone(&next);
            async move {
                user["id"] = json!(next.fetch_add(1, Ordering::Relaxed).to_string());
                (StatusCode::CREATED, Json(user))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/scim/v2")
}

fn client(base_url: &str, token: SecretString) -> ScimClient {
    ScimClient::new(&Connection {
        base_url: base_url.to_owned(),
        auth_scheme: "Bearer".to_owned(),
        token,
        allow_insecure_http: false,
    })
    .unwrap()
}

/// A client of a fresh embedded server over a fresh store, and what keeps both alive.
async fn embedded() -> (ScimClient, scim_server::EmbeddedServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = scim_server::spawn_embedded(&dir.path().join("scim.db"))
        .await
        .unwrap();
    let client = client(server.base_url(), server.token().clone());
    (client, server, dir)
}

fn print(server: &str, creates: usize, parallelism: usize, raw: Duration, apply: Duration) {
    let ratio = apply.as_secs_f64() / raw.as_secs_f64();
    println!(
        "{server}: {creates} creates at parallelism {parallelism}: raw {:.3} s, apply {:.3} s, \
         ratio {ratio:.3} (target <= 1.25)",
        raw.as_secs_f64(),
        apply.as_secs_f64(),
    );
}

fn plan(creates: usize) -> ProviderPlan {
    let ops = (0..creates)
        .map(|i| Op {
            phase: Phase::Users,
            action: Action::Create,
            resource: ResourceKind::User,
            key: format!("user{i:06}@example.com"),
            reason: None,
            bulk_id: Some(format!("u{i}")),
            changes: Vec::new(),
            request: Request {
                method: Method::Post,
                path: "/Users".into(),
                body: Some(body(i)),
            },
            observed: Observed::Absent,
            depends_on: Vec::new(),
        })
        .collect();
    ProviderPlan {
        provider: "bench".into(),
        url: String::new(),
        server: None,
        capabilities: Capabilities::default(),
        reads: 0,
        existing_users: 0,
        unmanaged: Unmanaged::default(),
        warnings: Vec::new(),
        bulk: false,
        notes: Vec::new(),
        reading: scimform::plan::Reading::default(),
        ops,
    }
}

/// The same POSTs through the client's `send`, `parallelism` at a time, nothing else.
async fn raw(client: &ScimClient, creates: usize, parallelism: usize) -> Duration {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut next = 0;
    loop {
        while tasks.len() < parallelism && next < creates {
            let client = client.clone();
            let user = body(next);
            next += 1;
            tasks.spawn(async move {
                client
                    .send(reqwest::Method::POST, "/Users", &[], Some(&user), None)
                    .await
                    .expect("the stub answers")
            });
        }
        if tasks.join_next().await.is_none() {
            break;
        }
    }
    started.elapsed()
}

async fn applied(client: &ScimClient, plan: &ProviderPlan, parallelism: usize) -> Duration {
    let options = ExecOptions {
        parallelism,
        ..ExecOptions::default()
    };
    let started = Instant::now();
    let report = apply::execute(client, plan, &options, &Quiet).await;
    let elapsed = started.elapsed();
    assert!(report.is_success(), "{report}");
    elapsed
}

fn main() {
    let creates = env("SCIMFORM_BENCH_CREATES", 10_000);
    let parallelism = env("SCIMFORM_BENCH_PARALLELISM", 4);
    let rounds = env("SCIMFORM_BENCH_ROUNDS", 3);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let plan = plan(creates);

        let base_url = start_stub().await;
        let stub = client(&base_url, SecretString::from("bench".to_owned()));
        // Warm the connection pool and the stub, then keep the best round of each.
        raw(&stub, parallelism * 10, parallelism).await;
        let mut best_raw = Duration::MAX;
        let mut best_apply = Duration::MAX;
        for _ in 0..rounds {
            best_raw = best_raw.min(raw(&stub, creates, parallelism).await);
            best_apply = best_apply.min(applied(&stub, &plan, parallelism).await);
        }
        print("stub", creates, parallelism, best_raw, best_apply);

        let mut best_raw = Duration::MAX;
        let mut best_apply = Duration::MAX;
        for _ in 0..rounds {
            let (client, _server, _dir) = embedded().await;
            best_raw = best_raw.min(raw(&client, creates, parallelism).await);
            let (client, _server, _dir) = embedded().await;
            best_apply = best_apply.min(applied(&client, &plan, parallelism).await);
        }
        print(
            "embedded server",
            creates,
            parallelism,
            best_raw,
            best_apply,
        );
    });
}
