//! Benchmark of `scimform serve` (not a timed test): create throughput with 4 concurrent
//! clients, seeding through `/Bulk`, listing every user in pages of 1,000, an indexed
//! `userName eq` lookup, and the server's peak memory (`VmHWM`).
//!
//! `cargo bench --bench server`; `SCIMFORM_BENCH_USERS` (default 100000) sets the directory
//! size and `SCIMFORM_BENCH_CREATES` (default 10000) how many of them are created one POST at
//! a time, for quick runs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scim::urn::{BULK_REQUEST, TONKEAN, USER};
use serde_json::{Value, json};

const CLIENTS: usize = 4;
const PAGE: usize = 1000;

/// A line of the table: what, wall-clock time, rate, server CPU time.
type Row = (String, Duration, String, Duration);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn user(i: usize) -> Value {
    json!({
        "schemas": [USER, TONKEAN],
        "userName": format!("user{i:06}@example.com"),
        "name": {"givenName": "User", "familyName": format!("N{i}")},
        "displayName": format!("User {i}"),
        "emails": [{"value": format!("user{i:06}@example.com"), "type": "work", "primary": true}],
        "externalId": format!("ext-{i}"),
        "active": true,
        TONKEAN: {"tonkeanRoles": ["PROCESS_CONTRIBUTOR"]},
    })
}

/// The server's CPU time so far (user + system), from `/proc/PID/stat`; on a shared machine it
/// says more than wall-clock time.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
    // Linux reports in USER_HZ, 100 per second on every mainstream configuration.
    Duration::from_millis(ticks * 10)
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let users = env_usize("SCIMFORM_BENCH_USERS", 100_000);
    let creates = env_usize("SCIMFORM_BENCH_CREATES", 10_000).min(users);
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "bench-token-0123456789abcdef").expect("token file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(dir.path().join("bench.db"))
        .arg("--token-file")
        .arg(&token_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimform serve starts");
    let mut base = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut base)
        .expect("base URL");
    let base = base.trim().to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let rows = runtime.block_on(run(&base, users, creates, child.id()));
    let peak = peak_memory_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    println!();
    println!("scimform serve, {users} users, {CLIENTS} concurrent clients");
    println!(
        "{:<44} {:>14} {:>16} {:>14}",
        "measure", "time", "rate", "server CPU"
    );
    for (name, time, rate, cpu) in rows {
        println!(
            "{name:<44} {:>12.2} s {rate:>16} {:>12.2} s",
            time.as_secs_f64(),
            cpu.as_secs_f64()
        );
    }
    match peak {
        Some(kib) => println!(
            "{:<44} {:>12.1} MiB",
            "server peak memory (VmHWM)",
            kib as f64 / 1024.0
        ),
        None => println!("server peak memory: unavailable (no /proc)"),
    }
}

// The four phases read top to bottom, in the order the table prints them.
#[allow(clippy::too_many_lines)]
async fn run(base: &str, users: usize, creates: usize, pid: u32) -> Vec<Row> {
    let client = reqwest::Client::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut cpu = cpu_time(pid);
    let mut cpu_since = move || {
        let now = cpu_time(pid);
        let spent = now.saturating_sub(cpu);
        cpu = now;
        spent
    };
    let auth = "Bearer bench-token-0123456789abcdef";

    // 1. One POST per user, 4 clients.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        let url = format!("{base}/Users");
        tasks.push(tokio::spawn(async move {
            for i in (c..creates).step_by(CLIENTS) {
                let response = client
                    .post(&url)
                    .header("Authorization", auth)
                    .header("Content-Type", "application/scim+json")
                    .body(user(i).to_string())
                    .send()
                    .await
                    .expect("create");
                assert_eq!(response.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let elapsed = started.elapsed();
    rows.push((
        format!("create {creates} users (POST, {CLIENTS} clients)"),
        elapsed,
        format!("{:.0} users/s", creates as f64 / elapsed.as_secs_f64()),
        cpu_since(),
    ));

    // 2. The rest through /Bulk, 1,000 operations per request, 4 clients.
    let rest: Vec<usize> = (creates..users).collect();
    if !rest.is_empty() {
        let started = Instant::now();
        let chunks: Vec<Vec<usize>> = rest.chunks(PAGE).map(<[usize]>::to_vec).collect();
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let client = client.clone();
            let url = format!("{base}/Bulk");
            let mine: Vec<Vec<usize>> = chunks.iter().skip(c).step_by(CLIENTS).cloned().collect();
            tasks.push(tokio::spawn(async move {
                for chunk in mine {
                    let ops: Vec<Value> = chunk
                        .iter()
                        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": i.to_string(), "data": user(*i)}))
                        .collect();
                    let body = json!({"schemas": [BULK_REQUEST], "Operations": ops});
                    let response: Value = client
                        .post(&url)
                        .header("Authorization", auth)
                        .header("Content-Type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("bulk")
                        .json()
                        .await
                        .expect("bulk response");
                    assert!(response["Operations"].as_array().expect("ops").iter().all(|o| o["status"] == "201"));
                }
            }));
        }
        for t in tasks {
            t.await.expect("bulk task");
        }
        let elapsed = started.elapsed();
        rows.push((
            format!(
                "create {} users (/Bulk of {PAGE}, {CLIENTS} clients)",
                rest.len()
            ),
            elapsed,
            format!("{:.0} users/s", rest.len() as f64 / elapsed.as_secs_f64()),
            cpu_since(),
        ));
    }

    // 3. List everything in pages of 1,000.
    let started = Instant::now();
    let mut seen = 0;
    let mut start = 1;
    loop {
        let page: Value = client
            .get(format!("{base}/Users?startIndex={start}&count={PAGE}"))
            .header("Authorization", auth)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list body");
        let n = page["Resources"].as_array().map_or(0, Vec::len);
        seen += n;
        if n == 0 || seen >= users {
            break;
        }
        start += n;
    }
    assert_eq!(seen, users);
    let elapsed = started.elapsed();
    rows.push((
        format!("list {users} users in pages of {PAGE}"),
        elapsed,
        format!("{:.0} users/s", users as f64 / elapsed.as_secs_f64()),
        cpu_since(),
    ));

    // 4. The reconciler's per-object read: `userName eq`, answered by the index.
    let lookups = 1000.min(users);
    let started = Instant::now();
    for i in 0..lookups {
        let i = i * (users / lookups);
        let page: Value = client
            .get(format!("{base}/Users"))
            .query(&[("filter", format!("userName eq \"USER{i:06}@example.com\""))])
            .header("Authorization", auth)
            .send()
            .await
            .expect("lookup")
            .json()
            .await
            .expect("lookup body");
        assert_eq!(page["totalResults"], 1);
    }
    let elapsed = started.elapsed();
    rows.push((
        format!("{lookups} sequential userName eq lookups"),
        elapsed,
        format!(
            "{:.2} ms each",
            elapsed.as_secs_f64() * 1000.0 / lookups as f64
        ),
        cpu_since(),
    ));
    rows
}
