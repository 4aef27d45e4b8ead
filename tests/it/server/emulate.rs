//! `scimform serve --emulate PROFILE`: the server answers as the service a provider profile
//! describes. Limits are read from the profiles (`scim::profile`), not written here, so a
//! corrected profile keeps these tests true.

use reqwest::{Method, StatusCode};
use scim::profile::{AWS_IDENTITY_CENTER, GITHUB_EMU, MemberRemoval, Members, PROFILES, Profile};
use serde_json::{Value, json};

use crate::support::serve::{BULK, GROUP, Options, Serve, USER};

async fn list(
    serve: &Serve,
    endpoint: &str,
    params: &[(&str, &str)],
) -> crate::support::serve::Answer {
    serve
        .send(serve.request(Method::GET, endpoint).query(params))
        .await
}

fn ids(listed: &Value) -> Vec<&str> {
    listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// A group created empty, its members added by PATCH: the way every profile accepts.
async fn group_with(serve: &Serve, display_name: &str, members: &[&str]) -> String {
    let created = serve
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": display_name}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let patched = serve
        .patch(
            &format!("/Groups/{id}"),
            Serve::ops(json!([{"op": "add", "path": "members", "value": members}])),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    id
}

#[tokio::test]
async fn aws_hides_members_yet_finds_a_users_groups_by_filter() {
    assert!(matches!(
        AWS_IDENTITY_CENTER.members,
        Members::Hidden { .. }
    ));
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let both = group_with(&serve, "both", &[&ada, &bob]).await;
    let only_bob = group_with(&serve, "bob only", &[&bob]).await;

    let one = serve.get(&format!("/Groups/{both}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert!(one.body.get("members").is_none(), "{}", one.body);
    let all = list(&serve, "/Groups", &[]).await;
    assert_eq!(all.body["totalResults"], 2);
    for group in all.body["Resources"].as_array().unwrap() {
        assert!(group.get("members").is_none(), "{group}");
    }

    for filter in [
        format!("members eq \"{ada}\""),
        format!("members.value eq \"{ada}\""),
    ] {
        let found = list(&serve, "/Groups", &[("filter", &filter)]).await;
        assert_eq!(found.status, StatusCode::OK, "{filter}: {}", found.body);
        assert_eq!(ids(&found.body), [both.as_str()], "{filter}");
        assert!(found.body["Resources"][0].get("members").is_none());
    }
    let bobs = list(
        &serve,
        "/Groups",
        &[("filter", &format!("members eq \"{bob}\""))],
    )
    .await;
    assert_eq!(ids(&bobs.body), [both.as_str(), only_bob.as_str()]);
    let and = list(
        &serve,
        "/Groups",
        &[(
            "filter",
            &format!("id eq \"{only_bob}\" and members eq \"{bob}\""),
        )],
    )
    .await;
    assert_eq!(ids(&and.body), [only_bob.as_str()]);

    // Membership is still stored and changed by PATCH.
    let removed = serve
        .patch(
            &format!("/Groups/{both}"),
            Serve::ops(json!([{"op": "remove", "path": "members", "value": [{"value": ada}]}])),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert!(removed.body.get("members").is_none());
    let gone = list(
        &serve,
        "/Groups",
        &[("filter", &format!("members eq \"{ada}\""))],
    )
    .await;
    assert_eq!(gone.body["totalResults"], 0);
}

#[tokio::test]
async fn aws_filters_paging_search_and_bulk() {
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let max = AWS_IDENTITY_CENTER.paging.max_count;
    let ada = serve.user("ada").await;

    for refused in [
        r#"userName co "a""#.to_owned(),
        format!("userName eq \"ada\" or id eq \"{ada}\""),
    ] {
        let a = list(&serve, "/Users", &[("filter", &refused)]).await;
        a.assert_error(400, Some("invalidFilter"));
        assert!(
            a.body["detail"].as_str().unwrap().contains("`eq`"),
            "{}",
            a.body
        );
    }
    let found = list(&serve, "/Users", &[("filter", r#"userName eq "ada""#)]).await;
    assert_eq!(ids(&found.body), [ada.as_str()]);

    for i in 0..=max {
        serve.user(&format!("user-{i}")).await;
    }
    let page = list(&serve, "/Users", &[("count", "500")]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["Resources"].as_array().unwrap().len(), max);
    assert_eq!(page.body["itemsPerPage"], max);
    assert_eq!(page.body["totalResults"], max + 2);

    let search = serve
        .post(
            "/Users/.search",
            json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "userName eq \"ada\""}),
        )
        .await;
    search.assert_error(501, None);

    let bulk = serve
        .post(
            "/Bulk",
            json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a",
                 "data": {"schemas": [USER], "userName": "bulk"}}]}),
        )
        .await;
    if AWS_IDENTITY_CENTER.bulk {
        assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.body);
    } else {
        bulk.assert_error(501, None);
    }
    let config = serve.get("/ServiceProviderConfig").await;
    assert_eq!(config.body["bulk"]["supported"], AWS_IDENTITY_CENTER.bulk);
    assert_eq!(config.body["filter"]["maxResults"], max);
    assert_eq!(config.body["patch"]["supported"], true);
}

#[tokio::test]
async fn aws_group_patch_and_create_rules() {
    let rules = AWS_IDENTITY_CENTER.group_patch;
    assert!(!rules.replace && !rules.remove_without_path && rules.members_on_create);
    let max = rules
        .member_changes_per_request
        .expect("AWS bounds member changes");
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let ada = serve.user("ada").await;
    let group = group_with(&serve, "g", &[]).await;
    let path = format!("/Groups/{group}");

    let replace = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "replace", "path": "displayName", "value": "h"}])),
        )
        .await;
    replace.assert_error(400, Some("invalidValue"));
    assert!(
        replace.body["detail"].as_str().unwrap().contains("use add"),
        "{}",
        replace.body
    );
    // `add` sets a single-valued attribute instead (RFC 7644 §3.5.2.1).
    let renamed = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "displayName", "value": "h"}])),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["displayName"], "h");

    serve
        .patch(&path, Serve::ops(json!([{"op": "remove"}])))
        .await
        .assert_error(400, Some("noTarget"));

    // PutGroup is not among the service's operations; PutUser is.
    let put = serve
        .put(&path, json!({"schemas": [GROUP], "displayName": "i"}))
        .await;
    put.assert_error(501, None);
    let user_put = serve
        .put(
            &format!("/Users/{ada}"),
            json!({"schemas": [USER], "userName": "ada"}),
        )
        .await;
    assert_eq!(user_put.status, StatusCode::OK, "{}", user_put.body);

    let mut users = Vec::new();
    for i in 0..=max {
        users.push(json!({"value": serve.user(&format!("member-{i}")).await}));
    }
    let too_many = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "members", "value": users}])),
        )
        .await;
    too_many.assert_error(400, Some("invalidValue"));
    assert!(
        too_many.body["detail"]
            .as_str()
            .unwrap()
            .contains(&max.to_string()),
        "{}",
        too_many.body
    );
    users.pop();
    let at_max = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "members", "value": users}])),
        )
        .await;
    assert_eq!(at_max.status, StatusCode::OK, "{}", at_max.body);

    // A create takes members, but no more than one PATCH may change.
    let too_full = serve
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "born full", "members": users_and(&users, &ada)}),
        )
        .await;
    too_full.assert_error(400, Some("invalidValue"));
    assert!(
        too_full.body["detail"]
            .as_str()
            .unwrap()
            .contains(&max.to_string()),
        "{}",
        too_full.body
    );
    let full = serve
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "born full", "members": users}),
        )
        .await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
}

#[tokio::test]
async fn aws_bounds_emails() {
    let max = AWS_IDENTITY_CENTER.max_emails.expect("AWS bounds emails");
    let serve = Serve::emulating(&AWS_IDENTITY_CENTER);
    let emails: Vec<Value> = (0..=max)
        .map(|i| json!({"value": format!("ada{i}@example.com"), "type": "work"}))
        .collect();
    serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada", "emails": emails}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    let ada = serve.user("ada").await;
    let path = format!("/Users/{ada}");
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "emails", "value": emails}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .put(
            &path,
            json!({"schemas": [USER], "userName": "ada", "emails": emails}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    let one = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "emails", "value": emails[..max]}])),
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
}

/// `users` and one more member.
fn users_and(users: &[Value], one: &str) -> Vec<Value> {
    let mut all = users.to_vec();
    all.push(json!({"value": one}));
    all
}

/// The profile whose members are removed by listing them, not by a filter in the path.
fn value_list_profile() -> &'static Profile {
    assert_eq!(
        AWS_IDENTITY_CENTER.group_patch.member_removal,
        MemberRemoval::ValueList
    );
    PROFILES
        .into_iter()
        .find(|p| p.group_patch.member_removal == MemberRemoval::ValueList)
        .expect("a profile removes members by value list")
}

#[tokio::test]
async fn value_list_removal_is_the_only_form_where_the_profile_says_so() {
    let serve = Serve::emulating(value_list_profile());
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let group = group_with(&serve, "g", &[&ada, &bob]).await;
    let path = format!("/Groups/{group}");
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}])),
        )
        .await
        .assert_error(400, Some("invalidPath"));
    let removed = serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "remove", "path": "members", "value": [{"value": ada}]}])),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    // Read back with a member filter, which every profile answers (some hide members).
    let groups_of = |user: String| {
        let serve = &serve;
        async move {
            let filter = format!("members eq \"{user}\"");
            let body = list(serve, "/Groups", &[("filter", &filter)]).await.body;
            ids(&body)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    assert!(groups_of(ada.clone()).await.is_empty());
    assert_eq!(groups_of(bob.clone()).await, [group.as_str()]);
}

#[tokio::test]
async fn github_roles_are_only_the_documented_ones() {
    let roles = GITHUB_EMU.roles.expect("GitHub EMU has roles");
    assert_eq!(roles.schema, USER);
    let serve = Serve::emulating(&GITHUB_EMU);
    let unknown = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada", "roles": [{"value": "Overlord"}]}),
        )
        .await;
    unknown.assert_error(400, Some("invalidValue"));
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains(roles.values[0]),
        "{}",
        unknown.body
    );
    let known = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada",
                   "roles": [{"value": roles.values[0], "primary": true}]}),
        )
        .await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.body);
    assert_eq!(known.body["roles"][0]["value"], roles.values[0]);
    let id = known.body["id"].as_str().unwrap();
    serve
        .patch(
            &format!("/Users/{id}"),
            Serve::ops(json!([{"op": "add", "path": "roles", "value": [{"value": "Overlord"}]}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));

    // Without emulation, core roles are open, as RFC 7643 leaves them.
    let plain = Serve::start();
    let open = plain
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada", "roles": [{"value": "Overlord"}]}),
        )
        .await;
    assert_eq!(open.status, StatusCode::CREATED, "{}", open.body);
}

#[test]
fn an_unknown_profile_is_refused_with_the_known_ones() {
    let output = crate::support::serve::command(&Options {
        args: &["--emulate", "okta"],
        ..Options::default()
    })
    .output()
    .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for profile in PROFILES {
        assert!(stderr.contains(profile.name), "{stderr}");
    }
}
