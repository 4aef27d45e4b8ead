//! Apply benchmark (SPEC §8): N creates (default 10,000) on the embedded server at
//! parallelism 4, next to the time of sending the very same requests raw at the same
//! concurrency. SPEC §8 wants apply within 1.25 times the raw time.
//!
//! Run with `cargo bench --bench apply`; `SCIMFORM_BENCH_CREATES=2000` for a quick run.
//! Both runs use `scimform serve` (the release binary) over a fresh store; the apply run
//! includes everything `apply` does (loading the config, reading the server, diffing).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKEN: &str = "bench-token-5f2c9a";
const PARALLELISM: usize = 4;

struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, name: &str) -> Serve {
    let token_file = dir.join(format!("{name}.token"));
    std::fs::write(&token_file, TOKEN).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(dir.join(format!("{name}.db")))
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("scimform serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://"), "serve printed {line:?}");
    Serve {
        child,
        base: line.trim().to_owned(),
    }
}

fn config(dir: &Path, base: &str, creates: usize) -> std::path::PathBuf {
    let mut text = format!(
        "version: 1\nproviders:\n  bench:\n    url: {base}\n    token: ${{BENCH_TOKEN}}\n    preset: tonkean\nusers:\n"
    );
    for i in 0..creates {
        let _ = writeln!(
            text,
            "  - userName: user{i:06}@example.com\n    displayName: User {i}\n    title: Engineer\n    emails: [user{i:06}@example.com]"
        );
    }
    let path = dir.join(format!("{}.yaml", base.len() + creates));
    std::fs::write(&path, text).unwrap();
    path
}

fn scimform(args: &[&str], config: &Path) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(args)
        .arg("-f")
        .arg(config)
        .env("BENCH_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("scimform runs");
    assert!(
        output.status.success(),
        "scimform {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Sends `requests` (method, path, body) with `PARALLELISM` workers; returns the wall time.
fn send_raw(base: &str, requests: Vec<(String, String, Option<Value>)>) -> Duration {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let requests = Arc::new(requests);
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..PARALLELISM {
            let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
            let base = base.to_owned();
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((method, path, body)) = requests.get(i) else {
                        break;
                    };
                    let mut request = client
                        .request(method.parse().unwrap(), format!("{base}{path}"))
                        .header("Authorization", format!("Bearer {TOKEN}"));
                    if let Some(body) = body {
                        request = request
                            .header("Content-Type", "application/scim+json")
                            .body(body.to_string());
                    }
                    let response = request.send().await.expect("the server answers");
                    assert!(response.status().is_success(), "{}", response.status());
                    let _ = response.bytes().await;
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
        start.elapsed()
    })
}

fn main() {
    let creates: usize = std::env::var("SCIMFORM_BENCH_CREATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();

    // apply, end to end.
    let applied = serve(dir.path(), "apply");
    let apply_config = config(dir.path(), &applied.base, creates);
    let start = Instant::now();
    scimform(
        &["apply", "--auto-approve", "--quiet", "--parallelism", "4"],
        &apply_config,
    );
    let apply_time = start.elapsed();
    drop(applied);

    // The same requests, raw: taken from the plan against an identical fresh server.
    let raw = serve(dir.path(), "raw");
    let raw_config = config(dir.path(), &raw.base, creates);
    let plan = scimform(&["plan", "--format", "json"], &raw_config);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let requests: Vec<(String, String, Option<Value>)> = plan["providers"][0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let request = &op["request"];
            (
                request["method"].as_str().unwrap().to_owned(),
                request["path"].as_str().unwrap().to_owned(),
                request.get("body").cloned(),
            )
        })
        .collect();
    assert_eq!(requests.len(), creates);
    let raw_time = send_raw(&raw.base, requests);

    println!("| creates | parallelism | apply (s) | raw requests (s) | ratio |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {creates} | {PARALLELISM} | {:.2} | {:.2} | {:.2} |",
        apply_time.as_secs_f64(),
        raw_time.as_secs_f64(),
        apply_time.as_secs_f64() / raw_time.as_secs_f64()
    );
}
