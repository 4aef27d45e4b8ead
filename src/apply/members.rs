//! A run never removes from a group a member it adds to it (docs/apply.md, Faults).
//!
//! A plan reads the users, then the groups. When another writer (another apply, an identity
//! provider) creates a user and puts it in a group between the two listings, the plan sees the
//! group hold an id that no user it read has: it plans to create the declared user, to add it
//! to the group by its bulkId, and to remove the unknown id. At apply the create meets the user
//! (409, or found after a lost response) and adopts it, so the bulkId resolves to that very id:
//! sent as planned, the group's PATCH would add the member and then remove it. Once the ids are
//! known, a removal of an id the run adds to the same group is left out of the request, and a
//! request with nothing left is not sent.
//!
//! Only the request bodies the plan writes are read here, through the readers `diff::group`
//! and `diff::patch` keep beside their writers: an `add` on `members` with a list of `{value}`,
//! a `remove` on `members` with such a list, and a `remove` whose path is
//! `members[value eq "<id>"]`. A body in any other form is sent as it is.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use crate::diff::group::{self, MEMBERS};
use crate::diff::patch::{self, Operation};

/// The body to send for a PATCH of a group the run has so far added the ids in `added` to:
/// `body` itself, or `body` without its removals of ids added to the group (by this body or
/// an earlier one of the run), or `None` when no operation is left to send. The ids `body`
/// adds are put in `added`.
pub(super) fn to_send<'a>(added: &mut HashSet<String>, body: &'a Value) -> Option<Cow<'a, Value>> {
    let Some(operations) = patch::operations_of(body) else {
        return Some(Cow::Borrowed(body));
    };
    for operation in &operations {
        if let Operation::Add { path, value } = operation
            && path == MEMBERS
        {
            added.extend(group::member_ids(value).map(str::to_owned));
        }
    }
    if added.is_empty() {
        return Some(Cow::Borrowed(body));
    }
    let is_added = |id: &str| added.contains(id);
    let mut changed = false;
    let mut kept = Vec::with_capacity(operations.len());
    for operation in operations {
        match operation {
            Operation::Remove { path }
                if group::value_path_member(&path).is_some_and(|id| is_added(&id)) =>
            {
                changed = true;
            }
            Operation::RemoveValues { path, mut value } if path == MEMBERS => {
                let Value::Array(list) = &mut value else {
                    kept.push(Operation::RemoveValues { path, value });
                    continue;
                };
                let before = list.len();
                list.retain(|entry| !group::member_id(entry).is_some_and(is_added));
                if list.len() == before {
                    kept.push(Operation::RemoveValues { path, value });
                } else {
                    changed = true;
                    if !list.is_empty() {
                        kept.push(Operation::RemoveValues { path, value });
                    }
                }
            }
            operation => kept.push(operation),
        }
    }
    if !changed {
        Some(Cow::Borrowed(body))
    } else if kept.is_empty() {
        None
    } else {
        Some(Cow::Owned(patch::patch_body(&kept)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn added(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    fn add(ids: &[&str]) -> Operation {
        Operation::Add {
            path: MEMBERS.into(),
            value: ids.iter().map(|id| json!({"value": id})).collect(),
        }
    }

    fn remove(id: &str) -> Operation {
        Operation::Remove {
            path: group::member_value_path(id),
        }
    }

    fn remove_values(ids: &[&str]) -> Operation {
        Operation::RemoveValues {
            path: MEMBERS.into(),
            value: ids.iter().map(|id| json!({"value": id})).collect(),
        }
    }

    #[test]
    fn the_added_ids_are_read_from_add_operations_on_members() {
        let body = patch::patch_body(&[
            Operation::Replace {
                path: "displayName".into(),
                value: json!("Ops"),
            },
            add(&["a", "b"]),
            remove("c"),
        ]);
        let mut ids = HashSet::new();
        assert_eq!(to_send(&mut ids, &body), Some(Cow::Borrowed(&body)));
        assert_eq!(ids, added(&["a", "b"]));
    }

    #[test]
    fn a_value_path_removal_of_an_added_id_is_left_out() {
        let body = patch::patch_body(&[add(&["a\"1"]), remove("a\"1"), remove("c")]);
        let sent = to_send(&mut HashSet::new(), &body).unwrap();
        assert_eq!(
            sent.into_owned(),
            patch::patch_body(&[add(&["a\"1"]), remove("c")])
        );
    }

    #[test]
    fn a_value_list_loses_the_added_ids_and_goes_when_empty() {
        let body = patch::patch_body(&[remove_values(&["a", "c"]), remove_values(&["b"])]);
        let mut ids = added(&["a", "b"]);
        let sent = to_send(&mut ids, &body).unwrap().into_owned();
        assert_eq!(sent, patch::patch_body(&[remove_values(&["c"])]));
        assert_eq!(to_send(&mut added(&["c"]), &sent), None);
    }

    #[test]
    fn a_body_removing_nothing_added_is_left_as_it_is() {
        let body = patch::patch_body(&[
            remove("c"),
            Operation::Remove {
                path: "externalId".into(),
            },
        ]);
        assert_eq!(
            to_send(&mut added(&["a"]), &body),
            Some(Cow::Borrowed(&body))
        );
    }

    #[test]
    fn a_value_list_on_another_attribute_is_not_a_member_removal() {
        let body = patch::patch_body(&[
            add(&["a"]),
            Operation::RemoveValues {
                path: "emails".into(),
                value: json!([{"value": "a"}]),
            },
        ]);
        assert_eq!(
            to_send(&mut HashSet::new(), &body),
            Some(Cow::Borrowed(&body))
        );
    }
}
