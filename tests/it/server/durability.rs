//! An acknowledged write survives `kill -9`: the store commits before the response leaves.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::serve::{Serve, USER};

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("durable.db");
    let token = dir.path().join("token");
    std::fs::write(&token, "durable-token-0123456789").unwrap();
    let n = 60;
    let mut serve = Serve::start_on(&store, &token);
    let group = serve.group("Survivors", &[]).await;
    for i in 0..n {
        let a = serve
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": format!("user{i}")}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
        let id = a.body["id"].as_str().unwrap();
        let p = serve
            .patch(
                &format!("/Groups/{group}"),
                Serve::ops(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])),
            )
            .await;
        assert_eq!(p.status, StatusCode::OK);
    }
    // SIGKILL: no shutdown path runs.
    serve.child().kill().unwrap();
    serve.child().wait().unwrap();
    drop(serve);

    let serve = Serve::start_on(&store, &token);
    let users = serve.get("/Users?count=0").await;
    assert_eq!(users.body["totalResults"], n);
    let g = serve.get(&format!("/Groups/{group}")).await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), n);
    assert_eq!(g.body["meta"]["version"], format!("W/\"{}\"", n + 1));
}
