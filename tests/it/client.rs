//! The SCIM client against a server nobody here wrote (scim2-server, Tonkean-shaped), over
//! real HTTP.

use reqwest::Method;
use scim::ResourceKind;
use scimform::client::{BulkLimits, ClientError, Connection, Keep, ScimClient};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::peer::{PEER_TOKEN, PeerServer};

fn client(peer: &PeerServer, token: &str) -> ScimClient {
    ScimClient::new(&Connection {
        base_url: peer.base_url.clone(),
        auth_scheme: "token".to_owned(),
        token: SecretString::from(token.to_owned()),
        allow_insecure_http: false,
    })
    .expect("a loopback http URL is allowed")
}

async fn create_users(client: &ScimClient, count: usize) {
    for i in 0..count {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i:03}@example.com"),
        });
        client
            .send(Method::POST, "/Users", &[], Some(&user), None)
            .await
            .expect("create a user");
    }
}

#[tokio::test]
async fn reads_the_service_provider_config() {
    let peer = PeerServer::start();
    let caps = client(&peer, PEER_TOKEN).capabilities().await.unwrap();
    assert!(caps.patch && caps.filter && caps.etag);
    assert_eq!(caps.max_results, Some(1000));
    assert_eq!(
        caps.bulk,
        Some(BulkLimits {
            max_operations: 1000,
            max_payload_size: 1_048_576
        })
    );
}

#[tokio::test]
async fn lists_every_page_once_and_proves_the_listing_complete() {
    let peer = PeerServer::start();
    let client = client(&peer, PEER_TOKEN);
    create_users(&client, 25).await;
    let before = peer.requests().len();

    let listing = client
        .list_all::<Value>(ResourceKind::User, Some(10), &[], Keep::Managed)
        .await
        .unwrap();

    assert_eq!(listing.total_results, 25);
    assert_eq!(listing.resources.len(), 25);
    assert!(listing.is_complete());
    assert_eq!(listing.pages, 3);
    let mut lists: Vec<String> = peer.requests()[before..].to_vec();
    lists.sort();
    assert_eq!(lists.len(), 3, "one GET per page: {lists:?}");
    for (list, start) in lists.iter().zip(["1", "11", "21"]) {
        assert!(list.starts_with("GET /scim/v2/Users?"), "{list}");
        assert!(list.contains(&format!("startIndex={start}&")), "{list}");
        assert!(list.contains("count=10"), "{list}");
    }
}

#[tokio::test]
async fn an_empty_directory_is_one_request_and_complete() {
    let peer = PeerServer::start();
    let client = client(&peer, PEER_TOKEN);
    let listing = client
        .list_all::<Value>(ResourceKind::Group, None, &["members"], Keep::Managed)
        .await
        .unwrap();
    assert!(listing.resources.is_empty());
    assert!(listing.is_complete());
    assert_eq!(peer.requests().len(), 1);
}

#[tokio::test]
async fn finds_by_filter_and_treats_no_match_as_empty() {
    let peer = PeerServer::start();
    let client = client(&peer, PEER_TOKEN);
    create_users(&client, 2).await;
    let found = client
        .find_by::<Value>(
            ResourceKind::User,
            "userName",
            "USER001@example.com",
            Keep::Managed,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "userName matches case-insensitively");
    assert_eq!(found[0]["userName"], "user001@example.com");
    let none = client
        .find_by::<Value>(
            ResourceKind::User,
            "userName",
            "nobody@example.com",
            Keep::Managed,
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(
        client
            .get(ResourceKind::User, "no-such-id")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_rejected_token_is_an_error_that_does_not_show_it() {
    let peer = PeerServer::start();
    let wrong = "wrong-token-8842";
    // ServiceProviderConfig may be public (RFC 7644 §4); a list never is.
    let err = client(&peer, wrong)
        .list_all::<Value>(ResourceKind::User, None, &[], Keep::Managed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 401, .. }),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("GET /Users"), "{shown}");
    assert!(!shown.contains(wrong), "{shown}");
}
