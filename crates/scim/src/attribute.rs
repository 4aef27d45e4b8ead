//! SCIM attribute names, matched as RFC 7643 §2.1 says: case-insensitively.
//!
//! Nothing stops a server from sending one attribute under two spellings (`"title"` and
//! `"TITLE"`), or one member twice. Every reader of live resources picks the member it reads
//! by the rule written here, so two readers of the same JSON never disagree:
//!
//! 1. the member spelled exactly as the attribute is named wins;
//! 2. failing that, of the other spellings, the one that sorts first (by bytes);
//! 3. a spelling written twice is read where it is written last, as `serde_json` keeps it
//!    (RFC 8259 §4 leaves repeated names to each parser).
//!
//! The rule looks at the names alone, not at where the members are: a resource streamed from a
//! page member by member ([`Pick`]) reads the same as the same JSON held as a
//! `serde_json::Value`, whose keys are sorted ([`get_ci`]).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::urn;

/// Whether the member name `key` names the attribute `name`.
#[must_use]
#[inline]
pub fn names(key: &str, name: &str) -> bool {
    // Attribute names are ASCII (RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`).
    key.eq_ignore_ascii_case(name)
}

/// Whether a member called `key` is read for the attribute `name` instead of the member
/// called `found` read before it; both name the attribute. See the module's rule.
fn prefer(key: &str, found: &str, name: &str) -> bool {
    key == name || (found != name && key <= found)
}

/// Among `members`, the value of the one read for the attribute `name`; `None` when no member
/// names it.
pub fn find<'k, V>(members: impl IntoIterator<Item = (&'k str, V)>, name: &str) -> Option<V> {
    let mut found: Option<(&str, V)> = None;
    for (key, value) in members {
        if names(key, name) && found.as_ref().is_none_or(|(at, _)| prefer(key, at, name)) {
            found = Some((key, value));
        }
    }
    found.map(|(_, value)| value)
}

/// The value of the attribute `name` in the JSON object `value`; `None` when `value` is not an
/// object or no member names the attribute.
#[must_use]
pub fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    get_ci_in(value.as_object()?, name)
}

/// The value of the attribute `name` among the members of `object`; `None` when no member
/// names it.
#[must_use]
pub fn get_ci_in<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    // An exact spelling wins, and a map holds each spelling once.
    object.get(name).or_else(|| {
        find(
            object.iter().map(|(key, value)| (key.as_str(), value)),
            name,
        )
    })
}

/// The spelling of the member of `object` the attribute `name` is read from, if any.
#[must_use]
pub fn key_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    find(object.keys().map(|key| (key.as_str(), key)), name)
}

/// The member read for one attribute while an object is read member by member: offer each
/// member that [`Pick::wants`], and the rule of this module decides.
#[derive(Debug)]
pub struct Pick<'k, T> {
    found: Option<(Cow<'k, str>, T)>,
}

impl<T> Default for Pick<'_, T> {
    fn default() -> Self {
        Pick { found: None }
    }
}

impl<'k, T> Pick<'k, T> {
    /// Whether the member called `key` is to be read for the attribute `name`: it names the
    /// attribute, and is preferred to the member read so far, if any.
    pub fn wants(&self, key: &str, name: &str) -> bool {
        names(key, name)
            && self
                .found
                .as_ref()
                .is_none_or(|(found, _)| prefer(key, found, name))
    }

    /// Keeps `value`, read from the member called `key`, which [`Pick::wants`].
    pub fn put(&mut self, key: Cow<'k, str>, value: T) {
        self.found = Some((key, value));
    }

    /// The value read for the attribute; `None` when no member named it.
    pub fn into_value(self) -> Option<T> {
        self.found.map(|(_, value)| value)
    }
}

/// Whether `key` starts with `urn:`, in any case: a schema URN, or an attribute path
/// qualified by one (`urn:…:User:employeeNumber`, RFC 7644 §3.10).
#[must_use]
pub fn has_urn_prefix(key: &str) -> bool {
    key.get(..urn::PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(urn::PREFIX))
}

/// Whether the member name `key` is a schema URN, under which a resource holds the
/// attributes of a schema extension (RFC 7643 §3.3).
#[must_use]
pub fn is_schema_urn(key: &str) -> bool {
    key.len() > urn::PREFIX.len() && has_urn_prefix(key)
}

/// Whether the `schemas` list `schemas` names the schema or message `urn`; URNs compare
/// case-insensitively, as attribute names do (RFC 7643 §2.1, §3).
#[must_use]
pub fn schemas_include(schemas: &[Value], urn: &str) -> bool {
    schemas
        .iter()
        .any(|s| s.as_str().is_some_and(|s| names(s, urn)))
}

/// Whether `value` is unassigned: RFC 7643 §2.5 makes null and an empty array equivalent to
/// an attribute that is absent. An empty string and an object whose attributes are all
/// unassigned are read the same way, since a server cannot hold less of them.
#[must_use]
pub fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.values().all(is_unassigned),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a member-by-member reading picks among `members`, written in this order.
    fn streamed<'a>(members: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
        let mut pick = Pick::default();
        for (key, value) in members {
            if pick.wants(key, name) {
                pick.put(Cow::Borrowed(*key), *value);
            }
        }
        pick.into_value()
    }

    #[test]
    fn the_exact_spelling_wins_then_the_one_that_sorts_first() {
        for (members, expected) in [
            (&[("title", "a"), ("TITLE", "b")][..], Some("a")),
            (&[("TITLE", "b"), ("title", "a")], Some("a")),
            (&[("Title", "c"), ("TITLE", "b")], Some("b")),
            (&[("TITLE", "b"), ("Title", "c")], Some("b")),
            (&[("title", "a"), ("title", "z")], Some("z")),
            (&[("TITLE", "b"), ("TITLE", "y"), ("tItle", "d")], Some("y")),
            (&[("nickName", "n")], None),
            (&[], None),
        ] {
            assert_eq!(streamed(members, "title"), expected, "{members:?}");
            // Every order of the same members reads the same, but for a spelling repeated.
            let mut reversed = members.to_vec();
            reversed.reverse();
            if members
                .iter()
                .all(|(k, _)| members.iter().filter(|(l, _)| l == k).count() == 1)
            {
                assert_eq!(streamed(&reversed, "title"), expected, "{reversed:?}");
            }
            assert_eq!(find(members.iter().copied(), "title"), expected);
            // A `Value` holds one member per spelling, the last written.
            let object: serde_json::Map<String, Value> = members
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            let value = Value::Object(object);
            assert_eq!(
                get_ci(&value, "title").and_then(Value::as_str),
                expected,
                "{members:?}"
            );
        }
        assert_eq!(get_ci(&json!(["title"]), "title"), None);
    }

    #[test]
    fn schema_urns_and_unassigned_values_are_recognised() {
        assert!(is_schema_urn("urn:scim:tonkean"));
        assert!(is_schema_urn("URN:x"));
        assert!(!is_schema_urn("urn:"));
        assert!(!is_schema_urn("userName"));
        assert!(!is_schema_urn("ürn:x"));
        for unassigned in [
            json!(null),
            json!(""),
            json!([]),
            json!({}),
            json!({"a": [], "b": null}),
        ] {
            assert!(is_unassigned(&unassigned), "{unassigned}");
        }
        for assigned in [
            json!(false),
            json!(0),
            json!(" "),
            json!([null]),
            json!({"a": 1}),
        ] {
            assert!(!is_unassigned(&assigned), "{assigned}");
        }
    }
}
