//! The plan: what `apply` will send, as a value (README, Plans; docs/plan-json.md).
//!
//! A plan is computed by [`crate::diff`] without any I/O, rendered by [`crate::render`], saved
//! as JSON by `plan --out`, and executed by `apply` without diffing again. Each [`Op`] carries
//! the exact SCIM request it will send and what was observed when it was computed, so a saved
//! plan can be checked for staleness by re-reading only the objects it touches.
//!
//! Ids of objects created earlier in the same run are written as RFC 7644 §3.7.2 bulkId
//! references (`"bulkId:u3"`), in request bodies and as the last path segment; the executor
//! substitutes the server-assigned id before sending, or sends them as they are inside `/Bulk`.

use std::collections::BTreeMap;

use scim::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Capabilities, ListingCheck};

/// The version of the saved-plan and `--format json` document. Bumped on any change that a
/// reader could notice. Version 2: `config_digest` covers what the config says rather than
/// its bytes, and is made of the digests of its files, recorded in `config_files`.
pub const FORMAT_VERSION: u32 = 2;

/// A whole plan: one part per provider, in config order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// A digest of the config the plan was computed from (`sha256:<hex>`):
    /// [`crate::digest::of_config_files`] of `config_files`.
    pub config_digest: String,
    /// The digest of what each file of the config says, comments and layout aside, by file
    /// name: how a stale plan names the file that changed.
    pub config_files: BTreeMap<String, String>,
    /// A digest of the config's digest and of every provider's part, operations included
    /// (`sha256:<hex>`): a saved plan edited afterwards no longer matches it.
    #[serde(default)]
    pub digest: String,
    /// Where the config is, relative to the folder of the saved plan (or absolute), so that
    /// `apply PLAN` finds it without `-f`. Written by `plan --out` only; not covered by
    /// `digest`, since the config is checked by `config_digest` wherever it is found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    pub providers: Vec<ProviderPlan>,
}

impl Plan {
    /// The plan of `providers`, computed from the config whose files' digests are
    /// `config_files`, with its own digest.
    #[must_use]
    pub fn new(config_files: BTreeMap<String, String>, providers: Vec<ProviderPlan>) -> Self {
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            config_digest: crate::digest::of_config_files(&config_files),
            config_files,
            digest: String::new(),
            config_path: None,
            providers,
        };
        plan.digest = plan.computed_digest();
        plan
    }

    /// What the plan's `digest` must be: over the config's digest, a newline, and the
    /// providers' parts as compact JSON with object keys sorted.
    #[must_use]
    pub fn computed_digest(&self) -> String {
        // As a JSON value first, so that object keys come sorted, as any tool can write them.
        let providers = serde_json::to_value(&self.providers)
            .and_then(|providers| serde_json::to_vec(&providers))
            .expect("a plan holds only strings, numbers and JSON values, all serializable");
        crate::digest::sha256_hex_of_parts([
            self.config_digest.as_bytes(),
            b"\n".as_slice(),
            providers.as_slice(),
        ])
    }

    /// Whether applying the plan would send no write at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.providers.iter().all(|p| p.ops.is_empty())
    }

    /// Totals over every provider.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for provider in &self.providers {
            summary.add(&provider.summary());
        }
        summary
    }
}

/// The plan for one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderPlan {
    pub provider: String,
    /// The provider's URL as written in the config, `${VAR}` references unresolved.
    pub url: String,
    /// The server the plan was made against: its URL as resolved, and what identifies it. A
    /// saved plan is applied to this server only. Absent only in plans saved by older releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
    pub capabilities: Capabilities,
    /// How many requests reading the server took.
    pub reads: usize,
    /// How many users the server held when it was read.
    pub existing_users: usize,
    /// Server objects the config does not manage, left alone (README, What the plan names).
    pub unmanaged: Unmanaged,
    /// What a reviewer should look at before applying: unmanaged users that hold roles, and
    /// declared objects that look like renames of objects the config does not declare.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// Whether apply sends each phase's independent writes together in `/Bulk` requests
    /// (asked for with `--bulk`, and only where the server offers it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bulk: bool,
    /// What a reviewer should know about how apply writes to this server, such as `--bulk`
    /// asked of a server that offers no `/Bulk`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How the server was read where listing it was not enough; absent for most servers.
    #[serde(default, skip_serializing_if = "Reading::is_plain")]
    pub reading: Reading,
    /// The ops, in execution order: by phase, then by key.
    pub ops: Vec<Op>,
}

/// The server a provider's plan was made against (README, Saved plans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The provider's URL resolved: scheme, host, port and path, without any user, password,
    /// query or fragment (which may hold secrets); or `embedded:` and the store's absolute path.
    pub url: String,
    /// What the server announces of itself, to tell it from another server at the same URL.
    /// Read for saved plans (`plan --out`) only, at the cost of one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ServerIdentity>,
}

/// Digests of what a server says about itself (RFC 7644 §4): its `/ServiceProviderConfig` and
/// `/ResourceTypes`, each as a JSON value with object keys sorted, without `meta` (which holds
/// the server's own URL and timestamps), and with `Resources` in a set order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// `sha256:<hex>` of `GET /ServiceProviderConfig`.
    pub service_provider_config: String,
    /// `sha256:<hex>` of `GET /ResourceTypes`, or `None` where the server does not serve it
    /// (it answered 501, or 4xx other than 408 and 429).
    #[serde(default)]
    pub resource_types: Option<String>,
}

/// What reading a server took beyond its listings, for the reviewer to know: listings that
/// failed a check (README, Plans) and group members the server does not show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// Listings that failed a check: the plan infers nothing from what they leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untrusted_listings: Vec<UntrustedListing>,
    /// How group members were read, when the server shows none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_members: Option<MemberLookups>,
}

impl Reading {
    /// Whether the server was read by listing it alone.
    #[must_use]
    pub fn is_plain(&self) -> bool {
        self.untrusted_listings.is_empty() && self.hidden_members.is_none()
    }
}

/// A listing that failed a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntrustedListing {
    pub resource: ResourceKind,
    pub check: ListingCheck,
    /// What the server answered, naming the request.
    pub detail: String,
}

/// Group members read with a member filter, one listing of `/Groups` per user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLookups {
    /// The filtered attribute: `members.value` or `members`.
    pub filter: String,
    /// The users asked about.
    pub users: usize,
    /// The requests it took, included in `reads`.
    pub requests: usize,
    /// The memberships found (a group and a user in it); none means the groups are empty.
    #[serde(default)]
    pub memberships: usize,
}

impl MemberLookups {
    /// The note of a plan or an import on these reads, `filter` shown as given (render passes
    /// it sanitized). Finding no membership, the groups hold no members, whether or not the
    /// server would show them.
    #[must_use]
    pub fn note(&self, filter: &str) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let read = format!(
            "{}, one GET /Groups?filter={filter} eq \"<user id>\" per user ({})",
            plural(self.requests, "request", "requests"),
            plural(self.users, "user", "users"),
        );
        if self.memberships == 0 {
            format!(
                "no group showed a member on GET /Groups or GET /Groups/{{id}}, nor did {read}: \
                 the groups hold no members"
            )
        } else {
            format!("{}; they were read with {read}", shows_no_group_members!())
        }
    }
}

impl ProviderPlan {
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            unmanaged_users: self.unmanaged.users,
            unmanaged_groups: self.unmanaged.groups,
            ..Summary::default()
        };
        for op in &self.ops {
            match op.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Deactivate => summary.deactivate += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        summary.requests = self.write_requests();
        summary
    }

    /// How many write requests apply sends: one per op, or, with [`ProviderPlan::bulk`], one
    /// per `/Bulk` batch of the independent ops of each phase plus one per op left alone.
    #[must_use]
    pub fn write_requests(&self) -> usize {
        let (true, Some(limits)) = (self.bulk, self.capabilities.bulk) else {
            return self.ops.len();
        };
        let mut requests = 0;
        for phase in Phase::ALL {
            let ops: Vec<&Op> = self.ops.iter().filter(|op| op.phase == phase).collect();
            let (independent, ordered) = independent_writes(&ops);
            requests += ordered;
            let (batches, singles) = bulk_batches(independent, limits, |op| op.bulk_size());
            requests += batches.len() + singles.len();
        }
        requests
    }
}

/// Splits one phase's ops into those that may share a `/Bulk` request and the count of those
/// that may not: an object written more than once in a phase keeps its writes in order, one
/// request at a time. Creates always stand alone as objects.
pub fn independent_writes<T: AsRef<Op>>(ops: &[T]) -> (Vec<&T>, usize) {
    let mut writes_per_path: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::new();
    for op in ops {
        let op = op.as_ref();
        if op.request.method != Method::Post {
            *writes_per_path.entry(op.request.path.as_str()).or_default() += 1;
        }
    }
    let mut independent = Vec::new();
    let mut ordered = 0;
    for item in ops {
        let op = item.as_ref();
        if op.request.method == Method::Post || writes_per_path[op.request.path.as_str()] == 1 {
            independent.push(item);
        } else {
            ordered += 1;
        }
    }
    (independent, ordered)
}

/// The share of `maxPayloadSize` a bulk request is filled to, leaving room for the envelope.
const BULK_PAYLOAD_SHARE: f64 = 0.9;

/// Groups items into `/Bulk` requests within the server's limits (RFC 7644 §3.7). An item too
/// large for any request on its own, and a batch of one, come back as singles.
pub fn bulk_batches<T>(
    items: Vec<T>,
    limits: crate::client::BulkLimits,
    size_of: impl Fn(&T) -> usize,
) -> (Vec<Vec<T>>, Vec<T>) {
    let max_operations = limits.max_operations.max(1);
    let max_payload = (limits.max_payload_size as f64 * BULK_PAYLOAD_SHARE) as usize;
    let mut batches: Vec<Vec<T>> = Vec::new();
    let mut singles = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut size = 0;
    for item in items {
        let item_size = size_of(&item);
        if item_size > max_payload {
            singles.push(item);
            continue;
        }
        if current.len() == max_operations || size + item_size > max_payload {
            batches.push(std::mem::take(&mut current));
            size = 0;
        }
        size += item_size;
        current.push(item);
    }
    batches.push(current);
    let mut requests = Vec::new();
    for batch in batches {
        if batch.len() == 1 {
            singles.extend(batch);
        } else if !batch.is_empty() {
            requests.push(batch);
        }
    }
    (requests, singles)
}

impl AsRef<Op> for Op {
    fn as_ref(&self) -> &Op {
        self
    }
}

impl Op {
    /// The size of this op as one operation of a `/Bulk` request, in bytes: near enough to the
    /// size sent, where ids replace bulkId references.
    #[must_use]
    pub fn bulk_size(&self) -> usize {
        let operation = serde_json::json!({
            "method": self.request.method.as_str(),
            "path": self.request.path,
            "bulkId": self.bulk_id,
            "data": self.request.body,
        });
        operation.to_string().len() + 1
    }
}

/// Server objects the config does not manage (README, What the plan names): how many, and which.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    /// Users on the server the config does not declare, counted from `totalResults`.
    pub users: usize,
    /// Groups, likewise.
    pub groups: usize,
    /// The userName of each unmanaged user the plan read, sorted. Every one of them when the
    /// plan listed the server; fewer than `users` when it looked the declared users up by
    /// filter instead (README, What the plan names) and so never read the others.
    #[serde(default)]
    pub user_names: Vec<String>,
    /// The displayName of each unmanaged group the plan read, sorted; as `user_names`.
    #[serde(default)]
    pub group_names: Vec<String>,
}

/// Something in a provider's plan a reviewer should look at before applying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// An unmanaged user holds roles, which the plan leaves as they are.
    UnmanagedRoles {
        /// Its userName.
        user: String,
        /// The role values it holds, sorted.
        roles: Vec<String>,
        /// Its `active` flag, when the server holds one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        active: Option<bool>,
    },
    /// A declared user or group the plan creates looks like a server object the config does
    /// not declare, under another name: a rename that no externalId ties to that object, so
    /// the object is not renamed but left alone or, with `prune: true`, replaced.
    LikelyRename {
        resource: ResourceKind,
        /// The declared object's key (userName or displayName), created by the plan.
        key: String,
        /// The key of the server object it looks like.
        of: String,
        /// What they have in common, e.g. `same email ada@example.com`.
        because: String,
        /// What the plan does to the server object.
        then: RenameOutcome,
        /// The server object's externalId, when it holds one: declared on the new object, it
        /// makes the plan rename the old one in place.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
}

/// What a plan does to the server object a created one looks like a rename of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenameOutcome {
    /// Nothing: it is unmanaged (`prune: false`) and keeps its name, attributes and roles.
    LeftAlone,
    /// It is deprovisioned or deleted as pruned: the new object replaces it.
    Replaced,
}

/// Counts for a summary line, by action: the words of [`Action`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    /// Ops with action `deactivate`.
    pub deactivate: usize,
    /// Ops with action `delete`.
    pub delete: usize,
    /// Write requests apply will send.
    pub requests: usize,
    pub unmanaged_users: usize,
    pub unmanaged_groups: usize,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.create += other.create;
        self.update += other.update;
        self.deactivate += other.deactivate;
        self.delete += other.delete;
        self.requests += other.requests;
        // Unmanaged counts come from what servers claim to hold, which may be anything.
        self.unmanaged_users = self.unmanaged_users.saturating_add(other.unmanaged_users);
        self.unmanaged_groups = self.unmanaged_groups.saturating_add(other.unmanaged_groups);
    }
}

/// The order ops run in (README, Plans). Ops of one phase are independent of each other and may run
/// concurrently; a phase starts when the one before it has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Create and update users.
    Users,
    /// Create and update groups, adding members.
    Groups,
    /// Add members to groups created without them, on services that refuse members in
    /// `POST /Groups` (README, Provider profiles): the group's id is known only once the
    /// create has run.
    AddMembers,
    /// Remove members from groups.
    RemoveMembers,
    /// Deactivate or delete users.
    DeprovisionUsers,
    /// Delete groups.
    DeleteGroups,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Users,
        Phase::Groups,
        Phase::AddMembers,
        Phase::RemoveMembers,
        Phase::DeprovisionUsers,
        Phase::DeleteGroups,
    ];
}

/// What an op does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// `PATCH active=false` (`deprovision: deactivate`).
    Deactivate,
    Delete,
}

/// One write to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub phase: Phase,
    pub action: Action,
    pub resource: ResourceKind,
    /// The object's key as declared: userName or displayName.
    pub key: String,
    /// Why: the object is a tombstone, or pruned as absent from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// For creates: the bulkId by which later ops refer to the new object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// What changes, for people: attribute, old value, new value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The request apply sends.
    pub request: Request,
    /// What the op was computed from.
    pub observed: Observed,
    /// bulkIds of creates this op refers to; it is skipped if one of them fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// Why an object is deprovisioned or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `absent: true` in the config.
    Tombstone,
    /// Not in the config, and the provider has `prune: true`.
    Pruned,
}

/// One attribute's change, for display. `None` means absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub attribute: String,
    #[serde(default)]
    pub old: Option<Value>,
    #[serde(default)]
    pub new: Option<Value>,
}

/// An HTTP request, relative to the provider's base URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: Method,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// The HTTP methods SCIM writes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Action {
    /// The action as people read it: `create`, `update`, `deactivate`, `delete`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Deactivate => "deactivate",
            Action::Delete => "delete",
        }
    }
}

impl Method {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What was observed of the op's object when the plan was computed (README, Saved plans).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Observed {
    /// No such object: a create. Still true if a lookup by the key finds nothing.
    Absent,
    /// The object with this id, at this version, whose managed attributes hashed to `hash`.
    Present {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        hash: String,
    },
}

/// The prefix of a bulkId reference (RFC 7644 §3.7.2).
pub const BULK_ID_PREFIX: &str = "bulkId:";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::BulkLimits;

    fn op(phase: Phase, method: Method, path: &str) -> Op {
        Op {
            phase,
            action: Action::Update,
            resource: ResourceKind::User,
            key: path.to_owned(),
            reason: None,
            bulk_id: None,
            changes: Vec::new(),
            request: Request {
                method,
                path: path.to_owned(),
                body: Some(serde_json::json!({"userName": "x"})),
            },
            observed: Observed::Absent,
            depends_on: Vec::new(),
        }
    }

    fn plan(bulk: bool, max_operations: usize) -> ProviderPlan {
        ProviderPlan {
            provider: "p".into(),
            url: "https://scim.example.com/scim/v2".into(),
            server: None,
            capabilities: Capabilities {
                bulk: Some(BulkLimits {
                    max_operations,
                    max_payload_size: 1_048_576,
                }),
                ..Capabilities::default()
            },
            reads: 3,
            existing_users: 0,
            unmanaged: Unmanaged::default(),
            warnings: Vec::new(),
            bulk,
            notes: Vec::new(),
            reading: Reading::default(),
            ops: vec![
                op(Phase::Users, Method::Post, "/Users"),
                op(Phase::Users, Method::Post, "/Users"),
                op(Phase::Users, Method::Post, "/Users"),
                op(Phase::Users, Method::Patch, "/Users/1"),
                // A group whose membership change is split: its two writes stay in order.
                op(Phase::Groups, Method::Patch, "/Groups/g"),
                op(Phase::Groups, Method::Patch, "/Groups/g"),
                op(Phase::Groups, Method::Patch, "/Groups/h"),
            ],
        }
    }

    #[test]
    fn a_plan_counts_one_request_per_op_without_bulk() {
        assert_eq!(plan(false, 1000).write_requests(), 7);
        assert_eq!(plan(false, 1000).summary().requests, 7);
    }

    #[test]
    fn with_bulk_independent_writes_of_a_phase_share_requests() {
        // Users: one batch of four. Groups: g's two writes alone, h alone (a batch of one).
        assert_eq!(plan(true, 1000).write_requests(), 4);
        // At most two operations per bulk request: users take two batches.
        assert_eq!(plan(true, 2).write_requests(), 5);
    }

    #[test]
    fn batches_respect_the_payload_limit_and_leave_oversized_items_alone() {
        let limits = BulkLimits {
            max_operations: 10,
            max_payload_size: 100,
        };
        // Requests are filled to 90% of the payload limit: 90 bytes here.
        let (batches, singles) = bulk_batches(vec![40, 40, 40, 500, 10], limits, |n| *n);
        assert_eq!(batches, vec![vec![40, 40], vec![40, 10]]);
        assert_eq!(singles, vec![500]);
    }
}
