//! A live resource held as compact JSON text.
//!
//! The plan compares every declared object with its live copy, but reads each live copy once.
//! Keeping 100,000 users as `serde_json::Value` trees costs about 3.5 KB each (every object is
//! a map of its own); the same users as text cost a few hundred bytes. The tree is built when
//! the diff looks at one resource, and dropped after (SPEC §8).

use std::fmt;

use serde_json::Value;

/// The attributes of a resource as the server sent them, minus the read-only `meta` and a
/// user's computed `groups`, kept as one JSON object's text.
#[derive(Clone, PartialEq, Eq)]
pub struct Resource(Box<str>);

impl Resource {
    /// Wraps JSON object text that a parser has read. `None` when the text holds a number no
    /// JSON tree can hold (one that overflows a float, such as `1e400`): such a resource could
    /// not be diffed or written back, and its page is refused as a whole.
    pub(super) fn from_text(text: impl Into<Box<str>>) -> Option<Self> {
        let text = text.into();
        if may_overflow(&text) && serde_json::from_str::<Value>(&text).is_err() {
            return None;
        }
        debug_assert!(serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()));
        Some(Resource(text))
    }

    /// The resource as a JSON tree.
    #[must_use]
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("a resource is JSON text it was made from")
    }

    /// The compact JSON text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the JSON `text` may hold a number that overflows a float: only one written with an
/// exponent, or with hundreds of digits, can. A quick scan that skips strings, so that the full
/// check runs only on the rare resource that needs it.
fn may_overflow(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        // Between strings: structure, literals and numbers.
        let quote = memchr::memchr(b'"', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        if numbers_may_overflow(&bytes[at..quote]) {
            return true;
        }
        // The string, skipped: its end is the next quote no backslash escapes.
        at = quote + 1;
        loop {
            let Some(n) = bytes
                .get(at..)
                .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
            else {
                return false;
            };
            at += n;
            if bytes[at] == b'"' {
                at += 1;
                break;
            }
            at += 2;
        }
    }
}

/// Whether JSON text outside strings holds a number with an exponent (a digit followed by
/// `e`; `true` and `false` have none) or a run of hundreds of digits.
fn numbers_may_overflow(outside: &[u8]) -> bool {
    let mut digits = 0;
    for pair in outside.windows(2) {
        if pair[0].is_ascii_digit() {
            digits += 1;
            if digits > 300 || matches!(pair[1], b'e' | b'E') {
                return true;
            }
        } else {
            digits = 0;
        }
    }
    false
}

impl From<Value> for Resource {
    /// A resource from a tree, as tests and single reads build them.
    fn from(value: Value) -> Self {
        Resource(value.to_string().into_boxed_str())
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_no_tree_can_hold_is_refused_and_others_kept() {
        let huge = format!("{{\"n\":1{}}}", "0".repeat(400));
        for bad in [r#"{"a":1e400}"#, r#"{"a":[{"b":-2E+999}]}"#, huge.as_str()] {
            assert!(may_overflow(bad), "{bad}");
            assert!(Resource::from_text(bad).is_none(), "{bad}");
        }
        for good in [
            r#"{"id":"9d0660fe-3e5","n":1.5e3,"s":"1e400 \" 2e999"}"#,
            r#"{"a":[1,-2,3.25],"b":true,"c":null}"#,
        ] {
            let resource = Resource::from_text(good).expect(good);
            assert_eq!(
                resource.value(),
                serde_json::from_str::<Value>(good).unwrap()
            );
        }
        assert!(!may_overflow(r#"{"s":"1e400","t":"\\","u":7}"#));
        assert!(!may_overflow(
            r#"{"a":true,"b":false,"c":[12,"5e5"],"d":"x\\\"1e9"}"#
        ));
        assert!(may_overflow(r#"{"s":"\\","n":7e1}"#));
        assert!(may_overflow("[1E5]"));
    }
}
