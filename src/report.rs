//! What an apply did (docs/apply.md, The report): every op of the plan, done, failed with the
//! server's own SCIM error (RFC 7644 §3.12), or skipped with the reason, and the counts the command
//! line turns into an exit code.
//!
//! The report is a value like the plan: the executor builds it, the command line renders it
//! (its `Display` is the human form) or serializes it.

use std::fmt;

use scim::ResourceKind;
use serde::Serialize;

use crate::client::ClientError;
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
    /// The HTTP status of the response the outcome rests on: the write's, or a create's 409
    /// for an adoption; `None` when skipped, or when no response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How long the op took, retries and lookups included, in milliseconds; for an op sent
    /// inside `/Bulk`, the time of its bulk request.
    pub elapsed_ms: u64,
}

/// Why a removal of members was not sent, as people read it.
const MEMBER_ADOPTED: &str =
    "not sent: the member it removed is the declared user, found when its create was adopted";

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
    /// A create found its object already there and took it over (docs/apply.md, Faults): the server
    /// answered 409 uniqueness, or the response to the POST was lost and a lookup found it.
    /// `updated` says whether a further write brought it in line with the create's body.
    Adopted { cause: AdoptCause, updated: bool },
    /// A DELETE answered 404: the object was already gone, which is what the op wanted.
    AlreadyGone,
    /// Not sent: the only members the PATCH removed are users this run adds to the group,
    /// known by their ids once their creates were adopted (docs/apply.md, Faults).
    MemberAdopted,
}

/// Why a create adopted an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdoptCause {
    /// 409 with scimType `uniqueness`: the object existed.
    Conflict,
    /// The POST's response was lost, and the object was found by its key (`lost_answer` in
    /// JSON, as it has always been written).
    #[serde(rename = "lost_answer")]
    LostResponse,
    /// Another create of the same group (another apply, at the same time) made it first: the
    /// copy this create made was deleted.
    Concurrent,
}

/// Why an op failed: the last error, with the server's SCIM error detail when it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The HTTP status of the server's error response; `None` when there was no response.
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

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = format!(
            "{} {} {}",
            self.action.as_str(),
            self.resource.as_str(),
            self.key
        );
        match &self.outcome {
            Outcome::Done { note, .. } => {
                write!(f, "done     {what}")?;
                match note {
                    Some(Note::Adopted { cause, updated }) => {
                        let why = adopt_reason(*cause);
                        let then = if *updated { ", then updated it" } else { "" };
                        write!(f, " (adopted the existing object: {why}{then})")
                    }
                    Some(Note::AlreadyGone) => write!(f, " (it was already gone)"),
                    Some(Note::MemberAdopted) => write!(f, " ({MEMBER_ADOPTED})"),
                    None => Ok(()),
                }
            }
            Outcome::Failed(failure) => write!(f, "failed   {what}: {}", failure.message),
            Outcome::Skipped { reason } => write!(f, "skipped  {what}: {reason}"),
        }
    }
}

/// One line of the audit trail apply prints as each op finishes: what became of it, the
/// object, the id the server holds it under, and the server's response.
///
/// ```text
///   created     user ada@example.com  id=2819c223  (201, 84 ms)
///   adopted     user bob@example.com  id=7d1f0c2e  (409, 31 ms; it already existed, then updated it)
///   deleted     group Contractors  id=e9e30dba  (404, 3 ms; it was already gone)
///   failed      create group Owners  (409 uniqueness: displayName is taken; 12 ms)
///   skipped     update group Owners  (it depends on user ada@example.com, whose create failed)
/// ```
///
/// The first word is the outcome: the action done, in the past tense (`adopted` for a create
/// that took over an existing object, `unchanged` for a removal of members left unsent because
/// the run adds them), or `failed` or `skipped` followed by the action, as the
/// final report says them. Fields are separated by two spaces; text from the server has its
/// control characters escaped, so one op is always one line.
pub struct AuditLine<'a>(pub &'a Entry);

impl fmt::Display for AuditLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::render::sanitize;
        let entry = self.0;
        let object = format!("{} {}", entry.resource.as_str(), sanitize(&entry.key));
        let elapsed = entry.elapsed_ms;
        match &entry.outcome {
            Outcome::Done { id, note } => {
                let verb = match (entry.action, note) {
                    (_, Some(Note::Adopted { .. })) => "adopted",
                    (_, Some(Note::MemberAdopted)) => "unchanged",
                    (Action::Create, _) => "created",
                    (Action::Update, _) => "updated",
                    (Action::Deactivate, _) => "deactivated",
                    (Action::Delete, _) => "deleted",
                };
                write!(f, "  {verb:<11} {object}")?;
                if let Some(id) = id {
                    write!(f, "  id={}", sanitize(id))?;
                }
                f.write_str("  (")?;
                if let Some(status) = entry.status {
                    write!(f, "{status}, ")?;
                }
                write!(f, "{elapsed} ms")?;
                match note {
                    Some(Note::Adopted { cause, updated }) => {
                        let then = if *updated { ", then updated it" } else { "" };
                        write!(f, "; {}{then}", adopt_reason(*cause))?;
                    }
                    Some(Note::AlreadyGone) => f.write_str("; it was already gone")?,
                    Some(Note::MemberAdopted) => write!(f, "; {MEMBER_ADOPTED}")?,
                    None => {}
                }
                f.write_str(")")
            }
            Outcome::Failed(failure) => {
                let action = entry.action.as_str();
                let why = match (failure.status, &failure.detail) {
                    (Some(status), detail) => {
                        let mut why = status.to_string();
                        if let Some(scim_type) = &failure.scim_type {
                            why.push(' ');
                            why.push_str(scim_type);
                        }
                        if let Some(detail) = detail {
                            why.push_str(": ");
                            why.push_str(detail);
                        }
                        why
                    }
                    (None, _) => failure.message.clone(),
                };
                write!(
                    f,
                    "  {:<11} {action} {object}  ({}; {elapsed} ms)",
                    "failed",
                    sanitize(&why)
                )
            }
            Outcome::Skipped { reason } => {
                let action = entry.action.as_str();
                write!(
                    f,
                    "  {:<11} {action} {object}  ({})",
                    "skipped",
                    sanitize(reason)
                )
            }
        }
    }
}

fn adopt_reason(cause: AdoptCause) -> &'static str {
    match cause {
        AdoptCause::Conflict => "it already existed",
        AdoptCause::LostResponse => "the answer to the create was lost",
        AdoptCause::Concurrent => {
            "another create made it at the same time; this run's copy was deleted"
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: Action, resource: ResourceKind, key: &str, outcome: Outcome) -> Entry {
        Entry {
            index: 0,
            phase: Phase::Users,
            action,
            resource,
            key: key.to_owned(),
            method: Method::Post,
            path: "/Users".to_owned(),
            outcome,
            attempts: 1,
            status: Some(201),
            elapsed_ms: 84,
        }
    }

    fn line(entry: &Entry) -> String {
        AuditLine(entry).to_string()
    }

    #[test]
    fn an_audit_line_names_the_outcome_object_id_and_response() {
        let done = |id: &str| Outcome::Done {
            id: Some(id.to_owned()),
            note: None,
        };
        let created = entry(
            Action::Create,
            ResourceKind::User,
            "ada@example.com",
            done("2819c223"),
        );
        assert_eq!(
            line(&created),
            "  created     user ada@example.com  id=2819c223  (201, 84 ms)"
        );
        let deactivated = Entry {
            status: Some(204),
            ..entry(
                Action::Deactivate,
                ResourceKind::User,
                "bob@example.com",
                done("7d1f"),
            )
        };
        assert_eq!(
            line(&deactivated),
            "  deactivated user bob@example.com  id=7d1f  (204, 84 ms)"
        );
        let gone = Entry {
            status: Some(404),
            ..entry(
                Action::Delete,
                ResourceKind::Group,
                "Contractors",
                Outcome::Done {
                    id: Some("e9".to_owned()),
                    note: Some(Note::AlreadyGone),
                },
            )
        };
        assert_eq!(
            line(&gone),
            "  deleted     group Contractors  id=e9  (404, 84 ms; it was already gone)"
        );
        let adopted = Entry {
            status: Some(409),
            ..entry(
                Action::Create,
                ResourceKind::User,
                "eve@example.com",
                Outcome::Done {
                    id: Some("42".to_owned()),
                    note: Some(Note::Adopted {
                        cause: AdoptCause::Conflict,
                        updated: true,
                    }),
                },
            )
        };
        assert_eq!(
            line(&adopted),
            "  adopted     user eve@example.com  id=42  (409, 84 ms; it already existed, then \
             updated it)"
        );
        let unknown_id = Entry {
            status: None,
            ..entry(
                Action::Update,
                ResourceKind::Group,
                "Platform Team",
                Outcome::Done {
                    id: None,
                    note: None,
                },
            )
        };
        assert_eq!(
            line(&unknown_id),
            "  updated     group Platform Team  (84 ms)"
        );
    }

    #[test]
    fn failed_and_skipped_lines_say_the_action_and_why() {
        let failed = Entry {
            status: Some(409),
            ..entry(
                Action::Create,
                ResourceKind::Group,
                "Owners",
                Outcome::Failed(Failure {
                    status: Some(409),
                    scim_type: Some("uniqueness".to_owned()),
                    detail: Some("displayName is taken".to_owned()),
                    message: "POST /Groups: the server answered 409".to_owned(),
                }),
            )
        };
        assert_eq!(
            line(&failed),
            "  failed      create group Owners  (409 uniqueness: displayName is taken; 84 ms)"
        );
        let no_response = entry(
            Action::Update,
            ResourceKind::User,
            "ada@example.com",
            Outcome::Failed(Failure::other("PATCH /Users/1: could not reach the server")),
        );
        assert_eq!(
            line(&no_response),
            "  failed      update user ada@example.com  (PATCH /Users/1: could not reach the \
             server; 84 ms)"
        );
        let skipped = Entry {
            status: None,
            elapsed_ms: 0,
            ..entry(
                Action::Update,
                ResourceKind::Group,
                "Owners",
                Outcome::Skipped {
                    reason: "it depends on user ada@example.com, whose create failed".to_owned(),
                },
            )
        };
        assert_eq!(
            line(&skipped),
            "  skipped     update group Owners  (it depends on user ada@example.com, whose \
             create failed)"
        );
    }

    #[test]
    fn text_from_the_server_cannot_break_the_line() {
        let hostile = entry(
            Action::Delete,
            ResourceKind::User,
            "mallory\n  created     user root",
            Outcome::Done {
                id: Some("x\ny".to_owned()),
                note: None,
            },
        );
        let text = line(&hostile);
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
