//! A fault-injecting HTTP proxy to put between scimform and a server (docs/apply.md, Faults).
//!
//! It listens on an ephemeral loopback port and forwards each request to the server over a
//! fresh connection, one request per connection. Before forwarding, it may answer 503 or 429
//! itself with `Retry-After: 0` or `1`, or reset the connection; after forwarding a write, it
//! may drop the server's response (a reset), or hold the connection until the client gives up.
//! Which of these happens is drawn from a seeded random source, after a short script that
//! makes sure every kind of fault is met at least once in a run. At most `max_in_a_row`
//! faults are injected one after another, so a client with a few retries always gets through.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request or response the proxy handles.
const MAX_MESSAGE: usize = 4 << 20;

/// How long a stalled connection is held before it is closed.
const STALL: Duration = Duration::from_secs(3);

/// How often each fault is drawn, per request, after the script.
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    pub seed: u64,
    /// 503 or 429 with `Retry-After`, before forwarding.
    pub throttle: f64,
    /// A reset before forwarding.
    pub reset: f64,
    /// For writes: forward, then reset instead of answering.
    pub drop_response: f64,
    pub max_in_a_row: u32,
}

/// What happened to requests, by kind of fault.
#[derive(Debug, Default)]
pub struct FaultStats {
    pub throttled: AtomicUsize,
    pub reset: AtomicUsize,
    pub responses_dropped: AtomicUsize,
    pub stalled: AtomicUsize,
    pub forwarded: AtomicUsize,
}

impl FaultStats {
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Pass,
    Throttle { status: u16, retry_after: u8 },
    Reset,
    DropAnswer,
    Stall,
}

/// The scripted faults: the first request matching each is met by that fault.
const SCRIPT: &[(&str, &str, Fault)] = &[
    (
        "GET",
        "",
        Fault::Throttle {
            status: 503,
            retry_after: 1,
        },
    ),
    ("POST", "/Users", Fault::Reset),
    ("POST", "/Groups", Fault::DropAnswer),
    ("POST", "/Users", Fault::Stall),
    ("POST", "/Users", Fault::DropAnswer),
    ("PATCH", "", Fault::DropAnswer),
    (
        "PATCH",
        "",
        Fault::Throttle {
            status: 429,
            retry_after: 0,
        },
    ),
    ("DELETE", "", Fault::DropAnswer),
    ("POST", "/Bulk", Fault::DropAnswer),
];

struct Decider {
    state: u64,
    rates: FaultRates,
    script_done: Vec<bool>,
    in_a_row: u32,
}

impl Decider {
    fn next_f64(&mut self) -> f64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn decide(&mut self, method: &str, path: &str) -> Fault {
        if let Some(fault) = self.scripted(method, path) {
            self.in_a_row += 1;
            return fault;
        }
        let fault = self.draw(method);
        if fault == Fault::Pass {
            self.in_a_row = 0;
        } else if self.in_a_row >= self.rates.max_in_a_row {
            self.in_a_row = 0;
            return Fault::Pass;
        } else {
            self.in_a_row += 1;
        }
        fault
    }

    fn scripted(&mut self, method: &str, path: &str) -> Option<Fault> {
        for (i, (m, p, fault)) in SCRIPT.iter().enumerate() {
            let path_matches = p.is_empty() || path.ends_with(p);
            if !self.script_done[i] && *m == method && path_matches {
                self.script_done[i] = true;
                return Some(*fault);
            }
        }
        None
    }

    fn draw(&mut self, method: &str) -> Fault {
        let write = method != "GET";
        let roll = self.next_f64();
        let rates = self.rates;
        if roll < rates.throttle {
            let status = if self.next_f64() < 0.5 { 503 } else { 429 };
            let retry_after = u8::from(self.next_f64() < 0.2);
            Fault::Throttle {
                status,
                retry_after,
            }
        } else if roll < rates.throttle + rates.reset {
            Fault::Reset
        } else if write && roll < rates.throttle + rates.reset + rates.drop_response {
            Fault::DropAnswer
        } else {
            Fault::Pass
        }
    }
}

/// A running proxy; it stops with the test's runtime.
pub struct FaultProxy {
    /// The proxy's base URL: the server's, with the proxy's address.
    pub base_url: String,
    pub stats: Arc<FaultStats>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream_base_url` (`http://127.0.0.1:PORT/scim/v2`).
    pub async fn start(upstream_base_url: &str, rates: FaultRates) -> FaultProxy {
        let rest = upstream_base_url
            .strip_prefix("http://")
            .expect("an http upstream");
        let (authority, base_path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let upstream = authority.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let stats = Arc::new(FaultStats::default());
        let decider = Arc::new(Mutex::new(Decider {
            state: rates.seed,
            rates,
            script_done: vec![false; SCRIPT.len()],
            in_a_row: 0,
        }));
        let task_stats = Arc::clone(&stats);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let upstream = upstream.clone();
                let decider = Arc::clone(&decider);
                let stats = Arc::clone(&task_stats);
                tokio::spawn(async move {
                    let _ = serve(stream, &upstream, &decider, &stats).await;
                });
            }
        });
        FaultProxy {
            base_url: format!("http://{address}{base_path}"),
            stats,
        }
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    decider: &Mutex<Decider>,
    stats: &FaultStats,
) -> std::io::Result<()> {
    let Some(request) = read_message(&mut client, true).await? else {
        return Ok(());
    };
    let (method, path) = request_line(&request.head);
    let fault = decider.lock().unwrap().decide(&method, &path);
    match fault {
        Fault::Throttle {
            status,
            retry_after,
        } => {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
            let reason = if status == 503 {
                "Service Unavailable"
            } else {
                "Too Many Requests"
            };
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"{status}","detail":"injected"}}"#
            );
            let response = format!(
                "HTTP/1.1 {status} {reason}\r\nRetry-After: {retry_after}\r\nContent-Type: \
                 application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes()).await?;
            client.shutdown().await
        }
        Fault::Reset => {
            stats.reset.fetch_add(1, Ordering::Relaxed);
            client.set_zero_linger()?;
            drop(client);
            Ok(())
        }
        Fault::DropAnswer | Fault::Stall | Fault::Pass => {
            let response = forward(upstream, &request).await?;
            stats.forwarded.fetch_add(1, Ordering::Relaxed);
            match fault {
                Fault::DropAnswer => {
                    stats.responses_dropped.fetch_add(1, Ordering::Relaxed);
                    client.set_zero_linger()?;
                    drop(client);
                    Ok(())
                }
                Fault::Stall => {
                    stats.stalled.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(STALL).await;
                    client.set_zero_linger()?;
                    drop(client);
                    Ok(())
                }
                _ => {
                    client.write_all(&response).await?;
                    client.shutdown().await
                }
            }
        }
    }
}

/// An HTTP/1.1 message: its head (start line and headers, without the blank line) and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

/// Reads one message. A request's body is as long as its `Content-Length`; a response is read
/// to the end of the connection (the proxy asks for `Connection: close`).
async fn read_message(stream: &mut TcpStream, request: bool) -> std::io::Result<Option<Message>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
        assert!(
            buffer.len() <= MAX_MESSAGE,
            "message too large for the proxy"
        );
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut body = buffer[head_end + 4..].to_vec();
    if request {
        let length = header(&head, "content-length").map_or(0, |v| v.parse().unwrap_or(0));
        assert!(length <= MAX_MESSAGE, "request too large for the proxy");
        while body.len() < length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
            assert!(body.len() <= MAX_MESSAGE, "answer too large for the proxy");
        }
    }
    Ok(Some(Message { head, body }))
}

/// Sends `request` to the server on a new connection and returns its whole response, rewritten
/// to close the client's connection after it.
async fn forward(upstream: &str, request: &Message) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await?;
    let mut out = close_connection(&request.head).into_bytes();
    out.extend_from_slice(&request.body);
    server.write_all(&out).await?;
    let response = read_message(&mut server, false)
        .await?
        .ok_or_else(|| std::io::Error::other("the server closed without answering"))?;
    let mut bytes = close_connection(&response.head).into_bytes();
    bytes.extend_from_slice(&response.body);
    Ok(bytes)
}

/// The head with its `Connection` and `Keep-Alive` headers replaced by `Connection: close`,
/// followed by the blank line.
fn close_connection(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            let name = line.split(':').next().unwrap_or("").trim();
            !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive")
        })
        .collect();
    lines.push("Connection: close");
    let mut text = lines.join("\r\n");
    text.push_str("\r\n\r\n");
    text
}

fn request_line(head: &str) -> (String, String) {
    let mut parts = head.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("").to_owned();
    (method, path)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
