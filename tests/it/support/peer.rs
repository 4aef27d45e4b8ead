//! An independent SCIM server to test against: `scim2-server` from `PyPI`, made Tonkean-shaped
//! by `tests/peers/` (the `urn:scim:tonkean` extension, the `token` auth scheme). It keeps its
//! data in memory, so every test starts its own.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::python;

/// The token every peer accepts, with either `Bearer` or `token`.
pub const PEER_TOKEN: &str = "peer-test-token-Zq81";

pub struct PeerServer {
    child: Child,
    pub base_url: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

impl PeerServer {
    /// A Tonkean-shaped server announcing everything scim2-server supports.
    pub fn start() -> Self {
        Self::start_with_config(None)
    }

    /// The same, announcing the `ServiceProviderConfig` of `spc` instead (say, without PATCH).
    pub fn start_with_config(spc: Option<&Path>) -> Self {
        Self::launch(spc, true)
    }

    /// scim2-server with its default schemas and resource types: no `urn:scim:tonkean`
    /// extension, as a SCIM server that does not keep Tonkean's roles.
    pub fn start_without_extension() -> Self {
        Self::launch(None, false)
    }

    fn launch(spc: Option<&Path>, tonkean: bool) -> Self {
        let venv = python::venv();
        let port = free_port();
        let peers = peers_dir();
        let mut command = Command::new(venv.join("bin/python"));
        command
            .arg(peers.join("tonkean_like_server.py"))
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--tenant", "scim", "--bearer-token", PEER_TOKEN]);
        if tonkean {
            command
                .arg("--schema")
                .arg(peers.join("tonkean-schemas.json"))
                .arg("--resource-type")
                .arg(peers.join("tonkean-resource-types.json"));
        }
        if let Some(spc) = spc {
            command.arg("--service-provider-config").arg(spc);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the scim2-server peer");
        // The server logs one line per request on stderr; keep them to count requests.
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the scim2-server peer exited with {status}:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "the scim2-server peer did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PeerServer {
            child,
            base_url: format!("http://127.0.0.1:{port}/scim/v2"),
            log,
        }
    }

    /// The requests the server has answered so far, as `METHOD /path?query` lines. The log
    /// arrives through a pipe, so this waits until it has been quiet for a moment.
    pub fn requests(&self) -> Vec<String> {
        // The server logs a request after answering it, and a thread reads the log: wait until
        // it has been quiet for a moment so that every answered request is counted.
        let mut seen = self.log.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.log.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        // Lines look like: 127.0.0.1 - - [date] "GET /scim/v2/Users?count=1 HTTP/1.1" 200 -
        // Threads of the server may write two entries on one line, so every entry is taken.
        let mut requests = Vec::new();
        for line in self.log.lock().unwrap().iter() {
            let mut rest = line.as_str();
            while let Some(start) = rest.find('"') {
                let after = &rest[start + 1..];
                let Some(end) = after.find(" HTTP/") else {
                    break;
                };
                let entry = &after[..end];
                if entry.split(' ').count() == 2 {
                    requests.push(entry.to_owned());
                }
                rest = &after[end..];
                match rest.find('"') {
                    Some(close) => rest = &rest[close + 1..],
                    None => break,
                }
            }
        }
        requests
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (the peer cannot be told to pick its own).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

impl PeerServer {
    /// Sends one authorized request to the peer and returns the JSON response (`Null` when
    /// empty); panics on an error status, since seeding must not fail.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut request = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", self.base_url))
            .header("Authorization", format!("token {PEER_TOKEN}"));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the peer answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("the peer answers JSON")
        }
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, resource: serde_json::Value) -> String {
        let mut resource = resource;
        resource["schemas"] = serde_json::json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
        let created = self
            .call(reqwest::Method::POST, "/Users", Some(resource))
            .await;
        created["id"]
            .as_str()
            .expect("a created user has an id")
            .to_owned()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, display_name: &str, members: &[&str]) -> String {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": members.iter().map(|m| serde_json::json!({"value": m})).collect::<Vec<_>>(),
        });
        let created = self
            .call(reqwest::Method::POST, "/Groups", Some(body))
            .await;
        created["id"]
            .as_str()
            .expect("a created group has an id")
            .to_owned()
    }

    /// Creates `count` users named `prefix{i}@example.com` through /Bulk, 1000 per request.
    pub async fn bulk_users(&self, prefix: &str, count: usize) {
        let names: Vec<String> = (0..count)
            .map(|i| format!("{prefix}{i:05}@example.com"))
            .collect();
        for chunk in names.chunks(1000) {
            let operations: Vec<serde_json::Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, name)| serde_json::json!({
                    "method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
                }))
                .collect();
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": operations,
            });
            let response = self.call(reqwest::Method::POST, "/Bulk", Some(body)).await;
            let failed: Vec<&serde_json::Value> = response["Operations"]
                .as_array()
                .expect("a BulkResponse")
                .iter()
                .filter(|op| !op["status"].as_str().is_some_and(|s| s.starts_with('2')))
                .collect();
            assert!(failed.is_empty(), "bulk seeding failed: {failed:?}");
        }
    }

    /// Writes a `ServiceProviderConfig` document, for [`PeerServer::start_with_config`].
    pub fn service_provider_config(dir: &Path, patch: bool, max_results: usize) -> PathBuf {
        let spc = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": patch},
            "bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576},
            "filter": {"supported": true, "maxResults": max_results},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "bearer_token",
                "description": "HTTP Bearer Token"
            }]
        });
        let file = dir.join("spc.json");
        std::fs::write(&file, spc.to_string()).expect("write the ServiceProviderConfig");
        file
    }
}
