//! The executor against a small scripted fake, for what a real server cannot be made to do on
//! cue: answer a create without a body, fail after applying a write, throttle. The proof that
//! it works against real servers is in `tests/it/apply.rs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use scim::ResourceKind;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::*;
use crate::client::{Capabilities, Connection, Keep, RetryPolicy};
use crate::plan::{Action, Request, Unmanaged};
use crate::report::AdoptCause;
use crate::state::LiveUser;

/// The token the client sends the fake, to look for where it must not be.
const FAKE_TOKEN: &str = "fake-token-Qx7v";

/// What the fake does with the next request that matches.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Answer this status without doing anything, with `Retry-After` when given.
    Refuse(u16, Option<u64>),
    /// Do it, then answer this status without a body.
    DoThenAnswer(u16),
    /// Do it, then answer 200 with a body that is not JSON.
    DoThenGarbage,
}

#[derive(Default)]
struct State {
    users: Vec<Value>,
    groups: Vec<Value>,
    next_id: usize,
    script: VecDeque<(HttpMethod, &'static str, Script)>,
    /// `METHOD path` of every request.
    log: Vec<String>,
    /// Bodies of the writes, in order.
    bodies: Vec<Value>,
    /// `If-Match` of every request that had one.
    if_match: Vec<String>,
}

struct Fake {
    state: Mutex<State>,
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }
}

async fn start(
    script: Vec<(HttpMethod, &'static str, Script)>,
    delay: Duration,
) -> (ScimClient, Arc<Fake>) {
    let fake = Arc::new(Fake {
        state: Mutex::new(State {
            script: script.into(),
            ..State::default()
        }),
        delay,
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let shared = Arc::clone(&fake);
    let app = axum::Router::new().fallback(
        move |method: HttpMethod, uri: Uri, headers: HeaderMap, body: Bytes| {
            let fake = Arc::clone(&shared);
            async move { handle(&fake, method, &uri, &headers, &body).await }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = ScimClient::new(&Connection {
        base_url: format!("http://{address}/scim/v2"),
        auth_scheme: "Bearer".into(),
        token: SecretString::from(FAKE_TOKEN),
        allow_insecure_http: false,
    })
    .unwrap()
    .with_retry(RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(30),
        retry_after_cap: Duration::from_secs(2),
    });
    (client, fake)
}

async fn handle(
    fake: &Fake,
    method: HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    fake.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(fake.delay).await;
    let response = respond(fake, &method, uri, headers, body);
    fake.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

fn respond(
    fake: &Fake,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut state = fake.state.lock().unwrap();
    let path = uri.path().trim_start_matches("/scim/v2").to_owned();
    state.log.push(format!("{method} {path}"));
    if let Some(etag) = headers.get("if-match") {
        state.if_match.push(etag.to_str().unwrap().to_owned());
    }
    let body: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(body) = &body {
        state.bodies.push(body.clone());
    }
    let scripted = state
        .script
        .iter()
        .position(|(m, p, _)| m == method && path.starts_with(p))
        .and_then(|i| state.script.remove(i))
        .map(|(_, _, s)| s);
    if let Some(Script::Refuse(status, retry_after)) = scripted {
        let mut response = (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"status": status.to_string(), "detail": "scripted"})),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
        }
        return response;
    }
    let (status, out) = apply(&mut state, method, &path, uri.query(), body);
    match scripted {
        Some(Script::DoThenAnswer(status)) => StatusCode::from_u16(status).unwrap().into_response(),
        Some(Script::DoThenGarbage) => (StatusCode::OK, "OK").into_response(),
        _ => match out {
            Some(value) => (status, axum::Json(value)).into_response(),
            None => status.into_response(),
        },
    }
}

fn apply(
    state: &mut State,
    method: &HttpMethod,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Option<Value>) {
    let (endpoint, id) = match path.trim_start_matches('/').split_once('/') {
        Some((endpoint, id)) => (endpoint.to_owned(), Some(id.to_owned())),
        None => (path.trim_start_matches('/').to_owned(), None),
    };
    let key = if endpoint == "Users" {
        "userName"
    } else {
        "displayName"
    };
    let store = if endpoint == "Users" {
        &mut state.users
    } else {
        &mut state.groups
    };
    match (method.as_str(), id) {
        ("GET", None) => {
            // `filter=key eq "value"`, the only filter the executor sends.
            let query = query
                .unwrap_or_default()
                .replace("%22", "\"")
                .replace("%40", "@");
            let wanted = query.split('"').nth(1).unwrap_or_default().to_lowercase();
            let found: Vec<Value> = store
                .iter()
                .filter(|r| r[key].as_str().unwrap_or_default().to_lowercase() == wanted)
                .cloned()
                .collect();
            (
                StatusCode::OK,
                Some(json!({"totalResults": found.len(), "Resources": found})),
            )
        }
        ("POST", None) => {
            state.next_id += 1;
            let mut resource = body.unwrap_or_default();
            resource["id"] = json!(format!("id{}", state.next_id));
            let store = if endpoint == "Users" {
                &mut state.users
            } else {
                &mut state.groups
            };
            store.push(resource.clone());
            (StatusCode::CREATED, Some(resource))
        }
        ("GET", Some(id)) => match store.iter().find(|r| r["id"] == id.as_str()) {
            Some(resource) => (StatusCode::OK, Some(resource.clone())),
            None => (StatusCode::NOT_FOUND, None),
        },
        ("DELETE", Some(id)) => match store.iter().position(|r| r["id"] == id.as_str()) {
            Some(i) => {
                store.remove(i);
                (StatusCode::NO_CONTENT, None)
            }
            None => (StatusCode::NOT_FOUND, None),
        },
        (_, Some(id)) if store.iter().any(|r| r["id"] == id.as_str()) => {
            (StatusCode::NO_CONTENT, None)
        }
        _ => (StatusCode::NOT_FOUND, None),
    }
}

fn fast() -> ExecOptions {
    ExecOptions {
        parallelism: 4,
        if_match: false,
        bulk: false,
    }
}

fn create_user(bulk_id: &str, user_name: &str) -> Op {
    Op {
        phase: Phase::Users,
        action: Action::Create,
        resource: ResourceKind::User,
        key: user_name.into(),
        reason: None,
        bulk_id: Some(bulk_id.into()),
        changes: Vec::new(),
        request: Request {
            method: Method::Post,
            path: "/Users".into(),
            body: Some(json!({"userName": user_name})),
        },
        observed: Observed::Absent,
        depends_on: Vec::new(),
    }
}

fn create_group(bulk_id: &str, display_name: &str, members: &[&str]) -> Op {
    Op {
        phase: Phase::Groups,
        action: Action::Create,
        resource: ResourceKind::Group,
        key: display_name.into(),
        reason: None,
        bulk_id: Some(bulk_id.into()),
        changes: Vec::new(),
        request: Request {
            method: Method::Post,
            path: "/Groups".into(),
            body: Some(json!({
                "displayName": display_name,
                "members": members.iter().map(|m| json!({"value": format!("bulkId:{m}")})).collect::<Vec<_>>(),
            })),
        },
        observed: Observed::Absent,
        depends_on: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

fn delete_user(id: &str) -> Op {
    Op {
        phase: Phase::DeprovisionUsers,
        action: Action::Delete,
        resource: ResourceKind::User,
        key: format!("{id}@example.com"),
        reason: None,
        bulk_id: None,
        changes: Vec::new(),
        request: Request {
            method: Method::Delete,
            path: format!("/Users/{id}"),
            body: None,
        },
        observed: Observed::Present {
            id: id.into(),
            version: Some("W/\"1\"".into()),
            hash: String::new(),
        },
        depends_on: Vec::new(),
    }
}

fn plan(ops: Vec<Op>) -> ProviderPlan {
    ProviderPlan {
        provider: "fake".into(),
        url: "http://127.0.0.1/scim/v2".into(),
        server: None,
        capabilities: Capabilities {
            patch: true,
            ..Capabilities::default()
        },
        reads: 0,
        existing_users: 0,
        unmanaged: Unmanaged::default(),
        warnings: Vec::new(),
        bulk: false,
        notes: Vec::new(),
        reading: crate::plan::Reading::default(),
        ops,
    }
}

#[tokio::test]
async fn at_most_parallelism_requests_are_in_flight() {
    let (client, fake) = start(Vec::new(), Duration::from_millis(30)).await;
    let ops = (0..12)
        .map(|i| create_user(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let options = ExecOptions {
        parallelism: 3,
        ..fast()
    };
    let report = execute(&client, &plan(ops), &options, &Quiet).await;
    assert!(report.is_success(), "{report}");
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_create_whose_response_has_no_body_is_found_by_its_key() {
    let script = vec![(HttpMethod::POST, "/Users", Script::DoThenAnswer(201))];
    let (client, fake) = start(script, Duration::ZERO).await;
    let ops = vec![
        create_user("u1", "ada@example.com"),
        create_group("g1", "Owners", &["u1"]),
    ];
    let report = execute(&client, &plan(ops), &fast(), &Quiet).await;
    assert!(report.is_success(), "{report}");
    let Outcome::Done { id: Some(id), .. } = &report.entries[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(id, "id1");
    let group = fake.state.lock().unwrap().groups[0].clone();
    assert_eq!(group["members"], json!([{"value": "id1"}]));
}

#[tokio::test]
async fn a_create_whose_response_was_lost_is_adopted_not_repeated() {
    let script = vec![(HttpMethod::POST, "/Groups", Script::DoThenAnswer(502))];
    let (client, fake) = start(script, Duration::ZERO).await;
    let report = execute(
        &client,
        &plan(vec![create_group("g1", "Owners", &[])]),
        &fast(),
        &Quiet,
    )
    .await;
    assert!(report.is_success(), "{report}");
    assert_eq!(
        report.entries[0].outcome,
        Outcome::Done {
            id: Some("id1".into()),
            note: Some(Note::Adopted {
                cause: AdoptCause::LostResponse,
                updated: false
            })
        }
    );
    assert_eq!(fake.count("POST"), 1);
    assert_eq!(fake.state.lock().unwrap().groups.len(), 1);
}

#[tokio::test]
async fn a_create_that_did_not_happen_is_sent_again_after_the_lookup() {
    let script = vec![(HttpMethod::POST, "/Groups", Script::Refuse(500, None))];
    let (client, fake) = start(script, Duration::ZERO).await;
    let report = execute(
        &client,
        &plan(vec![create_group("g1", "Owners", &[])]),
        &fast(),
        &Quiet,
    )
    .await;
    assert!(report.is_success(), "{report}");
    // The last GET checks that no other run created the group at the same time.
    assert_eq!(
        fake.log(),
        ["POST /Groups", "GET /Groups", "POST /Groups", "GET /Groups"]
    );
    assert_eq!(report.entries[0].attempts, 2);
    assert_eq!(
        report.entries[0].outcome,
        Outcome::Done {
            id: Some("id1".into()),
            note: None
        }
    );
}

#[tokio::test]
async fn a_create_is_not_repeated_when_the_lookup_cannot_tell() {
    let script = vec![
        (HttpMethod::POST, "/Groups", Script::Refuse(500, None)),
        (HttpMethod::GET, "/Groups", Script::Refuse(400, None)),
    ];
    let (client, fake) = start(script, Duration::ZERO).await;
    let report = execute(
        &client,
        &plan(vec![create_group("g1", "Owners", &[])]),
        &fast(),
        &Quiet,
    )
    .await;
    let Outcome::Failed(failure) = &report.entries[0].outcome else {
        panic!("{report:#?}")
    };
    assert!(
        failure
            .message
            .contains("whether it was created cannot be told"),
        "{failure:?}"
    );
    assert_eq!(fake.count("POST"), 1);
}

#[tokio::test]
async fn throttling_honours_retry_after_and_is_bounded() {
    let script = vec![(HttpMethod::POST, "/Users", Script::Refuse(429, Some(1)))];
    let (client, fake) = start(script, Duration::ZERO).await;
    let started = Instant::now();
    let report = execute(
        &client,
        &plan(vec![create_user("u1", "ada@example.com")]),
        &fast(),
        &Quiet,
    )
    .await;
    assert!(report.is_success(), "{report}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        fake.count("POST"),
        2,
        "429 means not done: sent again, no lookup"
    );

    let script = (0..10)
        .map(|_| (HttpMethod::DELETE, "/Users", Script::Refuse(503, Some(0))))
        .collect();
    let (client, fake) = start(script, Duration::ZERO).await;
    let report = execute(&client, &plan(vec![delete_user("x")]), &fast(), &Quiet).await;
    let Outcome::Failed(failure) = &report.entries[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(failure.status, Some(503));
    assert_eq!(
        fake.count("DELETE"),
        4,
        "the first attempt and three retries"
    );
}

#[tokio::test]
async fn a_delete_repeated_after_a_lost_response_is_done() {
    let script = vec![(HttpMethod::DELETE, "/Users", Script::DoThenAnswer(504))];
    let (client, fake) = start(script, Duration::ZERO).await;
    fake.state
        .lock()
        .unwrap()
        .users
        .push(json!({"id": "x", "userName": "x@example.com"}));
    let options = ExecOptions {
        if_match: true,
        ..fast()
    };
    let report = execute(&client, &plan(vec![delete_user("x")]), &options, &Quiet).await;
    assert_eq!(
        report.entries[0].outcome,
        Outcome::Done {
            id: Some("x".into()),
            note: Some(Note::AlreadyGone)
        }
    );
    assert_eq!(fake.count("DELETE"), 2);
    // The retry went without If-Match: the first attempt may have moved the version on.
    assert_eq!(fake.state.lock().unwrap().if_match, ["W/\"1\""]);
}

#[tokio::test]
async fn a_skipped_create_skips_what_depends_on_it_in_later_phases() {
    let script = vec![(HttpMethod::POST, "/Users", Script::Refuse(400, None))];
    let (client, _fake) = start(script, Duration::ZERO).await;
    let mut member = create_group("g2", "Later", &["g1"]);
    member.phase = Phase::RemoveMembers;
    let ops = vec![
        create_user("u1", "ada@example.com"),
        create_group("g1", "Owners", &["u1"]),
        member,
    ];
    let report = execute(&client, &plan(ops), &fast(), &Quiet).await;
    let reasons: Vec<String> = report
        .entries
        .iter()
        .filter_map(|e| match &e.outcome {
            Outcome::Skipped { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "it depends on user ada@example.com, whose create failed",
            "it depends on group Owners, whose create was skipped"
        ]
    );
}

#[tokio::test]
async fn a_write_whose_response_body_is_not_json_is_done() {
    let script = vec![
        (HttpMethod::POST, "/Users", Script::DoThenGarbage),
        (HttpMethod::PATCH, "/Users", Script::DoThenGarbage),
    ];
    let (client, fake) = start(script, Duration::ZERO).await;
    fake.state
        .lock()
        .unwrap()
        .users
        .push(json!({"id": "x", "userName": "x@example.com"}));
    let mut update = delete_user("x");
    update.phase = Phase::Users;
    update.action = Action::Update;
    update.request = Request {
        method: Method::Patch,
        path: "/Users/x".into(),
        body: Some(json!({"Operations": []})),
    };
    let ops = vec![create_user("u1", "ada@example.com"), update];
    let report = execute(&client, &plan(ops), &fast(), &Quiet).await;
    assert!(report.is_success(), "{report}");
    let Outcome::Done { id: Some(id), .. } = &report.entries[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(id, "id1", "found by its key");
    assert_eq!(fake.count("POST"), 1);
    assert_eq!(fake.count("PATCH"), 1);
}

#[tokio::test]
async fn without_versions_a_saved_plan_compares_the_hash_of_what_it_read() {
    let (client, fake) = start(Vec::new(), Duration::ZERO).await;
    let resource = json!({"id": "x", "userName": "x@example.com", "title": "Analyst",
                          "meta": {"lastModified": "2026-01-01T00:00:00Z"}});
    fake.state.lock().unwrap().users.push(resource.clone());
    let saved = |keep| {
        let mut op = delete_user("x");
        op.observed = Observed::Present {
            id: "x".into(),
            version: None,
            hash: LiveUser::from_value(&resource, keep).unwrap().hash(),
        };
        plan(vec![op, create_user("u1", "new@example.com")])
    };
    let plan = saved(Keep::Managed);
    let mut without_patch = saved(Keep::Whole);
    without_patch.capabilities.patch = false;
    check_preconditions(&client, &plan).await.unwrap();
    check_preconditions(&client, &without_patch).await.unwrap();

    // `meta` alone changing does not count.
    fake.state.lock().unwrap().users[0]["meta"]["lastModified"] = json!("2026-02-02T00:00:00Z");
    check_preconditions(&client, &plan).await.unwrap();
    check_preconditions(&client, &without_patch).await.unwrap();

    // An attribute scimform does not manage counts only where a PUT would send it back.
    fake.state.lock().unwrap().users[0]["addresses"] = json!([{"locality": "Paris"}]);
    check_preconditions(&client, &plan).await.unwrap();
    assert!(matches!(
        check_preconditions(&client, &without_patch).await,
        Err(PreconditionError::Moved(_))
    ));

    // An attribute it manages counts everywhere.
    fake.state.lock().unwrap().users[0]["title"] = json!("Boss");
    let Err(PreconditionError::Moved(moved)) = check_preconditions(&client, &plan).await else {
        panic!("the user changed")
    };
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].movement, Movement::Changed);
    assert_eq!(
        moved[0].to_string(),
        "user x@example.com: changed since the plan was made"
    );
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_is_logged_with_its_status_and_latency_never_the_token() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let script = vec![(HttpMethod::POST, "/Users", Script::Refuse(503, Some(0)))];
    let (client, _fake) = start(script, Duration::ZERO).await;
    let report = execute(
        &client,
        &plan(vec![create_user("u1", "ada@example.com")]),
        &fast(),
        &Quiet,
    )
    .await;
    assert!(report.is_success(), "{report}");
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // Other tests run at the same time on other threads without this subscriber, and tracing
    // caches per call site whether anyone listens: an event may be missed, never misworded.
    let requests: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request method="))
        .collect();
    assert!(!requests.is_empty(), "{log}");
    for line in &requests {
        assert!(line.contains("method=POST path=/Users status="), "{log}");
        assert!(line.contains(" latency_ms="), "{log}");
    }
    assert!(
        !log.contains(FAKE_TOKEN) && !log.contains("Bearer"),
        "{log}"
    );
}

/// A PATCH on group `id` in the Groups phase, with these operations.
fn patch_group(id: &str, operations: &Value, depends_on: &[&str]) -> Op {
    Op {
        phase: Phase::Groups,
        action: Action::Update,
        resource: ResourceKind::Group,
        key: "Team".into(),
        reason: None,
        bulk_id: None,
        changes: Vec::new(),
        request: Request {
            method: Method::Patch,
            path: format!("/Groups/{id}"),
            body: Some(json!({ "Operations": operations })),
        },
        observed: Observed::Present {
            id: id.into(),
            version: None,
            hash: String::new(),
        },
        depends_on: depends_on.iter().map(|b| (*b).to_owned()).collect(),
    }
}

/// The plan read the group between another writer's create of ada and its own read of the
/// users: it removes an id it could not name and adds ada by bulkId. Once ada's create is
/// adopted under that very id, the removal is left out, and a request with nothing else is not
/// sent.
#[tokio::test]
async fn a_removal_of_a_member_the_run_adds_is_left_out() {
    let script = vec![(HttpMethod::POST, "/Users", Script::Refuse(409, None))];
    let (client, fake) = start(script, Duration::ZERO).await;
    {
        let mut state = fake.state.lock().unwrap();
        state
            .users
            .push(json!({"id": "id7", "userName": "ada@example.com"}));
        state
            .groups
            .push(json!({"id": "grp1", "displayName": "Team"}));
    }
    let ops = vec![
        create_user("u1", "ada@example.com"),
        patch_group(
            "grp1",
            &json!([
                {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]},
                {"op": "remove", "path": "members[value eq \"id7\"]"},
                {"op": "remove", "path": "members[value eq \"id9\"]"},
            ]),
            &["u1"],
        ),
        // A second request of the same change, as a large one is split.
        patch_group(
            "grp1",
            &json!([{"op": "remove", "path": "members", "value": [{"value": "id7"}]}]),
            &[],
        ),
    ];
    let report = execute(&client, &plan(ops), &fast(), &Quiet).await;
    assert!(report.is_success(), "{report}");
    assert!(
        matches!(
            report.entries[0].outcome,
            Outcome::Done {
                note: Some(Note::Adopted { .. }),
                ..
            }
        ),
        "{report:#?}"
    );
    assert_eq!(
        report.entries[2].outcome,
        Outcome::Done {
            id: Some("grp1".into()),
            note: Some(Note::MemberAdopted)
        }
    );
    assert_eq!(report.entries[2].attempts, 0);
    assert_eq!(fake.count("PATCH /Groups/grp1"), 1, "{:?}", fake.log());
    let sent = fake.state.lock().unwrap().bodies.last().cloned().unwrap();
    assert_eq!(
        sent["Operations"],
        json!([
            {"op": "add", "path": "members", "value": [{"value": "id7"}]},
            {"op": "remove", "path": "members[value eq \"id9\"]"},
        ])
    );
    let line = crate::report::AuditLine(&report.entries[2]).to_string();
    assert!(
        line.starts_with("  unchanged   group Team  id=grp1  (")
            && line.contains("not sent: the member it removed"),
        "{line}"
    );
    let said = report.entries[2].to_string();
    assert!(said.contains("not sent: the member it removed"), "{said}");
}
