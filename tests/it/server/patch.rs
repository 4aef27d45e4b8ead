//! PATCH (RFC 7644 §3.5.2): add, replace and remove, with and without paths and value filters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::serve::{ENTERPRISE, Serve, TONKEAN, USER};

async fn user_with(serve: &Serve, body: Value) -> String {
    let a = serve.post("/Users", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

async fn patch_ok(serve: &Serve, path: &str, operations: Value) -> Value {
    let a = serve.patch(path, Serve::ops(operations)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.header("etag").is_some());
    a.body
}

#[tokio::test]
async fn add_replace_remove_by_path() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let path = format!("/Users/{id}");
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "title", "value": "Analyst"}]),
    )
    .await;
    assert_eq!(body["title"], "Analyst");
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "replace", "path": "name.givenName", "value": "Ada"}]),
    )
    .await;
    assert_eq!(body["name"]["givenName"], "Ada");
    let body = patch_ok(&serve, &path, json!([{"op": "remove", "path": "title"}])).await;
    assert!(body.get("title").is_none());
    assert_eq!(body["meta"]["version"], "W/\"4\"");
}

#[tokio::test]
async fn op_names_are_case_insensitive() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "Add", "path": "title", "value": "a"}, {"op": "REPLACE", "path": "nickName", "value": "b"},
               {"op": "Remove", "path": "title"}]),
    )
    .await;
    assert!(body.get("title").is_none());
    assert_eq!(body["nickName"], "b");
}

#[tokio::test]
async fn pathless_add_and_replace_with_extension_keys() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let path = format!("/Users/{id}");
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "value": {"title": "Analyst", "name": {"familyName": "Lovelace"},
                 TONKEAN: {"tonkeanRoles": ["SYSTEM_USER"]}, ENTERPRISE: {"department": "R&D"}}}]),
    )
    .await;
    assert_eq!(body["title"], "Analyst");
    assert_eq!(body[TONKEAN]["tonkeanRoles"], json!(["SYSTEM_USER"]));
    assert_eq!(body[ENTERPRISE]["department"], "R&D");
    let schemas = body["schemas"].as_array().unwrap();
    assert!(schemas.contains(&json!(TONKEAN)) && schemas.contains(&json!(ENTERPRISE)));
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "replace", "value": {"name": {"givenName": "Ada"}, "urn:scim:tonkean:tonkeanRoles": ["PROCESS_CONTRIBUTOR"]}}]),
    )
    .await;
    assert_eq!(
        body["name"],
        json!({"givenName": "Ada", "familyName": "Lovelace"}),
        "replace merges sub-attributes"
    );
    assert_eq!(
        body[TONKEAN]["tonkeanRoles"],
        json!(["PROCESS_CONTRIBUTOR"])
    );
}

#[tokio::test]
async fn extension_attribute_by_full_path() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let path = format!("/Users/{id}");
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "urn:scim:tonkean:tonkeanRoles", "value": ["SYSTEM_USER"]}]),
    )
    .await;
    assert_eq!(body[TONKEAN]["tonkeanRoles"], json!(["SYSTEM_USER"]));
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "urn:scim:tonkean:tonkeanRoles", "value": ["PROCESS_CONTRIBUTOR", "SYSTEM_USER"]}]),
    )
    .await;
    assert_eq!(
        body[TONKEAN]["tonkeanRoles"],
        json!(["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]),
        "add merges"
    );
    serve
        .patch(
            &path,
            Serve::ops(
                json!([{"op": "add", "path": "urn:scim:tonkean:tonkeanRoles", "value": ["ROOT"]}]),
            ),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "boss"}]),
    )
    .await;
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "boss");
}

#[tokio::test]
async fn remove_a_role_by_value_filter() {
    let serve = Serve::start();
    let id = user_with(
        &serve,
        json!({"schemas": [USER, TONKEAN], "userName": "ada", TONKEAN: {"tonkeanRoles": ["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]}}),
    )
    .await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "remove", "path": "urn:scim:tonkean:tonkeanRoles[value eq \"SYSTEM_USER\"]"}]),
    )
    .await;
    assert_eq!(
        body[TONKEAN]["tonkeanRoles"],
        json!(["PROCESS_CONTRIBUTOR"])
    );
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "remove", "path": "urn:scim:tonkean:tonkeanRoles[value eq \"PROCESS_CONTRIBUTOR\"]"}]),
    )
    .await;
    assert!(
        body.get(TONKEAN).is_none(),
        "an emptied extension disappears: {body}"
    );
    assert_eq!(body["schemas"], json!([USER]));
}

#[tokio::test]
async fn replace_a_sub_attribute_through_a_value_filter() {
    let serve = Serve::start();
    let id = user_with(
        &serve,
        json!({"schemas": [USER], "userName": "ada",
               "emails": [{"value": "a@work.com", "type": "work"}, {"value": "a@home.com", "type": "home"}]}),
    )
    .await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ada@work.com"}]),
    )
    .await;
    assert_eq!(
        body["emails"],
        json!([{"value": "ada@work.com", "type": "work"}, {"value": "a@home.com", "type": "home"}])
    );
    // The filter compares `type` case-insensitively (caseExact false).
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "emails[type eq \"HOME\"]", "value": {"value": "new@home.com", "type": "home"}}]),
    )
    .await;
    assert_eq!(body["emails"][1]["value"], "new@home.com");
    serve
        .patch(
            &format!("/Users/{id}"),
            Serve::ops(
                json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]),
            ),
        )
        .await
        .assert_error(400, Some("noTarget"));
}

#[tokio::test]
async fn group_members_add_and_remove_by_filter() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let g = serve.group("G", &[]).await;
    let path = format!("/Groups/{g}");
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": ada}, {"value": bob}]}]),
    )
    .await;
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
    // Adding a member twice keeps one.
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]),
    )
    .await;
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
    let body = patch_ok(
        &serve,
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
    )
    .await;
    assert_eq!(body["members"][0]["value"], bob);
    assert!(
        serve
            .get(&format!("/Users/{ada}"))
            .await
            .body
            .get("groups")
            .is_none()
    );
    assert_eq!(
        serve.get(&format!("/Users/{bob}")).await.body["groups"][0]["value"],
        g
    );
}

#[tokio::test]
async fn remove_a_whole_multi_valued_attribute() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let g = serve.group("G", &[&ada]).await;
    let body = patch_ok(
        &serve,
        &format!("/Groups/{g}"),
        json!([{"op": "remove", "path": "members"}]),
    )
    .await;
    assert!(body.get("members").is_none());
    assert!(
        serve
            .get(&format!("/Users/{ada}"))
            .await
            .body
            .get("groups")
            .is_none()
    );
}

#[tokio::test]
async fn remove_members_listed_in_the_value() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let g = serve.group("G", &[&ada, &bob]).await;
    let body = patch_ok(
        &serve,
        &format!("/Groups/{g}"),
        json!([{"op": "remove", "path": "members", "value": [{"value": ada}]}]),
    )
    .await;
    assert_eq!(body["members"].as_array().unwrap().len(), 1);
    assert_eq!(body["members"][0]["value"], bob);
}

#[tokio::test]
async fn a_new_primary_value_demotes_the_old_one() {
    let serve = Serve::start();
    let id = user_with(
        &serve,
        json!({"schemas": [USER], "userName": "ada", "emails": [{"value": "a@x.com", "primary": true}]}),
    )
    .await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.com", "primary": true}]}]),
    )
    .await;
    assert_eq!(
        body["emails"],
        json!([{"value": "a@x.com"}, {"value": "b@x.com", "primary": true}])
    );
}

#[tokio::test]
async fn remove_without_path_is_no_target() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    serve
        .patch(
            &format!("/Users/{id}"),
            Serve::ops(json!([{"op": "remove"}])),
        )
        .await
        .assert_error(400, Some("noTarget"));
}

#[tokio::test]
async fn invalid_paths_and_ops_are_400() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let path = format!("/Users/{id}");
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "shoeSize", "value": 1}])),
        )
        .await
        .assert_error(400, Some("invalidPath"));
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "name..x", "value": 1}])),
        )
        .await
        .assert_error(400, Some("invalidPath"));
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "move", "path": "title", "value": "x"}])),
        )
        .await
        .assert_error(400, Some("invalidSyntax"));
    serve
        .patch(
            &path,
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
        )
        .await
        .assert_error(400, Some("invalidSyntax"));
    serve
        .patch(&path, Serve::ops(json!([])))
        .await
        .assert_error(400, Some("invalidSyntax"));
    serve
        .patch(
            &path,
            Serve::ops(json!([{"op": "add", "path": "active", "value": "perhaps"}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn read_only_paths_are_400_mutability() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    for path in ["id", "meta.created"] {
        serve
            .patch(
                &format!("/Users/{id}"),
                Serve::ops(json!([{"op": "replace", "path": path, "value": "x"}])),
            )
            .await
            .assert_error(400, Some("mutability"));
    }
}

#[tokio::test]
async fn removing_a_required_attribute_is_400() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    serve
        .patch(
            &format!("/Users/{id}"),
            Serve::ops(json!([{"op": "remove", "path": "userName"}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn a_failing_operation_applies_none() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    serve
        .patch(
            &format!("/Users/{id}"),
            Serve::ops(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "add", "path": "nope", "value": 1}])),
        )
        .await
        .assert_error(400, Some("invalidPath"));
    let a = serve.get(&format!("/Users/{id}")).await;
    assert!(a.body.get("title").is_none());
    assert_eq!(a.body["meta"]["version"], "W/\"1\"");
}

#[tokio::test]
async fn a_no_op_patch_keeps_the_version() {
    let serve = Serve::start();
    let id = user_with(
        &serve,
        json!({"schemas": [USER], "userName": "ada", "title": "x"}),
    )
    .await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    )
    .await;
    assert_eq!(body["meta"]["version"], "W/\"1\"");
}

#[tokio::test]
async fn entra_style_string_booleans_are_accepted() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(body["active"], false);
}

#[tokio::test]
async fn empty_attributes_parameter_answers_204() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let a = serve
        .patch(
            &format!("/Users/{id}?attributes="),
            Serve::ops(json!([{"op": "add", "path": "title", "value": "x"}])),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.header("etag"), Some("W/\"2\""));
}

#[tokio::test]
async fn add_through_an_unmatched_equality_filter_creates_the_value() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    let body = patch_ok(
        &serve,
        &format!("/Users/{id}"),
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ada@work.com"},
               {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": true}]),
    )
    .await;
    assert_eq!(
        body["emails"],
        json!([{"type": "work", "value": "ada@work.com", "primary": true}])
    );
}
