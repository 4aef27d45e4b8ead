//! Accepting connections so that clients who stall cannot starve those who hold the token.
//!
//! - **Header deadline.** A connection must send a request's complete headers within
//!   [`Limits::header_timeout`] of being accepted or of its previous response, or it is
//!   closed: a client that opens a connection and never finishes a request, and an idle
//!   keep-alive connection alike (hyper's `header_read_timeout`, which runs while a connection
//!   waits for a request).
//! - **Connection bound.** At most [`Limits::max_connections`] connections are open, fewer
//!   than the open-file limit allows, so the store and the listener always have the files they
//!   need. When the bound is reached, a new connection displaces an idle one (no request in
//!   flight): first one that never carried an authenticated request, then the one idle the
//!   longest. A request in flight is never cut; a new connection is refused (503, as a SCIM
//!   error) only when every open connection has one.
//!
//! The server speaks HTTP/1.1 only: every SCIM client does, and it is the protocol these
//! deadlines are written for.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

use super::error::ScimError;
use super::http::SCIM_JSON;

/// How connections are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, counted from when it was
    /// accepted or sent its previous response.
    pub header_timeout: Duration,
}

/// The default [`Limits::header_timeout`]: ample for any client on a working network, short
/// enough that stalled connections do not pile up.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The most connections served at once, whatever the open-file limit: each costs buffers, and
/// no SCIM client needs more.
pub(crate) const MAX_CONNECTIONS: usize = 1024;

/// File descriptors kept for everything but connections: the standard streams, the listener,
/// the runtime, the SQLite store's database, WAL and shared-memory files on each of its
/// connections, and its temporary files.
pub const RESERVED_FILES: u64 = 64;

/// The fewest connections allowed, even under a tiny open-file limit.
const MIN_CONNECTIONS: usize = 8;

impl Limits {
    /// [`HEADER_TIMEOUT`], and as many connections as the open-file limit leaves room for
    /// ([`connection_limit`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_connections: connection_limit(),
            header_timeout: HEADER_TIMEOUT,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's soft limit on open files (`RLIMIT_NOFILE`) less [`RESERVED_FILES`], at most
/// [`MAX_CONNECTIONS`].
#[must_use]
pub(crate) fn connection_limit() -> usize {
    from_open_file_limit(open_file_limit())
}

fn from_open_file_limit(soft: Option<u64>) -> usize {
    soft.map_or(MAX_CONNECTIONS, |soft| {
        usize::try_from(soft.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX)
    })
    .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// One open connection, as the bound sees it. Requests carry it as an extension, so that
/// authentication can mark it.
#[derive(Debug)]
pub(crate) struct Connection {
    id: u64,
    state: Mutex<State>,
    close: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    idle_since: Instant,
    authenticated: bool,
}

impl Connection {
    fn new(id: u64) -> Self {
        Self {
            id,
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: Instant::now(),
                authenticated: false,
            }),
            close: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that a request on this connection carried the token.
    pub fn authenticated(&self) {
        self.state().authenticated = true;
    }

    /// Among idle connections, the order in which they are displaced: never authenticated
    /// first, then idle the longest. `None` while a request is in flight.
    fn displace_rank(&self) -> Option<(bool, Instant)> {
        let state = self.state();
        (state.in_flight == 0).then_some((state.authenticated, state.idle_since))
    }
}

/// A request in flight on a connection, until its response is written; the connection is idle
/// again once every one is over.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn new(connection: &Arc<Connection>) -> Self {
        connection.state().in_flight += 1;
        Self(Arc::clone(connection))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        state.idle_since = Instant::now();
    }
}

/// The open connections.
#[derive(Debug)]
pub(crate) struct Connections {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    max: usize,
}

impl Connections {
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            max,
        }
    }

    fn open(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection, displacing an idle one when the bound is reached; `None`
    /// when every open connection has a request in flight.
    pub fn admit(&self) -> Option<Arc<Connection>> {
        let mut open = self.open();
        if open.len() >= self.max && !Self::displace(&mut open) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection::new(id));
        open.insert(id, Arc::clone(&connection));
        Some(connection)
    }

    /// Closes one idle connection, to make room; false when none is idle.
    pub fn displace_one(&self) -> bool {
        Self::displace(&mut self.open())
    }

    fn displace(open: &mut HashMap<u64, Arc<Connection>>) -> bool {
        let victim = open
            .values()
            .filter_map(|c| c.displace_rank().map(|rank| (rank, c.id)))
            .min()
            .map(|(_, id)| id);
        let Some(connection) = victim.and_then(|id| open.remove(&id)) else {
            return false;
        };
        tracing::debug!("closing idle connection {} to make room", connection.id);
        // Wakes the connection's task, which drops (and so closes) it.
        connection.close.notify_one();
        true
    }

    fn remove(&self, id: u64) {
        self.open().remove(&id);
    }

    /// How many connections are open.
    #[must_use]
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open().len()
    }
}

/// Accepts and serves connections until `shutdown` completes, then lets the requests in
/// flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let connections = Arc::new(Connections::new(limits.max_connections));
    let busy = busy_response();
    // Connection tasks hold `stop` and see it close when `stopping` is dropped; `done` closes
    // when the last of them has ended.
    let (stop, stopping) = watch::channel(());
    let (done, finished) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                accept_failed(&connections, &error).await;
                continue;
            }
        };
        let Some(connection) = connections.admit() else {
            tracing::debug!("refusing a connection: every connection has a request in flight");
            // One write that the socket's buffer takes at once, or nothing: a refused
            // connection is never waited for.
            let _ = stream.try_write(busy.as_bytes());
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            router.clone(),
            connection,
            Arc::clone(&connections),
            limits.header_timeout,
            stop.clone(),
            finished.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    drop(finished);
    done.closed().await;
}

/// What a connection refused for want of room is sent before it is closed: a SCIM error, 503
/// with `Retry-After` (RFC 9110 §15.6.4), whatever it was going to ask.
fn busy_response() -> String {
    let body = ScimError::new(
        503,
        None,
        "every connection the server can hold has a request in flight; retry shortly",
    )
    .body()
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {SCIM_JSON}\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An accept that failed. A connection that went away before it was accepted is nothing; a
/// lack of resources (out of file descriptors, `EMFILE`) is met by closing an idle connection
/// and pausing a moment, so the loop neither spins nor waits for room that never comes.
async fn accept_failed(connections: &Connections, error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!("accepting a connection failed: {error}");
    connections.displace_one();
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    connection: Arc<Connection>,
    connections: Arc<Connections>,
    header_timeout: Duration,
    stop: watch::Sender<()>,
    _finished: watch::Receiver<()>,
) {
    let service = TowerToHyperService::new(router);
    let tracked = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let in_flight = InFlight::new(&tracked);
        request.extensions_mut().insert(Arc::clone(&tracked));
        let response = hyper::service::Service::call(&service, request);
        async move {
            let response: Result<Response, Infallible> = response.await;
            // In flight until its body is written (or the connection ends).
            Ok::<_, Infallible>(response?.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &in_flight;
                    frame
                }))
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut http = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let mut stopping = pin!(stop.closed());
    let mut draining = false;
    loop {
        tokio::select! {
            result = http.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!("connection {} ended: {error}", connection.id);
                }
                break;
            }
            // Displaced: dropping the connection closes it.
            () = connection.close.notified() => break,
            () = &mut stopping, if !draining => {
                draining = true;
                http.as_mut().graceful_shutdown();
            }
        }
    }
    connections.remove(connection.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_past_the_bound_with_every_request_in_flight_gets_503() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (entered, mut in_handler) = tokio::sync::mpsc::unbounded_channel::<()>();
        let release = Arc::new(Notify::new());
        let router = Router::new().route(
            "/slow",
            axum::routing::get({
                let release = Arc::clone(&release);
                move || async move {
                    let _ = entered.send(());
                    release.notified().await;
                    "done"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 1,
            header_timeout: Duration::from_secs(60),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));

        let mut first = TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // Once the first request is in flight, a second connection has no room.
        in_handler.recv().await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        let mut refused = String::new();
        second.read_to_string(&mut refused).await.unwrap();
        assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
        assert!(refused.contains("retry-after: 1"), "{refused}");
        let body: serde_json::Value =
            serde_json::from_str(refused.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["status"], "503");
        assert_eq!(body["schemas"][0], scim::urn::ERROR);

        // The request in flight was not cut.
        release.notify_one();
        let mut response = vec![0u8; 1024];
        let n = first.read(&mut response).await.unwrap();
        assert!(response[..n].starts_with(b"HTTP/1.1 200 OK"));
        let _ = stop.send(());
        drop(first);
        server.await.unwrap();
    }

    #[test]
    fn the_bound_stays_below_the_open_file_limit() {
        assert_eq!(from_open_file_limit(Some(1024)), 960);
        assert_eq!(from_open_file_limit(Some(1_048_576)), MAX_CONNECTIONS);
        assert_eq!(from_open_file_limit(Some(u64::MAX)), MAX_CONNECTIONS);
        assert_eq!(from_open_file_limit(Some(20)), MIN_CONNECTIONS);
        assert_eq!(from_open_file_limit(None), MAX_CONNECTIONS);
    }

    #[test]
    fn displaces_unauthenticated_idle_connections_first_and_never_busy_ones() {
        let connections = Connections::new(4);
        let busy = connections.admit().unwrap();
        let _request = InFlight::new(&busy);
        let trusted = connections.admit().unwrap();
        trusted.authenticated();
        let stalled = connections.admit().unwrap();
        let later = connections.admit().unwrap();
        let is_open = |c: &Arc<Connection>| connections.open().contains_key(&c.id);

        // Full: the connection that never authenticated and is idle the longest goes.
        let newcomer = connections.admit().unwrap();
        assert_eq!(connections.len(), 4);
        assert!(!is_open(&stalled));
        assert!(is_open(&later) && is_open(&trusted));
        let next = connections.admit().unwrap();
        assert!(!is_open(&later));

        // An authenticated idle connection goes only when no other idle one is left.
        let _request = InFlight::new(&newcomer);
        let _request = InFlight::new(&next);
        let last = connections.admit().unwrap();
        assert!(!is_open(&trusted));
        assert!(is_open(&busy) && is_open(&newcomer));

        // Every connection busy: a new one is refused, and nothing is closed.
        let _request = InFlight::new(&last);
        assert!(connections.admit().is_none());
        assert_eq!(connections.len(), 4);
    }
}
