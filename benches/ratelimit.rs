//! A rate-limited server (docs/benchmarks.md, Targets): `scimform apply` of N new users, the real
//! binary, against the embedded server behind a proxy that adds latency to every request and
//! refuses with 429 and `Retry-After` above a rate (a token bucket). It reports the wall time
//! against the floor (the requests let through ÷ the rate) and the share of requests refused, for a
//! provider that learns the rate from the refusals and for one whose `rate_limit` is set a little
//! under the server's.
//!
//! `SCIMFORM_BENCH_LEARNT_ONLY` (skip the run with `rate_limit` set), `SCIMFORM_BENCH_USERS` (default 3000), `SCIMFORM_BENCH_RATE` (requests per second, default
//! 50), `SCIMFORM_BENCH_LATENCY_MS` (default 20) and `SCIMFORM_BENCH_PARALLELISM` (default 8)
//! change the load. Run with `cargo bench --bench ratelimit`.

#[path = "../tests/it/support/limiter.rs"]
#[allow(dead_code)]
mod limiter;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use limiter::{Limiter, Limits};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Measured {
    wall: Duration,
    forwarded: usize,
    refused: usize,
}

/// Applies `users` new users through a fresh limiting proxy in front of a fresh embedded
/// server.
async fn run_once(
    users: usize,
    rate: f64,
    latency: Duration,
    parallelism: usize,
    provider_extra: &str,
) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let server = scim_server::spawn_embedded(&dir.path().join("scim.db"))
        .await
        .unwrap();
    let proxy = Limiter::start(
        server.base_url(),
        Limits {
            rate: Some(rate),
            burst: rate / 10.0,
            latency,
            not_implemented: None,
        },
    )
    .await;
    let config = dir.path().join("scimform.yaml");
    write_config(&config, &proxy.base_url, provider_extra, users);
    let token = server.token().expose_secret().to_owned();
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimform"))
            .env("BENCH_TOKEN", token)
            .env("NO_COLOR", "1")
            .args(["apply", "-v", "--auto-approve", "--parallelism"])
            .arg(parallelism.to_string())
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .expect("scimform runs")
    })
    .await
    .unwrap();
    let wall = started.elapsed();
    assert!(
        output.status.success(),
        "apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = server.shutdown().await;
    if std::env::var_os("SCIMFORM_BENCH_SHOW_PACING").is_some() {
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            if line.contains("paced at") {
                eprintln!("{line}");
            }
        }
    }
    Measured {
        wall,
        forwarded: proxy.stats.forwarded(),
        refused: proxy.stats.refused(),
    }
}

fn write_config(path: &Path, url: &str, provider_extra: &str, users: usize) {
    let mut text = format!(
        "version: 1\nproviders:\n  bench:\n    url: {url}\n    token: ${{BENCH_TOKEN}}\n{provider_extra}users:\n"
    );
    for i in 0..users {
        let _ = writeln!(
            text,
            "  - userName: user{i:05}@example.com\n    displayName: User {i}"
        );
    }
    std::fs::write(path, text).unwrap();
}

fn main() {
    let users = env("SCIMFORM_BENCH_USERS", 3000);
    let rate = env("SCIMFORM_BENCH_RATE", 50) as f64;
    let latency = Duration::from_millis(env("SCIMFORM_BENCH_LATENCY_MS", 20) as u64);
    let parallelism = env("SCIMFORM_BENCH_PARALLELISM", 8);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let configured = format!("    rate_limit: {}/s\n", (rate * 0.95).floor());
    println!(
        "apply of {users} users, --parallelism {parallelism}, through a server that lets {rate} \
         requests/s through and adds {} ms\n",
        latency.as_millis()
    );
    println!("| rate | requests | refused | wall | floor | wall / floor |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut runs = vec![("learnt from 429s", String::new())];
    if std::env::var_os("SCIMFORM_BENCH_LEARNT_ONLY").is_none() {
        runs.push(("rate_limit: 0.95 x", configured));
    }
    for (name, extra) in runs {
        let measured = runtime.block_on(run_once(users, rate, latency, parallelism, &extra));
        let floor = measured.forwarded as f64 / rate;
        let sent = measured.forwarded + measured.refused;
        println!(
            "| {name} | {sent} | {} ({:.1}%) | {:.2} s | {floor:.2} s | {:.3} |",
            measured.refused,
            100.0 * measured.refused as f64 / sent as f64,
            measured.wall.as_secs_f64(),
            measured.wall.as_secs_f64() / floor,
        );
    }
}
