//! The audit trail, the real binary over HTTP against `scimform serve`: apply prints one line
//! per object as it finishes; `-v` and `--log-format json` log every request with its time,
//! provider and object, `plan` and `doctor` included; no line holds the token
//! (docs/apply.md, The request log).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, run, run_off_runtime, scimform};

fn config(dir: &Path, base: &str, rest: &str) -> PathBuf {
    let path = dir.join("scimform.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  corp:\n    url: {base}\n    token: ${{SERVE_TOKEN}}\n    \
             preset: tonkean\n{rest}"
        ),
    )
    .unwrap();
    path
}

fn scim(serve: &Serve, config: &Path, args: &[&str]) -> Run {
    run(scimform()
        .env("SERVE_TOKEN", &serve.token)
        .args(args)
        .arg("-f")
        .arg(config))
}

const BEFORE: &str = "users:
  - userName: ada@example.com
    title: Analyst
  - userName: bob@example.com
  - userName: carol@example.com
groups:
  - displayName: Owners
    members: [ada@example.com, bob@example.com]
  - displayName: Old
    members: [carol@example.com]
";

/// An update, a deactivation, a group deleted and one changed, a create that works, one the
/// server refuses (an attribute the enterprise extension does not define) and a group skipped
/// because its member is that user.
const AFTER: &str = "users:
  - userName: ada@example.com
    title: Lead
  - userName: bob@example.com
    absent: true
  - userName: carol@example.com
  - userName: dan@example.com
  - userName: eve@example.com
    extensions:
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:
        noSuchAttribute: x
groups:
  - displayName: Owners
    members: [ada@example.com, dan@example.com]
  - displayName: Old
    absent: true
  - displayName: New
    members: [eve@example.com]
";

/// The id each op's object had when planned, by `kind key`, from the JSON plan.
fn planned_ids(plan: &str) -> HashMap<String, String> {
    let plan: Value = serde_json::from_str(plan).unwrap();
    plan["providers"][0]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|op| {
            let id = op["observed"]["id"].as_str()?;
            Some((
                format!("{} {}", op["resource"].as_str()?, op["key"].as_str()?),
                id.to_owned(),
            ))
        })
        .collect()
}

/// The line of `stdout` about `object`, with the outcome `verb`.
fn line<'a>(stdout: &'a str, verb: &str, object: &str) -> &'a str {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(verb) && l.contains(&format!(" {object}  "))
        })
        .collect();
    assert_eq!(lines.len(), 1, "one `{verb}` line for {object}:\n{stdout}");
    lines[0]
}

/// How many lines of `stdout` are the audit trail's.
fn trail_lines(stdout: &str) -> usize {
    const OUTCOMES: [&str; 7] = [
        "created",
        "updated",
        "deactivated",
        "deleted",
        "adopted",
        "failed",
        "skipped",
    ];
    stdout
        .lines()
        .filter(|l| {
            let verb = l.split_whitespace().next().unwrap_or_default();
            l.starts_with("  ")
                && OUTCOMES.contains(&verb)
                && (l.contains("  id=") || l.contains("  ("))
        })
        .count()
}

/// A piped apply prints a line for each op as it finishes, with the outcome, the object, the
/// id the server holds it under and the server's status, and then the summary as before.
#[test]
fn apply_prints_a_line_per_object_with_its_id_and_status() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let before = config(dir.path(), &serve.base, BEFORE);
    let first = scim(&serve, &before, &["apply", "--auto-approve"]);
    assert_eq!(first.code, Some(0), "{}{}", first.stdout, first.stderr);
    let created: Vec<&str> = first
        .stdout
        .lines()
        .filter(|l| l.starts_with("  created     "))
        .collect();
    assert_eq!(created.len(), 5, "{}", first.stdout);
    for line in created {
        let id = line
            .split("  id=")
            .nth(1)
            .and_then(|r| r.split("  ").next());
        assert!(id.is_some_and(|id| !id.is_empty()), "{line}");
        assert!(
            line.contains("  (201, ") && line.ends_with(" ms)"),
            "{line}"
        );
    }

    let after = config(dir.path(), &serve.base, AFTER);
    let plan = scim(&serve, &after, &["plan", "--format", "json"]);
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let ids = planned_ids(&plan.stdout);
    let ops = serde_json::from_str::<Value>(&plan.stdout).unwrap()["providers"][0]["ops"]
        .as_array()
        .unwrap()
        .len();

    let out = scim(
        &serve,
        &after,
        &["apply", "--auto-approve", "--allow-mass-delete"],
    );
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("Applying provider corp: 7 operations\n"),
        "{stdout}"
    );
    assert_eq!(ops, 7, "{stdout}");

    let ada = line(stdout, "updated", "user ada@example.com");
    assert!(
        ada.starts_with(&format!(
            "  updated     user ada@example.com  id={}  (200, ",
            ids["user ada@example.com"]
        )),
        "{ada}"
    );
    let bob = line(stdout, "deactivated", "user bob@example.com");
    assert!(
        bob.contains(&format!("  id={}  (", ids["user bob@example.com"])),
        "{bob}"
    );
    let old = line(stdout, "deleted", "group Old");
    assert!(
        old.contains(&format!("  id={}  (204, ", ids["group Old"])),
        "{old}"
    );
    let owners = line(stdout, "updated", "group Owners");
    assert!(owners.contains(&ids["group Owners"]), "{owners}");
    let dan = line(stdout, "created", "user dan@example.com");
    assert!(dan.contains("  id=") && dan.contains("(201, "), "{dan}");
    let eve = stdout
        .lines()
        .find(|l| l.starts_with("  failed      create user eve@example.com  (400 "))
        .unwrap_or_else(|| panic!("a failed line for eve:\n{stdout}"));
    assert!(eve.ends_with(" ms)"), "{eve}");
    assert!(
        stdout.contains(
            "  skipped     create group New  (it depends on user eve@example.com, whose create \
             failed)\n"
        ),
        "{stdout}"
    );
    // One line per op, and the report as before.
    assert_eq!(trail_lines(stdout), ops, "{stdout}");
    assert!(
        stdout.contains("provider corp: 5 done, 1 failed, 1 skipped\n"),
        "{stdout}"
    );

    // `-q` prints no line per object.
    let quiet = scim(&serve, &after, &["apply", "--auto-approve", "-q"]);
    assert!(!quiet.stdout.contains("  skipped     "), "{}", quiet.stdout);
}

/// A proxy to `serve` that refuses the first PATCH with 503, and every create of a user with
/// a 400 whose detail quotes the `Authorization` header, token included.
async fn refusing(serve: &Serve) -> Rewriter {
    let echoed = serve.token.clone();
    let refused_once = std::sync::atomic::AtomicBool::new(false);
    Rewriter::editing_responses(&serve.base, str::to_owned, move |exchange| {
        // The first write to ada is refused for a moment: it is sent again.
        if *exchange.method == Method::PATCH
            && !refused_once.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            exchange.status = 503;
            *exchange.body = json!({"schemas": [crate::support::serve::ERROR], "status": "503"});
        }
        // A create refused with an error that quotes the Authorization header.
        if *exchange.method == Method::POST && exchange.path.ends_with("/Users") {
            exchange.status = 400;
            *exchange.body = json!({
                "schemas": [crate::support::serve::ERROR],
                "status": "400",
                "scimType": "invalidValue",
                "detail": format!("cannot accept Authorization: Bearer {echoed}"),
            });
        }
    })
    .await
}

/// `--log-format json`: every line of stderr is one JSON object; each request says its time,
/// provider, method, path, status and latency, the object it is about when it is about one,
/// and its attempt when it is a retry. The token is nowhere, not even where the server echoed
/// it in an error.
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_name_every_request_and_never_the_token() {
    let serve = Serve::start();
    let ada = serve.user("ada@example.com").await;
    let token = serve.token.clone();
    assert!(token.trim().len() >= 16);
    let proxy = refusing(&serve).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &proxy.base_url,
        "users:\n  - userName: ada@example.com\n    title: Lead\n  - userName: zoe@example.com\n",
    );
    let out = run_off_runtime(
        &config,
        "SERVE_TOKEN",
        &token,
        &["apply", "--auto-approve", "--log-format", "json"],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !said.contains(token.trim()),
        "the token is printed:\n{said}"
    );
    assert!(
        out.stdout
            .contains("  failed      create user zoe@example.com  (400 invalidValue: cannot accept Authorization: Bearer [redacted]; "),
        "{}",
        out.stdout
    );

    let mut requests = Vec::new();
    for text in out.stderr.lines() {
        let line: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {text}\n{}", out.stderr));
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            humantime::parse_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z'),
            "{text}"
        );
        if line["message"] == "request" {
            requests.push(line);
        }
    }
    for request in &requests {
        assert_eq!(request["provider"], "corp", "{request}");
        assert!(request["method"].is_string(), "{request}");
        assert!(
            request["path"].as_str().unwrap().starts_with('/'),
            "{request}"
        );
        assert!(request["status"].is_u64(), "{request}");
        assert!(request["latency_ms"].is_u64(), "{request}");
    }
    let find = |method: &str, path: &str| -> Vec<&Value> {
        requests
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().starts_with(path))
            .collect()
    };
    // A listing is about no object, and keeps its query.
    let listings = find("GET", "/Users?");
    assert!(!listings.is_empty(), "{}", out.stderr);
    assert!(
        listings
            .iter()
            .all(|r| r.get("key").is_none() && r["path"].as_str().unwrap().contains("count=")),
        "{}",
        out.stderr
    );
    // The update to ada: refused once with 503, then sent again as attempt 2.
    let patches = find("PATCH", &format!("/Users/{ada}"));
    assert_eq!(patches.len(), 2, "{}", out.stderr);
    assert_eq!(patches[0]["status"], 503);
    assert!(patches[0].get("attempt").is_none(), "{}", patches[0]);
    assert_eq!(patches[1]["status"], 200);
    assert_eq!(patches[1]["attempt"], 2);
    for patch in &patches {
        assert_eq!(patch["key"], "ada@example.com", "{patch}");
        assert_eq!(patch["resource"], "user", "{patch}");
    }
    let creates = find("POST", "/Users");
    assert_eq!(creates.len(), 1, "{}", out.stderr);
    assert_eq!(creates[0]["key"], "zoe@example.com");
    assert_eq!(creates[0]["status"], 400);
}

/// `plan -v` logs its reads, each line with its time, provider, request and status; the
/// object a read is about (a lookup by userName) is named. Without `-v`, nothing is logged.
#[test]
fn plan_v_logs_its_reads_and_doctor_and_import_accept_it() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &serve.base,
        "users:\n  - userName: ada@example.com\n",
    );
    let quiet = scim(&serve, &config, &["plan"]);
    assert_eq!(quiet.code, Some(0), "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "", "no log without -v");

    let out = scim(&serve, &config, &["plan", "-v"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let gets: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(" request provider=corp method=GET path=/"))
        .collect();
    assert!(gets.len() >= 2, "{}", out.stderr);
    for line in &gets {
        let time = line.split(' ').next().unwrap();
        assert!(
            humantime::parse_rfc3339(time).is_ok() && time.ends_with('Z'),
            "{line}"
        );
        assert!(
            line.contains(" status=200 latency_ms="),
            "{line}\n{}",
            out.stderr
        );
    }
    assert!(
        gets.iter()
            .any(|l| l.contains("path=/ServiceProviderConfig ")),
        "{}",
        out.stderr
    );
    assert!(
        gets.iter().any(|l| l.contains("path=/Users?")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(serve.token.trim()), "{}", out.stderr);

    // Apply names the object of each write in its log line.
    let apply = scim(&serve, &config, &["apply", "--auto-approve", "-v"]);
    assert_eq!(apply.code, Some(0), "{}", apply.stderr);
    assert!(
        apply.stderr.lines().any(|l| l.contains(
            "object{resource=user key=ada@example.com}: request provider=corp method=POST \
             path=/Users status=201"
        )),
        "{}",
        apply.stderr
    );

    for args in [&["doctor", "-v"][..], &["import", "-v"][..]] {
        let out = scim(&serve, &config, args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(" request provider=corp method=GET path=/ServiceProviderConfig "),
            "{args:?}: {}",
            out.stderr
        );
    }
}
