//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): filters, pagination, sorting, projection.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::serve::{Serve, TONKEAN, USER};

/// Three users with varied attributes, and a group holding the first.
async fn seeded() -> (Serve, Vec<String>) {
    let serve = Serve::start();
    let mut ids = Vec::new();
    for (user_name, title, email_type, active, roles, external) in [
        (
            "Ada@Example.com",
            "Analyst",
            "work",
            true,
            vec!["SYSTEM_USER"],
            "ext-1",
        ),
        (
            "bob@example.com",
            "Builder",
            "home",
            false,
            vec!["PROCESS_CONTRIBUTOR"],
            "ext-2",
        ),
        ("carol@other.org", "Chemist", "work", true, vec![], "EXT-3"),
    ] {
        let mut body = json!({"schemas": [USER, TONKEAN], "userName": user_name, "title": title,
            "active": active, "externalId": external, "displayName": user_name.to_uppercase(),
            "emails": [{"value": user_name.to_lowercase(), "type": email_type, "primary": true}]});
        if !roles.is_empty() {
            body[TONKEAN] = json!({"tonkeanRoles": roles});
        }
        let a = serve.post("/Users", body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        ids.push(a.body["id"].as_str().unwrap().to_owned());
    }
    serve.group("Owners", &[&ids[0]]).await;
    (serve, ids)
}

fn names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {body}"))
        .iter()
        .map(|r| {
            r["userName"]
                .as_str()
                .or(r["displayName"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn filtered(serve: &Serve, filter: &str) -> Vec<String> {
    let a = serve
        .send(
            serve
                .request(reqwest::Method::GET, "/Users")
                .query(&[("filter", filter)]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{filter}: {}", a.body);
    assert_eq!(
        a.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(
        a.body["totalResults"].as_u64().unwrap() as usize,
        names(&a.body).len()
    );
    names(&a.body)
}

#[tokio::test]
async fn list_response_shape() {
    let (serve, _) = seeded().await;
    let a = serve.get("/Users").await;
    assert_eq!(a.body["totalResults"], 3);
    assert_eq!(a.body["startIndex"], 1);
    assert_eq!(a.body["itemsPerPage"], 3);
    assert_eq!(
        names(&a.body),
        ["Ada@Example.com", "bob@example.com", "carol@other.org"]
    );
}

#[tokio::test]
async fn user_name_eq_is_case_insensitive() {
    let (serve, _) = seeded().await;
    assert_eq!(
        filtered(&serve, r#"userName eq "ada@example.com""#).await,
        ["Ada@Example.com"]
    );
    assert_eq!(
        filtered(&serve, r#"USERNAME EQ "ADA@EXAMPLE.COM""#).await,
        ["Ada@Example.com"]
    );
    assert!(filtered(&serve, r#"userName eq "nobody""#).await.is_empty());
}

#[tokio::test]
async fn external_id_eq_is_case_exact() {
    let (serve, _) = seeded().await;
    assert_eq!(
        filtered(&serve, r#"externalId eq "ext-2""#).await,
        ["bob@example.com"]
    );
    assert!(
        filtered(&serve, r#"externalId eq "ext-3""#)
            .await
            .is_empty()
    );
    assert_eq!(
        filtered(&serve, r#"externalId eq "EXT-3""#).await,
        ["carol@other.org"]
    );
}

#[tokio::test]
async fn display_name_eq_on_groups() {
    let (serve, _) = seeded().await;
    let a = serve
        .send(
            serve
                .request(reqwest::Method::GET, "/Groups")
                .query(&[("filter", r#"displayName eq "owners""#)]),
        )
        .await;
    assert_eq!(names(&a.body), ["Owners"]);
}

#[tokio::test]
async fn string_operators() {
    let (serve, _) = seeded().await;
    assert_eq!(filtered(&serve, r#"userName co "EXAMPLE""#).await.len(), 2);
    assert_eq!(
        filtered(&serve, r#"userName sw "b""#).await,
        ["bob@example.com"]
    );
    assert_eq!(
        filtered(&serve, r#"userName ew ".org""#).await,
        ["carol@other.org"]
    );
    assert_eq!(filtered(&serve, r#"title ne "Builder""#).await.len(), 2);
    assert_eq!(filtered(&serve, r#"title gt "B""#).await.len(), 2);
    assert_eq!(filtered(&serve, r#"title le "Builder""#).await.len(), 2);
}

#[tokio::test]
async fn presence_boolean_and_logic() {
    let (serve, _) = seeded().await;
    assert_eq!(
        filtered(&serve, "urn:scim:tonkean:tonkeanRoles pr")
            .await
            .len(),
        2
    );
    assert_eq!(
        filtered(&serve, "active eq false").await,
        ["bob@example.com"]
    );
    assert_eq!(
        filtered(
            &serve,
            r#"active eq true and (title eq "Chemist" or userName sw "ada")"#
        )
        .await
        .len(),
        2
    );
    assert_eq!(
        filtered(&serve, r#"not (userName co "example")"#).await,
        ["carol@other.org"]
    );
    assert_eq!(
        filtered(
            &serve,
            r#"userName eq "bob@example.com" and active eq true"#
        )
        .await
        .len(),
        0
    );
}

#[tokio::test]
async fn value_path_filters() {
    let (serve, _) = seeded().await;
    assert_eq!(
        filtered(&serve, r#"emails[type eq "work" and value co "other"]"#).await,
        ["carol@other.org"]
    );
    assert_eq!(
        filtered(&serve, r#"emails.type eq "home""#).await,
        ["bob@example.com"]
    );
    assert_eq!(
        filtered(
            &serve,
            r#"urn:scim:tonkean:tonkeanRoles[value eq "SYSTEM_USER"]"#
        )
        .await,
        ["Ada@Example.com"]
    );
    assert_eq!(
        filtered(
            &serve,
            r#"urn:scim:tonkean:tonkeanRoles eq "PROCESS_CONTRIBUTOR""#
        )
        .await,
        ["bob@example.com"]
    );
}

#[tokio::test]
async fn filters_on_meta_and_computed_groups() {
    let (serve, ids) = seeded().await;
    assert_eq!(
        filtered(&serve, r#"meta.created gt "2000-01-01T00:00:00Z""#)
            .await
            .len(),
        3
    );
    assert_eq!(
        filtered(&serve, &format!("id eq \"{}\"", ids[1])).await,
        ["bob@example.com"]
    );
    assert_eq!(
        filtered(&serve, r#"groups.display eq "Owners""#).await,
        ["Ada@Example.com"]
    );
}

#[tokio::test]
async fn invalid_filter_is_400_invalid_filter() {
    let (serve, _) = seeded().await;
    for filter in [
        "userName eq",
        "userName zz \"a\"",
        "(userName eq \"a\"",
        "emails[type eq \"work\"",
    ] {
        let a = serve
            .send(
                serve
                    .request(reqwest::Method::GET, "/Users")
                    .query(&[("filter", filter)]),
            )
            .await;
        a.assert_error(400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn filter_length_and_depth_are_limited() {
    let (serve, _) = seeded().await;
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    let a = serve
        .send(
            serve
                .request(reqwest::Method::GET, "/Users")
                .query(&[("filter", &long)]),
        )
        .await;
    a.assert_error(400, Some("invalidFilter"));
    let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let a = serve
        .send(
            serve
                .request(reqwest::Method::GET, "/Users")
                .query(&[("filter", &deep)]),
        )
        .await;
    a.assert_error(400, Some("invalidFilter"));
    assert_eq!(
        serve.get("/Users").await.status,
        StatusCode::OK,
        "the server stays up"
    );
}

#[tokio::test]
async fn pagination_is_one_based() {
    let (serve, _) = seeded().await;
    let a = serve.get("/Users?startIndex=2&count=1").await;
    assert_eq!(a.body["totalResults"], 3);
    assert_eq!(a.body["startIndex"], 2);
    assert_eq!(a.body["itemsPerPage"], 1);
    assert_eq!(names(&a.body), ["bob@example.com"]);
    let past = serve.get("/Users?startIndex=10").await;
    assert_eq!(past.body["totalResults"], 3);
    assert_eq!(past.body["itemsPerPage"], 0);
    let below = serve.get("/Users?startIndex=0&count=1").await;
    assert_eq!(below.body["startIndex"], 1, "startIndex below 1 means 1");
    let huge = serve.get("/Users?count=100000").await;
    assert_eq!(
        huge.body["itemsPerPage"], 3,
        "count above maxResults is capped, not refused"
    );
    serve
        .get("/Users?count=many")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn pagination_with_a_scanned_filter() {
    let (serve, _) = seeded().await;
    let a = serve
        .send(serve.request(reqwest::Method::GET, "/Users").query(&[
            ("filter", "active eq true"),
            ("startIndex", "2"),
            ("count", "1"),
        ]))
        .await;
    assert_eq!(a.body["totalResults"], 2);
    assert_eq!(names(&a.body), ["carol@other.org"]);
}

#[tokio::test]
async fn count_zero_gives_only_the_total() {
    let (serve, _) = seeded().await;
    let a = serve.get("/Users?count=0").await;
    assert_eq!(a.body["totalResults"], 3);
    assert_eq!(a.body["itemsPerPage"], 0);
    assert_eq!(a.body["Resources"], json!([]));
}

#[tokio::test]
async fn sort_by_and_sort_order() {
    let (serve, _) = seeded().await;
    let a = serve.get("/Users?sortBy=title&sortOrder=descending").await;
    assert_eq!(
        names(&a.body),
        ["carol@other.org", "bob@example.com", "Ada@Example.com"]
    );
    let b = serve.get("/Users?sortBy=emails.value").await;
    assert_eq!(
        names(&b.body),
        ["Ada@Example.com", "bob@example.com", "carol@other.org"]
    );
    let c = serve
        .get("/Users?sortBy=urn:scim:tonkean:tonkeanRoles&count=2")
        .await;
    assert_eq!(c.body["totalResults"], 3);
    assert_eq!(
        names(&c.body),
        ["bob@example.com", "Ada@Example.com"],
        "unassigned sort last"
    );
    serve
        .get("/Users?sortBy=title&sortOrder=sideways")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn attributes_projection_keeps_always_returned() {
    let (serve, _) = seeded().await;
    let a = serve
        .get("/Users?attributes=userName,name.givenName&count=1")
        .await;
    let user = &a.body["Resources"][0];
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let b = serve.get("/Users?attributes=emails.type&count=1").await;
    assert_eq!(b.body["Resources"][0]["emails"], json!([{"type": "work"}]));
    let c = serve
        .get("/Users?attributes=urn:scim:tonkean:tonkeanRoles&count=1")
        .await;
    assert_eq!(
        c.body["Resources"][0][TONKEAN]["tonkeanRoles"],
        json!(["SYSTEM_USER"])
    );
    assert!(c.body["Resources"][0].get("userName").is_none());
}

#[tokio::test]
async fn excluded_attributes_projection() {
    let (serve, ids) = seeded().await;
    let a = serve
        .get(&format!(
            "/Users/{}?excludedAttributes=emails,groups,id,urn:scim:tonkean",
            ids[0]
        ))
        .await;
    assert!(a.body.get("emails").is_none());
    assert!(a.body.get("groups").is_none());
    assert!(a.body.get(TONKEAN).is_none());
    assert_eq!(a.body["id"], ids[0], "id is returned always");
    assert_eq!(a.body["schemas"], json!([USER]));
    assert!(a.body.get("meta").is_some());
}

#[tokio::test]
async fn search_endpoint_takes_a_search_request() {
    let (serve, _) = seeded().await;
    let a = serve
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "active eq true", "attributes": ["userName"], "sortBy": "userName",
                   "sortOrder": "descending", "startIndex": 1, "count": 10}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(names(&a.body), ["carol@other.org", "Ada@Example.com"]);
    assert!(a.body["Resources"][0].get("title").is_none());
    serve
        .post("/Users/.search", json!({"filter": "userName eq"}))
        .await
        .assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn root_search_spans_users_and_groups() {
    let (serve, _) = seeded().await;
    let a = serve
        .post(
            "/.search",
            json!({"filter": "meta.resourceType pr", "count": 3}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["totalResults"], 4);
    assert_eq!(a.body["itemsPerPage"], 3);
    let b = serve.post("/.search", json!({"startIndex": 4})).await;
    assert_eq!(names(&b.body), ["Owners"]);
}

#[tokio::test]
async fn count_is_capped_at_max_results() {
    let serve = Serve::start();
    for chunk in 0..2 {
        let ops: Vec<Value> = (0..550)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("{chunk}-{i}"),
                       "data": {"schemas": [USER], "userName": format!("u{chunk}-{i}")}})
            })
            .collect();
        let a = serve
            .post("/Bulk", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}))
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let a = serve.get("/Users?count=5000").await;
    assert_eq!(a.body["totalResults"], 1100);
    assert_eq!(a.body["itemsPerPage"], 1000);
    let rest = serve.get("/Users?startIndex=1001").await;
    assert_eq!(rest.body["itemsPerPage"], 100);
    assert_eq!(rest.body["Resources"][0]["userName"], "u1-450");
}

#[tokio::test]
async fn pages_of_one_type_skip_the_other() {
    let serve = Serve::start();
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(serve.user(&format!("u{i}")).await);
        serve.group(&format!("g{i}"), &[&users[i]]).await;
    }
    let mut seen = Vec::new();
    for start in [1, 3] {
        let a = serve
            .get(&format!("/Users?startIndex={start}&count=2"))
            .await;
        assert_eq!(a.body["totalResults"], 4);
        seen.extend(names(&a.body));
    }
    assert_eq!(seen, ["u0", "u1", "u2", "u3"]);
    let g = serve.get("/Groups?startIndex=4&count=2").await;
    assert_eq!(names(&g.body), ["g3"]);
    let u = serve.get("/Users?startIndex=2&count=1").await;
    assert_eq!(u.body["Resources"][0]["groups"][0]["display"], "g1");
}
