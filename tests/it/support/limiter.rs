//! A proxy that behaves like the rate-limited SCIM API of a real service: it adds latency to every request,
//! refuses with 429 and `Retry-After` above a rate (a token bucket), and may answer
//! `501 Not Implemented` to one kind of request. It counts what it did, so a test or a
//! benchmark can say how many requests were refused.
//!
//! Shared by the integration tests and `benches/ratelimit.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

/// How the proxy behaves.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests per second let through; `None` lets every request through.
    pub rate: Option<f64>,
    /// How many requests may come at once after a quiet time (the bucket's size).
    pub burst: f64,
    /// Added before each request is forwarded.
    pub latency: Duration,
    /// Requests answered `501 Not Implemented` instead of being forwarded: a method, and the
    /// end of the path.
    pub not_implemented: Option<(Method, &'static str)>,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct LimiterStats {
    pub forwarded: AtomicUsize,
    pub refused: AtomicUsize,
    pub not_implemented: AtomicUsize,
}

impl LimiterStats {
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::Relaxed)
    }
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
    pub fn not_implemented(&self) -> usize {
        self.not_implemented.load(Ordering::Relaxed)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    limits: Limits,
    bucket: Mutex<Bucket>,
    stats: Arc<LimiterStats>,
}

/// A running proxy; it stops with the runtime that started it.
pub struct Limiter {
    /// The proxy's base URL, standing in for the upstream's.
    pub base_url: String,
    pub stats: Arc<LimiterStats>,
}

impl Limiter {
    /// Proxies `upstream` (a base URL ending in `/scim/v2`) with `limits`.
    pub async fn start(upstream: &str, limits: Limits) -> Self {
        let upstream_url = reqwest::Url::parse(upstream).expect("an upstream URL");
        let origin = format!(
            "{}://{}:{}",
            upstream_url.scheme(),
            upstream_url.host_str().expect("a host"),
            upstream_url.port_or_known_default().expect("a port")
        );
        let stats = Arc::new(LimiterStats::default());
        let proxy = Arc::new(Proxy {
            upstream: origin,
            client: reqwest::Client::new(),
            bucket: Mutex::new(Bucket {
                tokens: limits.burst.max(1.0),
                at: Instant::now(),
            }),
            limits,
            stats: Arc::clone(&stats),
        });
        let app = Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Limiter {
            base_url: format!("http://{addr}{}", upstream_url.path().trim_end_matches('/')),
            stats,
        }
    }
}

impl Proxy {
    /// Takes a token; `Err(seconds)` to wait when there is none.
    fn admit(&self) -> Result<(), u64> {
        let Some(rate) = self.limits.rate else {
            return Ok(());
        };
        let mut bucket = self.bucket.lock().unwrap();
        let now = Instant::now();
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(self.limits.burst.max(1.0));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds, as `Retry-After` is written, and at least one.
            Err((((1.0 - bucket.tokens) / rate).ceil() as u64).max(1))
        }
    }
}

fn error(status: StatusCode, retry_after: Option<u64>) -> Response {
    let body = format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"{}","detail":"refused by the test proxy"}}"#,
        status.as_u16()
    );
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/scim+json");
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response.body(Body::from(body)).expect("a response")
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some((refused_method, suffix)) = &proxy.limits.not_implemented
        && *refused_method == method
        && uri.path().ends_with(suffix)
    {
        proxy.stats.not_implemented.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::NOT_IMPLEMENTED, None);
    }
    if let Err(seconds) = proxy.admit() {
        proxy.stats.refused.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::TOO_MANY_REQUESTS, Some(seconds));
    }
    if !proxy.limits.latency.is_zero() {
        tokio::time::sleep(proxy.limits.latency).await;
    }
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let mut request = proxy
        .client
        .request(method, format!("{}{path_and_query}", proxy.upstream))
        .body(body.to_vec());
    for name in ["authorization", "content-type", "accept", "if-match"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let Ok(upstream_response) = request.send().await else {
        return error(StatusCode::BAD_GATEWAY, None);
    };
    proxy.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::builder().status(upstream_response.status().as_u16());
    for (name, value) in upstream_response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = upstream_response.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).expect("a response")
}
