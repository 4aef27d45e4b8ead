//! Listings that cannot be trusted and group members a server does not show (README, Plans):
//! the real binary over real HTTP, through a proxy that makes `scimform serve` and
//! scim2-server behave like servers seen in the wild. Each case runs against both.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::rewrite::{Exchange, Rewriter, edit_query};
use crate::support::serve::{ERROR, Serve};
use crate::support::{Run, run, scimform};

/// The page size every listing is clamped to through the proxy, as servers clamp `count`.
const PAGE: usize = 10;

/// How many users the paging cases seed: three full pages.
const USERS: usize = 30;

/// The server behind the proxy.
enum Upstream {
    Serve(Serve),
    Peer(PeerServer),
}

#[derive(Clone, Copy)]
enum On {
    Serve,
    Peer,
}

impl Upstream {
    fn start(on: On) -> Self {
        match on {
            On::Serve => Upstream::Serve(Serve::start()),
            On::Peer => Upstream::Peer(PeerServer::start()),
        }
    }

    fn base(&self) -> &str {
        match self {
            Upstream::Serve(serve) => &serve.base,
            Upstream::Peer(peer) => &peer.base_url,
        }
    }

    fn token(&self) -> String {
        match self {
            Upstream::Serve(serve) => serve.token.clone(),
            Upstream::Peer(_) => PEER_TOKEN.to_owned(),
        }
    }

    /// Creates a user and returns its id.
    async fn user(&self, user_name: &str) -> String {
        match self {
            Upstream::Serve(serve) => serve.user(user_name).await,
            Upstream::Peer(peer) => peer.user(json!({"userName": user_name})).await,
        }
    }

    /// Creates a group with these member ids and returns its id.
    async fn group(&self, display_name: &str, members: &[&str]) -> String {
        match self {
            Upstream::Serve(serve) => serve.group(display_name, members).await,
            Upstream::Peer(peer) => peer.group(display_name, members).await,
        }
    }

    /// The member ids of a group, read from the server itself.
    async fn members_of(&self, id: &str) -> BTreeSet<String> {
        let path = format!("/Groups/{id}");
        let group = match self {
            Upstream::Serve(serve) => serve.get(&path).await.body,
            Upstream::Peer(peer) => peer.call(reqwest::Method::GET, &path, None).await,
        };
        group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str().map(str::to_owned))
            .collect()
    }
}

fn user_name(i: usize) -> String {
    format!("u{i:02}@example.com")
}

/// A config naming the server at `url` as provider `live`.
fn config(dir: &Path, url: &str, provider_extra: &str, rest: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    let text = format!(
        "version: 1\nproviders:\n  live:\n    url: {url}\n    token: ${{LISTING_TOKEN}}\n{provider_extra}{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs scimform with `args` off the async runtime, so the proxy on it keeps serving.
async fn scim(token: &str, args: &[&str]) -> Run {
    let token = token.to_owned();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || run(scimform().env("LISTING_TOKEN", token).args(&args)))
        .await
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The plan as JSON, asserting that the command succeeded.
async fn plan_json(token: &str, config: &Path) -> Value {
    let out = scim(token, &["plan", "--format", "json", "-f", path(config)]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).expect("--format json prints JSON")
}

/// Every list request as `count` at most [`PAGE`].
fn clamp(query: &mut [(String, String)]) {
    for (key, value) in query.iter_mut() {
        if key == "count" {
            let asked: usize = value.parse().unwrap_or(PAGE);
            *value = asked.min(PAGE).to_string();
        }
    }
}

fn is_user_list(exchange: &Exchange<'_>) -> bool {
    exchange.method == Method::GET
        && exchange.path.ends_with("/Users")
        && exchange.param("startIndex").is_some()
}

/// The user listings the proxy received.
fn user_lists(proxy: &Rewriter) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users?startIndex="))
        .collect()
}

/// [`USERS`] users, all declared.
async fn seed_users(upstream: &Upstream) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(upstream.user(&user_name(i)).await);
    }
    ids
}

fn declared_users() -> String {
    (0..USERS).fold("users:\n".to_owned(), |mut out, i| {
        let _ = writeln!(out, "  - userName: {}", user_name(i));
        out
    })
}

/// A declared group whose members are beyond the first page of users, and which holds them.
const OWNERS: &str =
    "groups:\n  - displayName: Owners\n    members: [u03@example.com, u27@example.com]\n";

async fn ignored_start_index(on: On) {
    let upstream = Upstream::start(on);
    let ids = seed_users(&upstream).await;
    upstream.group("Owners", &[&ids[3], &ids[27]]).await;
    // Every page asked for is answered with the first.
    let proxy = Rewriter::editing_responses(
        upstream.base(),
        |pq| {
            edit_query(pq, |query| {
                clamp(query);
                for (key, value) in query.iter_mut() {
                    if key == "startIndex" {
                        "1".clone_into(value);
                    }
                }
            })
        },
        |_| {},
    )
    .await;
    let token = upstream.token();
    let dir = tempfile::tempdir().unwrap();
    let rest = format!("{}{OWNERS}", declared_users());
    let unpruned = config(dir.path(), &proxy.base_url, "", &rest);

    let plan = plan_json(&token, &unpruned).await;

    let provider = &plan["providers"][0];
    assert_eq!(
        provider["ops"],
        json!([]),
        "no POST for users that exist, and no member flips in or out"
    );
    assert_eq!(
        provider["reading"]["untrusted_listings"],
        json!([{
            "resource": "user",
            "check": "start_index",
            "detail": "GET /Users?startIndex=11&count=10 answered startIndex 1",
        }])
    );
    assert!(
        proxy.requests().contains(
            &"GET /scim/v2/Users?startIndex=11&count=10&excludedAttributes=groups".to_owned()
        ),
        "the pages after the first ask for the page size the server returns: {:?}",
        proxy.requests()
    );
    let lookups = proxy
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users?filter=userName eq "))
        .count();
    assert_eq!(
        lookups,
        USERS - PAGE,
        "each declared user the listing did not show is looked up"
    );
    let text = scim(&token, &["plan", "-f", path(&unpruned)]).await;
    assert!(
        text.stdout.contains(
            "  note: the user listing failed the check \"startIndex echoed as asked\": GET \
             /Users?startIndex=11&count=10 answered startIndex 1; declared users it does not \
             show were looked up by filter"
        ),
        "{}",
        text.stdout
    );

    let refused = "the user listing failed the check \"startIndex echoed as asked\": GET \
                   /Users?startIndex=11&count=10 answered startIndex 1";
    let pruning = config(dir.path(), &proxy.base_url, "    prune: true\n", &rest);
    let out = scim(&token, &["plan", "-f", path(&pruning)]).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr
            .contains(&format!("{refused}; refusing to prune from a listing")),
        "{}",
        out.stderr
    );
    let target = dir.path().join("imported.yaml");
    let out = scim(
        &token,
        &["import", "-f", path(&unpruned), "-o", path(&target)],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr
            .contains(&format!("{refused}; an import must hold everything")),
        "{}",
        out.stderr
    );
    assert!(!target.exists(), "nothing is imported");
    assert!(
        proxy.requests().iter().all(|r| r.starts_with("GET ")),
        "nothing is written"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_start_index_gets_no_post_and_no_prune_on_the_embedded_server() {
    ignored_start_index(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_start_index_gets_no_post_and_no_prune_on_scim2_server() {
    ignored_start_index(On::Peer).await;
}

async fn ignored_filters_too(on: On) {
    let upstream = Upstream::start(on);
    seed_users(&upstream).await;
    // Every page is the first, and a lookup by filter answers the whole first page.
    let proxy = Rewriter::editing_responses(
        upstream.base(),
        |pq| {
            edit_query(pq, |query| {
                clamp(query);
                query.retain(|(key, _)| key != "filter");
                for (key, value) in query.iter_mut() {
                    if key == "startIndex" {
                        "1".clone_into(value);
                    }
                }
            })
        },
        |_| {},
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &proxy.base_url, "", &declared_users());

    let out = scim(&upstream.token(), &["plan", "-f", path(&config)]).await;

    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains("GET /Users?filter=userName eq \"u")
            && out
                .stderr
                .contains("the server does not apply the filter, so objects its listing leaves out cannot be looked up"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_filters_too_is_an_error_not_a_create_on_the_embedded_server() {
    ignored_filters_too(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_ignores_filters_too_is_an_error_not_a_create_on_scim2_server() {
    ignored_filters_too(On::Peer).await;
}

/// A way of paging badly: the request sent upstream, the response changed, and the check the
/// listing fails with the start of what it reports.
struct BadPaging {
    name: &'static str,
    on_request: fn(&str) -> String,
    on_response: fn(&mut Exchange<'_>),
    check: &'static str,
    detail: &'static str,
    /// The most list requests before reading stops.
    most_lists: usize,
}

const BAD_PAGING: [BadPaging; 5] = [
    BadPaging {
        name: "a page that repeats the one before, without saying where it starts",
        on_request: |pq| {
            edit_query(pq, |query| {
                clamp(query);
                for (key, value) in query.iter_mut() {
                    if key == "startIndex" && value == "21" {
                        "11".clone_into(value);
                    }
                }
            })
        },
        on_response: |exchange| {
            if is_user_list(exchange)
                && let Some(list) = exchange.body.as_object_mut()
            {
                list.remove("startIndex");
            }
        },
        check: "no id listed twice",
        detail: "GET /Users?startIndex=21&count=10 listed id ",
        most_lists: USERS / PAGE,
    },
    BadPaging {
        name: "the same page for every start, claiming 5,000 pages",
        on_request: |pq| {
            edit_query(pq, |query| {
                clamp(query);
                for (key, value) in query.iter_mut() {
                    if key == "startIndex" {
                        "1".clone_into(value);
                    }
                }
            })
        },
        on_response: |exchange| {
            if is_user_list(exchange)
                && let Some(list) = exchange.body.as_object_mut()
            {
                list.remove("startIndex");
                list.insert("totalResults".to_owned(), json!(5000 * PAGE));
            }
        },
        check: "no id listed twice",
        detail: "GET /Users?startIndex=11&count=10 listed id ",
        // The first page, then the pages asked for at once before the second came back.
        most_lists: 5,
    },
    BadPaging {
        name: "pages that never end: each claims one more page",
        on_request: |pq| edit_query(pq, |query| clamp(query)),
        on_response: |exchange| {
            if is_user_list(exchange) {
                let start: usize = exchange.param("startIndex").unwrap().parse().unwrap();
                exchange.body["totalResults"] = json!(start + 2 * PAGE - 1);
            }
        },
        check: "totalResults consistent",
        detail: "GET /Users?startIndex=11&count=10 answered totalResults 30, where the first \
                 page answered 20",
        most_lists: USERS / PAGE,
    },
    BadPaging {
        name: "a totalResults of 10^12",
        on_request: |pq| edit_query(pq, |query| clamp(query)),
        on_response: |exchange| {
            if is_user_list(exchange) {
                exchange.body["totalResults"] = json!(1_000_000_000_000_u64);
            }
        },
        check: "readable in a bounded number of requests",
        detail: "GET /Users?startIndex=1&count=1000 answered totalResults 1000000000000: at the \
                 10 per page it returns, reading them would take 100000000000 requests",
        most_lists: USERS / PAGE,
    },
    BadPaging {
        name: "a totalResults of 2^64-1",
        on_request: |pq| edit_query(pq, |query| clamp(query)),
        on_response: |exchange| {
            if is_user_list(exchange) {
                exchange.body["totalResults"] = json!(u64::MAX);
            }
        },
        check: "readable in a bounded number of requests",
        detail: "GET /Users?startIndex=1&count=1000 answered totalResults 18446744073709551615:",
        most_lists: USERS / PAGE,
    },
];

async fn bad_paging(on: On) {
    let upstream = Upstream::start(on);
    seed_users(&upstream).await;
    let token = upstream.token();
    for case in BAD_PAGING {
        let proxy =
            Rewriter::editing_responses(upstream.base(), case.on_request, case.on_response).await;
        let dir = tempfile::tempdir().unwrap();
        let rest = declared_users();

        let pruning = config(dir.path(), &proxy.base_url, "    prune: true\n", &rest);
        let out = scim(&token, &["plan", "-f", path(&pruning)]).await;

        let name = case.name;
        assert_eq!(out.code, Some(1), "{name}: {}", out.stdout);
        let refusal = format!(
            "the user listing failed the check \"{}\": {}",
            case.check, case.detail
        );
        assert!(out.stderr.contains(&refusal), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("refusing to prune"),
            "{name}: {}",
            out.stderr
        );
        let lists = user_lists(&proxy);
        assert!(
            lists.len() <= case.most_lists,
            "{name}: reading stops at the failed check: {lists:?}"
        );
        assert!(
            proxy.requests().iter().all(|r| r.starts_with("GET ")),
            "{name}: nothing is written"
        );

        let unpruned = config(dir.path(), &proxy.base_url, "", &rest);
        let plan = plan_json(&token, &unpruned).await;
        assert_eq!(
            plan["providers"][0]["ops"],
            json!([]),
            "{name}: no POST for users that exist"
        );
        let reading = &plan["providers"][0]["reading"];
        if case.most_lists > USERS / PAGE {
            // Claiming many more users than are declared, the listing is not read past its
            // first page: the declared users are looked up instead.
            assert!(
                reading.get("untrusted_listings").is_none(),
                "{name}: {reading}"
            );
            continue;
        }
        let untrusted = &reading["untrusted_listings"][0];
        assert!(
            untrusted["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(case.detail)),
            "{name}: {untrusted}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pages_are_refused_in_bounded_requests_on_the_embedded_server() {
    bad_paging(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pages_are_refused_in_bounded_requests_on_scim2_server() {
    bad_paging(On::Peer).await;
}

/// Groups as AWS IAM Identity Center serves them: never with `members`, on a list, by id or
/// filtered; `members eq "<user id>"` answered (404 when it finds nothing), `members.value eq`
/// refused.
fn aws_like(exchange: &mut Exchange<'_>) {
    if exchange.method != Method::GET || !exchange.path.contains("/Groups") {
        return;
    }
    if let Some(filter) = exchange.param("filter") {
        let refused = filter.starts_with("members.value ");
        let none = filter.starts_with("members ")
            && exchange.body["Resources"]
                .as_array()
                .is_some_and(Vec::is_empty);
        if refused || none {
            let status = if refused { 400 } else { 404 };
            exchange.status = status;
            *exchange.body = json!({
                "schemas": [ERROR], "status": status.to_string(), "detail": "as AWS answers",
            });
            return;
        }
    }
    hide_members(exchange.body);
}

/// Groups without `members`, and no member filter answered.
fn hiding_everything(exchange: &mut Exchange<'_>) {
    if exchange.method != Method::GET || !exchange.path.contains("/Groups") {
        return;
    }
    if exchange
        .param("filter")
        .is_some_and(|f| f.contains("members"))
    {
        exchange.status = 400;
        *exchange.body = json!({
            "schemas": [ERROR], "status": "400", "scimType": "invalidFilter",
            "detail": "filter not supported",
        });
        return;
    }
    hide_members(exchange.body);
}

fn hide_members(body: &mut Value) {
    if let Some(group) = body.as_object_mut() {
        group.remove("members");
    }
    for group in body["Resources"].as_array_mut().into_iter().flatten() {
        if let Some(group) = group.as_object_mut() {
            group.remove("members");
        }
    }
}

const HIDDEN: &str = "users:
  - userName: ada@example.com
  - userName: bob@example.com
  - userName: carol@example.com
  - userName: dan@example.com
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com]
";

/// ada and carol in Owners; the config wants ada and bob.
async fn seed_hidden(upstream: &Upstream) -> (String, String, String) {
    let ada = upstream.user("ada@example.com").await;
    let bob = upstream.user("bob@example.com").await;
    let carol = upstream.user("carol@example.com").await;
    upstream.user("dan@example.com").await;
    let owners = upstream.group("Owners", &[&ada, &carol]).await;
    (ada, bob, owners)
}

async fn hidden_members_converge(on: On) {
    let upstream = Upstream::start(on);
    let (ada, bob, owners) = seed_hidden(&upstream).await;
    let proxy = Rewriter::editing_responses(upstream.base(), str::to_owned, aws_like).await;
    let token = upstream.token();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &proxy.base_url, "", HIDDEN);

    let plan = plan_json(&token, &config).await;

    let provider = &plan["providers"][0];
    let ops = provider["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0]["key"], "Owners");
    assert_eq!(
        ops[0]["request"]["body"]["Operations"],
        json!([
            {"op": "add", "path": "members", "value": [{"value": bob}]},
            {"op": "remove", "path": format!("members[value eq \"{}\"]", ops_member(&ops[0]))},
        ]),
        "bob is added and carol removed: the true members were read"
    );
    // Two probes (`members.value eq` refused, then `members eq`), then one per user.
    assert_eq!(
        provider["reading"]["hidden_members"],
        json!({"filter": "members", "users": 4, "requests": 6, "memberships": 2})
    );
    let text = scim(&token, &["plan", "-f", path(&config)]).await;
    assert!(
        text.stdout.contains(
            "  note: the server shows no group members on GET /Groups or GET /Groups/{id}; \
             they were read with 6 requests, one GET /Groups?filter=members eq \"<user id>\" \
             per user (4 users)"
        ),
        "{}",
        text.stdout
    );

    let out = scim(&token, &["apply", "--auto-approve", "-f", path(&config)]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let again = scim(
        &token,
        &["plan", "--detailed-exitcode", "-f", path(&config)],
    )
    .await;
    assert_eq!(again.code, Some(0), "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(
        upstream.members_of(&owners).await,
        BTreeSet::from([ada, bob]),
        "the server holds exactly the declared members"
    );

    // Import writes the true members, and a plan on what it wrote has nothing to do.
    let imported = dir.path().join("imported.yaml");
    let out = scim(
        &token,
        &["import", "-f", path(&config), "-o", path(&imported)],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("note: the server shows no group members"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(&imported).unwrap();
    assert!(
        text.contains(
            "- displayName: Owners\n    members:\n      - ada@example.com\n      - bob@example.com\n"
        ),
        "{text}"
    );
    let round_trip = scim(
        &token,
        &["plan", "--detailed-exitcode", "-f", path(&imported)],
    )
    .await;
    assert_eq!(round_trip.code, Some(0), "{}", round_trip.stdout);

    // Doctor says what the server does and what plan does about it.
    let doctor = scim(&token, &["doctor", "-f", path(&config)]).await;
    assert_eq!(doctor.code, Some(0), "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains(
            "! group members    the server shows no group members on GET /Groups or GET \
             /Groups/{id} (as AWS IAM Identity Center does)\n"
        ) && doctor.stdout.contains(
            "hint: plan and import read membership with one `GET /Groups?filter=members eq \
             \"<user id>\"` per user (5 requests for the 4 users it holds)"
        ),
        "{}",
        doctor.stdout
    );
}

/// The id the op removes from the group.
fn ops_member(op: &Value) -> String {
    let path = op["request"]["body"]["Operations"][1]["path"]
        .as_str()
        .unwrap_or_default();
    path.trim_start_matches("members[value eq \"")
        .trim_end_matches("\"]")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_members_are_read_per_user_and_converge_on_the_embedded_server() {
    hidden_members_converge(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_members_are_read_per_user_and_converge_on_scim2_server() {
    hidden_members_converge(On::Peer).await;
}

/// Groups that are all empty look like groups that hide their members: the plan reads the
/// members per user as it must, and, finding none, says the groups are empty rather than that
/// the server hides members.
async fn empty_groups_are_not_said_to_hide_members(on: On) {
    let upstream = Upstream::start(on);
    let ada = upstream.user("ada@example.com").await;
    upstream.user("bob@example.com").await;
    let owners = upstream.group("Owners", &[]).await;
    let token = upstream.token();
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        upstream.base(),
        "",
        "users:\n  - userName: ada@example.com\n  - userName: bob@example.com\n\
         groups:\n  - displayName: Owners\n    members: [ada@example.com]\n",
    );

    let plan = plan_json(&token, &config).await;
    let reading = &plan["providers"][0]["reading"]["hidden_members"];
    assert_eq!(reading["memberships"], 0, "{reading}");
    let text = scim(&token, &["plan", "-f", path(&config)]).await;
    // A probe, then one request per user; the filter is the first the server answers.
    let requests = reading["requests"].as_u64().unwrap();
    let filter = reading["filter"].as_str().unwrap();
    assert!(requests >= 3, "{reading}");
    assert!(
        text.stdout.contains(&format!(
            "  note: no group showed a member on GET /Groups or GET /Groups/{{id}}, nor did \
             {requests} requests, one GET /Groups?filter={filter} eq \"<user id>\" per user (2 \
             users): the groups hold no members"
        )),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("shows no group members"),
        "{}",
        text.stdout
    );

    let out = scim(&token, &["apply", "--auto-approve", "-f", path(&config)]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(upstream.members_of(&owners).await, BTreeSet::from([ada]));
    // Once a group shows a member, the listing is believed and nothing is read per user.
    let again = scim(&token, &["plan", "-f", path(&config)]).await;
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(!again.stdout.contains("note:"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_groups_are_not_said_to_hide_members_on_the_embedded_server() {
    empty_groups_are_not_said_to_hide_members(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_groups_are_not_said_to_hide_members_on_scim2_server() {
    empty_groups_are_not_said_to_hide_members(On::Peer).await;
}

async fn unreadable_members_are_refused(on: On) {
    let upstream = Upstream::start(on);
    seed_hidden(&upstream).await;
    let proxy =
        Rewriter::editing_responses(upstream.base(), str::to_owned, hiding_everything).await;
    let token = upstream.token();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &proxy.base_url, "", HIDDEN);
    let behaviour = "the server shows no group members on GET /Groups or GET /Groups/{id} (as \
                     AWS IAM Identity Center does), and answers no member filter: \
                     `members.value eq` (400), `members eq` (400)";

    let out = scim(&token, &["plan", "-f", path(&config)]).await;

    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "provider `live`: the members of group `Owners` are not known: {behaviour}; \
             refusing to plan its members"
        )),
        "{}",
        out.stderr
    );
    let imported = dir.path().join("imported.yaml");
    let out = scim(
        &token,
        &["import", "-f", path(&config), "-o", path(&imported)],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains("the members of group `")
            && out.stderr.contains(behaviour)
            && out
                .stderr
                .contains("an import must write every group's true members"),
        "{}",
        out.stderr
    );
    assert!(!imported.exists(), "nothing is imported");
    // Members left alone are no reason to refuse.
    let loose = config_without_members(dir.path(), &proxy.base_url);
    let out = scim(&token, &["plan", "--detailed-exitcode", "-f", path(&loose)]).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let doctor = scim(&token, &["doctor", "-f", path(&config)]).await;
    assert!(
        doctor
            .stdout
            .contains(&format!("! group members    {behaviour}"))
            && doctor
                .stdout
                .contains("hint: plan refuses to manage group members here"),
        "{}",
        doctor.stdout
    );
    assert!(
        proxy.requests().iter().all(|r| r.starts_with("GET ")),
        "nothing is written"
    );
}

fn config_without_members(dir: &Path, url: &str) -> PathBuf {
    let rest = HIDDEN.replace("    members: [ada@example.com, bob@example.com]\n", "");
    let dir = dir.join("loose");
    std::fs::create_dir_all(&dir).unwrap();
    config(&dir, url, "", &rest)
}

#[tokio::test(flavor = "multi_thread")]
async fn members_no_way_shows_are_refused_naming_the_behaviour_on_the_embedded_server() {
    unreadable_members_are_refused(On::Serve).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn members_no_way_shows_are_refused_naming_the_behaviour_on_scim2_server() {
    unreadable_members_are_refused(On::Peer).await;
}
