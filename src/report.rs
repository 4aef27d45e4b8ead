//! What an apply did (SPEC §4.2): every op of the plan, done, failed with the server's own
//! SCIM error (RFC 7644 §3.12), or skipped with the reason, and the counts the command line
//! turns into an exit code.
//!
//! The report is a value like the plan: the executor builds it, the command line renders it
//! (its `Display` is the human form) or serializes it.

use std::fmt;

use serde::Serialize;

use crate::client::{ClientError, ResourceKind};
use crate::plan::{Action, Method, Phase};

/// The outcome of applying one provider's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub provider: String,
    /// One entry per op, in plan order.
    pub entries: Vec<Entry>,
}

/// One op and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The op's position in the plan.
    pub index: usize,
    pub phase: Phase,
    pub action: Action,
    pub resource: ResourceKind,
    pub key: String,
    pub method: Method,
    /// The path as sent, bulkId references replaced by ids (as planned when skipped).
    pub path: String,
    pub outcome: Outcome,
    /// How many times the write itself was sent (0 when skipped; more than 1 after retries).
    pub attempts: u32,
}

/// What became of one op.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Done {
        /// The object's id: server-assigned for a create, `None` if the server never said.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<Note>,
    },
    Failed(Failure),
    Skipped {
        reason: String,
    },
}

impl Outcome {
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. })
    }
}

/// Something worth knowing about an op that was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// A create found its object already there and took it over (SPEC §4.3): the server
    /// answered 409 uniqueness, or the answer to the POST was lost and a lookup found it.
    /// `updated` says whether a further write brought it in line with the create's body.
    Adopted { cause: AdoptCause, updated: bool },
    /// A DELETE answered 404: the object was already gone, which is what the op wanted.
    AlreadyGone,
}

/// Why a create adopted an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdoptCause {
    /// 409 with scimType `uniqueness`: the object existed.
    Conflict,
    /// The POST's answer was lost, and the object was found by its key.
    LostAnswer,
    /// Another create of the same group (another apply, at the same time) made it first: the
    /// copy this create made was deleted.
    Concurrent,
}

/// Why an op failed: the last error, with the server's SCIM error detail when it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The HTTP status of the server's error answer; `None` when there was no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The whole error, one line, as shown to people.
    pub message: String,
}

impl Failure {
    #[must_use]
    pub fn from_error(error: &ClientError) -> Self {
        let (status, scim_type, detail) = match error {
            ClientError::Status {
                status,
                scim_type,
                detail,
                ..
            } => (Some(*status), scim_type.clone(), detail.clone()),
            _ => (None, None, None),
        };
        Failure {
            status,
            scim_type,
            detail,
            message: error.to_string(),
        }
    }

    /// A failure found by the executor itself, not answered by the server.
    #[must_use]
    pub fn other(message: impl Into<String>) -> Self {
        Failure {
            status: None,
            scim_type: None,
            detail: None,
            message: message.into(),
        }
    }
}

/// Counts over a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Of the done creates, those that adopted an existing object.
    pub adopted: usize,
    /// Write requests sent, retries included.
    pub attempts: usize,
}

impl Report {
    #[must_use]
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for entry in &self.entries {
            counts.attempts += entry.attempts as usize;
            match &entry.outcome {
                Outcome::Done { note, .. } => {
                    counts.done += 1;
                    if matches!(note, Some(Note::Adopted { .. })) {
                        counts.adopted += 1;
                    }
                }
                Outcome::Failed(_) => counts.failed += 1,
                Outcome::Skipped { .. } => counts.skipped += 1,
            }
        }
        counts
    }

    /// Whether every op was done: the command exits 1 otherwise.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.entries.iter().all(|e| e.outcome.is_done())
    }

    /// The entries that were not done, in plan order.
    pub fn problems(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.outcome.is_done())
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Deactivate => "deactivate",
        Action::Delete => "delete",
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = format!(
            "{} {} {}",
            action_name(self.action),
            kind_name(self.resource),
            self.key
        );
        match &self.outcome {
            Outcome::Done { note, .. } => {
                write!(f, "done     {what}")?;
                match note {
                    Some(Note::Adopted { cause, updated }) => {
                        let why = match cause {
                            AdoptCause::Conflict => "it already existed",
                            AdoptCause::LostAnswer => "the answer to the create was lost",
                            AdoptCause::Concurrent => {
                                "another create made it at the same time; this run's copy was deleted"
                            }
                        };
                        let then = if *updated { ", then updated it" } else { "" };
                        write!(f, " (adopted the existing object: {why}{then})")
                    }
                    Some(Note::AlreadyGone) => write!(f, " (it was already gone)"),
                    None => Ok(()),
                }
            }
            Outcome::Failed(failure) => write!(f, "failed   {what}: {}", failure.message),
            Outcome::Skipped { reason } => write!(f, "skipped  {what}: {reason}"),
        }
    }
}

/// The human report: what was not done, one line each, then the counts.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in self.problems() {
            writeln!(f, "{entry}")?;
        }
        let counts = self.counts();
        write!(
            f,
            "provider {}: {} done, {} failed, {} skipped",
            self.provider, counts.done, counts.failed, counts.skipped
        )?;
        if counts.adopted > 0 {
            write!(f, " ({} existing objects adopted)", counts.adopted)?;
        }
        writeln!(f)
    }
}
