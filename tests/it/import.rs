//! `scimform import`, the real binary against real servers (`scimform serve` and scim2-server):
//! randomly generated directories round-trip exactly (`plan --detailed-exitcode` exits 0 on the
//! import, and importing again gives the same bytes), and a directory rebuilt from an import on
//! an empty server is the same directory (README, Reseeding a directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::peer::{PEER_TOKEN, PeerServer};
use crate::support::random::{FAMILY, GIVEN, LOCALES, Lcg, ROLES, TIMEZONES};
use crate::support::rewrite::Rewriter;
use crate::support::serve::Serve;
use crate::support::{Run, contents, listing, run, scimform};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const TONKEAN: &str = "urn:scim:tonkean";

/// A SCIM server to seed and read directly: base URL and token.
struct Server {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Server {
    fn serve(serve: &Serve) -> Self {
        Server {
            base: serve.base.clone(),
            token: serve.token.clone(),
            client: reqwest::Client::new(),
        }
    }

    fn peer(peer: &PeerServer) -> Self {
        Server {
            base: peer.base_url.clone(),
            token: PEER_TOKEN.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Authorization", format!("token {}", self.token));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Every resource at `/Users` or `/Groups`, page by page.
    async fn all(&self, endpoint: &str) -> Vec<Value> {
        let mut resources = Vec::new();
        loop {
            let page = self
                .call(
                    reqwest::Method::GET,
                    &format!("{endpoint}?startIndex={}&count=100", resources.len() + 1),
                    None,
                )
                .await;
            let items = page["Resources"].as_array().cloned().unwrap_or_default();
            let total = page["totalResults"].as_u64().unwrap() as usize;
            if items.is_empty() {
                assert_eq!(resources.len(), total, "{endpoint}: listing ended early");
                return resources;
            }
            resources.extend(items);
            if resources.len() >= total {
                return resources;
            }
        }
    }

    /// The directory, server ids aside: users by userName (without id, meta and the
    /// server-computed `groups`; multi-valued attributes sorted), groups by displayName with
    /// members by userName.
    async fn snapshot(&self) -> (BTreeMap<String, Value>, BTreeMap<String, Vec<String>>) {
        let users = self.all("/Users").await;
        let names: BTreeMap<String, String> = users
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap().to_owned(),
                    u["userName"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let users = users
            .into_iter()
            .map(|mut u| {
                let object = u.as_object_mut().unwrap();
                for key in ["id", "meta", "groups", "schemas"] {
                    object.remove(key);
                }
                for key in ["emails", "phoneNumbers"] {
                    if let Some(Value::Array(items)) = object.get_mut(key) {
                        items.sort_by_key(Value::to_string);
                    }
                }
                if let Some(Value::Object(ext)) = object.get_mut(TONKEAN)
                    && let Some(Value::Array(roles)) = ext.get_mut("tonkeanRoles")
                {
                    roles.sort_by_key(Value::to_string);
                }
                (object["userName"].as_str().unwrap().to_owned(), u)
            })
            .collect();
        let groups = self
            .all("/Groups")
            .await
            .into_iter()
            .map(|g| {
                let mut members: Vec<String> = g["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| names[m["value"].as_str().unwrap()].clone())
                    .collect();
                members.sort();
                (g["displayName"].as_str().unwrap().to_owned(), members)
            })
            .collect();
        (users, groups)
    }
}

const GROUPS: &[&str] = &["Owners", "Équipe Ω", "no", "x: y", "#ops", "Reviewers"];

/// Seeds a random directory: unicode and YAML-hostile names, inactive users, users in no group,
/// empty groups, users with every role or none, phone numbers, locales.
async fn seed(server: &Server, seed: u64) {
    let mut rng = Lcg(seed);
    let mut ids = Vec::new();
    let count = 5 + rng.below(20);
    for i in 0..count {
        let given = rng.pick(GIVEN);
        let family = rng.pick(FAMILY);
        let user_name = format!("u{seed}-{i}.{}@example.com", rng.below(1000));
        let mut user = json!({
            "schemas": [USER, TONKEAN],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "displayName": format!("{given} {family}"),
            "active": !rng.chance(25),
        });
        if rng.chance(60) {
            user["emails"] = json!([
                {"value": user_name, "type": "work", "primary": true},
                {"value": format!("home{i}@example.org"), "type": "home"},
            ]);
        }
        if rng.chance(50) {
            user["phoneNumbers"] =
                json!([{"value": format!("+1 555 01{:02}", rng.below(100)), "type": "mobile"}]);
        }
        if rng.chance(50) {
            user["locale"] = json!(rng.pick(LOCALES));
            user["preferredLanguage"] = json!(rng.pick(LOCALES));
            user["timezone"] = json!(rng.pick(TIMEZONES));
        }
        if rng.chance(30) {
            user["externalId"] = json!(format!("00u{}", rng.below(100_000)));
        }
        if rng.chance(20) {
            user["title"] = json!("Lead: data");
            user["nickName"] = json!("on");
        }
        let roles: Vec<&str> = if i == 0 {
            ROLES.to_vec()
        } else {
            ROLES.iter().copied().filter(|_| rng.chance(35)).collect()
        };
        if !roles.is_empty() {
            user[TONKEAN] = json!({"tonkeanRoles": roles});
        }
        let created = server
            .call(reqwest::Method::POST, "/Users", Some(user))
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let groups = 1 + rng.below(GROUPS.len());
    for (g, name) in GROUPS.iter().take(groups).enumerate() {
        // The first group stays empty; user 0 joins no group.
        let members: Vec<Value> = ids
            .iter()
            .skip(1)
            .filter(|_| g > 0 && rng.chance(40))
            .map(|id| json!({"value": id}))
            .collect();
        server
            .call(
                reqwest::Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
            )
            .await;
    }
}

/// A config naming the server at `base` as provider `live`, its token from `$IMPORT_TOKEN`.
fn source_config(dir: &Path, base: &str) -> PathBuf {
    let path = dir.join("source.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nproviders:\n  live:\n    url: {base}\n    token: ${{IMPORT_TOKEN}}\n    preset: tonkean\n    prune: true\n"
        ),
    )
    .unwrap();
    path
}

fn scim(token: &str, args: &[&str]) -> Run {
    run(scimform().env("IMPORT_TOKEN", token).args(args))
}

fn import(token: &str, config: &Path, out: &Path) -> Run {
    import_with(token, config, out, &[])
}

/// [`import`] over what a previous import wrote.
fn import_forced(token: &str, config: &Path, out: &Path) -> Run {
    import_with(token, config, out, &["--force"])
}

fn import_with(token: &str, config: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "import",
        "--provider",
        "live",
        "-f",
        config.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = scim(token, &args);
    assert_eq!(
        out.code,
        Some(0),
        "import failed: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stderr.contains("warning"),
        "an exact import warns of nothing: {}",
        out.stderr
    );
    out
}

fn assert_no_changes(token: &str, config: &Path) {
    let plan = scim(
        token,
        &[
            "plan",
            "--detailed-exitcode",
            "-f",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(
        plan.code,
        Some(0),
        "the import plans to no changes:\n{}{}\n{}",
        plan.stdout,
        plan.stderr,
        std::fs::read_to_string(config).unwrap_or_default()
    );
}

/// Import, plan (no changes), import again (same bytes), and the same as a folder.
async fn round_trip(server: &Server, n: u64) {
    seed(server, n).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &server.base);
    let out = dir.path().join("directory.yaml");
    import(&server.token, &config, &out);
    let first = std::fs::read_to_string(&out).unwrap();
    assert!(first.starts_with("# yaml-language-server: $schema="));
    assert!(!first.contains(&server.token), "the token is never written");
    assert!(first.contains("token: ${IMPORT_TOKEN}"), "{first}");
    assert_no_changes(&server.token, &out);

    import_forced(&server.token, &config, &out);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        first,
        "re-import is byte-identical"
    );

    let folder = dir.path().join("folder/");
    import(&server.token, &config, &folder);
    for name in ["providers.yaml", "users.yaml", "groups.yaml", "roles.yaml"] {
        assert!(folder.join(name).is_file(), "{name} written");
    }
    assert_no_changes(&server.token, &folder);
}

#[tokio::test]
async fn random_directories_round_trip_on_the_embedded_server() {
    for n in 1..4 {
        let serve = Serve::start();
        round_trip(&Server::serve(&serve), n).await;
    }
}

#[tokio::test]
async fn random_directories_round_trip_on_scim2_server() {
    for n in 11..14 {
        let peer = PeerServer::start();
        round_trip(&Server::peer(&peer), n).await;
    }
}

/// Backup → reseed: populate, import, apply the import to a fresh empty server, and compare
/// the two directories field by field.
async fn reseed(source: &Server, fresh: &Server) {
    seed(source, 42).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &source.base);
    let backup = dir.path().join("backup.yaml");
    import(&source.token, &config, &backup);

    // The disaster: the directory is gone. Point the backup at the new server and apply it.
    let text = std::fs::read_to_string(&backup).unwrap();
    let text = text.replace(&source.base, &fresh.base);
    std::fs::write(&backup, text).unwrap();
    let apply = scim(
        &fresh.token,
        &["apply", "--auto-approve", "-f", backup.to_str().unwrap()],
    );
    assert_eq!(apply.code, Some(0), "{}{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains(" 0 failed, 0 skipped"),
        "{}",
        apply.stdout
    );
    assert_no_changes(&fresh.token, &backup);

    let (source_users, source_groups) = source.snapshot().await;
    let (fresh_users, fresh_groups) = fresh.snapshot().await;
    assert_eq!(
        source_users.keys().collect::<Vec<_>>(),
        fresh_users.keys().collect::<Vec<_>>()
    );
    for (name, user) in &source_users {
        assert_eq!(user, &fresh_users[name], "user {name}");
    }
    assert_eq!(source_groups, fresh_groups);
}

#[tokio::test]
async fn a_backup_reseeds_an_empty_embedded_server() {
    let source = Serve::start();
    let fresh = Serve::start();
    reseed(&Server::serve(&source), &Server::serve(&fresh)).await;
}

#[tokio::test]
async fn a_backup_reseeds_an_empty_scim2_server() {
    let source = PeerServer::start();
    let fresh = PeerServer::start();
    reseed(&Server::peer(&source), &Server::peer(&fresh)).await;
}

#[test]
fn an_unknown_provider_is_an_error_that_names_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), "https://scim.example.com/scim/v2");
    let out = scim(
        "x",
        &[
            "import",
            "--provider",
            "nope",
            "-f",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("--provider nope: no such provider") && out.stderr.contains("live"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_embedded_store_is_imported_with_its_path_relative_to_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimform.yaml");
    std::fs::write(
        &config,
        "version: 1\nproviders:\n  local:\n    url: embedded:store.db\n    preset: tonkean\nusers:\n  - userName: ada@example.com\n    active: false\ngroups:\n  - displayName: Empty\n    members: []\n",
    )
    .unwrap();
    let apply = scim(
        "x",
        &["apply", "--auto-approve", "-f", config.to_str().unwrap()],
    );
    assert_eq!(apply.code, Some(0), "{}", apply.stderr);
    std::fs::create_dir(dir.path().join("backup")).unwrap();
    let out = dir.path().join("backup/local.yaml");
    let run = scim(
        "x",
        &[
            "import",
            "-f",
            config.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("url: embedded:../store.db"), "{text}");
    assert!(text.contains("active: false"), "{text}");
    assert!(
        text.contains("- displayName: Empty\n    members: []"),
        "{text}"
    );
    assert_no_changes("x", &out);
}

/// Runs `import` on a blocking thread, so that a proxy on the test's runtime keeps serving.
async fn import_off_runtime(token: &str, config: &Path, out: &Path) -> Run {
    let (token, config, out) = (token.to_owned(), config.to_owned(), out.to_owned());
    tokio::task::spawn_blocking(move || {
        scim(
            &token,
            &[
                "import",
                "-f",
                config.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_listed_without_members_are_read_one_by_one() {
    let peer = PeerServer::start();
    let server = Server::peer(&peer);
    seed(&server, 5).await;
    let proxy = Rewriter::start(&peer.base_url, str::to_owned, |method, path, body| {
        if method == axum::http::Method::GET && path.ends_with("/Groups") {
            for group in body["Resources"].as_array_mut().into_iter().flatten() {
                group.as_object_mut().unwrap().remove("members");
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let through_proxy = dir.path().join("proxy");
    std::fs::create_dir(&through_proxy).unwrap();
    let direct = dir.path().join("direct");
    std::fs::create_dir(&direct).unwrap();

    let config = source_config(&through_proxy, &proxy.base_url);
    let out = import_off_runtime(PEER_TOKEN, &config, &through_proxy.join("d.yaml")).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let config = source_config(&direct, &peer.base_url);
    import(PEER_TOKEN, &config, &direct.join("d.yaml"));

    let read = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("d.yaml")).unwrap();
        text.split_once("\nusers:").unwrap().1.to_owned()
    };
    assert!(
        read(&direct).contains("    members:\n      - "),
        "the directory has members"
    );
    assert_eq!(
        read(&through_proxy),
        read(&direct),
        "members were read group by group, not taken as empty"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incomplete_listing_is_not_imported() {
    let peer = PeerServer::start();
    peer.bulk_users("m", 3).await;
    // The server claims one user more than it can list.
    let proxy = Rewriter::start(&peer.base_url, str::to_owned, |method, path, body| {
        if method == axum::http::Method::GET
            && path.ends_with("/Users")
            && let Some(total) = body["totalResults"].as_u64()
        {
            body["totalResults"] = Value::from(total + 1);
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &proxy.base_url);
    let target = dir.path().join("d.yaml");
    let out = import_off_runtime(PEER_TOKEN, &config, &target).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the server reported 4 users but listed 3 distinct ones"),
        "{}",
        out.stderr
    );
    assert!(!target.exists(), "nothing is written");
}

#[tokio::test]
async fn what_cannot_be_written_exactly_is_a_warning() {
    let peer = PeerServer::start();
    let ada = peer
        .user(json!({"userName": "ada@example.com", "active": true}))
        .await;
    let inner = peer.group("Inner", &[&ada]).await;
    // A group as a member: a config lists members by userName, so it cannot say this.
    peer.group("Outer", &[&ada, &inner]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &peer.base_url);
    let target = dir.path().join("d.yaml");
    let out = scim(
        PEER_TOKEN,
        &[
            "import",
            "-f",
            config.to_str().unwrap(),
            "-o",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "warning: group `Outer` has member `{inner}`, which is not a user of this server; it is left out"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Imported 1 user and 2 groups from provider `live` into"),
        "{}",
        out.stderr
    );
}

/// Every `displayName` of "Beta" in a JSON response, made "Alpha".
fn rename_beta(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "displayName" && item == "Beta" {
                    *item = json!("Alpha");
                } else {
                    rename_beta(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rename_beta),
        _ => {}
    }
}

/// Runs `import` with `args` on a blocking thread, so that a proxy on the test's runtime keeps
/// serving.
async fn import_args(token: &str, args: Vec<String>) -> Run {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        scim(&token, &args)
    })
    .await
    .unwrap()
}

/// A server holding what a config cannot declare — two groups of one displayName (the embedded
/// server refuses them, so a proxy renames one), an email without a dot in its domain — is not
/// imported: to stdout, to a file or to a folder, the import names each object and why, exits
/// 1, and prints or writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn what_a_config_cannot_declare_is_not_imported() {
    let serve = Serve::start();
    let server = Server::serve(&serve);
    let ada = server
        .call(
            reqwest::Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "ada@example.com", "emails": [{"value": "ada@x"}]})),
        )
        .await;
    let ada = ada["id"].as_str().unwrap().to_owned();
    for name in ["Alpha", "Beta"] {
        server
            .call(
                reqwest::Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name, "members": [{"value": ada}]})),
            )
            .await;
    }
    let proxy = Rewriter::start(&serve.base, str::to_owned, |_, _, body| rename_beta(body)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &proxy.base_url);
    let import = |out: Option<&Path>| {
        let mut args = vec![
            "import".to_owned(),
            "-f".to_owned(),
            config.display().to_string(),
        ];
        if let Some(out) = out {
            args.extend(["-o".to_owned(), out.display().to_string()]);
        }
        import_args(&serve.token, args)
    };

    let out = import(None).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "", "nothing is printed");
    for expected in [
        "group `Alpha` is declared twice",
        "╭─[<stdout>:",
        "user `ada@example.com`: `ada@x` is not an email address",
        "error: nothing was printed: the server holds what a config cannot declare",
    ] {
        assert!(out.stderr.contains(expected), "{expected}\n{}", out.stderr);
    }

    let file = dir.path().join("directory.yaml");
    let out = import(Some(&file)).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: nothing was written to {}: the server holds",
            file.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!file.exists(), "nothing is written");

    let folder = dir.path().join("backup/");
    let out = import(Some(&folder)).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("group `Alpha` is declared twice"),
        "{}",
        out.stderr
    );
    assert!(
        !folder.exists() || std::fs::read_dir(&folder).unwrap().next().is_none(),
        "nothing is written to the folder"
    );
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, ["source.yaml"], "no temporary file is left");
}

/// A folder or a file that already holds config is refused before the server is read: the
/// error names the files in the way and says `--force` overwrites them, nothing is written,
/// and no request is sent. Not the server's fault, and never said to be.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_into_a_folder_that_holds_config_is_refused_before_any_request() {
    let serve = Serve::start();
    let server = Server::serve(&serve);
    seed(&server, 3).await;
    let proxy = Rewriter::start(&serve.base, str::to_owned, |_, _, _| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &proxy.base_url);
    let folder = dir.path().join("directory");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(&config, folder.join("scimform.yaml")).unwrap();
    std::fs::write(folder.join("providers.yaml"), "version: 1\n# mine\n").unwrap();
    std::fs::write(folder.join("notes.txt"), "not config").unwrap();
    let before = contents(&folder);
    let import = |out: String| {
        let args = ["import", "-f", config.to_str().unwrap(), "-o", &out];
        import_args(&serve.token, args.map(str::to_owned).to_vec())
    };

    let out = import(format!("{}/", folder.display())).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: nothing was written to {0}/: the folder {0}/ already holds providers.yaml, \
             scimform.yaml; pass --force to overwrite providers.yaml (scimform.yaml is not a \
             file import writes: --force keeps it",
            folder.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("the server holds"), "{}", out.stderr);
    assert_eq!(contents(&folder), before, "nothing is written");

    // A folder of import's own files: `--force` overwrites them, and nothing else.
    let own = dir.path().join("backup");
    std::fs::create_dir(&own).unwrap();
    for name in ["roles.yaml", "users.yaml"] {
        std::fs::write(own.join(name), "version: 1\n").unwrap();
    }
    let out = import(own.display().to_string()).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the folder {} already holds roles.yaml, users.yaml; pass --force to overwrite them",
            own.display()
        )),
        "{}",
        out.stderr
    );

    // A file that exists.
    let file = dir.path().join("directory.yaml");
    std::fs::write(&file, "version: 1\n").unwrap();
    let out = import(file.display().to_string()).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "nothing was written to {0}: {0} already exists; pass --force to overwrite it",
            file.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "version: 1\n");
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "no request is sent before the target is checked"
    );

    // An empty folder and a new one take the import.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for target in [empty, dir.path().join("new/")] {
        let out = import(target.display().to_string()).await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(
            listing(&target),
            ["groups.yaml", "providers.yaml", "roles.yaml", "users.yaml"]
        );
    }
}

/// `--force` replaces what an earlier import wrote, file or folder, and the result plans
/// empty against the server as it is now.
#[tokio::test]
async fn with_force_an_import_replaces_an_earlier_one_and_plans_empty() {
    let serve = Serve::start();
    let server = Server::serve(&serve);
    seed(&server, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &serve.base);
    let folder = dir.path().join("backup/");
    let file = dir.path().join("backup.yaml");
    import(&serve.token, &config, &folder);
    import(&serve.token, &config, &file);

    server
        .call(
            reqwest::Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "late@example.com"})),
        )
        .await;
    for target in [&folder, &file] {
        let refused = scim(
            &serve.token,
            &[
                "import",
                "-f",
                config.to_str().unwrap(),
                "-o",
                target.to_str().unwrap(),
            ],
        );
        assert_eq!(refused.code, Some(1), "{}", refused.stderr);
        assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
        import_forced(&serve.token, &config, target);
        assert_no_changes(&serve.token, target);
    }
    assert!(
        std::fs::read_to_string(folder.join("users.yaml"))
            .unwrap()
            .contains("- userName: late@example.com"),
        "the folder holds the new user"
    );
    assert_eq!(
        listing(&folder),
        ["groups.yaml", "providers.yaml", "roles.yaml", "users.yaml"],
        "no temporary file is left"
    );
}

/// `--force` keeps config that import does not write, so the folder must still load and
/// plan empty as a whole: a file that declares the provider again, or more users, leaves the
/// folder as it was and is named as the cause; a file that goes with the import is kept.
#[tokio::test]
async fn with_force_other_config_in_the_folder_must_go_with_the_import() {
    let serve = Serve::start();
    let server = Server::serve(&serve);
    seed(&server, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let config = source_config(dir.path(), &serve.base);
    let folder = dir.path().join("backup");
    std::fs::create_dir(&folder).unwrap();
    import(&serve.token, &config, &folder);
    let force = |out: &Path| {
        scim(
            &serve.token,
            &[
                "import",
                "-f",
                config.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--force",
            ],
        )
    };

    let provider_again = "version: 1\nproviders:\n  live:\n    url: embedded:other\n";
    std::fs::write(folder.join("other.yaml"), provider_again).unwrap();
    let before = contents(&folder);
    let out = force(&folder);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    for expected in [
        "provider `live` is declared twice".to_owned(),
        format!(
            "first declared here at {}:3:3",
            folder.join("other.yaml").display()
        ),
        "the folder already holds other.yaml, which import does not write and --force \
         keeps, and the folder would not load with it"
            .to_owned(),
    ] {
        assert!(out.stderr.contains(&expected), "{expected}\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("the server holds"), "{}", out.stderr);
    assert_eq!(contents(&folder), before, "nothing is written");

    let more_users = "version: 1\nusers:\n  - userName: extra@example.com\n";
    std::fs::write(folder.join("other.yaml"), more_users).unwrap();
    let before = contents(&folder);
    let out = force(&folder);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "the folder already holds other.yaml, which import does not write and --force \
             keeps, and with it `plan` on the folder would create user `extra@example.com`"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(contents(&folder), before, "nothing is written");

    let harmless =
        "# Notes for reviewers: this folder is written by `scimform import`.\nversion: 1\n";
    std::fs::write(folder.join("other.yaml"), harmless).unwrap();
    let out = force(&folder);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(folder.join("other.yaml")).unwrap(),
        harmless
    );
    assert_no_changes(&serve.token, &folder);
}
