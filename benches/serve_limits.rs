//! Benchmark of how `scimform serve` holds up (not a timed test): a `/Bulk` of 1,000 operations
//! chained by `bulkId` in reverse order (each needs the one listed after it), alone and with
//! another client writing meanwhile; and 1,100 connections that never finish a request, under
//! an open-file limit of 1,024.
//!
//! Two chains: 1,000 groups, each the member of the one before it (a small request, 0.2 MB);
//! and 1,000 users, each the manager of the one before it and holding 60 email addresses, a
//! request near the announced `maxPayloadSize` of 4 MiB.
//!
//! `cargo bench --bench serve_limits`. `SCIMFORM_BENCH_BIN=PATH` measures another build of
//! `scimform` (an older one, for a comparison); `SCIMFORM_BENCH_RUNS` (default 3) sets how many
//! times the bulk runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scim::urn::{BULK_REQUEST, ENTERPRISE_USER, GROUP, USER};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const TOKEN: &str = "bench-token-0123456789abcdef";
const OPERATIONS: usize = 1000;
/// Email addresses per user in the large chain.
const EMAILS: usize = 60;
const STALLED: usize = 1100;
const OPEN_FILES: u64 = 1024;
/// How long the bench waits for a response before it reports none.
const PATIENCE: Duration = Duration::from_secs(30);

fn binary() -> PathBuf {
    std::env::var_os("SCIMFORM_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_scimform")),
        PathBuf::from,
    )
}

/// `scimform serve` over a fresh store in `dir`, under `ulimit -n` when asked.
fn serve(dir: &Path, open_files: Option<u64>) -> (Child, String) {
    let token_file = dir.join("token");
    std::fs::write(&token_file, TOKEN).expect("token file");
    let mut command = match open_files {
        Some(limit) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(binary());
            sh
        }
        None => Command::new(binary()),
    };
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(dir.join("bench.db"))
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimform serve starts");
    let mut base = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut base)
        .expect("base URL");
    (child, base.trim().to_owned())
}

/// Which chain to send.
#[derive(Clone, Copy)]
enum Chain {
    Groups,
    Users,
}

impl Chain {
    fn describe(self) -> &'static str {
        match self {
            Self::Groups => "groups (each a member of the one before)",
            Self::Users => "users (each the manager of the one before, 60 emails each)",
        }
    }
}

fn reverse_chain(chain: Chain, run: usize) -> Value {
    let ops: Vec<Value> = (0..OPERATIONS)
        .map(|i| {
            let next = format!("bulkId:c{}", i + 1);
            let last = i + 1 == OPERATIONS;
            let data = match chain {
                Chain::Groups => {
                    let members = if last { json!([]) } else { json!([{"value": next}]) };
                    json!({"schemas": [GROUP], "displayName": format!("run {run} chain {i}"),
                           "members": members})
                }
                Chain::Users => {
                    let emails: Vec<Value> = (0..EMAILS)
                        .map(|e| json!({"value": format!("r{run}u{i}.{e}@example.com"), "type": "work"}))
                        .collect();
                    let mut user = json!({"schemas": [USER, ENTERPRISE_USER],
                                          "userName": format!("run{run}-chain{i}@example.com"),
                                          "emails": emails});
                    if !last {
                        user[ENTERPRISE_USER] = json!({"manager": {"value": next}});
                    }
                    user
                }
            };
            let path = match chain {
                Chain::Groups => "/Groups",
                Chain::Users => "/Users",
            };
            json!({"method": "POST", "path": path, "bulkId": format!("c{i}"), "data": data})
        })
        .collect();
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

async fn send_bulk(client: &reqwest::Client, base: &str, body: &Value) -> Duration {
    let started = Instant::now();
    let response: Value = client
        .post(format!("{base}/Bulk"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .expect("bulk")
        .json()
        .await
        .expect("bulk response");
    let elapsed = started.elapsed();
    let ops = response["Operations"].as_array().expect("operations");
    assert!(
        ops.len() == OPERATIONS && ops.iter().all(|o| o["status"] == "201"),
        "{response}"
    );
    elapsed
}

/// The bulk alone, then with a client creating users one by one until it is answered: the
/// bulk's time, how many of those writes were answered while it ran, and the longest any of
/// them waited.
async fn bulk(base: &str, runs: usize, chain: Chain, first_run: usize) {
    let client = reqwest::Client::new();
    let size = reverse_chain(chain, first_run).to_string().len();
    let mut alone = Vec::new();
    for run in first_run..first_run + runs {
        alone.push(send_bulk(&client, base, &reverse_chain(chain, run)).await);
    }
    alone.sort();
    println!(
        "/Bulk of {OPERATIONS} reverse-chained {} ({:.1} MB), alone: median {:.3} s (of {runs}: {})",
        chain.describe(),
        size as f64 / 1e6,
        alone[runs / 2].as_secs_f64(),
        alone
            .iter()
            .map(|d| format!("{:.3}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    for run in first_run + runs..first_run + runs * 2 {
        let bulk_responded = Arc::new(AtomicBool::new(false));
        let writer = {
            let (client, base, bulk_responded) =
                (client.clone(), base.to_owned(), Arc::clone(&bulk_responded));
            tokio::spawn(async move {
                let mut waits = Vec::new();
                let mut k = 0;
                while !bulk_responded.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let status = client
                        .post(format!("{base}/Users"))
                        .bearer_auth(TOKEN)
                        .header("Content-Type", "application/scim+json")
                        .body(
                            json!({"schemas": [USER], "userName": format!("w{run}-{k}")})
                                .to_string(),
                        )
                        .send()
                        .await
                        .expect("create")
                        .status();
                    assert_eq!(status, 201);
                    waits.push((started.elapsed(), bulk_responded.load(Ordering::SeqCst)));
                    k += 1;
                }
                waits
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let took = send_bulk(&client, base, &reverse_chain(chain, run)).await;
        bulk_responded.store(true, Ordering::SeqCst);
        let waits = writer.await.expect("writer");
        let during: Vec<Duration> = waits
            .iter()
            .filter(|(_, after)| !after)
            .map(|(d, _)| *d)
            .collect();
        let longest = waits.iter().map(|(d, _)| *d).max().unwrap_or_default();
        println!(
            "  with a client writing meanwhile: bulk {:.3} s; {} writes answered during it; longest write {:.1} ms",
            took.as_secs_f64(),
            during.len(),
            longest.as_secs_f64() * 1000.0
        );
    }
}

/// Whether the server has closed this connection, without waiting.
fn is_closed(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// 1,100 connections that send half a request and stall, then an authenticated GET.
async fn stalled(base: &str) {
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/scim/v2")
        .to_owned();
    let started = Instant::now();
    let mut streams = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream
            .write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: bench\r\nX-Pad: ")
            .await
            .expect("write");
        streams.push(stream);
    }
    println!(
        "{STALLED} stalled connections opened in {:.3} s (open-file limit {OPEN_FILES})",
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let asked = Instant::now();
    let get = client
        .get(format!("{base}/Users"))
        .bearer_auth(TOKEN)
        .send();
    match tokio::time::timeout(PATIENCE, get).await {
        Ok(Ok(response)) => println!(
            "  authenticated GET answered {} in {:.1} ms; stalled connections closed by then: {}",
            response.status(),
            asked.elapsed().as_secs_f64() * 1000.0,
            streams.iter().filter(|s| is_closed(s)).count()
        ),
        Ok(Err(e)) => println!("  authenticated GET failed: {e}"),
        Err(_) => println!(
            "  authenticated GET not answered within {} s",
            PATIENCE.as_secs()
        ),
    }
    let mut last = usize::MAX;
    while started.elapsed() < PATIENCE {
        let open = streams.iter().filter(|s| !is_closed(s)).count();
        if open != last {
            println!(
                "  {:>6.2} s after the first connection: {open} stalled connections open",
                started.elapsed().as_secs_f64()
            );
            last = open;
        }
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn main() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let runs = std::env::var("SCIMFORM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < 4096 && hard >= 4096 {
        setrlimit(Resource::RLIMIT_NOFILE, 4096, hard).expect("setrlimit");
    }
    println!("scimform serve: {}", binary().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = serve(dir.path(), None);
    runtime.block_on(bulk(&base, runs, Chain::Groups, 0));
    runtime.block_on(bulk(&base, runs, Chain::Users, 2 * runs));
    let _ = child.kill();
    let _ = child.wait();

    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = serve(dir.path(), Some(OPEN_FILES));
    runtime.block_on(stalled(&base));
    let _ = child.kill();
    let _ = child.wait();
}
