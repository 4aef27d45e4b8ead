//! A rewriting HTTP proxy for reproducing what some real servers do and the test peers do not:
//! clamp `count`, ignore `startIndex`, leave `members` out of groups, or report a
//! `totalResults` they cannot list. It forwards every request to the upstream server and lets
//! the test change the request's path and query, and the response's status and JSON body. It
//! keeps a log of the requests it received.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// Around a string that [`raw_json`] made, in the text the proxy writes.
const RAW_OPEN: &str = "\"<<raw:";
const RAW_CLOSE: &str = ">>\"";

/// A JSON value that stands for `text` written as is, for a number that overflows f64
/// (`1e400`, say): the proxy writes `text` where this value is.
pub fn raw_json(text: &str) -> Value {
    Value::String(format!("<<raw:{text}>>"))
}

/// `json` with each value [`raw_json`] made replaced by its text.
fn write_raw(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(start) = rest.find(RAW_OPEN) {
        let Some(end) = rest[start..].find(RAW_CLOSE) else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&rest[start + RAW_OPEN.len()..start + end]);
        rest = &rest[start + end + RAW_CLOSE.len()..];
    }
    out.push_str(rest);
    out
}

/// A JSON response on its way back through the proxy, for a test to change.
pub struct Exchange<'a> {
    pub method: &'a Method,
    /// The path the client asked for.
    pub path: &'a str,
    /// The client's query parameters, decoded.
    pub query: &'a [(String, String)],
    /// The status answered: change it to answer another.
    pub status: u16,
    pub body: &'a mut Value,
}

impl Exchange<'_> {
    /// The value of the query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type OnRequest = dyn Fn(&str) -> String + Send + Sync;
type OnResponse = dyn Fn(&mut Exchange<'_>) + Send + Sync;
/// Responds to a request in the proxy's place, from its method and path-and-query.
type Intercept = dyn Fn(&Method, &str) -> Option<Response> + Send + Sync;

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    on_request: Box<OnRequest>,
    on_response: Box<OnResponse>,
    /// Asked first: a request it answers is not forwarded.
    intercept: Option<Box<Intercept>>,
    /// When set, an `Authorization` header with another scheme is not forwarded, as a server
    /// that knows only this scheme would refuse it.
    only_scheme: Option<&'static str>,
    /// Each request received, as `METHOD /path?query` with the query decoded.
    log: Arc<Mutex<Vec<String>>>,
    agents: Arc<Mutex<Vec<String>>>,
}

/// A running proxy; it stops with the test's runtime.
pub struct Rewriter {
    /// The proxy's base URL, standing in for the upstream's.
    pub base_url: String,
    log: Arc<Mutex<Vec<String>>>,
    agents: Arc<Mutex<Vec<String>>>,
}

/// `path_and_query` with its query parameters changed by `edit`, re-encoded.
pub fn edit_query(path_and_query: &str, edit: impl FnOnce(&mut Vec<(String, String)>)) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    edit(&mut pairs);
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    format!("{path}?{query}")
}

impl Rewriter {
    /// Proxies `upstream` (a base URL ending in `/scim/v2`). `on_request` maps the
    /// path-and-query sent upstream; `on_response` edits JSON responses in place.
    pub async fn start(
        upstream: &str,
        on_request: impl Fn(&str) -> String + Send + Sync + 'static,
        on_response: impl Fn(&Method, &str, &mut Value) + Send + Sync + 'static,
    ) -> Self {
        let on_exchange = move |exchange: &mut Exchange<'_>| {
            on_response(exchange.method, exchange.path, exchange.body);
        };
        Self::launch(
            upstream,
            Box::new(on_request),
            Box::new(on_exchange),
            None,
            None,
        )
        .await
    }

    /// Proxies `upstream`, except for the requests `intercept` answers itself (from the
    /// method and the path-and-query received), which are not forwarded.
    pub async fn intercepting(
        upstream: &str,
        on_request: impl Fn(&str) -> String + Send + Sync + 'static,
        intercept: impl Fn(&Method, &str) -> Option<Response> + Send + Sync + 'static,
    ) -> Self {
        Self::launch(
            upstream,
            Box::new(on_request),
            Box::new(|_: &mut Exchange<'_>| {}),
            Some(Box::new(intercept)),
            None,
        )
        .await
    }

    /// Proxies `upstream`, `on_request` mapping the path-and-query sent upstream and
    /// `on_response` changing each JSON response's status and body, knowing the client's query.
    pub async fn editing_responses(
        upstream: &str,
        on_request: impl Fn(&str) -> String + Send + Sync + 'static,
        on_response: impl Fn(&mut Exchange<'_>) + Send + Sync + 'static,
    ) -> Self {
        Self::launch(
            upstream,
            Box::new(on_request),
            Box::new(on_response),
            None,
            None,
        )
        .await
    }

    /// The requests received so far, as `METHOD /path?query` with the query decoded.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The `User-Agent` of each request received so far, in order (empty when none was sent).
    pub fn user_agents(&self) -> Vec<String> {
        self.agents.lock().unwrap().clone()
    }

    /// Proxies `upstream` unchanged, except that only `scheme` is accepted in the
    /// `Authorization` header (the upstream answers 401 to anything else).
    pub async fn only_scheme(upstream: &str, scheme: &'static str) -> Self {
        Self::launch(
            upstream,
            Box::new(str::to_owned),
            Box::new(|_: &mut Exchange<'_>| {}),
            None,
            Some(scheme),
        )
        .await
    }

    async fn launch(
        upstream: &str,
        on_request: Box<OnRequest>,
        on_response: Box<OnResponse>,
        intercept: Option<Box<Intercept>>,
        only_scheme: Option<&'static str>,
    ) -> Self {
        let upstream_url = reqwest::Url::parse(upstream).expect("an upstream URL");
        let origin = format!(
            "{}://{}:{}",
            upstream_url.scheme(),
            upstream_url.host_str().expect("a host"),
            upstream_url.port_or_known_default().expect("a port")
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let agents = Arc::new(Mutex::new(Vec::new()));
        let proxy = Arc::new(Proxy {
            upstream: origin,
            client: reqwest::Client::new(),
            on_request,
            on_response,
            intercept,
            only_scheme,
            log: Arc::clone(&log),
            agents: Arc::clone(&agents),
        });
        let app = Router::new().fallback(forward).with_state(proxy);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Rewriter {
            base_url: format!("http://{addr}{}", upstream_url.path().trim_end_matches('/')),
            log,
            agents,
        }
    }
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut logged = format!("{method} {}", uri.path());
    for (i, (key, value)) in query.iter().enumerate() {
        let _ = write!(logged, "{}{key}={value}", if i == 0 { '?' } else { '&' });
    }
    proxy.log.lock().unwrap().push(logged);
    proxy.agents.lock().unwrap().push(
        headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    );
    if let Some(response) = proxy
        .intercept
        .as_ref()
        .and_then(|i| i(&method, &path_and_query))
    {
        return response;
    }
    let sent = (proxy.on_request)(&path_and_query);
    let mut request = proxy
        .client
        .request(method.clone(), format!("{}{sent}", proxy.upstream))
        .body(body.to_vec());
    for name in [
        "authorization",
        "content-type",
        "accept",
        "if-match",
        "if-none-match",
    ] {
        if let Some(value) = headers.get(name) {
            let refused = name == "authorization"
                && proxy.only_scheme.is_some_and(|scheme| {
                    !value
                        .to_str()
                        .unwrap_or_default()
                        .to_lowercase()
                        .starts_with(&format!("{} ", scheme.to_lowercase()))
                });
            if !refused {
                request = request.header(name, value.as_bytes());
            }
        }
    }
    let Ok(response) = request.send().await else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .expect("a response");
    };
    let mut status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut json) => {
            let mut exchange = Exchange {
                method: &method,
                path: uri.path(),
                query: &query,
                status,
                body: &mut json,
            };
            (proxy.on_response)(&mut exchange);
            status = exchange.status;
            write_raw(&json.to_string()).into_bytes()
        }
        Err(_) => bytes.to_vec(),
    };
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    response.body(Body::from(body)).expect("a response")
}
