//! The HTTP surface (RFC 7644 §3): routes under `/scim/v2`, request bodies read with a size
//! limit and a deadline, every answer `application/scim+json`, every error a SCIM Error body —
//! an unknown path, a method an endpoint lacks and a rejection by an extractor included
//! ([`scim_errors`]). The store work of each request runs on the blocking pool so a slow disk
//! never stalls the reactor.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use scim::ResourceKind;
use secrecy::SecretString;
use serde_json::Value;

use super::auth;
use super::bulk;
use super::error::ScimError;
use super::listen;
use super::query::{self, ListQuery};
use super::schema::{self, BULK_MAX_PAYLOAD, MAX_BODY, registry};

use super::service::{self, Directory, Rendered};

/// The content type of every SCIM message (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub dir: Arc<Directory>,
    pub token: Arc<SecretString>,
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim(status, &self.body());
        if self.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(auth::CHALLENGE),
            );
        }
        response
    }
}

fn scim(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The router, mounted at `/scim/v2`, with authentication in front of every route.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let collection = kind.endpoint().to_owned();
        api = api
            .route(
                &collection,
                scim_methods(
                    get(move |s: State<AppState>, p: Params| list(s, kind, p)).post(
                        move |s: State<AppState>, p: Params, h: HeaderMap, b: Body| {
                            create(s, kind, p, h, b)
                        },
                    ),
                ),
            )
            .route(
                &format!("{collection}/.search"),
                scim_methods(post(move |s: State<AppState>, h: HeaderMap, b: Body| {
                    search(s, vec![kind], h, b)
                })),
            )
            .route(
                &format!("{collection}/{{id}}"),
                scim_methods(
                    get(
                        move |s: State<AppState>, id: Path<String>, p: Params, h: HeaderMap| {
                            get_one(s, kind, id, p, h)
                        },
                    )
                    .put(
                        move |s: State<AppState>,
                              id: Path<String>,
                              p: Params,
                              h: HeaderMap,
                              b: Body| { replace(s, kind, id, p, h, b) },
                    )
                    .patch(
                        move |s: State<AppState>,
                              id: Path<String>,
                              p: Params,
                              h: HeaderMap,
                              b: Body| { patch(s, kind, id, p, h, b) },
                    )
                    .delete(
                        move |s: State<AppState>, id: Path<String>, h: HeaderMap| {
                            delete(s, kind, id, h)
                        },
                    ),
                ),
            );
    }
    api = api
        .route(
            "/.search",
            scim_methods(post(|s: State<AppState>, h: HeaderMap, b: Body| {
                search(s, vec![ResourceKind::User, ResourceKind::Group], h, b)
            })),
        )
        .route("/Bulk", scim_methods(post(bulk_handler)))
        // RFC 7644 §3.11: a token here names no user, so /Me is not implemented.
        .route(
            "/Me",
            axum::routing::any(|| async {
                ScimError::new(
                    501,
                    None,
                    "/Me is not supported: tokens are not tied to a user",
                )
            }),
        )
        .route(
            "/ServiceProviderConfig",
            scim_methods(get(service_provider_config)),
        )
        .route("/Schemas", scim_methods(get(schemas)))
        .route("/Schemas/{id}", scim_methods(get(schema_by_id)))
        .route("/ResourceTypes", scim_methods(get(resource_types)))
        .route(
            "/ResourceTypes/{id}",
            scim_methods(get(resource_type_by_id)),
        );
    Router::new()
        .nest("/scim/v2", api)
        .fallback(|| async { ScimError::not_found("no such endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::map_response(scim_errors))
        .with_state(state)
}

fn scim_methods(methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    methods.fallback(|| async { ScimError::new(405, None, "method not allowed on this endpoint") })
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth::authorized(header, &state.token) {
        // The connection has a token holder behind it: it is the last to make room for others.
        if let Some(connection) = request.extensions().get::<Arc<listen::Connection>>() {
            connection.authenticated();
        }
        next.run(request).await
    } else {
        ScimError::new(
            401,
            None,
            "a valid token is required (Authorization: Bearer <token>)",
        )
        .into_response()
    }
}

/// The largest error body a response may carry into [`scim_errors`]; longer text is cut.
const MAX_ERROR_DETAIL: usize = 1024;

/// Turns an error response that is not yet a SCIM error (a rejection by an axum extractor,
/// such as a path that is not UTF-8 after decoding) into one, keeping its status and headers
/// and using its text as the detail (RFC 7644 §3.12).
async fn scim_errors(response: Response) -> Response {
    let status = response.status();
    let is_scim = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(SCIM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_scim {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text[..text.len().min(MAX_ERROR_DETAIL)]);
    let detail = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    let error = ScimError::new(status.as_u16(), None, detail).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    Response::from_parts(parts, error.into_body())
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Directory) -> Result<T, ScimError> + Send + 'static,
) -> Result<T, ScimError> {
    let dir = Arc::clone(&state.dir);
    tokio::task::spawn_blocking(move || work(&dir))
        .await
        .map_err(|e| ScimError::internal(&e))?
}

/// How long a request body may take to arrive, once its headers have: a client that stops
/// sending halfway is answered 408 instead of holding its connection and a handler.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads a JSON body up to `limit` bytes within [`BODY_TIMEOUT`]: 413 beyond the limit, 408
/// beyond the deadline, 415 for a non-JSON content type, 400 for what does not parse.
async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<Value, ScimError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let essence = essence.to_ascii_lowercase();
        if !(essence.ends_with("/json") || essence.ends_with("+json")) {
            return Err(ScimError::new(
                415,
                None,
                format!("expected {SCIM_JSON} or application/json, not {essence}"),
            ));
        }
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, read_limited(body, limit))
        .await
        .map_err(|_| {
            ScimError::new(
                408,
                None,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })?;
    let bytes = read.map_err(|too_large| {
        if too_large {
            ScimError::new(
                413,
                None,
                format!("the {what} exceeds the limit of {limit} bytes"),
            )
        } else {
            ScimError::invalid_syntax("the request body could not be read")
        }
    })?;
    if bytes.is_empty() {
        return Err(ScimError::invalid_syntax("the request needs a JSON body"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// How much of an oversized body is still read, and thrown away, before the 413 is sent: a
/// client that is still sending when the response comes and the connection closes sees a reset,
/// not the 413. Beyond this the connection is given up.
const DRAIN_FACTOR: usize = 8;

/// Reads a body of at most `limit` bytes. `Err(true)` when it is larger (after draining up to
/// [`DRAIN_FACTOR`] times the limit), `Err(false)` when it cannot be read.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, bool> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| false)?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit.saturating_mul(DRAIN_FACTOR) {
            return Err(true);
        }
        if seen <= limit {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > limit { Err(true) } else { Ok(bytes) }
}

fn list_query(params: Params) -> Result<ListQuery, ScimError> {
    let Query(params) = params.map_err(|e| ScimError::invalid_syntax(e.body_text()))?;
    ListQuery::from_params(&params)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn single(status: StatusCode, rendered: Rendered, kind: ResourceKind, q: &ListQuery) -> Response {
    let mut resource = rendered.resource;
    query::project(&mut resource, &q.projection(kind));
    let mut response = with_etag(scim(status, &resource), &rendered.etag);
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&rendered.location)
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

async fn list(
    State(state): State<AppState>,
    kind: ResourceKind,
    params: Params,
) -> Result<Response, ScimError> {
    let q = list_query(params)?;
    let body = blocking(&state, move |dir| dir.list(&[kind], &q)).await?;
    Ok(scim(StatusCode::OK, &body))
}

async fn search(
    State(state): State<AppState>,
    kinds: Vec<ResourceKind>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    state.dir.emulation().check_search()?;
    let request = read_json(&headers, body, MAX_BODY, "request").await?;
    let q = ListQuery::from_search(&request)?;
    let body = blocking(&state, move |dir| dir.list(&kinds, &q)).await?;
    Ok(scim(StatusCode::OK, &body))
}

async fn create(
    State(state): State<AppState>,
    kind: ResourceKind,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    let q = list_query(params)?;
    let input = read_json(&headers, body, MAX_BODY, "request").await?;
    let rendered = blocking(&state, move |dir| dir.create(kind, &input)).await?;
    Ok(single(StatusCode::CREATED, rendered, kind, &q))
}

async fn get_one(
    State(state): State<AppState>,
    kind: ResourceKind,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let q = list_query(params)?;
    let rendered = blocking(&state, move |dir| dir.get(kind, &id)).await?;
    if let Some(tags) = header_str(&headers, &header::IF_NONE_MATCH)
        && service::etag_matches(tags, &rendered.etag)
    {
        // RFC 7644 §3.14: the client's copy is current.
        let response = StatusCode::NOT_MODIFIED.into_response();
        return Ok(with_etag(response, &rendered.etag));
    }
    Ok(single(StatusCode::OK, rendered, kind, &q))
}

async fn replace(
    State(state): State<AppState>,
    kind: ResourceKind,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    let q = list_query(params)?;
    let if_match = header_str(&headers, &header::IF_MATCH).map(str::to_owned);
    let input = read_json(&headers, body, MAX_BODY, "request").await?;
    let rendered = blocking(&state, move |dir| {
        dir.replace(kind, &id, &input, if_match.as_deref())
    })
    .await?;
    Ok(single(StatusCode::OK, rendered, kind, &q))
}

async fn patch(
    State(state): State<AppState>,
    kind: ResourceKind,
    Path(id): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    let Query(raw) = params.map_err(|e| ScimError::invalid_syntax(e.body_text()))?;
    // `attributes=` present but empty asks for nothing back: 204 (RFC 7644 §3.5.2).
    let nothing = raw
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("attributes") && v.trim().is_empty());
    let q = ListQuery::from_params(&raw)?;
    let if_match = header_str(&headers, &header::IF_MATCH).map(str::to_owned);
    let request = read_json(&headers, body, MAX_BODY, "request").await?;
    let rendered = blocking(&state, move |dir| {
        dir.patch(kind, &id, &request, if_match.as_deref())
    })
    .await?;
    if nothing {
        return Ok(with_etag(
            StatusCode::NO_CONTENT.into_response(),
            &rendered.etag,
        ));
    }
    Ok(single(StatusCode::OK, rendered, kind, &q))
}

async fn delete(
    State(state): State<AppState>,
    kind: ResourceKind,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let if_match = header_str(&headers, &header::IF_MATCH).map(str::to_owned);
    blocking(&state, move |dir| {
        dir.delete(kind, &id, if_match.as_deref())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn bulk_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ScimError> {
    state.dir.emulation().check_bulk()?;
    let request = read_json(
        &headers,
        body,
        BULK_MAX_PAYLOAD,
        "bulk request (maxPayloadSize)",
    )
    .await?;
    let response = blocking(&state, move |dir| {
        // Read and checked before the bulk waits for the writer's turn.
        let mut run = bulk::Run::new(bulk::Plan::parse(&request)?);
        dir.bulk(|batch| run.step(batch))?;
        Ok(run.into_response())
    })
    .await?;
    Ok(scim(StatusCode::OK, &response))
}

/// RFC 7644 §4: these endpoints take no filter; one given is answered 403.
fn reject_filter(params: Params) -> Result<(), ScimError> {
    let q = list_query(params)?;
    if q.filter.is_some() {
        return Err(ScimError::new(
            403,
            None,
            "filtering is not supported on this endpoint",
        ));
    }
    Ok(())
}

async fn service_provider_config(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ScimError> {
    reject_filter(params)?;
    let mut config = schema::service_provider_config(state.dir.base_url());
    state.dir.emulation().service_provider_config(&mut config);
    Ok(scim(StatusCode::OK, &config))
}

async fn schemas(State(state): State<AppState>, params: Params) -> Result<Response, ScimError> {
    reject_filter(params)?;
    Ok(document_list(
        &registry().schema_documents(state.dir.base_url()),
    ))
}

async fn schema_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    document_by_id(
        registry().schema_documents(state.dir.base_url()),
        &id,
        "schema",
    )
}

async fn resource_types(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ScimError> {
    reject_filter(params)?;
    Ok(document_list(
        &registry().resource_type_documents(state.dir.base_url()),
    ))
}

async fn resource_type_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    document_by_id(
        registry().resource_type_documents(state.dir.base_url()),
        &id,
        "resource type",
    )
}

/// Discovery documents as one `ListResponse` (RFC 7644 §4).
fn document_list(documents: &[Value]) -> Response {
    scim(
        StatusCode::OK,
        &scim::message::list_response(documents.len(), 1, documents),
    )
}

/// The discovery document whose `id` is `id` (case-insensitively), or 404.
fn document_by_id(documents: Vec<Value>, id: &str, what: &str) -> Result<Response, ScimError> {
    documents
        .into_iter()
        .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|d| scim(StatusCode::OK, &d))
        .ok_or_else(|| ScimError::not_found(format!("no {what} {id:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_is_408() {
        let stalled = futures_util::stream::pending::<Result<axum::body::Bytes, std::io::Error>>();
        let error = read_json(
            &HeaderMap::new(),
            Body::from_stream(stalled),
            1024,
            "request",
        )
        .await
        .unwrap_err();
        assert_eq!(error.status, 408, "{error}");
    }

    #[tokio::test]
    async fn rejections_become_scim_errors() {
        let plain = (
            StatusCode::BAD_REQUEST,
            [(header::ALLOW, "GET")],
            "Invalid URL",
        )
            .into_response();
        let response = scim_errors(plain).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], SCIM_JSON);
        assert_eq!(response.headers()[header::ALLOW], "GET");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], "400");
        assert_eq!(body["detail"], "Invalid URL");
        assert_eq!(body["schemas"][0], scim::urn::ERROR);

        let empty = StatusCode::METHOD_NOT_ALLOWED.into_response();
        let body = axum::body::to_bytes(scim_errors(empty).await.into_body(), 4096)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["detail"], "Method Not Allowed");
    }

    /// The router over a fresh store, answering as `profile` says.
    fn routes(profile: Option<&'static scim::profile::Profile>) -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::open(
            &dir.path().join("s.db"),
            "http://x/scim/v2".to_owned(),
            crate::emulate::Emulation::new(profile),
        )
        .unwrap();
        let state = AppState {
            dir: Arc::new(directory),
            token: Arc::new(SecretString::from("test-token-0123456789")),
        };
        (dir, router(state))
    }

    async fn call(router: &Router, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        use tower::ServiceExt as _;
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/scim/v2{uri}"))
            .header(header::AUTHORIZATION, "Bearer test-token-0123456789");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, SCIM_JSON);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    fn bulk_request() -> Value {
        serde_json::json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"schemas": [scim::urn::USER], "userName": "bulk"}}]})
    }

    fn search_request() -> Value {
        serde_json::json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "userName pr"})
    }

    #[tokio::test]
    async fn an_emulated_service_lacks_what_its_profile_says() {
        let profile = &scim::profile::AWS_IDENTITY_CENTER;
        let (_dir, router) = routes(Some(profile));
        let (status, body) = call(&router, "POST", "/Bulk", Some(bulk_request())).await;
        if profile.bulk {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!(
                (status, &body["status"]),
                (501, &Value::from("501")),
                "{body}"
            );
            assert_eq!(body["schemas"][0], scim::urn::ERROR);
        }
        if profile.filters == scim::profile::Filters::EqAnd {
            for uri in ["/.search", "/Users/.search", "/Groups/.search"] {
                let (status, body) = call(&router, "POST", uri, Some(search_request())).await;
                assert_eq!(status, 501, "{uri}: {body}");
                assert_eq!(body["schemas"][0], scim::urn::ERROR);
            }
            let (status, body) = call(
                &router,
                "GET",
                "/Users?filter=userName%20co%20%22a%22",
                None,
            )
            .await;
            assert_eq!(
                (status, &body["scimType"]),
                (400, &Value::from("invalidFilter")),
                "{body}"
            );
        }
        let (status, config) = call(&router, "GET", "/ServiceProviderConfig", None).await;
        assert_eq!(status, 200);
        assert_eq!(config["bulk"]["supported"], profile.bulk);
        assert_eq!(
            config["filter"]["maxResults"],
            profile.paging.max_count.min(schema::MAX_RESULTS)
        );
        // A count above the largest page is cut to it, not refused: seed one user more than
        // a page holds so that the cut shows.
        let max = profile.paging.max_count;
        create_users(&router, max + 1).await;
        let (status, listed) = call(&router, "GET", "/Users?count=100000", None).await;
        assert_eq!(
            (status, &listed["itemsPerPage"]),
            (200, &Value::from(max)),
            "{listed}"
        );
    }

    #[tokio::test]
    async fn without_emulation_every_endpoint_answers() {
        let (_dir, router) = routes(None);
        let (status, body) = call(&router, "POST", "/Bulk", Some(bulk_request())).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(&router, "POST", "/.search", Some(search_request())).await;
        assert_eq!(
            (status, &body["totalResults"]),
            (200, &Value::from(1)),
            "{body}"
        );
        let (_, config) = call(&router, "GET", "/ServiceProviderConfig", None).await;
        assert_eq!(config, schema::service_provider_config("http://x/scim/v2"));
        // `cursor` is a parameter the RFC 7644 server does not know, and ignores.
        let (status, listed) = call(&router, "GET", "/Users?cursor=&startIndex=1", None).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["startIndex"], 1);
        assert!(listed.get("nextCursor").is_none(), "{listed}");
    }

    /// Creates users `u0`..`u{n}` through `router`.
    async fn create_users(router: &Router, n: usize) {
        for i in 0..n {
            let user =
                serde_json::json!({"schemas": [scim::urn::USER], "userName": format!("u{i}")});
            let (status, body) = call(router, "POST", "/Users", Some(user)).await;
            assert_eq!(status, 201, "{body}");
        }
    }

    #[tokio::test]
    async fn an_emulated_cursor_service_pages_by_cursor_only() {
        let profile = &scim::profile::AWS_IDENTITY_CENTER;
        let (_dir, router) = routes(Some(profile));
        create_users(&router, 5).await;
        let (_, config) = call(&router, "GET", "/ServiceProviderConfig", None).await;
        assert_eq!(
            config["pagination"],
            serde_json::json!({"cursor": true, "index": false,
                "defaultPaginationMethod": "cursor", "defaultPageSize": 100, "maxPageSize": 100})
        );
        // startIndex is refused, with or without a cursor.
        for uri in [
            "/Users?startIndex=1",
            "/Groups?startIndex=3&count=2",
            "/Users?startIndex=1&cursor=",
        ] {
            let (status, body) = call(&router, "GET", uri, None).await;
            assert_eq!(
                (status, &body["scimType"]),
                (400, &Value::from("invalidValue")),
                "{uri}"
            );
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("pages only by cursor"), "{detail}");
        }
        // Pages of two by cursor: the first with an empty cursor, then each nextCursor.
        let mut cursor = String::new();
        let mut names = Vec::new();
        let mut pages = 0;
        loop {
            let (status, page) = call(
                &router,
                "GET",
                &format!("/Users?count=2&cursor={cursor}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["totalResults"], 5);
            assert!(page.get("startIndex").is_none(), "{page}");
            pages += 1;
            for user in page["Resources"].as_array().unwrap() {
                names.push(user["userName"].as_str().unwrap().to_owned());
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        names.sort();
        assert_eq!(names, ["u0", "u1", "u2", "u3", "u4"]);
        // Neither cursor nor startIndex: the first page, in the RFC 7644 format (what AWS
        // documents for a ListUsers without `cursor`).
        let (status, page) = call(&router, "GET", "/Users?count=2", None).await;
        assert_eq!(
            (status, &page["startIndex"], &page["itemsPerPage"]),
            (200, &Value::from(1), &Value::from(2))
        );
        assert!(page.get("nextCursor").is_none(), "{page}");
        // A cursor the service did not give.
        let (status, body) = call(&router, "GET", "/Users?cursor=nonsense", None).await;
        assert_eq!(
            (status, &body["scimType"]),
            (400, &Value::from("invalidCursor")),
            "{body}"
        );
        // A filter that matches one user is one page, without a nextCursor.
        let (status, page) = call(
            &router,
            "GET",
            "/Users?filter=userName%20eq%20%22u3%22&count=100&cursor=",
            None,
        )
        .await;
        assert_eq!(
            (status, &page["totalResults"]),
            (200, &Value::from(1)),
            "{page}"
        );
        assert!(page.get("nextCursor").is_none(), "{page}");
    }

    #[tokio::test]
    async fn an_emulated_index_service_ignores_a_cursor() {
        let (_dir, router) = routes(Some(&scim::profile::SLACK));
        create_users(&router, 3).await;
        let (_, config) = call(&router, "GET", "/ServiceProviderConfig", None).await;
        assert_eq!(config["pagination"]["index"], true);
        assert_eq!(config["pagination"]["cursor"], false);
        let (status, page) =
            call(&router, "GET", "/Users?count=1&startIndex=2&cursor=x", None).await;
        assert_eq!(
            (status, &page["startIndex"]),
            (200, &Value::from(2)),
            "{page}"
        );
        assert!(page.get("nextCursor").is_none(), "{page}");
    }
}
