//! `spawn_embedded`: the in-process server behind `embedded:PATH` providers.

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use scim_server::spawn_embedded;

async fn create(client: &reqwest::Client, base: &str, token: &str, user_name: &str) -> StatusCode {
    client
        .post(format!("{base}/Users"))
        .bearer_auth(token)
        .header("Content-Type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}).to_string())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn serves_over_loopback_with_a_fresh_token_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nested/sandbox");
    let client = reqwest::Client::new();

    let server = spawn_embedded(&store).await.unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(server.base_url().ends_with("/scim/v2"));
    let token = server.token().expose_secret().to_owned();
    assert!(token.len() >= 32);
    assert_eq!(
        create(&client, server.base_url(), &token, "ada").await,
        StatusCode::CREATED
    );
    let unauthorized = client
        .get(format!("{}/Users", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let first_url = server.base_url().to_owned();
    server.shutdown().await.unwrap();
    assert!(
        client
            .get(format!("{first_url}/Users"))
            .send()
            .await
            .is_err(),
        "stopped after shutdown"
    );

    let again = spawn_embedded(&store).await.unwrap();
    assert_ne!(
        again.token().expose_secret(),
        token,
        "each start has its own token"
    );
    let list: Value = client
        .get(format!("{}/Users", again.base_url()))
        .bearer_auth(again.token().expose_secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["userName"], "ada");
    assert!(
        list["Resources"][0]["meta"]["location"]
            .as_str()
            .unwrap()
            .starts_with(again.base_url())
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_embedded(&dir.path().join("s.db")).await.unwrap();
    let url = format!("{}/ServiceProviderConfig", server.base_url());
    drop(server);
    for _ in 0..50 {
        if reqwest::Client::new().get(&url).send().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the server still answers after its handle was dropped");
}

#[tokio::test]
async fn two_servers_on_two_stores_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let a = spawn_embedded(&dir.path().join("a.db")).await.unwrap();
    let b = spawn_embedded(&dir.path().join("b.db")).await.unwrap();
    assert_ne!(a.base_url(), b.base_url());
    let client = reqwest::Client::new();
    assert_eq!(
        create(&client, a.base_url(), a.token().expose_secret(), "x").await,
        StatusCode::CREATED
    );
    assert_eq!(
        create(&client, b.base_url(), b.token().expose_secret(), "x").await,
        StatusCode::CREATED
    );
}
