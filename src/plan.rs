//! The plan: what `apply` will send, as a value (SPEC §3.5, §3.8).
//!
//! A plan is computed by [`crate::diff`] without any I/O, rendered by [`crate::render`], saved
//! as JSON by `plan --out`, and executed by `apply` without diffing again. Each [`Op`] carries
//! the exact SCIM request it will send and what was observed when it was computed, so a saved
//! plan can be checked for staleness by re-reading only the objects it touches.
//!
//! Ids of objects created earlier in the same run are written as RFC 7644 §3.7.2 bulkId
//! references (`"bulkId:u3"`), in request bodies and as the last path segment; the executor
//! substitutes the server-assigned id before sending, or sends them as they are inside `/Bulk`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Capabilities, ResourceKind};

/// The version of the saved-plan and `--format json` document. Bumped on any change that a
/// reader could notice.
pub const FORMAT_VERSION: u32 = 1;

/// A whole plan: one part per provider, in config order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// A digest of the config the plan was computed from (`sha256:<hex>`).
    pub config_digest: String,
    pub providers: Vec<ProviderPlan>,
}

impl Plan {
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
    /// The provider's URL as written in the config: `${VAR}` references are not resolved, so
    /// nothing secret can end up here.
    pub url: String,
    pub capabilities: Capabilities,
    /// How many requests reading the server took.
    pub reads: usize,
    /// How many users the server held when it was read.
    pub existing_users: usize,
    /// Server objects the config does not manage, left alone (§3.4).
    pub unmanaged: Unmanaged,
    /// The ops, in execution order: by phase, then by key.
    pub ops: Vec<Op>,
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
                Action::Deactivate | Action::Delete => summary.destroy += 1,
            }
            summary.requests += 1;
        }
        summary
    }
}

/// Counts of server objects the config does not manage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub users: usize,
    pub groups: usize,
}

/// Counts for a summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    /// Deactivations and deletions.
    pub destroy: usize,
    /// Write requests apply will send.
    pub requests: usize,
    pub unmanaged_users: usize,
    pub unmanaged_groups: usize,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.create += other.create;
        self.update += other.update;
        self.destroy += other.destroy;
        self.requests += other.requests;
        self.unmanaged_users += other.unmanaged_users;
        self.unmanaged_groups += other.unmanaged_groups;
    }
}

/// The order ops run in (§3.5). Ops of one phase are independent of each other and may run
/// concurrently; a phase starts when the one before it has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Create and update users.
    Users,
    /// Create and update groups, adding members.
    Groups,
    /// Remove members from groups.
    RemoveMembers,
    /// Deactivate or delete users.
    DeprovisionUsers,
    /// Delete groups.
    DeleteGroups,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Users,
        Phase::Groups,
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

/// What was observed of the op's object when the plan was computed (§3.8).
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
