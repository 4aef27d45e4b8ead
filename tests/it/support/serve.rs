//! Starts `scimform serve` on a free loopback port over a temporary store and talks to it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const TONKEAN: &str = "urn:scim:tonkean";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// A running `scimform serve`; killed on drop.
pub struct Serve {
    child: Child,
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    temp: Option<tempfile::TempDir>,
}

/// A response: status, headers and the JSON body (`Null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error with this status and scimType.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["schemas"][0], ERROR, "body: {}", self.body);
        assert_eq!(
            self.body["status"],
            status.to_string(),
            "status is a string: {}",
            self.body
        );
        assert_eq!(
            self.body["scimType"].as_str(),
            scim_type,
            "body: {}",
            self.body
        );
        assert!(self.body["detail"].is_string());
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "content type {:?}",
            self.header("content-type")
        );
    }
}

/// How to start a server beyond the defaults.
#[derive(Default)]
pub struct Options<'a> {
    /// More arguments to `scimform serve`.
    pub args: &'a [&'a str],
    /// The open-file limit to run it under (`ulimit -n`).
    pub open_files: Option<u64>,
}

/// The `scimform serve` command line, under `ulimit -n` when asked.
pub fn command(options: &Options<'_>) -> Command {
    let mut command = match options.open_files {
        Some(limit) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_scimform"));
            sh
        }
        None => Command::new(env!("CARGO_BIN_EXE_scimform")),
    };
    command.arg("serve").args(options.args);
    command
}

impl Serve {
    /// A server over a fresh temporary store.
    pub fn start() -> Self {
        Self::start_with(&Options::default())
    }

    /// A server over a fresh temporary store, started with `options`.
    pub fn start_with(options: &Options<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("scim.db");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "test-token-0123456789\n").unwrap();
        let mut serve = Self::launch(&store, &token_file, options);
        serve.temp = Some(dir);
        serve
    }

    /// A server over a fresh temporary store answering as the service `profile` describes
    /// (`--emulate NAME`).
    pub fn emulating(profile: &scim::profile::Profile) -> Self {
        Self::start_with(&Options {
            args: &["--emulate", profile.name],
            ..Options::default()
        })
    }

    /// A server over `store`, its token read from `token_file`.
    pub fn start_on(store: &Path, token_file: &Path) -> Self {
        Self::launch(store, token_file, &Options::default())
    }

    fn launch(store: &Path, token_file: &Path, options: &Options<'_>) -> Self {
        let mut child = command(options)
            .args(["--listen", "127.0.0.1:0", "--store"])
            .arg(store)
            .arg("--token-file")
            .arg(token_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("scimform starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if !line.starts_with("http://") {
            let mut stderr = String::new();
            let _ = child.kill();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("scimform serve printed {line:?}; stderr: {stderr}");
        }
        let token = std::fs::read_to_string(token_file)
            .unwrap()
            .trim()
            .to_owned();
        Self {
            child,
            base: line.trim().to_owned(),
            token,
            client: reqwest::Client::new(),
            temp: None,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches("/scim/v2")
            .parse()
            .expect("the base URL names an address")
    }

    /// The process, for tests that signal it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// A request builder with the token set.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
    }

    /// Sends a request and decodes the response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let a = self
            .post(
                "/Users",
                serde_json::json!({"schemas": [USER], "userName": user_name}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, display_name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let a = self
            .post(
                "/Groups",
                serde_json::json!({"schemas": [GROUP], "displayName": display_name, "members": members}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["id"].as_str().unwrap().to_owned()
    }

    /// A PatchOp body.
    pub fn ops(operations: Value) -> Value {
        let mut request = serde_json::json!({"schemas": [PATCH_OP]});
        request["Operations"] = operations;
        request
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
