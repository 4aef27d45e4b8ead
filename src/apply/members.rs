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
//! Only the request bodies the plan writes are read here (`diff::group`): an `add` on
//! `members` with a list of `{value}`, a `remove` on `members` with such a list, and a `remove`
//! whose path is `members[value eq "<id>"]`.

use std::collections::HashSet;

use scim::patch::{OPERATIONS, Op};
use serde_json::Value;

const MEMBERS: &str = "members";
const VALUE_PATH_START: &str = "members[value eq ";

/// The member ids a PATCH body adds to its group.
pub(super) fn added(body: &Value) -> impl Iterator<Item = &str> {
    operations(body)
        .filter(|operation| verb(operation) == Some(Op::Add) && path(operation) == Some(MEMBERS))
        .flat_map(values)
}

/// `body` without the removals of the ids in `kept`, or `None` when it removes none of them.
/// The result may hold no operation at all.
pub(super) fn without_removals_of(body: &Value, kept: &HashSet<String>) -> Option<Value> {
    let is_kept = |id: &str| kept.contains(id);
    let touches = operations(body).any(|operation| removed(operation).any(|id| is_kept(&id)));
    if !touches {
        return None;
    }
    let mut body = body.clone();
    let list = body.get_mut(OPERATIONS)?.as_array_mut()?;
    list.retain_mut(|operation| {
        if verb(operation) != Some(Op::Remove) {
            return true;
        }
        if let Some(id) = path(operation).and_then(value_path_id) {
            return !is_kept(&id);
        }
        if let Some(Value::Array(values)) = operation.get_mut("value") {
            values.retain(|value| {
                !value
                    .get("value")
                    .and_then(Value::as_str)
                    .is_some_and(is_kept)
            });
            return !values.is_empty();
        }
        true
    });
    Some(body)
}

/// Whether a PATCH body has no operation left to send.
pub(super) fn is_empty(body: &Value) -> bool {
    operations(body).next().is_none()
}

fn operations(body: &Value) -> impl Iterator<Item = &Value> {
    body.get(OPERATIONS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn verb(operation: &Value) -> Option<Op> {
    operation
        .get("op")
        .and_then(Value::as_str)
        .and_then(Op::from_word)
}

fn path(operation: &Value) -> Option<&str> {
    operation.get("path").and_then(Value::as_str)
}

/// The `value` of each `{value}` in an operation's list.
fn values(operation: &Value) -> impl Iterator<Item = &str> {
    operation
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|value| value.get("value").and_then(Value::as_str))
}

/// The ids a `remove` operation takes out of `members`, in either form the plan writes.
fn removed(operation: &Value) -> Box<dyn Iterator<Item = String> + '_> {
    if verb(operation) != Some(Op::Remove) {
        return Box::new(std::iter::empty());
    }
    match path(operation) {
        Some(MEMBERS) => Box::new(values(operation).map(str::to_owned)),
        Some(path) => Box::new(value_path_id(path).into_iter()),
        None => Box::new(std::iter::empty()),
    }
}

/// The id in `members[value eq "<id>"]`, its value a JSON string as the plan writes it.
fn value_path_id(path: &str) -> Option<String> {
    let literal = path.strip_prefix(VALUE_PATH_START)?.strip_suffix(']')?;
    serde_json::from_str(literal).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kept(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn the_added_ids_are_read_from_add_operations_on_members() {
        let body = json!({"Operations": [
            {"op": "replace", "path": "displayName", "value": "Ops"},
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"c\"]"},
        ]});
        assert_eq!(added(&body).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_value_path_removal_of_an_added_id_is_left_out() {
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "a\"1"}]},
            {"op": "remove", "path": "members[value eq \"a\\\"1\"]"},
            {"op": "remove", "path": "members[value eq \"c\"]"},
        ]});
        let kept_body = without_removals_of(&body, &kept(&["a\"1"])).unwrap();
        assert_eq!(
            kept_body,
            json!({"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "a\"1"}]},
                {"op": "remove", "path": "members[value eq \"c\"]"},
            ]})
        );
    }

    #[test]
    fn a_value_list_loses_the_added_ids_and_goes_when_empty() {
        let body = json!({"Operations": [
            {"op": "remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]},
            {"op": "remove", "path": "members", "value": [{"value": "b"}]},
        ]});
        let kept_body = without_removals_of(&body, &kept(&["a", "b"])).unwrap();
        assert_eq!(
            kept_body,
            json!({"Operations": [
                {"op": "remove", "path": "members", "value": [{"value": "c"}]},
            ]})
        );
        let emptied = without_removals_of(&kept_body, &kept(&["c"])).unwrap();
        assert!(is_empty(&emptied));
    }

    #[test]
    fn a_body_removing_nothing_kept_is_left_as_it_is() {
        let body = json!({"Operations": [
            {"op": "remove", "path": "members[value eq \"c\"]"},
            {"op": "remove", "path": "externalId"},
        ]});
        assert_eq!(without_removals_of(&body, &kept(&["a"])), None);
        assert!(!is_empty(&body));
    }
}
