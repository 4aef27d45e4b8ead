//! `/Bulk` (RFC 7644 §3.7): bulkId references, failOnErrors, and the announced limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::serve::{BULK, GROUP, Serve, USER};

fn bulk(operations: Value) -> Value {
    let mut request = json!({"schemas": [BULK]});
    request["Operations"] = operations;
    request
}

#[tokio::test]
async fn creates_a_user_and_a_group_referencing_it() {
    let serve = Serve::start();
    // The group comes first: the server resolves the forward reference (RFC 7644 §3.7.1).
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:u"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "ada"}},
            ])),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = a.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{}", a.body);
    let user_location = ops[1]["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    assert_eq!(ops[1]["bulkId"], "u");
    assert_eq!(ops[1]["version"], "W/\"1\"");
    let group = serve
        .get(&format!(
            "/Groups/{}",
            ops[0]["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
        ))
        .await;
    assert_eq!(group.body["members"][0]["value"], user_id);
}

#[tokio::test]
async fn put_patch_delete_and_per_operation_errors() {
    let serve = Serve::start();
    let ada = serve.user("ada").await;
    let bob = serve.user("bob").await;
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "PATCH", "path": format!("/Users/{ada}"),
                 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "title", "value": "x"}]}},
                {"method": "PUT", "path": format!("/Users/{bob}"), "version": "W/\"9\"",
                 "data": {"schemas": [USER], "userName": "bob"}},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"schemas": [USER], "userName": "ADA"}},
                {"method": "DELETE", "path": format!("/Users/{bob}")},
            ])),
        )
        .await;
    let ops = a.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["200", "412", "409", "204"]);
    assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
    assert_eq!(
        ops[2]["response"]["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(serve.get(&format!("/Users/{ada}")).await.body["title"], "x");
}

#[tokio::test]
async fn fail_on_errors_stops_processing() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Bulk",
            json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"schemas": [USER]}},
                {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"schemas": [USER], "userName": "never"}},
            ]}),
        )
        .await;
    let ops = a.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["status"], "400");
    assert_eq!(serve.get("/Users?count=0").await.body["totalResults"], 0);
}

#[tokio::test]
async fn unresolvable_and_circular_bulk_ids_are_409() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:missing"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "a",
                 "data": {"schemas": [GROUP], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "b",
                 "data": {"schemas": [GROUP], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
            ])),
        )
        .await;
    let ops = a.body["Operations"].as_array().unwrap();
    assert!(ops.iter().all(|o| o["status"] == "409"), "{}", a.body);
}

#[tokio::test]
async fn too_many_operations_is_413() {
    let serve = Serve::start();
    let max = serve.get("/ServiceProviderConfig").await.body["bulk"]["maxOperations"]
        .as_u64()
        .unwrap();
    let ops: Vec<Value> = (0..=max)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    serve
        .post("/Bulk", bulk(Value::Array(ops)))
        .await
        .assert_error(413, None);
}

#[tokio::test]
async fn payload_over_max_payload_size_is_413_and_the_server_stays_up() {
    let serve = Serve::start();
    let max = serve.get("/ServiceProviderConfig").await.body["bulk"]["maxPayloadSize"]
        .as_u64()
        .unwrap();
    let filler = "x".repeat(usize::try_from(max).unwrap());
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([{"method": "POST", "path": "/Users", "bulkId": "1",
                         "data": {"schemas": [USER], "userName": "a", "title": filler}}])),
        )
        .await;
    a.assert_error(413, None);
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("maxPayloadSize")
    );
    assert_eq!(serve.get("/Users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn not_a_bulk_request_is_400() {
    let serve = Serve::start();
    serve
        .post("/Bulk", json!({"Operations": []}))
        .await
        .assert_error(400, Some("invalidSyntax"));
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([{"method": "POST", "path": "/Devices", "data": {}}])),
        )
        .await;
    assert_eq!(a.body["Operations"][0]["status"], "400", "{}", a.body);
}
