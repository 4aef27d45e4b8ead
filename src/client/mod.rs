//! The SCIM 2.0 HTTP client (RFC 7644) the engine reads and writes servers through.
//!
//! Every server is reached the same way, the embedded one included (README, The embedded server):
//! over HTTP, with the provider's `Authorization: <scheme> <token>` header and
//! `application/scim+json` bodies. The client is tolerant of what real servers do — `count` clamped
//! or ignored, `Resources` missing from an empty list, 404 for a filter that matches nothing, PATCH
//! answered with 204 — and says exactly which request failed and why when it cannot cope.

mod capabilities;
mod error;
pub(crate) mod json;
mod list;
mod retry;
mod throttle;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use scim::ResourceKind;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use capabilities::{BulkLimits, Capabilities};
pub use error::ClientError;
#[cfg(test)]
pub(crate) use list::ListPage;
pub use list::{FirstPage, Keep, Listed, Listing, ListingCheck, Untrusted};
pub use retry::RetryPolicy;
pub(crate) use retry::{Attempts, Fault};
use throttle::Throttle;

/// The media type of SCIM requests and responses (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The `tracing` target of the event each request is logged with (see [`crate::log`]).
pub const REQUEST_TARGET: &str = "scimform::request";

/// The name of the span a request about one object is sent in, with the fields `resource`
/// (`user`, `group`) and `key` (its userName or displayName), for the request log.
pub const OBJECT_SPAN: &str = "object";

/// The span the requests about one object are sent in ([`OBJECT_SPAN`]), which names it in
/// the request log. When the log is off the span is disabled, and costs nothing to enter.
pub fn object_span(kind: ResourceKind, key: &str) -> tracing::Span {
    tracing::debug_span!(OBJECT_SPAN, resource = %kind.as_str(), key = %key)
}

/// How to reach one server.
pub struct Connection {
    /// The base URL, e.g. `https://tonkean.example.com/scim/v2`.
    pub base_url: String,
    /// The `Authorization` scheme: `Bearer` or `token`.
    pub auth_scheme: String,
    pub token: SecretString,
    /// Allow the token over plain `http://` to a host that is not loopback (README, Providers).
    pub allow_insecure_http: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("base_url", &self.base_url)
            .field("auth_scheme", &self.auth_scheme)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A client for one SCIM server. Cheap to clone: clones share the connection pool, the
/// request counter and the pacing of requests.
///
/// Every request goes through one policy ([`RetryPolicy`]; README, Apply): throttled and lost
/// requests are retried with backoff, and every request to the server is paced by one
/// [`Throttle`], which a 429 slows as a whole.
#[derive(Clone)]
pub struct ScimClient {
    /// For `GET`s: follows a redirect within the base URL's origin.
    http: reqwest::Client,
    /// For every other method: follows no redirect (see [`ClientError::Redirected`]).
    http_write: reqwest::Client,
    base_url: Arc<str>,
    requests: Arc<AtomicUsize>,
    /// A per-request time limit tighter than the client-wide one, when set.
    timeout: Option<Duration>,
    retry: RetryPolicy,
    throttle: Arc<Throttle>,
    /// Buffers that responses were read into, kept for the next responses.
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Whether the server still answers at all.
    silence: Arc<Mutex<Silence>>,
    limits: ReadLimits,
    /// Whether listings page by cursor (RFC 9865) instead of `startIndex`
    /// ([`Capabilities::cursor`]).
    cursor: bool,
    /// The token, to redact from what the server sends back in errors.
    token: Arc<SecretString>,
    /// The provider whose server this is, for the request log.
    provider: Option<Arc<str>>,
}

/// How long the server has gone without answering anything. A server that has answered no
/// request for [`Silence::limit`], across at least [`Silence::FAILURES`] requests in a row, is
/// taken as down: no further request is sent to it (docs/apply.md, A server that stops answering),
/// so that an apply stops within about a minute instead of retrying every op in turn.
struct Silence {
    /// When the server last answered (any status), or when the client was made.
    last_response: Instant,
    /// Requests in a row that got no response: not connected, reset or timed out.
    failures: u32,
    /// Set once the server is taken as down; it stays down for the client's life.
    down_for: Option<Duration>,
}

impl Silence {
    /// The fewest requests in a row that must fail before the server is taken as down.
    const FAILURES: u32 = 3;

    fn new() -> Self {
        Silence {
            last_response: Instant::now(),
            failures: 0,
            down_for: None,
        }
    }

    /// How long a server may go without answering before it is taken as down: a quarter of
    /// the time one request may be retried for, at most 30 s (the default).
    fn limit(policy: &RetryPolicy) -> Duration {
        (policy.max_elapsed / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
    }

    fn record(&mut self, responded: bool, limit: Duration) {
        if responded {
            self.last_response = Instant::now();
            self.failures = 0;
            return;
        }
        self.failures += 1;
        let silent = self.last_response.elapsed();
        if self.down_for.is_none() && self.failures >= Self::FAILURES && silent >= limit {
            self.down_for = Some(silent);
        }
    }
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A successful response whose body is left as received.
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub bytes: Body,
    request: RequestLabel,
    token: Arc<SecretString>,
}

/// What a client reads of a server at most (README, Plans and Providers), whatever the server
/// says: a provider's `limits` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// The largest response body read. A page of a thousand users is about a megabyte.
    pub response_bytes: usize,
    /// The most requests one listing may take.
    pub listing_requests: usize,
    /// The longest one listing may take, from its first page to its last.
    pub listing_time: Duration,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            response_bytes: 64 * 1024 * 1024,
            listing_requests: 10_000,
            listing_time: Duration::from_secs(30 * 60),
        }
    }
}

/// The most response buffers a client keeps for reuse: as many as responses read at once.
const KEPT_BUFFERS: usize = 8;
/// The largest buffer kept for reuse.
const KEPT_BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// The body of a response, in one buffer. Its buffer goes back to the client when dropped: a
/// listing reads a hundred pages of about a megabyte each, and a reused buffer is memory the
/// system has already handed over, where a new one would be handed over page by page again.
pub(crate) struct Body {
    bytes: Vec<u8>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.bytes);
        if bytes.capacity() == 0 || bytes.capacity() > KEPT_BUFFER_BYTES {
            return;
        }
        bytes.clear();
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < KEPT_BUFFERS {
            pool.push(bytes);
        }
    }
}

impl RawResponse {
    /// Whether the body is empty (a 204, say) or only whitespace.
    pub fn is_empty(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }

    /// The response with its body parsed as JSON; `None` for an empty body.
    pub fn into_json(self) -> Result<Response, ClientError> {
        let body = if self.is_empty() {
            None
        } else {
            match serde_json::from_slice::<Value>(&self.bytes) {
                Ok(value) => Some(value),
                Err(e) => return Err(self.decode_error(e.to_string())),
            }
        };
        Ok(Response {
            status: self.status,
            etag: self.etag.clone(),
            body,
        })
    }

    /// The error for a body that is not what was expected.
    pub fn decode_error(&self, reason: String) -> ClientError {
        ClientError::Decode {
            request: self.request.clone(),
            reason,
        }
        .redacted(&self.token)
    }
}

/// A server's response: status, `ETag` header and JSON body (absent for 204 and empty bodies).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub body: Option<Value>,
}

impl ScimClient {
    /// Builds a client; refuses a URL that is not http(s), and plain http to a host that is not
    /// loopback unless the connection allows it, so a token is never sent in clear by accident.
    pub fn new(connection: &Connection) -> Result<Self, ClientError> {
        let base_url = connection.base_url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base_url).map_err(|e| ClientError::BadUrl {
            url: base_url.to_owned(),
            reason: e.to_string(),
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" if connection.allow_insecure_http || is_loopback(&parsed) => {}
            "http" => {
                return Err(ClientError::InsecureHttp {
                    url: base_url.to_owned(),
                });
            }
            other => {
                return Err(ClientError::BadUrl {
                    url: base_url.to_owned(),
                    reason: format!("the scheme must be https or http, not {other}"),
                });
            }
        }
        let mut auth = HeaderValue::from_str(&format!(
            "{} {}",
            connection.auth_scheme,
            connection.token.expose_secret()
        ))
        .map_err(|_| ClientError::BadToken)?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static(SCIM_JSON));
        let builder = || {
            reqwest::Client::builder()
                .default_headers(headers.clone())
                .user_agent(concat!("scimform/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(60))
        };
        let built = |builder: reqwest::ClientBuilder| {
            builder.build().map_err(|e| ClientError::BadUrl {
                url: base_url.to_owned(),
                reason: e.to_string(),
            })
        };
        let http = built(builder().redirect(reqwest::redirect::Policy::custom(same_origin)))?;
        let http_write = built(builder().redirect(reqwest::redirect::Policy::none()))?;
        Ok(ScimClient {
            http,
            http_write,
            base_url: base_url.into(),
            requests: Arc::new(AtomicUsize::new(0)),
            timeout: None,
            retry: RetryPolicy::default(),
            throttle: Arc::new(Throttle::new(None)),
            buffers: Arc::default(),
            silence: Arc::new(Mutex::new(Silence::new())),
            limits: ReadLimits::default(),
            cursor: false,
            token: Arc::new(connection.token.clone()),
            provider: None,
        })
    }

    /// The same client, its requests logged as those of provider `name`.
    #[must_use]
    pub fn with_provider(mut self, name: &str) -> Self {
        self.provider = Some(name.into());
        self
    }

    /// The same client with `policy` for every request it sends.
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The same client, its requests spaced to at most `per_second` (a provider's
    /// `rate_limit`), or only as the server's refusals teach when `None`.
    #[must_use]
    pub fn with_rate_limit(mut self, per_second: Option<f64>) -> Self {
        self.throttle = Arc::new(Throttle::new(per_second));
        self
    }

    /// `Some(how long it went without answering)` once the server is taken as down: it
    /// answered nothing for a while, across several requests in a row. No request is sent to
    /// it after that; each fails with [`ClientError::Unreachable`].
    #[must_use]
    pub fn unreachable(&self) -> Option<Duration> {
        self.silence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .down_for
    }

    /// The same client, reading at most what `limits` allow.
    #[must_use]
    pub fn with_read_limits(mut self, limits: ReadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The same client, its listings paged by cursor (RFC 9865) when `cursor` is true, as
    /// [`Capabilities::cursor`] says of a server that offers no `startIndex`.
    #[must_use]
    pub fn with_cursor_paging(mut self, cursor: bool) -> Self {
        self.cursor = cursor;
        self
    }

    /// What this client reads of a server at most.
    #[must_use]
    pub fn read_limits(&self) -> ReadLimits {
        self.limits
    }

    /// The retry policy every request of this client goes through.
    #[must_use]
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The same client with each request limited to `timeout` (connection, sending and the
    /// whole response). A request that runs out of time fails as a transport error, which the
    /// executor treats like a lost response.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The base URL this client talks to, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many HTTP requests this client (and its clones) has sent.
    #[must_use]
    pub fn requests_sent(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends one request. `path` is relative to the base URL (`/Users/42`); `query` pairs are
    /// URL-encoded; `body` is sent as `application/scim+json`. Any status outside 2xx (and 304)
    /// becomes [`ClientError::Status`] carrying the server's SCIM error detail.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Response, ClientError> {
        self.send_raw(method, path, query, body, if_match)
            .await?
            .into_json()
    }

    /// [`ScimClient::send`], leaving a successful response's body as the bytes received.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<RawResponse, ClientError> {
        self.send_counted(method, path, query, body, if_match)
            .await
            .0
    }

    /// Sends one request through the retry policy: until it is answered with success or a
    /// final error, or the policy's attempts or time are spent. Returns the last result and
    /// how many attempts were made.
    ///
    /// A request that may have been applied without its response arriving (a reset, a timeout,
    /// a 5xx) is sent again only when it is safe to repeat: a POST is not, and its caller
    /// decides (a lost create is looked up first). `If-Match` goes with every attempt until
    /// one may have been applied: the attempts after it go without, since the version they
    /// would match is the one that attempt replaced.
    pub(crate) async fn send_counted(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        mut if_match: Option<&str>,
    ) -> (Result<RawResponse, ClientError>, u32) {
        let mut attempts = Attempts::new(&self.retry);
        // The last failed attempt, reported instead of a retry that was not sent because the
        // server stopped answering: what went wrong is what that attempt met.
        let mut previous: Option<Result<RawResponse, ClientError>> = None;
        loop {
            attempts.made += 1;
            let result = self
                .send_once(method.clone(), path, query, body, if_match, attempts.made)
                .await;
            if let (Err(ClientError::Unreachable { .. }), Some(previous)) =
                (&result, previous.take())
            {
                return (previous, attempts.made - 1);
            }
            let Err(error) = &result else {
                return (result, attempts.made);
            };
            let fault = Fault::of(error);
            let retry = match fault {
                Fault::Throttled(_) | Fault::NotSent => true,
                Fault::Lost => method != Method::POST,
                Fault::Unreadable | Fault::Final => false,
            };
            if !retry {
                return (result, attempts.made);
            }
            if fault == Fault::Lost {
                if_match = None;
            }
            tracing::info!(%method, path, %error, "retrying");
            if !attempts.wait(fault).await {
                return (result, attempts.made);
            }
            previous = Some(result);
        }
    }

    /// Sends one request once, when the provider's pacing lets it start, and tells the pacing
    /// what became of it. `attempt` counts the sends of the same request, from 1.
    ///
    /// Logs it to the request log ([`crate::log`]): provider, method, path with its query,
    /// status and latency, and the attempt when it is a retry; never a header.
    pub(crate) async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
        attempt: u32,
    ) -> Result<RawResponse, ClientError> {
        if let Some(silent) = self.unreachable() {
            return Err(ClientError::Unreachable {
                request: RequestLabel {
                    method,
                    path: path.to_owned(),
                },
                silent_secs: silent.as_secs(),
            });
        }
        let admitted = self.throttle.admit().await;
        let started = Instant::now();
        let result = self
            .attempt(method.clone(), path, query, body, if_match)
            .await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let provider = self.provider.as_deref().map(tracing::field::display);
        let path_and_query = LoggedPath { path, query };
        let retry = (attempt > 1).then_some(attempt);
        match &result {
            Ok(response) => {
                let status = response.status.as_u16();
                tracing::debug!(target: REQUEST_TARGET, provider, %method, path = %path_and_query, status, latency_ms, attempt = retry, "request");
            }
            Err(ClientError::Status { status, .. }) => {
                tracing::debug!(target: REQUEST_TARGET, provider, %method, path = %path_and_query, status, latency_ms, attempt = retry, "request");
            }
            Err(error) => {
                tracing::debug!(target: REQUEST_TARGET, provider, %method, path = %path_and_query, latency_ms, attempt = retry, %error, "request without a response");
            }
        }
        let outcome = throttle::Outcome::of(result.as_ref().err());
        self.throttle.record(admitted, outcome);
        let responded = !matches!(result, Err(ClientError::Transport { .. }));
        self.silence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(responded, Silence::limit(&self.retry));
        result
    }

    /// One HTTP exchange, no retry and no pacing.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<RawResponse, ClientError> {
        let url = format!("{}{path}", self.base_url);
        let http = if method == Method::GET {
            &self.http
        } else {
            &self.http_write
        };
        let mut request = http.request(method.clone(), &url);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).expect("a JSON value always serializes");
            request = request.header(CONTENT_TYPE, SCIM_JSON).body(bytes);
        }
        if let Some(etag) = if_match {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let what = RequestLabel {
            method,
            path: path.to_owned(),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(source) if source.is_redirect() => {
                return Err(self.redacted(ClientError::Redirected {
                    request: what,
                    location: source.url().map(ToString::to_string),
                    reason: RedirectRefusal::of(&source),
                }));
            }
            Err(source) => {
                return Err(ClientError::Transport {
                    request: what,
                    source,
                });
            }
        };
        let status = response.status();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after_seconds(v, std::time::SystemTime::now()));
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            // Only a write gets here: a GET's redirects are followed or refused by `same_origin`.
            return Err(self.redacted(ClientError::Redirected {
                request: what,
                location: response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                reason: RedirectRefusal::Write(status.as_u16()),
            }));
        }
        let bytes = match self.read_body(response).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(ClientError::TooLarge {
                    request: what,
                    limit: self.limits.response_bytes,
                });
            }
            Err(source) => {
                return Err(ClientError::Transport {
                    request: what,
                    source,
                });
            }
        };
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(RawResponse {
                status,
                etag,
                bytes,
                request: what,
                token: Arc::clone(&self.token),
            });
        }
        // An error page that is not JSON (a proxy's HTML, say) still reports the status.
        let body = serde_json::from_slice::<Value>(&bytes).ok();
        Err(self.redacted(
            ClientError::status(what, status, body.as_ref()).with_retry_after(retry_after),
        ))
    }

    /// `error` with this client's token redacted from what the server sent
    /// (README, Secrets in output).
    #[must_use]
    pub(crate) fn redacted(&self, error: ClientError) -> ClientError {
        error.redacted(&self.token)
    }

    /// Frees the buffers kept for reading responses into: for when the reading is done and the
    /// memory is better used for what comes after.
    pub fn release_buffers(&self) {
        self.buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Reads the body of `response` into a buffer this client read an earlier response into,
    /// when one is free; `None` when it is larger than the client's limit, which is
    /// known as soon as that much has arrived, so no more than that is ever held.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
    ) -> Result<Option<Body>, reqwest::Error> {
        if response
            .content_length()
            .is_some_and(|length| length > self.limits.response_bytes as u64)
        {
            return Ok(None);
        }
        let reused = self
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut body = Body {
            bytes: reused.unwrap_or_default(),
            pool: Arc::clone(&self.buffers),
        };
        if let Some(length) = response.content_length() {
            body.bytes
                .reserve(usize::try_from(length).unwrap_or(0).min(KEPT_BUFFER_BYTES));
        }
        while let Some(chunk) = response.chunk().await? {
            if body.bytes.len() + chunk.len() > self.limits.response_bytes {
                return Ok(None);
            }
            body.bytes.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// `GET /ServiceProviderConfig` (RFC 7643 §5): what the server supports.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        let body = self.service_provider_config().await?;
        Ok(Capabilities::from_json(body.as_ref()))
    }

    /// `GET /ServiceProviderConfig` as the server answered it; `None` for an empty body.
    pub async fn service_provider_config(&self) -> Result<Option<Value>, ClientError> {
        let response = self
            .send(Method::GET, "/ServiceProviderConfig", &[], None, None)
            .await?;
        Ok(response.body)
    }

    /// `GET /Users/{id}` or `/Groups/{id}`; `None` when the server answers 404.
    pub async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<Response>, ClientError> {
        let path = format!("{}/{}", kind.endpoint(), encode_segment(id));
        match self.send(Method::GET, &path, &[], None, None).await {
            Ok(response) => Ok(Some(response)),
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The resources whose `attribute` equals `value` (`filter=attribute eq "value"`), each
    /// kept as `keep` says. A 404 or a list without `Resources` both mean none: servers answer
    /// either.
    pub async fn find_by<T: Listed>(
        &self,
        kind: ResourceKind,
        attribute: &str,
        value: &str,
        keep: Keep,
    ) -> Result<Vec<T>, ClientError> {
        let filter = format!("{attribute} eq {}", Value::String(value.to_owned()));
        match self
            .send_raw(
                Method::GET,
                kind.endpoint(),
                &[("filter", filter)],
                None,
                None,
            )
            .await
        {
            Ok(response) => match list::ListPage::parse(&response.bytes, keep) {
                Ok(page) => Ok(page.resources),
                // JSON that is not a list means no match; a body that is not JSON is a
                // response that cannot be trusted either way.
                Err(list::PageError::NotAList) => Ok(Vec::new()),
                Err(e) => Err(response.decode_error(e.to_string())),
            },
            Err(ClientError::Status { status: 404, .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// A request's path and query as the request log shows them, formatted only when logged. The
/// query is what the client itself puts there (a filter, a page's `startIndex` or `cursor` and
/// `count`, the attributes asked for), never a credential: the token goes in a header. A parameter
/// whose name says it holds one is left out all the same.
struct LoggedPath<'a> {
    path: &'a str,
    query: &'a [(&'a str, String)],
}

impl std::fmt::Display for LoggedPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path)?;
        let mut separator = '?';
        for (name, value) in self.query {
            if is_secret_parameter(name) {
                continue;
            }
            let pair = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(name, value)
                .finish();
            write!(f, "{separator}{pair}")?;
            separator = '&';
        }
        Ok(())
    }
}

/// Whether a query parameter's name says it carries a credential.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "key",
        "auth",
        "signature",
        "sig",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Which request an error is about: method and path, never headers (they hold the token).
#[derive(Debug, Clone)]
pub struct RequestLabel {
    pub method: Method,
    pub path: String,
}

impl std::fmt::Display for RequestLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The seconds a `Retry-After` value asks to wait at `now`: a number of seconds, or an
/// HTTP-date (RFC 9110 §10.2.3), a date already past meaning none. `None` for anything else.
fn retry_after_seconds(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).map_or(0, |wait| wait.as_secs()))
}

/// A byte count as people read it.
pub(crate) fn bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// The most redirects one `GET` follows.
const MAX_REDIRECTS: usize = 5;

/// The redirect policy of `GET`s: follow a redirect that stays on the origin (scheme, host and
/// port) the request was sent to, at most [`MAX_REDIRECTS`] times. A redirect elsewhere is
/// refused rather than followed: scimform talks to the server its config names, and a move to
/// another origin or down to plain http is for the config to say.
fn same_origin(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first();
    if first.is_some_and(|first| first.origin() != attempt.url().origin()) {
        return attempt.error(RedirectRefusal::OtherOrigin);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(RedirectRefusal::TooMany);
    }
    attempt.follow()
}

/// Why a redirect was not followed (docs/apply.md, Redirects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectRefusal {
    /// To another scheme, host or port than the request was sent to.
    OtherOrigin,
    /// More than [`MAX_REDIRECTS`] in a row.
    TooMany,
    /// A redirect (this status) answering a write: following it would send the body again,
    /// or turn the write into a `GET` that succeeds without writing anything.
    Write(u16),
}

impl RedirectRefusal {
    fn of(error: &reqwest::Error) -> Self {
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            if let Some(refusal) = cause.downcast_ref::<RedirectRefusal>() {
                return *refusal;
            }
            source = cause.source();
        }
        RedirectRefusal::TooMany
    }
}

impl std::fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedirectRefusal::OtherOrigin => f.write_str(
                "it leads to another scheme, host or port, and scimform only talks to the \
                 server its config names: set the provider's url to where the server is",
            ),
            RedirectRefusal::TooMany => write!(f, "more than {MAX_REDIRECTS} redirects in a row"),
            RedirectRefusal::Write(status) => write!(
                f,
                "a write is never redirected ({status}): following it would send the request's \
                 body again or turn it into a GET; set the provider's url to where the server is"
            ),
        }
    }
}

impl std::error::Error for RedirectRefusal {}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Percent-encodes a path segment (a server-assigned id may hold any character).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_down_after_silence_across_several_requests() {
        let limit = Silence::limit(&RetryPolicy::default());
        assert_eq!(limit, Duration::from_secs(30));
        let mut silence = Silence::new();
        silence.last_response = Instant::now().checked_sub(limit * 2).unwrap();
        silence.record(false, limit);
        silence.record(false, limit);
        assert_eq!(silence.down_for, None, "two failures are not enough");
        silence.record(true, limit);
        silence.record(false, limit);
        silence.record(false, limit);
        silence.record(false, limit);
        assert_eq!(silence.down_for, None, "an answer resets the silence");
        silence.last_response = Instant::now().checked_sub(limit).unwrap();
        silence.record(false, limit);
        assert!(silence.down_for.is_some_and(|d| d >= limit));
        silence.record(true, limit);
        assert!(silence.down_for.is_some(), "once down, down for good");
    }

    fn connection(url: &str, insecure: bool) -> Connection {
        Connection {
            base_url: url.to_owned(),
            auth_scheme: "token".to_owned(),
            token: SecretString::from("s3cret-value"),
            allow_insecure_http: insecure,
        }
    }

    #[tokio::test]
    async fn a_response_read_into_a_reused_buffer_holds_only_itself() {
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/scim/v2/long", get(|| async { "x".repeat(100_000) }))
            .route("/scim/v2/short", get(|| async { "{}" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client =
            ScimClient::new(&connection(&format!("http://{address}/scim/v2"), false)).unwrap();
        let kept = || client.buffers.lock().unwrap().len();

        let long = client.send_raw(Method::GET, "/long", &[], None, None).await;
        let long = long.unwrap();
        assert_eq!(long.bytes.len(), 100_000);
        assert_eq!(kept(), 0);
        drop(long);
        assert_eq!(kept(), 1, "the buffer goes back to the client");

        let short = client
            .send_raw(Method::GET, "/short", &[], None, None)
            .await;
        let short = short.unwrap();
        assert_eq!(&*short.bytes, b"{}");
        assert!(
            short.bytes.bytes.capacity() >= 100_000,
            "the buffer was reused"
        );
        assert_eq!(kept(), 0);
        drop(short);
        assert_eq!(kept(), 1);
        client.release_buffers();
        assert_eq!(kept(), 0, "released buffers are freed, not kept");
    }

    #[tokio::test]
    async fn a_response_larger_than_the_bound_is_refused_without_being_held() {
        use axum::routing::get;
        let endless = || async {
            let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
            let chunks = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            axum::body::Body::from_stream(chunks)
        };
        let app = axum::Router::new().route("/scim/v2/endless", get(endless));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client =
            ScimClient::new(&connection(&format!("http://{address}/scim/v2"), false)).unwrap();
        let error = client
            .send_raw(Method::GET, "/endless", &[], None, None)
            .await
            .err()
            .unwrap();
        assert!(matches!(error, ClientError::TooLarge { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "GET /endless: the response is larger than 64 MiB, the most scimform reads (the \
             provider's `limits.response_size`)"
        );
        assert_eq!(
            client.requests_sent(),
            1,
            "a body too large is not asked for again"
        );
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        assert!(ScimClient::new(&connection("http://127.0.0.1:1/scim/v2", false)).is_ok());
        assert!(ScimClient::new(&connection("http://localhost:1/scim/v2", false)).is_ok());
        assert!(ScimClient::new(&connection("http://[::1]:1/scim/v2", false)).is_ok());
        let err =
            ScimClient::new(&connection("http://scim.example.com/scim/v2", false)).unwrap_err();
        assert!(matches!(err, ClientError::InsecureHttp { .. }), "{err}");
        assert!(ScimClient::new(&connection("http://scim.example.com/scim/v2", true)).is_ok());
        assert!(ScimClient::new(&connection("https://scim.example.com/scim/v2", false)).is_ok());
        assert!(ScimClient::new(&connection("ftp://scim.example.com/", false)).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let conn = connection("https://scim.example.com/scim/v2/", false);
        let client = ScimClient::new(&conn).unwrap();
        assert!(!format!("{conn:?}").contains("s3cret-value"));
        assert!(!format!("{client:?}").contains("s3cret-value"));
        assert_eq!(client.base_url(), "https://scim.example.com/scim/v2");
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT").unwrap();
        assert_eq!(retry_after_seconds(" 120 ", now), Some(120));
        assert_eq!(
            retry_after_seconds("Sun, 29 Nov 2026 12:00:45 GMT", now),
            Some(45)
        );
        assert_eq!(
            retry_after_seconds("Sun, 29 Nov 2026 11:59:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_seconds("soon", now), None);
        assert_eq!(retry_after_seconds("-5", now), None);
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment() {
        assert_eq!(encode_segment("a1-b2_c.~"), "a1-b2_c.~");
        assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
    }
}
