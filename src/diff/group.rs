//! Groups: displayName, externalId and members (README, Groups). A declared member list is
//! authoritative: members the server has and the file does not are removed.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use scim::profile::{MemberRemoval, Profile};

use super::patch::Operation;
use crate::config::{Group, Managed};
use crate::plan::Change;
use crate::state::LiveGroup;

/// A member as the plan refers to it: a server id, or the bulkId of a user created earlier in
/// the same run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    /// The id, or `bulkId:…`.
    pub reference: String,
    /// The userName, for people.
    pub user_name: String,
}

/// What changes on one group.
#[derive(Debug, Default)]
pub struct GroupDiff {
    pub changes: Vec<Change>,
    /// displayName / externalId operations.
    pub attributes: Vec<Operation>,
    pub added: Vec<Member>,
    /// Ids to remove, with the name to show (the userName when the server's user is known).
    pub removed: Vec<Member>,
}

impl GroupDiff {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    /// The PATCH operations in the server's dialect, members added (and, where removals
    /// list values, removed) in operations of at most `dialect.per_request` members.
    pub fn operations(&self, dialect: &Dialect) -> Vec<Operation> {
        let per_request = dialect.per_request.max(1);
        let mut operations: Vec<Operation> = (self.attributes.iter().cloned())
            .map(|operation| dialect.attribute(operation))
            .collect();
        for chunk in self.added.chunks(per_request) {
            operations.push(Operation::Add {
                path: MEMBERS.into(),
                value: members_json(chunk),
            });
        }
        match dialect.removal {
            MemberRemoval::ValuePath => {
                for member in &self.removed {
                    operations.push(Operation::Remove {
                        path: member_value_path(&member.reference),
                    });
                }
            }
            MemberRemoval::ValueList => {
                for chunk in self.removed.chunks(per_request) {
                    operations.push(Operation::RemoveValues {
                        path: MEMBERS.into(),
                        value: members_json(chunk),
                    });
                }
            }
        }
        operations
    }
}

/// How a group's PATCH is written for its server: what its profile documents (README,
/// Provider profiles), or plain RFC 7644 when the config names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Whether `replace` is accepted; where it is not, `add` sets a single-valued attribute.
    pub replace: bool,
    pub removal: MemberRemoval,
    /// The most members one request adds and removes.
    pub per_request: usize,
    /// The most members `POST /Groups` carries; the rest are added by PATCH.
    pub members_per_create: usize,
}

impl Dialect {
    /// The dialect of a server whose service's profile is `profile`.
    #[must_use]
    pub fn of(profile: Option<&Profile>) -> Self {
        let rfc = Dialect {
            replace: true,
            removal: MemberRemoval::ValuePath,
            per_request: super::MEMBERS_PER_REQUEST,
            members_per_create: usize::MAX,
        };
        let Some(profile) = profile else {
            return rfc;
        };
        let patch = profile.group_patch;
        let per_request = (patch.member_changes_per_request)
            .map_or(rfc.per_request, |most| most.min(rfc.per_request));
        Dialect {
            replace: patch.replace,
            removal: patch.member_removal,
            per_request,
            members_per_create: if patch.members_on_create {
                per_request
            } else {
                0
            },
        }
    }

    /// `operation` as the server accepts it: a `replace` becomes an `add` where `replace` is
    /// refused, which sets a single-valued attribute all the same (RFC 7644 §3.5.2.1).
    fn attribute(&self, operation: Operation) -> Operation {
        match operation {
            Operation::Replace { path, value } if !self.replace => Operation::Add { path, value },
            operation => operation,
        }
    }
}

/// Diffs a declared group against the server's. `desired` is `None` when the file leaves the
/// members alone; `live_members` pairs each server member id with a name to show.
pub fn diff(
    group: &Group,
    live: &LiveGroup,
    desired: Option<&BTreeSet<Member>>,
    live_members: &BTreeSet<Member>,
) -> GroupDiff {
    let mut diff = GroupDiff::default();
    if live.display_name != group.display_name {
        let new = Value::String(group.display_name.clone());
        diff.changes.push(Change {
            attribute: "displayName".into(),
            old: Some(Value::String(live.display_name.clone())),
            new: Some(new.clone()),
        });
        diff.attributes.push(Operation::Replace {
            path: "displayName".into(),
            value: new,
        });
    }
    let live_external = live
        .external_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(|id| Value::String(id.to_owned()));
    let live_external = live_external.as_ref();
    match &group.external_id {
        Managed::Unmanaged => {}
        Managed::Remove => {
            if let Some(old) = live_external {
                diff.changes.push(Change {
                    attribute: "externalId".into(),
                    old: Some(old.clone()),
                    new: None,
                });
                diff.attributes.push(Operation::Remove {
                    path: "externalId".into(),
                });
            }
        }
        Managed::Set(id) => {
            if live_external.and_then(Value::as_str) != Some(id.as_str()) {
                let new = Value::String(id.clone());
                diff.changes.push(Change {
                    attribute: "externalId".into(),
                    old: live_external.cloned(),
                    new: Some(new.clone()),
                });
                diff.attributes.push(Operation::Replace {
                    path: "externalId".into(),
                    value: new,
                });
            }
        }
    }
    if let Some(desired) = desired {
        let live_ids: BTreeSet<&str> = live_members.iter().map(|m| m.reference.as_str()).collect();
        let desired_ids: BTreeSet<&str> = desired.iter().map(|m| m.reference.as_str()).collect();
        diff.added = desired
            .iter()
            .filter(|m| !live_ids.contains(m.reference.as_str()))
            .cloned()
            .collect();
        diff.removed = live_members
            .iter()
            .filter(|m| !desired_ids.contains(m.reference.as_str()))
            .cloned()
            .collect();
        if !diff.added.is_empty() || !diff.removed.is_empty() {
            diff.changes.push(Change {
                attribute: MEMBERS.into(),
                old: Some(names(live_members.iter())),
                new: Some(names(desired.iter())),
            });
        }
    }
    diff
}

fn names<'a>(members: impl Iterator<Item = &'a Member>) -> Value {
    let mut names: Vec<&str> = members.map(|m| m.user_name.as_str()).collect();
    names.sort_unstable();
    Value::from(names)
}

/// The multi-valued attribute a group's PATCH adds members to and removes them from.
pub const MEMBERS: &str = "members";

/// The sub-attribute of a member that holds its id (RFC 7643 §4.2).
const VALUE: &str = "value";

/// The list of `{"value": <id>}` that adds (or, on some services, removes) `members`.
pub fn members_json<'m>(members: impl IntoIterator<Item = &'m Member>) -> Value {
    Value::Array(
        members
            .into_iter()
            .map(|m| json!({VALUE: m.reference}))
            .collect(),
    )
}

/// The id of one entry of a list [`members_json`] writes.
pub fn member_id(entry: &Value) -> Option<&str> {
    entry.get(VALUE).and_then(Value::as_str)
}

/// The ids of a list [`members_json`] writes.
pub fn member_ids(list: &Value) -> impl Iterator<Item = &str> {
    list.as_array().into_iter().flatten().filter_map(member_id)
}

/// The path that removes the member `id` by a value filter (RFC 7644 §3.5.2.2):
/// `members[value eq "<id>"]`, the id written as a JSON string so that any quote or
/// backslash in it is escaped.
pub fn member_value_path(id: &str) -> String {
    format!("{MEMBERS}[{VALUE} eq {}]", Value::String(id.to_owned()))
}

/// The id in a path [`member_value_path`] writes, or `None` for any other path.
pub fn value_path_member(path: &str) -> Option<String> {
    let filter = path
        .strip_prefix(MEMBERS)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let literal = filter.strip_prefix(VALUE)?.strip_prefix(" eq ")?;
    serde_json::from_str(literal).ok()
}

/// The POST body that creates `group` with the first `on_create` of `members`, and the changes
/// it shows: all of `members`, the rest being added by PATCH.
pub fn create(group: &Group, members: &BTreeSet<Member>, on_create: usize) -> (Value, Vec<Change>) {
    let mut body = json!({
        "schemas": [scim::urn::GROUP],
        "displayName": group.display_name,
    });
    let mut changes = Vec::new();
    if let Managed::Set(id) = &group.external_id {
        body["externalId"] = Value::String(id.clone());
        changes.push(Change {
            attribute: "externalId".into(),
            old: None,
            new: Some(Value::String(id.clone())),
        });
    }
    if !members.is_empty() {
        if on_create > 0 {
            body[MEMBERS] = members_json(members.iter().take(on_create));
        }
        changes.push(members_change(members));
    }
    (body, changes)
}

/// The change a new group's `members` shows.
pub fn members_change(members: &BTreeSet<Member>) -> Change {
    Change {
        attribute: MEMBERS.into(),
        old: None,
        new: Some(names(members.iter())),
    }
}

/// The PUT body for servers without PATCH: the group as the server has it, with the new
/// attributes and the whole desired member list.
pub fn put_body(live: &Value, diff: &GroupDiff, desired: Option<&BTreeSet<Member>>) -> Value {
    let mut body = super::patch::put_body(live, &diff.attributes);
    if let Some(desired) = desired {
        body[MEMBERS] = members_json(desired);
    }
    body
}

#[cfg(test)]
mod member_path_tests {
    use super::*;

    #[test]
    fn a_value_path_reads_back_the_id_it_was_written_with() {
        for id in [
            "a",
            "a\"1",
            "back\\slash",
            "ends]",
            "[value eq \"x\"]",
            "é 🦀",
            "",
        ] {
            let path = member_value_path(id);
            assert_eq!(value_path_member(&path).as_deref(), Some(id), "{path}");
        }
        assert_eq!(member_value_path("c"), "members[value eq \"c\"]");
    }

    #[test]
    fn other_paths_name_no_member() {
        for path in [
            "members",
            "displayName",
            "members[value eq c]",
            "members[display eq \"c\"]",
            "emails[value eq \"c\"]",
            "members[value eq \"c\"].display",
        ] {
            assert_eq!(value_path_member(path), None, "{path}");
        }
    }
}

#[cfg(test)]
mod dialect_tests {
    use scim::profile::{AWS_IDENTITY_CENTER, SLACK, TONKEAN};
    use serde_json::json;

    use super::*;

    fn member(i: usize) -> Member {
        Member {
            reference: format!("id-{i:03}"),
            user_name: format!("user{i}"),
        }
    }

    fn renamed_with(added: usize, removed: usize) -> GroupDiff {
        GroupDiff {
            attributes: vec![Operation::Replace {
                path: "displayName".into(),
                value: json!("Platform"),
            }],
            added: (0..added).map(member).collect(),
            removed: (added..added + removed).map(member).collect(),
            ..GroupDiff::default()
        }
    }

    #[test]
    fn without_a_profile_the_patch_is_plain_rfc_7644() {
        let rfc = Dialect::of(None);
        let operations = renamed_with(2, 2).operations(&rfc);
        assert!(matches!(operations[0], Operation::Replace { .. }));
        assert!(matches!(
            &operations[2],
            Operation::Remove { path } if path == "members[value eq \"id-002\"]"
        ));
        assert_eq!(rfc.members_per_create, usize::MAX);
        assert_eq!(Dialect::of(Some(&TONKEAN)).per_request, rfc.per_request);
    }

    #[test]
    fn aws_sets_with_add_removes_by_value_list_and_counts_every_member_change() {
        let aws = Dialect::of(Some(&AWS_IDENTITY_CENTER));
        let most = AWS_IDENTITY_CENTER
            .group_patch
            .member_changes_per_request
            .expect("AWS bounds member changes");
        assert_eq!(aws.per_request, most);
        let operations = renamed_with(most + 1, most + 1).operations(&aws);
        assert!(
            matches!(&operations[0], Operation::Add { path, .. } if path == "displayName"),
            "no replace on AWS groups: {operations:?}"
        );
        let removals: Vec<usize> = (operations.iter())
            .filter_map(|op| match op {
                Operation::RemoveValues { path, value } if path == "members" => {
                    value.as_array().map(Vec::len)
                }
                _ => None,
            })
            .collect();
        assert_eq!(removals, [most, 1]);
        let requests = super::super::patch::chunk(operations, aws.per_request);
        for request in &requests {
            let changes: usize = (request.iter())
                .filter(|op| !matches!(op, Operation::Add { path, .. } if path == "displayName"))
                .map(Operation::weight)
                .sum();
            assert!(changes <= most, "{changes} member changes in one request");
        }
        assert_eq!(aws.members_per_create, most);
    }

    #[test]
    fn slack_removes_by_value_filter_in_requests_of_its_batch() {
        let slack = Dialect::of(Some(&SLACK));
        // Never more than scimform's own bound, whatever the service takes.
        let documented = SLACK.group_patch.member_changes_per_request.unwrap();
        assert_eq!(
            slack.per_request,
            documented.min(super::super::MEMBERS_PER_REQUEST)
        );
        let removed = 2 * slack.per_request + 1;
        let operations = renamed_with(0, removed).operations(&slack);
        assert!(matches!(operations[0], Operation::Replace { .. }));
        assert_eq!(
            (operations.iter())
                .filter(|op| matches!(op, Operation::Remove { .. }))
                .count(),
            removed
        );
        // The rename and each removal weigh one: 1 + 2 × per_request + 1 in all.
        let requests = super::super::patch::chunk(operations, slack.per_request);
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, [slack.per_request, slack.per_request, 2]);
    }
}
