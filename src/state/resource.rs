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
    /// Wraps JSON object text; it must be valid JSON (it comes from a parser).
    pub(super) fn from_text(text: impl Into<Box<str>>) -> Self {
        let text = text.into();
        debug_assert!(serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()));
        Resource(text)
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
