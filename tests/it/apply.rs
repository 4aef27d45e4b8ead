//! The executor against a server nobody here wrote (scim2-server), directly and through a
//! proxy that injects faults: plans are computed by the engine, applied, and planned again.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use scim::ResourceKind;
use scimform::apply::{self, ExecOptions, Movement, PreconditionError, Quiet};
use scimform::client::{Connection, Keep, RetryPolicy, ScimClient};
use scimform::config::{self, Config, LoadOptions};
use scimform::plan::{Action, ProviderPlan};
use scimform::report::{AdoptCause, Note, Outcome};
use scimform::state;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::faults::{FaultProxy, FaultRates, FaultStats};
use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::serve::Serve;

fn client(base_url: &str) -> ScimClient {
    ScimClient::new(&Connection {
        base_url: base_url.to_owned(),
        auth_scheme: "token".to_owned(),
        token: SecretString::from(PEER_TOKEN.to_owned()),
        allow_insecure_http: false,
    })
    .expect("a loopback http URL is allowed")
    .with_retry(quick_retries())
}

/// A server to apply to: the independent scim2-server, or scimform's own embedded server.
enum Server {
    Peer(PeerServer),
    Embedded(Serve),
}

impl Server {
    fn base_url(&self) -> &str {
        match self {
            Server::Peer(peer) => &peer.base_url,
            Server::Embedded(serve) => &serve.base,
        }
    }

    /// A client of the server, or of a proxy in front of it, with the server's token.
    fn client_at(&self, base_url: &str) -> ScimClient {
        let token = match self {
            Server::Peer(_) => PEER_TOKEN,
            Server::Embedded(serve) => &serve.token,
        };
        ScimClient::new(&Connection {
            base_url: base_url.to_owned(),
            auth_scheme: "Bearer".to_owned(),
            token: SecretString::from(token.to_owned()),
            allow_insecure_http: false,
        })
        .expect("a loopback http URL is allowed")
        .with_retry(quick_retries())
    }

    fn client(&self) -> ScimClient {
        self.client_at(self.base_url())
    }
}

/// Retries quick enough for tests, generous enough for the fault proxy.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 8,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_elapsed: Duration::from_secs(60),
        retry_after_cap: Duration::from_secs(2),
    }
}

fn options() -> ExecOptions {
    ExecOptions {
        parallelism: 4,
        if_match: false,
        bulk: false,
    }
}

fn load(base_url: &str, rest: &str) -> Config {
    let yaml = format!(
        "version: 1\nproviders:\n  peer:\n    url: {base_url}\n    token: ${{SCIMFORM_IT_TOKEN}}\n    \
         preset: tonkean\n    deprovision: delete\n{rest}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(&path, yaml).unwrap();
    match config::load(Path::new(&path), &LoadOptions::default()) {
        Ok(config) => config,
        Err(errors) => panic!("the config does not load: {errors:?}"),
    }
}

/// The plan for the config's only provider, read from `client`'s server.
async fn plan(client: &ScimClient, config: &Config) -> ProviderPlan {
    let provider = &config.providers()[0];
    let capabilities = client.capabilities().await.unwrap();
    let wanted = scimform::make_plan::wanted(config, provider);
    let live = state::read(client, &capabilities, &wanted, None)
        .await
        .unwrap();
    let (ops, unmanaged) = scimform::diff::diff(
        config,
        provider,
        &live,
        &capabilities,
        scimform::diff::Options::default(),
    )
    .unwrap();
    ProviderPlan {
        provider: provider.name().to_owned(),
        url: provider.url_template().to_owned(),
        server: None,
        capabilities,
        reads: 0,
        existing_users: live.total_users,
        unmanaged,
        warnings: Vec::new(),
        bulk: false,
        notes: Vec::new(),
        reading: scimform::plan::Reading::default(),
        ops,
    }
}

async fn post(client: &ScimClient, path: &str, body: &Value) -> String {
    let response = client
        .send(Method::POST, path, &[], Some(body), None)
        .await
        .expect("create directly on the server");
    response.body.unwrap()["id"].as_str().unwrap().to_owned()
}

fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
    })
}

fn group(display_name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
        "members": members.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
    })
}

fn entry<'a>(report: &'a scimform::report::Report, key: &str) -> &'a scimform::report::Entry {
    report
        .entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no op for {key} in\n{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_through_faults_converges_without_duplicates() {
    apply_through_faults(Server::Peer(PeerServer::start()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_apply_through_faults_converges_without_duplicates() {
    apply_through_faults(Server::Peer(PeerServer::start()), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_to_the_embedded_server_through_faults_converges() {
    apply_through_faults(Server::Embedded(Serve::start()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_apply_to_the_embedded_server_through_faults_converges() {
    apply_through_faults(Server::Embedded(Serve::start()), true).await;
}

async fn apply_through_faults(server: Server, bulk: bool) {
    let direct = server.client();
    // What the server holds before: a user and a group to delete, a user to update, and a
    // group whose members change.
    let gone = post(&direct, "/Users", &user("gone@example.com")).await;
    post(
        &direct,
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "user01@example.com", "title": "Old title"}),
    )
    .await;
    post(&direct, "/Groups", &group("Legacy", &[])).await;
    post(&direct, "/Groups", &group("Team B", &[&gone])).await;

    let mut users = String::from("users:\n");
    for i in 0..12 {
        let _ = write!(
            users,
            "  - userName: user{i:02}@example.com\n    displayName: User {i}\n    \
             title: Engineer\n    emails: [user{i:02}@example.com]\n"
        );
    }
    users.push_str("  - userName: gone@example.com\n    absent: true\n");
    let config = load(
        server.base_url(),
        &format!(
            "{users}groups:\n\
             \x20 - displayName: Team A\n    members: [user00@example.com, user01@example.com, user02@example.com, user03@example.com]\n\
             \x20 - displayName: Team B\n    members: [user00@example.com, user04@example.com, user05@example.com]\n\
             \x20 - displayName: Team C\n    members: [user06@example.com]\n\
             \x20 - displayName: Team D\n    members: []\n\
             \x20 - displayName: Legacy\n    absent: true\n\
             roles:\n  SYSTEM_USER:\n    users: [user08@example.com]\n    groups: [Team A]\n"
        ),
    );
    let planned = plan(&direct, &config).await;
    assert!(
        planned.ops.iter().any(|op| op.action == Action::Delete)
            && planned.ops.iter().any(|op| op.action == Action::Update),
        "{:#?}",
        planned.ops
    );

    let proxy = FaultProxy::start(
        server.base_url(),
        FaultRates {
            // `SCIMFORM_FAULT_SEED` replays another run.
            seed: std::env::var("SCIMFORM_FAULT_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0x5C1_F0E3),
            throttle: 0.15,
            reset: 0.1,
            drop_response: 0.15,
            max_in_a_row: 2,
        },
    )
    .await;
    let faulty = server
        .client_at(&proxy.base_url)
        .with_timeout(Duration::from_secs(1));
    let options = ExecOptions { bulk, ..options() };
    let report = apply::execute(&faulty, &planned, &options, &Quiet).await;

    assert!(report.is_success(), "{report}");
    assert_eq!(report.entries.len(), planned.ops.len());
    let stats = &proxy.stats;
    assert!(FaultStats::get(&stats.throttled) > 0);
    assert!(FaultStats::get(&stats.responses_dropped) > 0);
    let counts = report.counts();
    assert!(counts.adopted > 0, "a lost create was adopted: {report:#?}");
    if !bulk {
        assert!(FaultStats::get(&stats.reset) > 0);
        assert!(FaultStats::get(&stats.stalled) > 0);
        assert!(counts.attempts > planned.ops.len(), "faults made retries");
    }

    // No create was sent twice: scim2-server would have kept both groups of one name.
    let groups = direct
        .list_all::<Value>(ResourceKind::Group, None, &[], Keep::Managed)
        .await
        .unwrap();
    let mut names: Vec<&str> = groups
        .resources
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Team A", "Team B", "Team C", "Team D"]);
    let users = direct
        .list_all::<Value>(ResourceKind::User, None, &[], Keep::Managed)
        .await
        .unwrap();
    assert_eq!(users.resources.len(), 12);

    let again = plan(&direct, &config).await;
    assert!(again.ops.is_empty(), "converged: {:#?}", again.ops);
}

#[tokio::test]
async fn ops_that_depend_on_a_failed_create_are_skipped_and_the_rest_done() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let config = load(
        &peer.base_url,
        "users:\n  - userName: ada@example.com\n  - userName: bob@example.com\n\
         groups:\n  - displayName: Both\n    members: [ada@example.com, bob@example.com]\n\
         \x20 - displayName: Bobs\n    members: [bob@example.com]\n",
    );
    let mut planned = plan(&direct, &config).await;
    // The server rejects this user: `name` must be a complex attribute.
    let ada = planned
        .ops
        .iter_mut()
        .find(|op| op.key == "ada@example.com")
        .unwrap();
    ada.request.body.as_mut().unwrap()["name"] = json!("not an object");

    let report = apply::execute(&direct, &planned, &ExecOptions::default(), &Quiet).await;

    assert!(!report.is_success());
    let Outcome::Failed(failure) = &entry(&report, "ada@example.com").outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(failure.status, Some(400), "{failure:?}");
    assert!(failure.message.contains("POST /Users"), "{failure:?}");
    assert!(entry(&report, "bob@example.com").outcome.is_done());
    assert!(entry(&report, "Bobs").outcome.is_done());
    let Outcome::Skipped { reason } = &entry(&report, "Both").outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(
        reason,
        "it depends on user ada@example.com, whose create failed"
    );
    let counts = report.counts();
    assert_eq!((counts.done, counts.failed, counts.skipped), (2, 1, 1));
    let shown = report.to_string();
    assert!(
        shown
            .contains("failed   create user ada@example.com: POST /Users: the server answered 400"),
        "{shown}"
    );
    assert!(
        shown.contains("skipped  create group Both: it depends on user ada@example.com"),
        "{shown}"
    );
    assert!(
        shown.ends_with("provider peer: 2 done, 1 failed, 1 skipped\n"),
        "{shown}"
    );

    // Running again converges: the rejected user is planned again, the rest is done.
    let again = plan(&direct, &config).await;
    let keys: Vec<&str> = again.ops.iter().map(|op| op.key.as_str()).collect();
    assert_eq!(keys, ["ada@example.com", "Both"]);
}

#[tokio::test]
async fn a_conflicting_create_adopts_the_existing_object_and_brings_it_in_line() {
    conflicting_create_adopts(Server::Peer(PeerServer::start())).await;
}

#[tokio::test]
async fn on_the_embedded_server_a_conflicting_create_adopts_the_existing_object() {
    conflicting_create_adopts(Server::Embedded(Serve::start())).await;
}

async fn conflicting_create_adopts(server: Server) {
    let direct = server.client();
    let config = load(
        server.base_url(),
        "users:\n  - userName: ada@example.com\n    displayName: Ada Lovelace\n    title: Analyst\n\
         groups:\n  - displayName: Owners\n    members: [ada@example.com]\n",
    );
    let planned = plan(&direct, &config).await;
    assert_eq!(planned.ops.len(), 2);
    // Someone creates her between plan and apply, differently.
    let existing = post(
        &direct,
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com", "title": "Intern", "nickName": "ada"}),
    )
    .await;

    let report = apply::execute(&direct, &planned, &ExecOptions::default(), &Quiet).await;

    assert!(report.is_success(), "{report}");
    assert_eq!(
        entry(&report, "ada@example.com").outcome,
        Outcome::Done {
            id: Some(existing.clone()),
            note: Some(Note::Adopted {
                cause: AdoptCause::Conflict,
                updated: true
            }),
        }
    );
    let owners = direct
        .find_by::<Value>(ResourceKind::Group, "displayName", "Owners", Keep::Managed)
        .await
        .unwrap();
    assert_eq!(owners[0]["members"][0]["value"], existing.as_str());
    let ada = direct
        .get(ResourceKind::User, &existing)
        .await
        .unwrap()
        .unwrap();
    let ada = ada.body.unwrap();
    assert_eq!(ada["title"], "Analyst");
    assert_eq!(
        ada["nickName"], "ada",
        "what the config does not manage is left alone"
    );
    assert!(plan(&direct, &config).await.ops.is_empty());
}

#[tokio::test]
async fn a_saved_plan_is_checked_against_what_moved_since() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let ada = post(&direct, "/Users", &user("ada@example.com")).await;
    let old = post(&direct, "/Users", &user("old@example.com")).await;
    let config = load(
        &peer.base_url,
        "users:\n  - userName: ada@example.com\n    title: Analyst\n\
         \x20 - userName: bob@example.com\n  - userName: old@example.com\n    absent: true\n",
    );
    let planned = plan(&direct, &config).await;
    assert_eq!(planned.ops.len(), 3);
    apply::check_preconditions(&direct, &planned).await.unwrap();

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]});
    direct
        .send(
            Method::PATCH,
            &format!("/Users/{ada}"),
            &[],
            Some(&patch),
            None,
        )
        .await
        .unwrap();
    let bob = post(&direct, "/Users", &user("bob@example.com")).await;
    direct
        .send(Method::DELETE, &format!("/Users/{old}"), &[], None, None)
        .await
        .unwrap();

    let Err(PreconditionError::Moved(moved)) = apply::check_preconditions(&direct, &planned).await
    else {
        panic!("the plan is stale")
    };
    let shown: Vec<String> = moved.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        matches!(&moved[0].movement, Movement::Version { .. }),
        "{shown:?}"
    );
    assert!(
        shown[0].starts_with("user ada@example.com: version W/"),
        "{shown:?}"
    );
    assert_eq!(
        shown[1],
        format!("user bob@example.com: created since the plan was made (id {bob})")
    );
    assert_eq!(
        shown[2],
        "user old@example.com: deleted since the plan was made"
    );
}

#[tokio::test]
async fn deleting_what_is_already_gone_is_done() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let old = post(&direct, "/Users", &user("old@example.com")).await;
    let config = load(
        &peer.base_url,
        "users:\n  - userName: old@example.com\n    absent: true\n",
    );
    let planned = plan(&direct, &config).await;
    direct
        .send(Method::DELETE, &format!("/Users/{old}"), &[], None, None)
        .await
        .unwrap();
    let report = apply::execute(&direct, &planned, &ExecOptions::default(), &Quiet).await;
    assert!(report.is_success(), "{report}");
    assert_eq!(
        entry(&report, "old@example.com").outcome,
        Outcome::Done {
            id: Some(old),
            note: Some(Note::AlreadyGone)
        }
    );
}

#[tokio::test]
async fn with_if_match_an_object_changed_since_the_plan_is_left_alone() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let ada = post(&direct, "/Users", &user("ada@example.com")).await;
    post(&direct, "/Users", &user("bob@example.com")).await;
    let config = load(
        &peer.base_url,
        "users:\n  - userName: ada@example.com\n    title: Analyst\n\
         \x20 - userName: bob@example.com\n    title: Engineer\n",
    );
    let planned = plan(&direct, &config).await;
    assert!(planned.capabilities.etag);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]});
    direct
        .send(
            Method::PATCH,
            &format!("/Users/{ada}"),
            &[],
            Some(&patch),
            None,
        )
        .await
        .unwrap();

    let options = ExecOptions {
        if_match: true,
        ..ExecOptions::default()
    };
    let report = apply::execute(&direct, &planned, &options, &Quiet).await;

    let Outcome::Failed(failure) = &entry(&report, "ada@example.com").outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(failure.status, Some(412), "{failure:?}");
    assert!(entry(&report, "bob@example.com").outcome.is_done());
    let now = direct.get(ResourceKind::User, &ada).await.unwrap().unwrap();
    assert_eq!(now.body.unwrap()["title"], "Boss");
}

#[tokio::test]
async fn a_clean_apply_sends_exactly_the_planned_writes() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let old = post(&direct, "/Users", &user("old@example.com")).await;
    post(&direct, "/Groups", &group("Ops", &[&old])).await;
    let mut yaml = String::from("users:\n  - userName: old@example.com\n    absent: true\n");
    for i in 0..20 {
        let _ = writeln!(yaml, "  - userName: u{i}@example.com");
    }
    yaml.push_str("groups:\n  - displayName: Ops\n    members: [u1@example.com, u2@example.com]\n");
    yaml.push_str("  - displayName: Devs\n    members: [u3@example.com]\n");
    let config = load(&peer.base_url, &yaml);
    let planned = plan(&direct, &config).await;
    let before = peer.requests().len();

    let options = ExecOptions {
        parallelism: 3,
        ..ExecOptions::default()
    };
    let report = apply::execute(&direct, &planned, &options, &Quiet).await;

    assert!(report.is_success(), "{report}");
    let sent: Vec<String> = peer.requests()[before..].to_vec();
    let writes = sent.iter().filter(|r| !r.starts_with("GET ")).count();
    assert_eq!(writes, planned.ops.len(), "{sent:#?}");
    // The only reads: after each group is created, the lookup of its name that settles a
    // create of the same group by another apply at the same time.
    let group_creates = planned
        .ops
        .iter()
        .filter(|op| {
            op.request.method == scimform::plan::Method::Post && op.request.path == "/Groups"
        })
        .count();
    let reads: Vec<&String> = sent.iter().filter(|r| r.starts_with("GET ")).collect();
    assert_eq!(reads.len(), group_creates, "{sent:#?}");
    assert!(
        reads
            .iter()
            .all(|r| r.starts_with("GET /scim/v2/Groups?filter=displayName")),
        "{reads:#?}"
    );
    assert_eq!(report.counts().attempts, planned.ops.len());
    assert!(plan(&direct, &config).await.ops.is_empty());
}

/// splitmix64: a seeded random source for generated scenarios.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` in 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A random starting directory and a random config for it; returns the config's YAML body.
async fn random_scenario(random: &mut Random, direct: &ScimClient) -> String {
    const USERS: usize = 8;
    const GROUPS: usize = 4;
    let mut ids = Vec::new();
    for i in 0..USERS {
        if random.chance(50) {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("p{i}@example.com"),
                "title": random.pick(&["Analyst", "Engineer"]),
                "displayName": random.pick(&["One", "Two"]),
            });
            ids.push(post(direct, "/Users", &body).await);
        }
    }
    for i in 0..GROUPS {
        if random.chance(50) {
            let members: Vec<&str> = ids
                .iter()
                .filter(|_| random.chance(40))
                .map(String::as_str)
                .collect();
            post(direct, "/Groups", &group(&format!("Group {i}"), &members)).await;
        }
    }
    let mut yaml = String::from("users:\n");
    let mut declared = Vec::new();
    for i in 0..USERS {
        if !random.chance(70) {
            continue;
        }
        let user_name = format!("p{i}@example.com");
        if random.chance(15) {
            let _ = write!(yaml, "  - userName: {user_name}\n    absent: true\n");
            continue;
        }
        let _ = write!(
            yaml,
            "  - userName: {user_name}\n    title: {}\n    displayName: {}\n",
            random.pick(&["Analyst", "Engineer"]),
            random.pick(&["One", "Two"]),
        );
        declared.push(user_name);
    }
    yaml.push_str("groups:\n");
    let mut groups = Vec::new();
    for i in 0..GROUPS {
        if !random.chance(70) {
            continue;
        }
        if random.chance(15) {
            let _ = write!(yaml, "  - displayName: Group {i}\n    absent: true\n");
            continue;
        }
        let members: Vec<&str> = declared
            .iter()
            .filter(|_| random.chance(40))
            .map(String::as_str)
            .collect();
        let _ = write!(
            yaml,
            "  - displayName: Group {i}\n    members: [{}]\n",
            members.join(", ")
        );
        groups.push(format!("Group {i}"));
    }
    let role_users: Vec<&str> = declared
        .iter()
        .filter(|_| random.chance(30))
        .map(String::as_str)
        .collect();
    let role_groups: Vec<&str> = groups
        .iter()
        .filter(|_| random.chance(30))
        .map(String::as_str)
        .collect();
    let _ = write!(
        yaml,
        "roles:\n  SYSTEM_USER:\n    users: [{}]\n    groups: [{}]\n",
        role_users.join(", "),
        role_groups.join(", ")
    );
    yaml
}

#[tokio::test]
async fn random_plans_apply_with_exactly_their_writes_and_converge() {
    random_plans(|| Server::Peer(PeerServer::start())).await;
}

#[tokio::test]
async fn random_plans_apply_to_the_embedded_server_and_converge() {
    random_plans(|| Server::Embedded(Serve::start())).await;
}

async fn random_plans(start: impl Fn() -> Server) {
    // `SCIMFORM_SCENARIOS` runs more of them.
    let scenarios: u64 = std::env::var("SCIMFORM_SCENARIOS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    for seed in 0..scenarios {
        let server = start();
        let direct = server.client();
        let mut random = Random(seed);
        let yaml = random_scenario(&mut random, &direct).await;
        let config = load(server.base_url(), &yaml);
        let planned = plan(&direct, &config).await;
        let before = direct.requests_sent();

        // Odd seeds send each phase in /Bulk requests.
        let bulk = seed % 2 == 1;
        let options = ExecOptions {
            bulk,
            ..ExecOptions::default()
        };
        let report = apply::execute(&direct, &planned, &options, &Quiet).await;

        assert!(report.is_success(), "seed {seed}:\n{yaml}\n{report}");
        // Counted by the client; the peer's own log says the same in the tests above.
        let sent = direct.requests_sent() - before;
        // Each group created is looked up once afterwards (a concurrent create of it).
        let group_creates = planned
            .ops
            .iter()
            .filter(|op| {
                op.request.method == scimform::plan::Method::Post && op.request.path == "/Groups"
            })
            .count();
        if bulk {
            assert!(
                sent <= planned.ops.len() + group_creates,
                "seed {seed}: {sent}"
            );
        } else {
            assert_eq!(sent, planned.ops.len() + group_creates, "seed {seed}");
        }
        let again = plan(&direct, &config).await;
        assert!(
            again.ops.is_empty(),
            "seed {seed}:\n{yaml}\nfirst plan {:#?}\nsecond plan {:#?}",
            planned.ops,
            again.ops
        );
    }
}

#[tokio::test]
async fn on_a_server_without_patch_an_adopted_object_is_brought_in_line_with_put() {
    // The peer's own ServiceProviderConfig, with PATCH turned off.
    let probe = PeerServer::start();
    let mut spc = client(&probe.base_url)
        .send(Method::GET, "/ServiceProviderConfig", &[], None, None)
        .await
        .unwrap()
        .body
        .unwrap();
    drop(probe);
    spc["patch"]["supported"] = json!(false);
    let dir = tempfile::tempdir().unwrap();
    let spc_path = dir.path().join("spc.json");
    std::fs::write(&spc_path, spc.to_string()).unwrap();
    let peer = PeerServer::start_with_config(Some(&spc_path));
    let direct = client(&peer.base_url);

    let config = load(
        &peer.base_url,
        "users:\n  - userName: ada@example.com\n    title: Analyst\n\
         groups:\n  - displayName: Owners\n    members: [ada@example.com]\n",
    );
    let planned = plan(&direct, &config).await;
    assert!(!planned.capabilities.patch);
    let existing = post(
        &direct,
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com", "title": "Intern", "nickName": "ada"}),
    )
    .await;
    let before = peer.requests().len();

    let report = apply::execute(&direct, &planned, &ExecOptions::default(), &Quiet).await;

    assert!(report.is_success(), "{report}");
    assert!(matches!(
        entry(&report, "ada@example.com").outcome,
        Outcome::Done {
            note: Some(Note::Adopted {
                cause: AdoptCause::Conflict,
                updated: true
            }),
            ..
        }
    ));
    let sent = peer.requests()[before..].to_vec();
    assert!(
        sent.contains(&format!("PUT /scim/v2/Users/{existing}")),
        "{sent:#?}"
    );
    assert!(!sent.iter().any(|r| r.starts_with("PATCH")), "{sent:#?}");
    let ada = direct
        .get(ResourceKind::User, &existing)
        .await
        .unwrap()
        .unwrap();
    let ada = ada.body.unwrap();
    assert_eq!(ada["title"], "Analyst");
    assert_eq!(ada["nickName"], "ada");
    assert!(plan(&direct, &config).await.ops.is_empty());
}

#[tokio::test]
async fn bulk_apply_sends_each_phase_in_one_request_and_converges() {
    let peer = PeerServer::start();
    let direct = client(&peer.base_url);
    let old = post(&direct, "/Users", &user("old@example.com")).await;
    post(&direct, "/Groups", &group("Ops", &[&old])).await;
    let mut yaml = String::from("users:\n  - userName: old@example.com\n    absent: true\n");
    for i in 0..20 {
        let _ = write!(yaml, "  - userName: u{i}@example.com\n    title: T{i}\n");
    }
    yaml.push_str("  - userName: taken@example.com\n    title: Taken\n");
    yaml.push_str("groups:\n  - displayName: Ops\n    members: [u1@example.com, u2@example.com]\n");
    yaml.push_str("  - displayName: Devs\n    members: [u3@example.com]\n");
    yaml.push_str("  - displayName: QA\n    members: [u4@example.com]\n");
    let config = load(&peer.base_url, &yaml);
    let mut planned = plan(&direct, &config).await;
    // One create the server will refuse inside the bulk request, and one it will find taken.
    let bad = planned
        .ops
        .iter_mut()
        .find(|op| op.key == "u9@example.com")
        .unwrap();
    bad.request.body.as_mut().unwrap()["name"] = json!("not an object");
    post(&direct, "/Users", &user("taken@example.com")).await;
    let before = peer.requests().len();

    let options = ExecOptions {
        bulk: true,
        ..ExecOptions::default()
    };
    let report = apply::execute(&direct, &planned, &options, &Quiet).await;

    let Outcome::Failed(failure) = &entry(&report, "u9@example.com").outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(failure.status, Some(400), "{failure:?}");
    assert!(failure.message.contains("(in /Bulk)"), "{failure:?}");
    assert!(matches!(
        entry(&report, "taken@example.com").outcome,
        Outcome::Done {
            note: Some(Note::Adopted {
                cause: AdoptCause::Conflict,
                updated: true
            }),
            ..
        }
    ));
    let counts = report.counts();
    assert_eq!((counts.failed, counts.skipped), (1, 0), "{report}");
    let sent = peer.requests()[before..].to_vec();
    let bulks = sent
        .iter()
        .filter(|r| r.starts_with("POST /scim/v2/Bulk"))
        .count();
    // Users, then groups; the deletion of old@example.com, alone in its phase, goes as a
    // single request, and so do the lookup and the update of the adopted user, and the lookup
    // of each group created (a concurrent create of it).
    assert_eq!(bulks, 2, "{sent:#?}");
    let group_lookups = sent
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Groups?filter=displayName"))
        .count();
    assert!(group_lookups >= 1, "{sent:#?}");
    assert_eq!(sent.len(), 5 + group_lookups, "{sent:#?}");
    let again = plan(&direct, &config).await;
    let keys: Vec<&str> = again.ops.iter().map(|op| op.key.as_str()).collect();
    assert_eq!(keys, ["u9@example.com"]);
}
