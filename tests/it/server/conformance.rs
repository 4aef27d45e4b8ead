//! RFC 7643/7644 behaviours of `scimform serve`, one test each: discovery, authentication,
//! resource lifecycle, integrity, ETags and limits, error paths included.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::serve::{ENTERPRISE, GROUP, Serve, TONKEAN, USER};

#[tokio::test]
async fn prints_base_url_under_scim_v2() {
    let serve = Serve::start();
    assert!(
        serve.base.starts_with("http://127.0.0.1:"),
        "{}",
        serve.base
    );
    assert!(serve.base.ends_with("/scim/v2"), "{}", serve.base);
}

#[tokio::test]
async fn service_provider_config_announces_capabilities() {
    let serve = Serve::start();
    let a = serve.get("/ServiceProviderConfig").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-type"), Some("application/scim+json"));
    let spc = &a.body;
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    assert!(spc["bulk"]["maxOperations"].as_u64().unwrap() > 0);
    assert!(spc["bulk"]["maxPayloadSize"].as_u64().unwrap() > 0);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

#[tokio::test]
async fn schemas_lists_core_and_extensions() {
    let serve = Serve::start();
    let a = serve.get("/Schemas").await;
    assert_eq!(a.status, StatusCode::OK);
    let ids: Vec<&str> = a.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for urn in [USER, GROUP, ENTERPRISE, TONKEAN] {
        assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
    }
    let tonkean = serve.get("/Schemas/urn:scim:tonkean").await;
    assert_eq!(tonkean.status, StatusCode::OK);
    let roles = &tonkean.body["attributes"][0];
    assert_eq!(roles["name"], "tonkeanRoles");
    assert_eq!(roles["multiValued"], true);
    assert_eq!(
        roles["canonicalValues"],
        json!(["PROCESS_CONTRIBUTOR", "SYSTEM_USER"])
    );
    assert_eq!(tonkean.body["meta"]["resourceType"], "Schema");
    serve.get("/Schemas/urn:nope").await.assert_error(404, None);
}

#[tokio::test]
async fn resource_types_list_user_with_extensions() {
    let serve = Serve::start();
    let a = serve.get("/ResourceTypes").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["totalResults"], 2);
    let user = serve.get("/ResourceTypes/User").await;
    assert_eq!(user.body["endpoint"], "/Users");
    let extensions: Vec<&str> = user.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert_eq!(extensions, [ENTERPRISE, TONKEAN]);
    serve
        .get("/ResourceTypes/Device")
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn discovery_endpoints_refuse_filters() {
    let serve = Serve::start();
    serve
        .get("/Schemas?filter=id%20pr")
        .await
        .assert_error(403, None);
}

#[tokio::test]
async fn missing_token_is_401_with_challenge() {
    let serve = Serve::start();
    let a = serve
        .send(serve.client.get(format!("{}/Users", serve.base)))
        .await;
    a.assert_error(401, None);
    assert!(
        a.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer"))
    );
}

#[tokio::test]
async fn wrong_token_or_scheme_is_401() {
    let serve = Serve::start();
    for header in [
        "Bearer wrong".to_owned(),
        format!("Basic {}", serve.token),
        format!("Bearer {}x", serve.token),
        "Bearer".to_owned(),
    ] {
        let a = serve
            .send(
                serve
                    .client
                    .get(format!("{}/Users", serve.base))
                    .header("Authorization", header.clone()),
            )
            .await;
        a.assert_error(401, None);
    }
}

#[tokio::test]
async fn token_scheme_and_any_case_are_accepted() {
    let serve = Serve::start();
    for scheme in ["token", "Token", "bearer", "BEARER"] {
        let a = serve
            .send(
                serve
                    .client
                    .get(format!("{}/Users", serve.base))
                    .header("Authorization", format!("{scheme} {}", serve.token)),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "scheme {scheme}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let serve = Serve::start();
    serve.get("/Devices").await.assert_error(404, None);
    serve.get("/../etc").await.assert_error(404, None);
    serve
        .call(Method::DELETE, "/ServiceProviderConfig", None)
        .await
        .assert_error(405, None);
    serve
        .call(Method::PUT, "/Users", Some(json!({})))
        .await
        .assert_error(405, None);
}

#[tokio::test]
async fn every_error_is_a_scim_error() {
    let serve = Serve::start();
    // A path that does not decode to UTF-8 is refused by the router's extractor.
    serve.get("/Users/%ff").await.assert_error(400, None);
    serve.get("/Groups/%C0%AF").await.assert_error(400, None);
    serve.get("/nowhere").await.assert_error(404, None);
    serve.get("/Users/a/b").await.assert_error(404, None);
    serve
        .call(Method::OPTIONS, "/Users", None)
        .await
        .assert_error(405, None);
    // Outside /scim/v2, and without a token.
    let outside = serve
        .send(serve.client.get(serve.base.replace("/scim/v2", "/x")))
        .await;
    outside.assert_error(401, None);
    let outside = serve
        .send(
            serve
                .client
                .get(serve.base.replace("/scim/v2", "/x"))
                .header("Authorization", format!("Bearer {}", serve.token)),
        )
        .await;
    outside.assert_error(404, None);
}

#[tokio::test]
async fn control_characters_in_names_are_400() {
    let serve = Serve::start();
    for body in [
        json!({"schemas": [USER], "userName": "ada\u{0}"}),
        json!({"schemas": [USER], "userName": "ada\nbob"}),
        json!({"schemas": [USER], "userName": "ada", "displayName": "Ada\u{1b}[2J"}),
        json!({"schemas": [USER], "userName": "ada", "name": {"familyName": "Love\u{7f}lace"}}),
    ] {
        serve
            .post("/Users", body)
            .await
            .assert_error(400, Some("invalidValue"));
    }
    serve
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Ops\r\n"}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    // A PATCH cannot put one there either.
    let ada = serve.user("ada").await;
    let a = serve
        .patch(
            &format!("/Users/{ada}"),
            Serve::ops(json!([{"op": "replace", "path": "name.givenName", "value": "A\u{0}"}])),
        )
        .await;
    a.assert_error(400, Some("invalidValue"));
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("name.givenName"),
        "{}",
        a.body
    );
    assert_eq!(serve.get("/Users?count=0").await.body["totalResults"], 1);
    // Names from every script, accents and emoji included, are fine.
    serve.user("Zoë Ægir-Łukasz 山田 🙂").await;
}

#[tokio::test]
async fn create_user_returns_201_location_etag_and_meta() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada@example.com", "name": {"givenName": "Ada"},
                   "emails": [{"value": "ada@example.com", "type": "work", "primary": true}], "active": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.header("content-type"), Some("application/scim+json"));
    let id = a.body["id"].as_str().unwrap();
    let meta = &a.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], format!("{}/Users/{id}", serve.base));
    assert_eq!(a.header("location"), meta["location"].as_str());
    assert_eq!(meta["version"], "W/\"1\"");
    assert_eq!(a.header("etag"), Some("W/\"1\""));
    assert_eq!(meta["created"], meta["lastModified"]);
    assert!(meta["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a.body["name"]["givenName"], "Ada");

    let got = serve.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, a.body);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
}

#[tokio::test]
async fn plain_application_json_is_accepted_and_other_types_are_415() {
    let serve = Serve::start();
    let body = json!({"schemas": [USER], "userName": "json"}).to_string();
    let a = serve
        .send(
            serve
                .request(Method::POST, "/Users")
                .header("Content-Type", "application/json")
                .body(body.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    serve
        .send(
            serve
                .request(Method::POST, "/Users")
                .header("Content-Type", "text/plain")
                .body(body),
        )
        .await
        .assert_error(415, None);
}

#[tokio::test]
async fn unknown_id_is_404_for_every_method() {
    let serve = Serve::start();
    serve
        .get("/Users/does-not-exist")
        .await
        .assert_error(404, None);
    serve
        .get("/Groups/does-not-exist")
        .await
        .assert_error(404, None);
    serve
        .put(
            "/Users/does-not-exist",
            json!({"schemas": [USER], "userName": "x"}),
        )
        .await
        .assert_error(404, None);
    serve
        .patch(
            "/Users/does-not-exist",
            Serve::ops(json!([{"op": "add", "path": "title", "value": "x"}])),
        )
        .await
        .assert_error(404, None);
    serve
        .delete("/Users/does-not-exist")
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn a_user_id_is_not_a_group() {
    let serve = Serve::start();
    let id = serve.user("ada").await;
    serve
        .get(&format!("/Groups/{id}"))
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn user_name_is_unique_case_insensitively() {
    let serve = Serve::start();
    serve.user("Ada@Example.com").await;
    serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "ada@example.COM"}),
        )
        .await
        .assert_error(409, Some("uniqueness"));
    let other = serve.user("bob@example.com").await;
    serve
        .put(
            &format!("/Users/{other}"),
            json!({"schemas": [USER], "userName": "ADA@example.com"}),
        )
        .await
        .assert_error(409, Some("uniqueness"));
    serve
        .patch(
            &format!("/Users/{other}"),
            Serve::ops(json!([{"op": "replace", "path": "userName", "value": "ada@EXAMPLE.com"}])),
        )
        .await
        .assert_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn user_name_is_required() {
    let serve = Serve::start();
    serve
        .post("/Users", json!({"schemas": [USER]}))
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .post("/Users", json!({"schemas": [USER], "userName": "  "}))
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .post("/Groups", json!({"schemas": [GROUP]}))
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn schemas_must_name_the_core_schema() {
    let serve = Serve::start();
    serve
        .post("/Users", json!({"userName": "a"}))
        .await
        .assert_error(400, Some("invalidSyntax"));
    serve
        .post("/Users", json!({"schemas": [GROUP], "userName": "a"}))
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .post(
            "/Users",
            json!({"schemas": [USER, "urn:example:unknown"], "userName": "a"}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn unknown_attributes_are_400() {
    let serve = Serve::start();
    serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "a", "shoeSize": 42}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "a", "name": {"nickname": "x"}}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    serve
        .post(
            "/Users",
            json!({"schemas": [USER, TONKEAN], "userName": "a", TONKEAN: {"level": 3}}),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn wrong_types_are_400() {
    let serve = Serve::start();
    for body in [
        json!({"schemas": [USER], "userName": 7}),
        json!({"schemas": [USER], "userName": "a", "active": "maybe"}),
        json!({"schemas": [USER], "userName": "a", "emails": "a@b.c"}),
        json!({"schemas": [USER], "userName": "a", "name": "Ada"}),
        json!({"schemas": [USER], "userName": "a", "displayName": ["x", "y"]}),
        json!({"schemas": [USER], "userName": "a",
               "emails": [{"value": "a@b.c", "primary": true}, {"value": "d@e.f", "primary": true}]}),
    ] {
        serve
            .post("/Users", body)
            .await
            .assert_error(400, Some("invalidValue"));
    }
}

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax() {
    let serve = Serve::start();
    let a = serve
        .send(
            serve
                .request(Method::POST, "/Users")
                .header("Content-Type", "application/scim+json")
                .body("{\"schemas\":"),
        )
        .await;
    a.assert_error(400, Some("invalidSyntax"));
    let a = serve.send(serve.request(Method::POST, "/Users")).await;
    a.assert_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn read_only_attributes_in_requests_are_ignored() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "a", "id": "chosen", "meta": {"version": "W/\"9\""},
                   "groups": [{"value": "g"}], "password": "hunter2"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_ne!(a.body["id"], "chosen");
    assert_eq!(a.body["meta"]["version"], "W/\"1\"");
    assert!(a.body.get("groups").is_none());
    assert!(
        a.body.get("password").is_none(),
        "password is returned never"
    );
}

#[tokio::test]
async fn attribute_names_are_case_insensitive() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "USERNAME": "a", "Name": {"GivenName": "Ada"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["userName"], "a");
    assert_eq!(a.body["name"]["givenName"], "Ada");
}

#[tokio::test]
async fn tonkean_roles_accept_only_canonical_values() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER, TONKEAN], "userName": "a",
                   TONKEAN: {"tonkeanRoles": ["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.body[TONKEAN]["tonkeanRoles"],
        json!(["SYSTEM_USER", "PROCESS_CONTRIBUTOR"])
    );
    assert!(
        a.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(TONKEAN))
    );
    for bad in ["ADMIN", "system_user"] {
        serve
            .post(
                "/Users",
                json!({"schemas": [USER, TONKEAN], "userName": "b", TONKEAN: {"tonkeanRoles": [bad]}}),
            )
            .await
            .assert_error(400, Some("invalidValue"));
    }
}

#[tokio::test]
async fn enterprise_extension_round_trips() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "userName": "a",
                   ENTERPRISE: {"employeeNumber": "42", "manager": {"value": "boss"}}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(a.body[ENTERPRISE]["manager"]["value"], "boss");
}

#[tokio::test]
async fn put_replaces_the_whole_resource_and_bumps_the_version() {
    let serve = Serve::start();
    let created = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "a", "title": "Analyst", "nickName": "A"}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap();
    let a = serve
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "a", "title": "Lead"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["title"], "Lead");
    assert!(a.body.get("nickName").is_none());
    assert_eq!(a.body["meta"]["version"], "W/\"2\"");
    assert_eq!(a.body["meta"]["created"], created.body["meta"]["created"]);
    // Writing the same thing again changes nothing, so the version stays.
    let again = serve
        .put(
            &format!("/Users/{id}"),
            json!({"schemas": [USER], "userName": "a", "title": "Lead"}),
        )
        .await;
    assert_eq!(again.body["meta"]["version"], "W/\"2\"");
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let serve = Serve::start();
    let id = serve.user("a").await;
    let a = serve.delete(&format!("/Users/{id}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    serve
        .get(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
    serve
        .delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn if_match_mismatch_is_412_on_put_patch_and_delete() {
    let serve = Serve::start();
    let id = serve.user("a").await;
    let path = format!("/Users/{id}");
    let stale = "W/\"7\"";
    let put = serve
        .send(
            serve
                .request(Method::PUT, &path)
                .header("If-Match", stale)
                .header("Content-Type", "application/scim+json")
                .body(json!({"schemas": [USER], "userName": "b"}).to_string()),
        )
        .await;
    put.assert_error(412, None);
    let patched = serve
        .send(
            serve
                .request(Method::PATCH, &path)
                .header("If-Match", stale)
                .header("Content-Type", "application/scim+json")
                .body(
                    Serve::ops(json!([{"op": "add", "path": "title", "value": "x"}])).to_string(),
                ),
        )
        .await;
    patched.assert_error(412, None);
    serve
        .send(
            serve
                .request(Method::DELETE, &path)
                .header("If-Match", stale),
        )
        .await
        .assert_error(412, None);
    assert_eq!(serve.get(&path).await.body["userName"], "a");
}

#[tokio::test]
async fn if_match_current_version_or_star_succeeds() {
    let serve = Serve::start();
    let id = serve.user("a").await;
    let path = format!("/Users/{id}");
    let a = serve
        .send(
            serve
                .request(Method::PATCH, &path)
                .header("If-Match", "W/\"1\"")
                .header("Content-Type", "application/scim+json")
                .body(
                    Serve::ops(json!([{"op": "add", "path": "title", "value": "x"}])).to_string(),
                ),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("etag"), Some("W/\"2\""));
    let d = serve
        .send(serve.request(Method::DELETE, &path).header("If-Match", "*"))
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn if_none_match_current_version_is_304() {
    let serve = Serve::start();
    let id = serve.user("a").await;
    let path = format!("/Users/{id}");
    let a = serve
        .send(
            serve
                .request(Method::GET, &path)
                .header("If-None-Match", "W/\"1\""),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_MODIFIED);
    assert_eq!(a.header("etag"), Some("W/\"1\""));
    let b = serve
        .send(
            serve
                .request(Method::GET, &path)
                .header("If-None-Match", "W/\"0\""),
        )
        .await;
    assert_eq!(b.status, StatusCode::OK);
}

#[tokio::test]
async fn group_members_must_exist() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "G", "members": [{"value": "ghost"}]}),
        )
        .await;
    a.assert_error(400, Some("invalidValue"));
    let g = serve.group("G", &[]).await;
    serve
        .patch(
            &format!("/Groups/{g}"),
            Serve::ops(json!([{"op": "add", "path": "members", "value": [{"value": "ghost"}]}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn group_members_get_type_and_ref_and_user_groups_follow() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let g = serve.group("Process Owners", &[&ada]).await;
    let group = serve.get(&format!("/Groups/{g}")).await;
    let member = &group.body["members"][0];
    assert_eq!(member["value"], ada);
    assert_eq!(member["type"], "User");
    assert_eq!(member["$ref"], format!("{}/Users/{ada}", serve.base));
    let user = serve.get(&format!("/Users/{ada}")).await;
    assert_eq!(user.body["groups"][0]["value"], g);
    assert_eq!(user.body["groups"][0]["display"], "Process Owners");
}

#[tokio::test]
async fn groups_can_nest() {
    let serve = Serve::start();
    let inner = serve.group("Inner", &[]).await;
    let outer = serve.group("Outer", &[&inner]).await;
    let a = serve.get(&format!("/Groups/{outer}")).await;
    assert_eq!(a.body["members"][0]["type"], "Group");
    assert_eq!(
        a.body["members"][0]["$ref"],
        format!("{}/Groups/{inner}", serve.base)
    );
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_group() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let g1 = serve.group("One", &[&ada, &bob]).await;
    let g2 = serve.group("Two", &[&ada]).await;
    assert_eq!(
        serve.delete(&format!("/Users/{ada}")).await.status,
        StatusCode::NO_CONTENT
    );
    let one = serve.get(&format!("/Groups/{g1}")).await;
    assert_eq!(
        one.body["members"],
        json!([{"value": bob, "type": "User", "$ref": format!("{}/Users/{bob}", serve.base)}])
    );
    assert_eq!(
        one.body["meta"]["version"], "W/\"2\"",
        "membership change moves the version"
    );
    let two = serve.get(&format!("/Groups/{g2}")).await;
    assert!(two.body.get("members").is_none(), "{}", two.body);
}

#[tokio::test]
async fn user_groups_is_read_only() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let g = serve.group("G", &[]).await;
    serve
        .patch(
            &format!("/Users/{ada}"),
            Serve::ops(json!([{"op": "add", "path": "groups", "value": [{"value": g}]}])),
        )
        .await
        .assert_error(400, Some("mutability"));
    let a = serve
        .put(
            &format!("/Users/{ada}"),
            json!({"schemas": [USER], "userName": "ada", "groups": [{"value": g}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.get("groups").is_none(),
        "a PUT cannot join a group: {}",
        a.body
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_the_server_stays_up() {
    let serve = Serve::start();
    let huge = "x".repeat(2 * 1024 * 1024);
    let a = serve
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "a", "title": huge}),
        )
        .await;
    a.assert_error(413, None);
    assert_eq!(serve.get("/Users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_creates_are_all_stored() {
    let serve = Serve::start();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let request = serve
            .request(Method::POST, "/Users")
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [USER], "userName": format!("user{i}")}).to_string());
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(serve.get("/Users?count=0").await.body["totalResults"], 40);
}

#[tokio::test]
async fn serve_without_token_file_writes_a_private_token_file() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let mut base = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    let token_path = dir.path().join("s.db.token");
    assert!(line.contains(&token_path.display().to_string()), "{line}");
    let token = std::fs::read_to_string(&token_path).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    assert!(
        !line.contains(token) && !base.contains(token),
        "the token itself is never printed"
    );
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let status = reqwest::Client::new()
        .get(format!("{}/Users", base.trim()))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut serve = Serve::start();
    serve.user("a").await;
    let pid = serve.child().id();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = serve.child().wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

#[tokio::test]
async fn deleting_a_group_updates_its_members_and_parents() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let inner = serve.group("Inner", &[&ada]).await;
    let outer = serve.group("Outer", &[&inner]).await;
    assert_eq!(
        serve.delete(&format!("/Groups/{inner}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(
        serve
            .get(&format!("/Users/{ada}"))
            .await
            .body
            .get("groups")
            .is_none()
    );
    assert!(
        serve
            .get(&format!("/Groups/{outer}"))
            .await
            .body
            .get("members")
            .is_none()
    );
}

#[tokio::test]
async fn put_on_a_group_replaces_its_members() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let g = serve.group("G", &[&ada]).await;
    let a = serve
        .put(
            &format!("/Groups/{g}"),
            json!({"schemas": [GROUP], "displayName": "G2", "members": [{"value": bob}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(
        serve
            .get(&format!("/Users/{ada}"))
            .await
            .body
            .get("groups")
            .is_none()
    );
    assert_eq!(
        serve.get(&format!("/Users/{bob}")).await.body["groups"][0]["display"],
        "G2"
    );
}

#[tokio::test]
async fn a_group_cannot_contain_itself() {
    let serve = Serve::start();
    let g = serve.group("G", &[]).await;
    serve
        .patch(
            &format!("/Groups/{g}"),
            Serve::ops(json!([{"op": "add", "path": "members", "value": [{"value": g}]}])),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn me_is_not_implemented() {
    let serve = Serve::start();
    serve.get("/Me").await.assert_error(501, None);
}

#[tokio::test]
async fn concurrent_writes_fail_alone() {
    // Writes that commit together still succeed or fail one by one.
    let serve = Serve::start();
    let mut tasks = Vec::new();
    for i in 0..36 {
        let request = serve
            .request(Method::POST, "/Users")
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [USER], "userName": format!("user{}", i % 12)}).to_string());
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (12, 24));
    assert_eq!(serve.get("/Users?count=0").await.body["totalResults"], 12);
}

#[test]
fn serve_refuses_an_empty_token_file_and_a_busy_address() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(dir.path().join("s.db"))
        .arg("--token-file")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is empty"));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "test-token-0123456789").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scimform"))
        .args([
            "serve",
            "--listen",
            &taken.local_addr().unwrap().to_string(),
            "--store",
        ])
        .arg(dir.path().join("s.db"))
        .arg("--token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
    assert!(
        output.stdout.is_empty(),
        "no base URL is printed when not listening"
    );
}

#[tokio::test]
async fn user_groups_include_nested_groups_as_indirect() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let inner = serve.group("Inner", &[&ada]).await;
    let outer = serve.group("Outer", &[&inner]).await;
    // A cycle must not hang the lookup.
    let p = serve
        .patch(
            &format!("/Groups/{inner}"),
            Serve::ops(json!([{"op": "add", "path": "members", "value": [{"value": outer}]}])),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let groups = serve.get(&format!("/Users/{ada}")).await.body["groups"].clone();
    assert_eq!(groups.as_array().unwrap().len(), 2, "{groups}");
    assert_eq!(groups[0]["value"], inner);
    assert_eq!(groups[0]["type"], "direct");
    assert_eq!(groups[1]["value"], outer);
    assert_eq!(groups[1]["type"], "indirect");
    let listed = serve.get("/Users").await;
    assert_eq!(listed.body["Resources"][0]["groups"], groups);
}
