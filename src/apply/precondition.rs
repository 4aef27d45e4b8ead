//! Whether a saved plan still describes the server (README, Saved plans).
//!
//! A saved plan is only applied to the server it was computed against. Each object an op
//! touches is re-read, and only those: an object the plan saw is fetched by id, read as the
//! plan read it, and its `meta.version` (or, when the server keeps no versions, the hash of
//! what was read) compared with what the plan recorded; an object the plan would create is looked up by its key and
//! must still be missing. Everything that moved is reported at once, so the user sees why the
//! plan is stale. The reads go through the same retries as the writes of an apply.

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use reqwest::Method;
use scim::ResourceKind;
use scim::attribute::get_ci;

use super::create::key_of;
use crate::client::{ClientError, Keep, ScimClient};
use crate::plan::{Observed, ProviderPlan};
use crate::state::{LiveGroup, LiveUser};

/// How many objects are re-read at once.
const CONCURRENT_READS: usize = 8;

/// One object that is no longer as the plan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub resource: ResourceKind,
    /// userName or displayName, as in the plan.
    pub key: String,
    pub movement: Movement,
}

/// How an object moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Movement {
    /// Its version is not the one the plan saw.
    Version {
        planned: String,
        now: Option<String>,
    },
    /// The server keeps no versions, and the object's content changed.
    Changed,
    /// It was deleted.
    Gone,
    /// The plan would create it, and it exists now.
    Appeared { id: String },
}

impl fmt::Display for Moved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.resource.as_str(), self.key)?;
        match &self.movement {
            Movement::Version { planned, now } => write!(
                f,
                "version {planned} -> {}",
                now.as_deref().unwrap_or("(none)")
            ),
            Movement::Changed => write!(f, "changed since the plan was made"),
            Movement::Gone => write!(f, "deleted since the plan was made"),
            Movement::Appeared { id } => write!(f, "created since the plan was made (id {id})"),
        }
    }
}

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum PreconditionError {
    #[error("the plan is stale: {} objects changed since it was made", .0.len())]
    Moved(Vec<Moved>),
    #[error("the objects the plan touches could not be re-read: {0}")]
    Read(#[from] ClientError),
}

/// What to re-read for one object.
enum Check {
    Present {
        resource: ResourceKind,
        key: String,
        id: String,
        version: Option<String>,
        hash: String,
    },
    Absent {
        resource: ResourceKind,
        key: String,
    },
}

/// Re-reads every object `plan` touches and fails with all that moved since it was computed.
pub async fn check_preconditions(
    client: &ScimClient,
    plan: &ProviderPlan,
) -> Result<(), PreconditionError> {
    let mut seen = HashSet::new();
    let mut checks = Vec::new();
    for op in &plan.ops {
        match &op.observed {
            Observed::Present { id, version, hash } => {
                if seen.insert((op.resource, id.clone())) {
                    checks.push(Check::Present {
                        resource: op.resource,
                        key: op.key.clone(),
                        id: id.clone(),
                        version: version.clone(),
                        hash: hash.clone(),
                    });
                }
            }
            Observed::Absent => {
                let key = key_of(op, op.request.body.as_ref());
                if seen.insert((op.resource, key.to_lowercase())) {
                    checks.push(Check::Absent {
                        resource: op.resource,
                        key,
                    });
                }
            }
        }
    }
    // Each object is read again as the plan read it, so that the hashes compare.
    let keep = Keep::for_server(&plan.capabilities);
    let mut moved = Vec::new();
    let mut tasks = JoinSet::new();
    let mut pending = checks.into_iter();
    loop {
        while tasks.len() < CONCURRENT_READS {
            let Some(check) = pending.next() else { break };
            let client = client.clone();
            let span = match &check {
                Check::Present { resource, key, .. } | Check::Absent { resource, key } => {
                    crate::client::object_span(*resource, key)
                }
            };
            tasks.spawn(async move { run(&client, check, keep).await }.instrument(span));
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        if let Some(m) = joined.expect("a re-read task does not panic")? {
            moved.push(m);
        }
    }
    if moved.is_empty() {
        Ok(())
    } else {
        moved.sort_by(|a, b| (a.resource, &a.key).cmp(&(b.resource, &b.key)));
        Err(PreconditionError::Moved(moved))
    }
}

async fn run(client: &ScimClient, check: Check, keep: Keep) -> Result<Option<Moved>, ClientError> {
    match check {
        Check::Present {
            resource,
            key,
            id,
            version,
            hash,
        } => {
            let path = format!("{}/{id}", resource.endpoint());
            let result = client.send(Method::GET, &path, &[], None, None).await;
            let found = match result {
                Ok(response) => Some(response),
                Err(ClientError::Status { status: 404, .. }) => None,
                Err(error) => return Err(error),
            };
            let movement = match found {
                None => Some(Movement::Gone),
                Some(response) => {
                    let body = response.body.unwrap_or(Value::Null);
                    // A body that is not the resource tells nothing: it moved, as far as can be
                    // told.
                    let read = match resource {
                        ResourceKind::User => {
                            LiveUser::from_value(&body, keep).map(|u| (u.version.clone(), u.hash()))
                        }
                        ResourceKind::Group => LiveGroup::from_value(&body, keep)
                            .map(|g| (g.version.clone(), g.hash())),
                    };
                    let (now, now_hash) = read.unzip();
                    let now = now.flatten().or(response.etag);
                    match version {
                        Some(planned) if now.as_deref() != Some(planned.as_str()) => {
                            Some(Movement::Version { planned, now })
                        }
                        None if now_hash.as_ref() != Some(&hash) => Some(Movement::Changed),
                        Some(_) | None => None,
                    }
                }
            };
            Ok(movement.map(|movement| Moved {
                resource,
                key,
                movement,
            }))
        }
        Check::Absent { resource, key } => {
            let found: Vec<Value> = client
                .find_by(resource, resource.key_attribute(), &key, Keep::Managed)
                .await?;
            Ok(found.first().map(|object| Moved {
                resource,
                key,
                movement: Movement::Appeared {
                    id: get_ci(object, "id")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                },
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movements_read_as_one_line_each() {
        let moved = |movement| Moved {
            resource: ResourceKind::User,
            key: "ada@example.com".into(),
            movement,
        };
        assert_eq!(
            moved(Movement::Version {
                planned: "W/\"3\"".into(),
                now: Some("W/\"4\"".into())
            })
            .to_string(),
            "user ada@example.com: version W/\"3\" -> W/\"4\""
        );
        assert_eq!(
            moved(Movement::Gone).to_string(),
            "user ada@example.com: deleted since the plan was made"
        );
        assert_eq!(
            moved(Movement::Appeared { id: "7".into() }).to_string(),
            "user ada@example.com: created since the plan was made (id 7)"
        );
    }
}
