//! An independent SCIM server to test against: `scim2-server` from PyPI, made Tonkean-shaped
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

    /// The same, announcing the ServiceProviderConfig of `spc` instead (say, without PATCH).
    pub fn start_with_config(spc: Option<&Path>) -> Self {
        let venv = python::venv();
        let port = free_port();
        let peers = peers_dir();
        let mut command = Command::new(venv.join("bin/python"));
        command
            .arg(peers.join("tonkean_like_server.py"))
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--tenant", "scim", "--bearer-token", PEER_TOKEN])
            .arg("--schema")
            .arg(peers.join("tonkean-schemas.json"))
            .arg("--resource-type")
            .arg(peers.join("tonkean-resource-types.json"));
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

    /// The requests the server has answered so far, as `METHOD /path?query` lines.
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
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| {
                let start = line.find('"')? + 1;
                let end = start + line[start..].find(" HTTP/")?;
                Some(line[start..end].to_owned())
            })
            .collect()
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
