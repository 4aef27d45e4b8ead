//! `scimform plan` against the embedded SCIM server, at directory sizes with targets
//! (docs/benchmarks.md, Targets): requests sent, wall time, client CPU time and client peak
//! memory.
//!
//! Each size gets a fresh store, seeded directly through the server's own store module in one
//! transaction (seeding over `/Bulk` would commit every operation on its own, and the seed is
//! not what is measured). `scimform serve` then runs as a child process over that store, and
//! `scimform plan -f CONFIG --format json` runs as another child against it, with a config that
//! differs from the server for 5% of the users and of the groups. The plan child is started by a
//! small probe — this same binary, re-executed — whose only child it is, so that the probe's
//! `getrusage(RUSAGE_CHILDREN)` is exactly the plan's CPU time and peak RSS.
//!
//! Sizes default to 1,000, 10,000 and 100,000 users (groups: one per 20 users);
//! `SCIMFORM_BENCH_SIZES=1000,10000` picks others. The plan runs three times per size against
//! the same server (`SCIMFORM_BENCH_RUNS=N` for another count): the table shows the median run's
//! wall and CPU time, the lowest and highest CPU time, and the highest peak memory, since a
//! shared machine's timings vary from run to run. Run with `cargo bench --bench plan`.

#[path = "support/probe.rs"]
mod probe;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use scim::ResourceKind;
use scim::urn::{GROUP, TONKEAN, USER};
use scim_server::{ids, resource, store};
use serde_json::{Value, json};

const SIZES_ENV: &str = "SCIMFORM_BENCH_SIZES";
const RUNS_ENV: &str = "SCIMFORM_BENCH_RUNS";
const DEFAULT_RUNS: usize = 3;
/// When set, each size's store, token and config are kept (their folder is printed), for
/// profiling the plan by hand.
const KEEP_ENV: &str = "SCIMFORM_BENCH_KEEP";
const DEFAULT_SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// Users per group; 100,000 users make 5,000 groups.
const GROUP_SIZE: usize = 20;
/// Users per config file: a large directory is split across files (README, Several files), and each
/// file stays well inside the YAML parser's per-file node budget.
const USERS_PER_FILE: usize = 5_000;
const GROUPS_PER_FILE: usize = 1_000;
const TOKEN: &str = "bench-token-0123456789abcdef";

const PROCESS_CONTRIBUTOR: &str = "PROCESS_CONTRIBUTOR";
const SYSTEM_USER: &str = "SYSTEM_USER";

fn main() {
    probe::run_if_probe();
    let sizes = sizes();
    let runs = runs();
    println!(
        "{:>8} {:>7} {:>6} {:>9} {:>9} {:>11} {:>15} {:>9}",
        "users", "groups", "ops", "requests", "wall", "client CPU", "CPU min-max", "peak RSS"
    );
    for users in sizes {
        let mut rows = measure(&Scenario::new(users), runs);
        // The runs in the order they ran, to stderr: a first run slower than the rest (a cold
        // server) shows here and not in the table.
        let each: Vec<String> = (rows.iter())
            .map(|row| format!("{:.2}", row.cpu.as_secs_f64()))
            .collect();
        eprintln!(
            "{users} users: client CPU of each run, in order: {} s",
            each.join(", ")
        );
        rows.sort_by_key(|row| row.cpu);
        let median = &rows[rows.len() / 2];
        let (least, most) = (&rows[0], &rows[rows.len() - 1]);
        let peak_rss_kb = rows.iter().map(|row| row.peak_rss_kb).max().unwrap_or(0);
        println!(
            "{:>8} {:>7} {:>6} {:>9} {:>7.2} s {:>9.2} s {:>6.2}-{:.2} s {:>6} MB",
            median.users,
            median.groups,
            median.ops,
            median.requests,
            median.wall.as_secs_f64(),
            median.cpu.as_secs_f64(),
            least.cpu.as_secs_f64(),
            most.cpu.as_secs_f64(),
            peak_rss_kb / 1024,
        );
    }
}

fn runs() -> usize {
    std::env::var(RUNS_ENV).map_or(DEFAULT_RUNS, |text| {
        text.trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("{RUNS_ENV}: {text:?} is not a number of runs"))
    })
}

fn sizes() -> Vec<usize> {
    match std::env::var(SIZES_ENV) {
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{SIZES_ENV}: {s:?} is not a number of users"))
            })
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    }
}

/// One line of the table.
struct Measured {
    users: usize,
    groups: usize,
    ops: usize,
    requests: u64,
    wall: Duration,
    cpu: Duration,
    peak_rss_kb: u64,
}

/// What drifts for user `i`, one user in 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drift {
    /// The server holds an old title: one PATCH.
    Title,
    /// The server lacks the user: one POST, and its group gains a member.
    Missing,
    /// The server holds the wrong role set: one PATCH.
    Roles,
    /// The server holds an undeclared user (unmanaged) in the user's group: the group loses a
    /// member.
    ExtraMember,
}

/// A directory of `users` users and `users / 20` groups, and how the server departs from it.
struct Scenario {
    users: usize,
    groups: usize,
}

impl Scenario {
    fn new(users: usize) -> Self {
        Self {
            users,
            groups: (users / GROUP_SIZE).max(1),
        }
    }

    fn user_name(i: usize) -> String {
        format!("user{i}@example.com")
    }

    fn group_name(j: usize) -> String {
        format!("Group {j}")
    }

    fn title(i: usize) -> String {
        format!("Title {}", i % 50)
    }

    fn group_of(&self, i: usize) -> usize {
        i % self.groups
    }

    fn drift(i: usize) -> Option<Drift> {
        (i % 20 == 7).then_some(match (i / 20) % 4 {
            0 => Drift::Title,
            1 => Drift::Missing,
            2 => Drift::Roles,
            _ => Drift::ExtraMember,
        })
    }

    /// Whether the server lacks the first declared member of group `j`.
    fn group_lacks_first_member(j: usize) -> bool {
        j % 20 == 3
    }

    /// The roles the config gives user `i`: `PROCESS_CONTRIBUTOR` directly to one user in
    /// three, `SYSTEM_USER` through every tenth group.
    fn roles(&self, i: usize) -> Vec<&'static str> {
        let mut roles = Vec::new();
        if i.is_multiple_of(3) {
            roles.push(PROCESS_CONTRIBUTOR);
        }
        if self.group_of(i).is_multiple_of(10) {
            roles.push(SYSTEM_USER);
        }
        roles
    }

    /// How many ops a correct plan holds: one per drifted user, one per group whose members
    /// differ.
    fn expected_ops(&self) -> usize {
        let mut groups = BTreeSet::new();
        let mut users = 0;
        for i in 0..self.users {
            if let Some(drift) = Self::drift(i) {
                match drift {
                    Drift::Title | Drift::Roles => users += 1,
                    Drift::Missing => {
                        users += 1;
                        groups.insert(self.group_of(i));
                    }
                    Drift::ExtraMember => {
                        groups.insert(self.group_of(i));
                    }
                }
            }
        }
        groups.extend((0..self.groups).filter(|&j| Self::group_lacks_first_member(j)));
        users + groups.len()
    }

    /// Fills an empty store with what the server holds, in one transaction.
    fn seed(&self, path: &Path) {
        let mut conn = store::open(path).expect("the store opens");
        let tx = conn.transaction().expect("a transaction starts");
        let now = ids::now();
        let insert = |kind, body: Value| -> String {
            let id = ids::resource_id().expect("an id");
            let row = store::Row {
                id: id.clone(),
                kind,
                created: now.clone(),
                last_modified: now.clone(),
                version: 1,
                body: resource::validate(kind, &body).expect("a valid resource"),
            };
            store::insert(&tx, &row).expect("the row inserts");
            id
        };
        let mut members: Vec<Vec<String>> = vec![Vec::new(); self.groups];
        for i in 0..self.users {
            let drift = Self::drift(i);
            if drift == Some(Drift::Missing) {
                continue;
            }
            let mut roles = self.roles(i);
            let mut title = Self::title(i);
            match drift {
                Some(Drift::Title) => "Former title".clone_into(&mut title),
                Some(Drift::Roles) => {
                    if roles.first() == Some(&PROCESS_CONTRIBUTOR) {
                        roles.remove(0);
                    } else {
                        roles.insert(0, PROCESS_CONTRIBUTOR);
                    }
                }
                _ => {}
            }
            let id = insert(ResourceKind::User, Self::server_user(i, &title, &roles));
            let group = self.group_of(i);
            let first_member = i < self.groups;
            if !(first_member && Self::group_lacks_first_member(group)) {
                members[group].push(id);
            }
            if drift == Some(Drift::ExtraMember) {
                let extra = json!({
                    "schemas": [USER],
                    "userName": format!("extra{i}@example.com"),
                    "active": true,
                });
                members[group].push(insert(ResourceKind::User, extra));
            }
        }
        for (j, ids) in members.iter().enumerate() {
            let list: Vec<Value> = ids
                .iter()
                .map(|id| json!({"value": id, "type": "User"}))
                .collect();
            let mut body = json!({"schemas": [GROUP], "displayName": Self::group_name(j)});
            if !list.is_empty() {
                body["members"] = Value::Array(list);
            }
            let id = insert(ResourceKind::Group, body);
            store::set_members(&tx, &id, ids).expect("members are stored");
        }
        tx.commit().expect("the seed commits");
    }

    fn server_user(i: usize, title: &str, roles: &[&str]) -> Value {
        let user_name = Self::user_name(i);
        let mut user = json!({
            "schemas": [USER, TONKEAN],
            "userName": user_name,
            "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
            "displayName": format!("Given{i} Family{i}"),
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "externalId": format!("ext-{i}"),
            "active": true,
            "title": title,
        });
        if !roles.is_empty() {
            user[TONKEAN] = json!({"tonkeanRoles": roles});
        }
        user
    }

    /// Writes the config folder: providers, users split across files, groups, roles.
    fn write_config(&self, dir: &Path, url: &str, token_file: &Path) {
        std::fs::create_dir_all(dir).expect("the config folder");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).expect("a config file");
        };
        write(
            "providers.yaml",
            &format!(
                "version: 1\nproviders:\n  bench:\n    url: {url}\n    token_file: {}\n    preset: tonkean\n",
                token_file.display()
            ),
        );
        for (n, start) in (0..self.users).step_by(USERS_PER_FILE).enumerate() {
            let mut text = String::from("version: 1\nusers:\n");
            for i in start..(start + USERS_PER_FILE).min(self.users) {
                let user_name = Self::user_name(i);
                let _ = write!(
                    text,
                    "  - userName: {user_name}\n    name: {{ givenName: Given{i}, familyName: Family{i} }}\n    displayName: Given{i} Family{i}\n    emails: [{user_name}]\n    externalId: ext-{i}\n    active: true\n    title: {}\n",
                    Self::title(i)
                );
            }
            write(&format!("users-{n:03}.yaml"), &text);
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); self.groups];
        for i in 0..self.users {
            members[self.group_of(i)].push(i);
        }
        for (n, start) in (0..self.groups).step_by(GROUPS_PER_FILE).enumerate() {
            let mut text = String::from("version: 1\ngroups:\n");
            for (j, users) in members.iter().enumerate().skip(start).take(GROUPS_PER_FILE) {
                let names: Vec<String> = users.iter().map(|&i| Self::user_name(i)).collect();
                let _ = write!(
                    text,
                    "  - displayName: {}\n    members: [{}]\n",
                    Self::group_name(j),
                    names.join(", ")
                );
            }
            write(&format!("groups-{n:03}.yaml"), &text);
        }
        let contributors: Vec<String> = (0..self.users)
            .filter(|i| i.is_multiple_of(3))
            .map(Self::user_name)
            .collect();
        let system_groups: Vec<String> = (0..self.groups)
            .filter(|j| j.is_multiple_of(10))
            .map(Self::group_name)
            .collect();
        write(
            "roles.yaml",
            &format!(
                "version: 1\nroles:\n  {PROCESS_CONTRIBUTOR}:\n    users: [{}]\n  {SYSTEM_USER}:\n    groups: [{}]\n",
                contributors.join(", "),
                system_groups.join(", ")
            ),
        );
    }
}

/// Seeds a server for `scenario`, plans against it `runs` times, and measures each plan.
fn measure(scenario: &Scenario, runs: usize) -> Vec<Measured> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store_path = dir.path().join("store.db");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).expect("the token file");
    scenario.seed(&store_path);

    let mut server = Server::start(&store_path, &token_file);
    let config = dir.path().join("config");
    scenario.write_config(&config, &server.base_url, &token_file);

    let measured = (0..runs)
        .map(|_| plan_once(scenario, &config, &dir.path().join("probe")))
        .collect();
    server.stop();
    if std::env::var_os(KEEP_ENV).is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
    measured
}

/// Runs the plan once through the probe, checks it, and reads the probe's measurements.
fn plan_once(scenario: &Scenario, config: &Path, probe_out: &Path) -> Measured {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimform"));
    command
        .arg("plan")
        .arg("-f")
        .arg(config)
        .args(["--format", "json"]);
    let probed = probe::measure(&command, probe_out);
    let output = &probed.output;
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "plan failed ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).expect("the plan is JSON");
    let provider = &plan["providers"][0];
    let ops = provider["ops"].as_array().map_or(0, Vec::len);
    assert_eq!(
        ops,
        scenario.expected_ops(),
        "the plan should hold one op per drifted user and per group whose members differ"
    );
    Measured {
        users: scenario.users,
        groups: scenario.groups,
        ops,
        requests: provider["reads"].as_u64().expect("providers[0].reads"),
        wall: probed.wall,
        cpu: probed.cpu,
        peak_rss_kb: probed.peak_rss_kb,
    }
}

/// `scimform serve` as a child process.
struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    fn start(store: &Path, token_file: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scimform"))
            .arg("serve")
            .arg("--store")
            .arg(store)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--token-file")
            .arg(token_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("scimform serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its base URL");
        let base_url = line.trim().to_owned();
        assert!(base_url.starts_with("http://"), "serve printed {line:?}");
        Self { child, base_url }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
