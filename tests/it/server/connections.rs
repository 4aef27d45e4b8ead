//! Connections to `scimform serve` that stall: unfinished requests and idle keep-alive
//! connections are closed, and a crowd of them under the usual open-file limit of 1,024 leaves
//! room for requests that carry the token.
//!
//! The deadlines below are hang guards (a missing fix shows as a failure instead of a test that
//! never ends), far longer than anything the server is asked to do; no assertion is on time.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::serve::{Options, Serve};

/// How long to wait for the server to do what it must before calling it a failure.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The start of a request whose headers never end.
const UNFINISHED: &[u8] = b"GET /scim/v2/Users HTTP/1.1\r\nHost: scimform\r\nX-Pad: ";

/// Lets this process hold `wanted` sockets: the attack below needs more than 1,024 of them.
fn allow_open_files(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= wanted,
        "this test needs an open-file limit of at least {wanted} (ulimit -Hn is {hard})"
    );
    if soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
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

/// Waits until the server closes `stream`; what it sent first (nothing, for a connection that
/// never sent a whole request).
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(HANG_GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_leave_room_for_authenticated_requests() {
    const STALLED: usize = 1100;
    const OPEN_FILES: u64 = 1024;
    allow_open_files(2048);
    // A header deadline longer than the hang guard: only the connection bound can make room.
    let serve = Serve::start_with(&Options {
        args: &["--header-timeout", "10m"],
        open_files: Some(OPEN_FILES),
    });
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let mut stream = TcpStream::connect(serve.addr()).await.unwrap();
        stream.write_all(UNFINISHED).await.unwrap();
        stalled.push(stream);
    }

    let response = tokio::time::timeout(HANG_GUARD, serve.get("/Users")).await;
    let response = response.expect("an authenticated request is answered while 1,100 are stalled");
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let created = tokio::time::timeout(HANG_GUARD, serve.user("ada"))
        .await
        .expect("and so is a write");
    assert!(!created.is_empty());

    // The server closed stalled connections to stay below its open-file limit, and no more
    // than it had to: most of them are still open.
    let bound = usize::try_from(OPEN_FILES - scim_server::listen::RESERVED_FILES).unwrap();
    let must_close = STALLED - bound;
    let closed = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let closed = stalled.iter().filter(|s| is_closed(s)).count();
            if closed >= must_close {
                return closed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        let closed = stalled.iter().filter(|s| is_closed(s)).count();
        panic!("only {closed} of {STALLED} stalled connections were closed")
    });
    assert!(
        closed < STALLED / 2,
        "{closed} of {STALLED} stalled connections were closed"
    );
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_dropped() {
    // The default deadline, five seconds.
    let serve = Serve::start();
    let mut stream = TcpStream::connect(serve.addr()).await.unwrap();
    stream.write_all(UNFINISHED).await.unwrap();
    let sent = closed_by_server(&mut stream).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    // The server still answers.
    assert_eq!(serve.get("/Users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let serve = Serve::start_with(&Options {
        args: &["--header-timeout", "1s"],
        ..Options::default()
    });
    let mut stream = TcpStream::connect(serve.addr()).await.unwrap();
    let request = format!(
        "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: scimform\r\n\
         Authorization: Bearer {}\r\n\r\n",
        serve.token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // The response, then nothing until the server closes the idle connection.
    let sent = String::from_utf8(closed_by_server(&mut stream).await).unwrap();
    assert!(sent.starts_with("HTTP/1.1 200 OK\r\n"), "{sent}");
    assert!(!sent.contains("connection: close"), "kept alive: {sent}");
}

#[test]
fn the_header_deadline_must_be_positive() {
    let output = crate::support::serve::command(&Options {
        args: &["--header-timeout", "0s"],
        ..Options::default()
    })
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("longer than zero"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
