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

#[tokio::test]
async fn a_bulk_id_given_twice_refuses_the_request() {
    let serve = Serve::start();
    let a = serve
        .post(
            "/Bulk",
            bulk(json!([
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "ada"}},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "bob"}},
            ])),
        )
        .await;
    a.assert_error(400, Some("invalidValue"));
    assert!(
        a.body["detail"].as_str().unwrap().contains("\"u\""),
        "{}",
        a.body
    );
    assert_eq!(serve.get("/Users?count=0").await.body["totalResults"], 0);
}

/// `n` groups listed so that each names the next as its member (`bulkId:g{i+1}`): they can
/// only be created last to first.
fn reverse_chain(n: usize) -> Value {
    let ops: Vec<Value> = (0..n)
        .map(|i| {
            let members = if i + 1 < n {
                json!([{"value": format!("bulkId:g{}", i + 1)}])
            } else {
                json!([])
            };
            json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
                   "data": {"schemas": [GROUP], "displayName": format!("chain {i:04}"), "members": members}})
        })
        .collect();
    bulk(Value::Array(ops))
}

fn id_of(location: &Value) -> &str {
    location.as_str().unwrap().rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reverse_chained_bulk_of_max_operations_runs_and_lets_other_writes_in() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let serve = Arc::new(Serve::start());
    let n = serve.get("/ServiceProviderConfig").await.body["bulk"]["maxOperations"]
        .as_u64()
        .unwrap();
    let n = usize::try_from(n).unwrap();

    // Two clients create groups one by one from before the bulk is sent until it is answered.
    let bulk_responded = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (serve, bulk_responded, written) = (
                Arc::clone(&serve),
                Arc::clone(&bulk_responded),
                Arc::clone(&written),
            );
            tokio::spawn(async move {
                let mut k = 0;
                while !bulk_responded.load(Ordering::SeqCst) {
                    serve.group(&format!("writer {w} {k}"), &[]).await;
                    written.fetch_add(1, Ordering::SeqCst);
                    k += 1;
                }
            })
        })
        .collect();
    while written.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    let a = serve.post("/Bulk", reverse_chain(n)).await;
    bulk_responded.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }

    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let ops = a.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), n);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{}", a.body);
    for i in 0..n - 1 {
        let group = serve
            .get(&format!("/Groups/{}", id_of(&ops[i]["location"])))
            .await;
        assert_eq!(
            group.body["members"][0]["value"],
            id_of(&ops[i + 1]["location"]),
            "group {i} holds the next one"
        );
    }

    // Groups are listed in the order they were stored: the bulk stored its groups last to
    // first, and the writers' groups went in between them, not only before or after.
    let mut names = Vec::new();
    let mut start = 1;
    loop {
        let page = serve
            .get(&format!(
                "/Groups?attributes=displayName&startIndex={start}&count=1000"
            ))
            .await;
        let resources = page.body["Resources"].as_array().unwrap().clone();
        if resources.is_empty() {
            break;
        }
        start += resources.len();
        names.extend(
            resources
                .iter()
                .map(|g| g["displayName"].as_str().unwrap().to_owned()),
        );
    }
    let chain: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| name.starts_with("chain "))
        .map(|(position, _)| position)
        .collect();
    assert_eq!(chain.len(), n);
    assert_eq!(names[chain[0]], format!("chain {:04}", n - 1));
    let (first, last) = (chain[0], chain[n - 1]);
    let interleaved = names[first..last]
        .iter()
        .filter(|name| name.starts_with("writer "))
        .count();
    assert!(
        interleaved > 0,
        "no write was stored while the bulk ran: every other write waited for all of it"
    );
}
