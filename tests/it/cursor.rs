//! Cursor paging (RFC 9865), the real binary over real HTTP against `scimform serve --emulate
//! aws-identity-center`, which pages by cursor only and refuses `startIndex`: apply and plan
//! list by cursor, 100 a page, one page after another; a server that answers a `nextCursor`
//! again is caught by the listing's checks, not followed round (README, Plans).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::http::Method;
use scim::profile::AWS_IDENTITY_CENTER;
use serde_json::{Value, json};

use crate::support::logged_requests;
use crate::support::rewrite::{Exchange, Rewriter};
use crate::support::run_off_runtime;
use crate::support::serve::Serve;

/// More users than two pages of 100 hold.
const USERS: usize = 250;

fn user_name(i: usize) -> String {
    format!("u{i:03}@example.com")
}

/// Every user declared, and a group whose members are on the first and the last page.
fn declared() -> String {
    let mut text = (0..USERS).fold("users:\n".to_owned(), |mut out, i| {
        let _ = writeln!(out, "  - userName: {}", user_name(i));
        out
    });
    let _ = write!(
        text,
        "groups:\n  - displayName: Owners\n    members: [{}, {}]\n",
        user_name(1),
        user_name(USERS - 1)
    );
    text
}

/// A config naming the server at `url` as provider `aws`, an AWS IAM Identity Center.
fn config(dir: &Path, url: &str, provider_extra: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    let text = format!(
        "version: 1\nproviders:\n  aws:\n    url: {url}\n    token: ${{CURSOR_TOKEN}}\n    \
         preset: aws-identity-center\n{provider_extra}{}",
        declared()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The query parameter `name` of a logged request's path.
fn param(request: &Value, name: &str) -> Option<String> {
    let path = request["path"].as_str()?;
    let (_, query) = path.split_once('?')?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_identity_center_is_applied_and_planned_by_cursor() {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &serve.base, "");

    let applied = run_off_runtime(
        &config,
        "CURSOR_TOKEN",
        &serve.token,
        &["apply", "--auto-approve"],
    )
    .await;
    applied.assert_code(0);
    let listed = serve.get("/Users?count=1").await.body;
    assert_eq!(listed["totalResults"], USERS, "{listed}");

    let planned = run_off_runtime(
        &config,
        "CURSOR_TOKEN",
        &serve.token,
        &["plan", "--format", "json", "--log-format", "json"],
    )
    .await;
    planned.assert_code(0);
    let plan: Value = serde_json::from_str(&planned.stdout).expect("--format json prints JSON");
    let provider = &plan["providers"][0];
    assert_eq!(provider["ops"], json!([]), "{}", planned.stdout);
    assert!(
        provider["reading"].get("untrusted_listings").is_none(),
        "{}",
        provider["reading"]
    );
    assert_eq!(provider["capabilities"]["cursor"], true, "{provider}");

    let requests = logged_requests(&planned.stderr);
    let lists: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && ["/Users?", "/Groups?"]
                    .iter()
                    .any(|p| r["path"].as_str().unwrap().starts_with(p))
        })
        .collect();
    assert!(!lists.is_empty(), "{}", planned.stderr);
    for list in &lists {
        assert_eq!(list["status"], 200, "{list}");
        assert_eq!(param(list, "startIndex"), None, "{list}");
        let count: usize = param(list, "count").map_or(0, |c| c.parse().unwrap());
        assert!(count <= 100, "{list}");
    }
    // The user listing: three pages, each asked for by the cursor the one before answered.
    let user_pages: Vec<String> = lists
        .iter()
        .filter(|r| {
            r["path"].as_str().unwrap().starts_with("/Users?") && param(r, "filter").is_none()
        })
        .map(|r| param(r, "cursor").expect("a listing by cursor"))
        .collect();
    assert_eq!(user_pages.len(), USERS.div_ceil(100), "{user_pages:?}");
    assert_eq!(
        user_pages[0], "",
        "the first page is asked for with an empty cursor"
    );
    assert!(
        user_pages[1..].iter().all(|c| !c.is_empty()),
        "{user_pages:?}"
    );

    // doctor says how plan will read.
    let doctor = run_off_runtime(&config, "CURSOR_TOKEN", &serve.token, &["doctor"]).await;
    assert!(
        doctor.stdout.contains("paging  by cursor (RFC 9865)"),
        "{}{}",
        doctor.stdout,
        doctor.stderr
    );
}

/// Without `preset`, cursor paging is chosen from what the server announces: the emulated AWS
/// IAM Identity Center says `pagination: {cursor: true, index: false}` in
/// `/ServiceProviderConfig`, and nothing in the config says so.
#[tokio::test(flavor = "multi_thread")]
async fn cursor_paging_is_read_from_the_service_provider_config_without_a_preset() {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let announced = serve.get("/ServiceProviderConfig").await.body;
    assert_eq!(
        (
            &announced["pagination"]["cursor"],
            &announced["pagination"]["index"]
        ),
        (&json!(true), &json!(false)),
        "{announced}"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    // Pruning reads every user, so the users are listed, not only looked up by filter.
    let mut text = format!(
        "version: 1\nproviders:\n  aws:\n    url: {}\n    token: ${{CURSOR_TOKEN}}\n    \
         prune: true\nusers:\n",
        serve.base
    );
    for i in 0..5 {
        let _ = writeln!(text, "  - userName: {}", user_name(i));
    }
    assert!(!text.contains("preset"), "{text}");
    std::fs::write(&config, text).unwrap();

    let applied = run_off_runtime(
        &config,
        "CURSOR_TOKEN",
        &serve.token,
        &["apply", "--auto-approve", "--log-format", "json"],
    )
    .await;
    applied.assert_code(0);
    let listed = serve.get("/Users?count=1").await.body;
    assert_eq!(listed["totalResults"], 5, "{listed}");

    let planned = run_off_runtime(
        &config,
        "CURSOR_TOKEN",
        &serve.token,
        &["plan", "--format", "json", "--log-format", "json"],
    )
    .await;
    planned.assert_code(0);
    let plan: Value = serde_json::from_str(&planned.stdout).expect("--format json prints JSON");
    let provider = &plan["providers"][0];
    assert_eq!(provider["capabilities"]["cursor"], true, "{provider}");
    assert_eq!(provider["ops"], json!([]), "{}", planned.stdout);

    let mut requests = logged_requests(&applied.stderr);
    requests.extend(logged_requests(&planned.stderr));
    for request in &requests {
        assert_eq!(param(request, "startIndex"), None, "{request}");
    }
    let user_lists: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"].as_str().unwrap().starts_with("/Users?")
                && param(r, "filter").is_none()
        })
        .collect();
    assert!(!user_lists.is_empty(), "{}", planned.stderr);
    for list in &user_lists {
        assert_eq!(list["status"], 200, "{list}");
        assert!(
            param(list, "cursor").is_some(),
            "a listing by cursor: {list}"
        );
    }
}

/// The second page of the user listing answers its own cursor as `nextCursor` again.
fn repeating_cursor(exchange: &mut Exchange<'_>) {
    if exchange.method == Method::GET
        && exchange.path.ends_with("/Users")
        && exchange.param("filter").is_none()
        && let Some(cursor) = exchange.param("cursor").filter(|c| !c.is_empty())
    {
        exchange.body["nextCursor"] = json!(cursor.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_next_cursor_is_refused_by_name_not_followed() {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    for i in 0..USERS {
        serve.user(&user_name(i)).await;
    }
    let proxy = Rewriter::editing_responses(&serve.base, str::to_owned, repeating_cursor).await;
    let dir = tempfile::tempdir().unwrap();
    // Were the loop followed, the listing would still end at the provider's own request limit.
    let pruning = config(
        dir.path(),
        &proxy.base_url,
        "    prune: true\n    limits: {listing_requests: 50}\n",
    );
    let out = run_off_runtime(&pruning, "CURSOR_TOKEN", &serve.token, &["plan"]).await;
    out.assert_code(1);
    let refusal = "the user listing failed the check \"no nextCursor answered twice\": GET \
                   /Users?count=100&cursor=";
    assert!(out.stderr.contains(refusal), "{}", out.stderr);
    assert!(
        out.stderr.contains("which the server had answered before"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("refusing to prune"), "{}", out.stderr);
    let user_lists: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /scim/v2/Users?") && !r.contains("filter="))
        .collect();
    assert_eq!(
        user_lists.len(),
        2,
        "reading stops at the repeated cursor: {user_lists:?}"
    );
    assert!(
        proxy.requests().iter().all(|r| r.starts_with("GET ")),
        "nothing is written"
    );

    // Without pruning, the plan goes on: the declared users are looked up, none created again.
    let unpruned = config(dir.path(), &proxy.base_url, "");
    let out = run_off_runtime(
        &unpruned,
        "CURSOR_TOKEN",
        &serve.token,
        &["plan", "--format", "json"],
    )
    .await;
    out.assert_code(0);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let provider = &plan["providers"][0];
    let creates = provider["ops"]
        .as_array()
        .unwrap()
        .iter()
        // The group was never made; every user was, and none is created again.
        .filter(|op| op["action"] == "create" && op["resource"] == "user")
        .count();
    assert_eq!(creates, 0, "{}", out.stdout);
    let untrusted = &provider["reading"]["untrusted_listings"][0];
    assert_eq!(untrusted["check"], "new_cursors", "{untrusted}");
    assert!(
        untrusted["detail"]
            .as_str()
            .is_some_and(|d| d.contains("answered nextCursor \"o")),
        "{untrusted}"
    );
}

/// Cursor pages without `totalResults`, as AWS IAM Identity Center's guide lists them.
fn without_total(exchange: &mut Exchange<'_>) {
    if exchange.method == Method::GET
        && exchange.param("cursor").is_some()
        && let Some(body) = exchange.body.as_object_mut()
    {
        body.remove("totalResults");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_without_total_results_counts_what_it_read() {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    for i in 0..USERS {
        serve.user(&user_name(i)).await;
    }
    let proxy = Rewriter::editing_responses(&serve.base, str::to_owned, without_total).await;
    let dir = tempfile::tempdir().unwrap();
    // Pruning reads every user, so the count is of a listing read whole.
    let pruning = config(dir.path(), &proxy.base_url, "    prune: true\n");
    let out = run_off_runtime(
        &pruning,
        "CURSOR_TOKEN",
        &serve.token,
        &["plan", "--format", "json"],
    )
    .await;
    let plan: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let provider = &plan["providers"][0];
    assert!(
        provider["reading"].get("untrusted_listings").is_none(),
        "{}",
        provider["reading"]
    );
    assert_eq!(provider["existing_users"], USERS, "{}", out.stdout);
    assert!(
        proxy
            .requests()
            .iter()
            .filter(|r| r.starts_with("GET /scim/v2/Users?") && !r.contains("filter="))
            .count()
            > 1,
        "the listing took more than one page"
    );
}
