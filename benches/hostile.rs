//! What a hostile or broken server costs the client, the real binary against real servers
//! (docs/benchmarks.md, Hostile and broken servers): the memory and time a plan takes to refuse a
//! 1 GiB response, and the time an apply takes to stop after its server dies.
//!
//! `SCIMFORM_BENCH_BODY_MIB` (default 1024) sizes the response; `SCIMFORM_BENCH_USERS` (default
//! 2000) the apply, which sends at most 100 requests a second and has its server killed once
//! 100 users exist. Run with `cargo bench --bench hostile`.

#[path = "support/probe.rs"]
mod probe;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use futures_util::stream;

const TOKEN: &str = "bench-token-0123456789abcdef";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    probe::run_if_probe();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "{:<44} {:>9} {:>10} {:>9}",
        "case", "wall", "client CPU", "peak RSS"
    );
    runtime.block_on(giant_response(env("SCIMFORM_BENCH_BODY_MIB", 1024)));
    runtime.block_on(dying_server(env("SCIMFORM_BENCH_USERS", 2000)));
}

/// A server whose `/Users` response is `mib` MiB of users, sent as fast as the client reads.
async fn giant_response(mib: usize) {
    const CHUNK: usize = 1024 * 1024;
    let user = r#"{"id":"00000000000000000000000000000000","userName":"ada@example.com"},"#;
    let chunk = Bytes::from(user.repeat(CHUNK / user.len()));
    let app = axum::Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            axum::routing::get(|| async { r#"{"patch":{"supported":true}}"# }),
        )
        .route(
            "/scim/v2/Groups",
            axum::routing::get(|| async { r#"{"totalResults":0,"Resources":[]}"# }),
        )
        .route(
            "/scim/v2/Users",
            axum::routing::get(move || {
                let head = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
                    br#"{"totalResults":1,"Resources":["#,
                ))]);
                let body = stream::iter((0..mib).map({
                    let chunk = chunk.clone();
                    move |_| Ok(chunk.clone())
                }));
                async move { Body::from_stream(futures_util::StreamExt::chain(head, body)) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1\nproviders:\n  corp:\n    url: http://{addr}/scim/v2\n    \
             token: ${{CORP_TOKEN}}\nusers:\n  - userName: ada@example.com\n"
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimform"));
    command
        .args(["plan", "-f"])
        .arg(&config)
        .env("CORP_TOKEN", TOKEN);
    let out = dir.path().join("probe");
    let probed = tokio::task::spawn_blocking(move || probe::measure(&command, &out))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&probed.output.stderr);
    assert!(
        stderr.contains("the response is larger than 64 MiB"),
        "the plan refuses the response: {stderr}"
    );
    println!(
        "{:<44} {:>7.2} s {:>8.2} s {:>6} MB",
        format!("plan, a {mib} MiB /Users response"),
        probed.wall.as_secs_f64(),
        probed.cpu.as_secs_f64(),
        probed.peak_rss_kb / 1024
    );
}

/// `scimform apply` of `users` new users, its server killed once 100 of them exist.
async fn dying_server(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(dir.path().join("scim.db"))
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();

    let config = dir.path().join("scimform.yaml");
    let mut text = format!(
        "version: 1\nproviders:\n  corp:\n    url: {base}\n    token: ${{CORP_TOKEN}}\n    \
         rate_limit: 100/s\nusers:\n"
    );
    for i in 0..users {
        let _ = writeln!(text, "  - userName: u{i:05}@example.com");
    }
    std::fs::write(&config, text).unwrap();
    let report = dir.path().join("apply.out");
    let mut apply = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["apply", "--auto-approve", "-f"])
        .arg(&config)
        .env("CORP_TOKEN", TOKEN)
        // To a file: the plan printed first is larger than a pipe holds unread.
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    loop {
        let listed: serde_json::Value = client
            .get(format!("{base}/Users?count=1"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["totalResults"].as_u64().unwrap_or(0) >= 100 {
            break;
        }
        if apply.try_wait().unwrap().is_some() {
            let output = apply.wait_with_output().unwrap();
            panic!(
                "apply ended before the server was killed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    let _ = server.wait();
    let killed = Instant::now();
    let output = tokio::task::spawn_blocking(move || apply.wait_with_output().unwrap())
        .await
        .unwrap();
    let stopped = killed.elapsed();
    let stdout = std::fs::read_to_string(&report).unwrap();
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("provider corp: "))
        .unwrap_or("no summary");
    println!(
        "{:<44} {:>7.2} s {:>10} {:>9}",
        format!("apply of {users} users, server killed"),
        stopped.as_secs_f64(),
        "",
        ""
    );
    println!(
        "  from the kill to apply's exit ({:?}); {summary}",
        output.status.code()
    );
}
