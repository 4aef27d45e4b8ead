//! A rewriting HTTP proxy for reproducing what some real servers do and the test peers do not:
//! clamp `count`, leave `members` out of group lists, or report a `totalResults` they cannot
//! list. It forwards every request to the upstream server and lets the test change the
//! request's path and query, and the JSON answer.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;

/// Around a string that [`raw_json`] made, in the text the proxy writes.
const RAW_OPEN: &str = "\"<<raw:";
const RAW_CLOSE: &str = ">>\"";

/// A JSON value that stands for `text` written as is, for answers no JSON tree can hold (a
/// number such as `1e400`, say): the proxy writes `text` where this value is.
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

type OnRequest = dyn Fn(&str) -> String + Send + Sync;
type OnResponse = dyn Fn(&Method, &str, &mut Value) + Send + Sync;

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    on_request: Box<OnRequest>,
    on_response: Box<OnResponse>,
    /// When set, an `Authorization` header with another scheme is not forwarded, as a server
    /// that knows only this scheme would refuse it.
    only_scheme: Option<&'static str>,
}

/// A running proxy; it stops with the test's runtime.
pub struct Rewriter {
    /// The proxy's base URL, standing in for the upstream's.
    pub base_url: String,
}

impl Rewriter {
    /// Proxies `upstream` (a base URL ending in `/scim/v2`). `on_request` maps the
    /// path-and-query sent upstream; `on_response` edits JSON answers in place.
    pub async fn start(
        upstream: &str,
        on_request: impl Fn(&str) -> String + Send + Sync + 'static,
        on_response: impl Fn(&Method, &str, &mut Value) + Send + Sync + 'static,
    ) -> Self {
        Self::launch(upstream, Box::new(on_request), Box::new(on_response), None).await
    }

    /// Proxies `upstream` unchanged, except that only `scheme` is accepted in the
    /// `Authorization` header (the upstream answers 401 to anything else).
    pub async fn only_scheme(upstream: &str, scheme: &'static str) -> Self {
        Self::launch(
            upstream,
            Box::new(str::to_owned),
            Box::new(|_: &Method, _: &str, _: &mut Value| {}),
            Some(scheme),
        )
        .await
    }

    async fn launch(
        upstream: &str,
        on_request: Box<OnRequest>,
        on_response: Box<OnResponse>,
        only_scheme: Option<&'static str>,
    ) -> Self {
        let upstream_url = reqwest::Url::parse(upstream).expect("an upstream URL");
        let origin = format!(
            "{}://{}:{}",
            upstream_url.scheme(),
            upstream_url.host_str().expect("a host"),
            upstream_url.port_or_known_default().expect("a port")
        );
        let proxy = Arc::new(Proxy {
            upstream: origin,
            client: reqwest::Client::new(),
            on_request,
            on_response,
            only_scheme,
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
    let Ok(answer) = request.send().await else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .expect("a response");
    };
    let status = answer.status().as_u16();
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut json) => {
            (proxy.on_response)(&method, uri.path(), &mut json);
            write_raw(&json.to_string()).into_bytes()
        }
        Err(_) => bytes.to_vec(),
    };
    response.body(Body::from(body)).expect("a response")
}
