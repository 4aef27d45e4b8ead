//! Reading a JSON object's members without building a tree of it.
//!
//! A listing of 100,000 users is about 100 MB of JSON. Parsed into `serde_json::Value`s, every
//! object becomes a map of its own and the whole listing several times its size in memory
//! (SPEC §8). Reading a page as a list of members, each left as its JSON text borrowed from the
//! page (`RawValue`), costs one scan and no allocation per value; the caller then decodes only
//! the members it needs and keeps the rest as compact text.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The members of one JSON object, in the order written, each value as its JSON text.
pub struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The members of the object `json`; `None` when `json` is not an object.
    #[must_use]
    pub fn parse(json: &'a str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }

    /// The value of the member called `name`, compared case-insensitively (RFC 7643 §2.1);
    /// an exact match wins, then the last member written, as a JSON parser would keep it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .or_else(|| {
                self.0
                    .iter()
                    .rev()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
            })
            .map(|(_, value)| *value)
    }

    /// The string value of the member called `name`; `None` when absent or not a string.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<String> {
        self.get(name)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }

    /// Whether a member called `name` is present (and not `null`).
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|raw| raw.get() != "null")
    }

    /// The object again as compact JSON text, without the members `leave_out` names
    /// (case-insensitively).
    #[must_use]
    pub fn to_json_without(&self, leave_out: &[&str]) -> String {
        let length: usize = self
            .0
            .iter()
            .map(|(key, value)| key.len() + value.get().len() + 4)
            .sum();
        let mut text = String::with_capacity(length + 2);
        text.push('{');
        for (key, value) in &self.0 {
            if leave_out.iter().any(|l| key.eq_ignore_ascii_case(l)) {
                continue;
            }
            if text.len() > 1 {
                text.push(',');
            }
            push_json_string(&mut text, key);
            text.push(':');
            text.push_str(value.get());
        }
        text.push('}');
        text
    }
}

/// Appends `value` as a JSON string literal.
fn push_json_string(text: &mut String, value: &str) {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        text.push('"');
        text.push_str(value);
        text.push('"');
    } else {
        text.push_str(&serde_json::Value::from(value).to_string());
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(key)) = map.next_key()? {
                    members.push((key, map.next_value::<&RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A member name, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The items of a JSON array, each as its JSON text; `None` when `json` is not an array.
#[must_use]
pub fn items(json: &str) -> Option<Vec<&RawValue>> {
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn members_are_found_case_insensitively_and_an_exact_name_wins() {
        let text =
            r#"{"ID": "upper", "userName": "ada", "id": "exact", "meta": {"version": "W/\"1\""}}"#;
        let members = Members::parse(text).unwrap();
        assert_eq!(members.get_str("id").as_deref(), Some("exact"));
        assert_eq!(members.get_str("USERNAME").as_deref(), Some("ada"));
        assert!(members.has("Meta"));
        assert!(!members.has("groups"));
        assert!(Members::parse("[1]").is_none());
        assert!(Members::parse("{").is_none());
    }

    #[test]
    fn the_text_without_some_members_is_the_same_object_without_them() {
        let text = r#"{"id":"1","Meta":{"location":"x"},"na\"me":{"givenName":"Zoë"},"groups":[],"n":1.50,"e\u0041":null}"#;
        let members = Members::parse(text).unwrap();
        let slim = members.to_json_without(&["meta", "GROUPS"]);
        let mut expected: Value = serde_json::from_str(text).unwrap();
        let object = expected.as_object_mut().unwrap();
        object.remove("Meta");
        object.remove("groups");
        assert_eq!(serde_json::from_str::<Value>(&slim).unwrap(), expected);
        assert_eq!(
            Members::parse("{}").unwrap().to_json_without(&[]),
            json!({}).to_string()
        );
    }

    #[test]
    fn items_of_an_array_keep_their_text() {
        let found = items(r#"[{"a": 1}, "x", null]"#).unwrap();
        let texts: Vec<&str> = found.iter().map(|r| r.get()).collect();
        assert_eq!(texts, [r#"{"a": 1}"#, r#""x""#, "null"]);
        assert!(items("{}").is_none());
    }
}
