//! Reading a JSON object's members without building a tree of it.
//!
//! A listing of 100,000 users is about 100 MB of JSON. Parsed into `serde_json::Value`s, every
//! object becomes a map of its own and the whole listing several times its size in memory
//! (SPEC §8). Reading a page as a list of members, each left as its JSON text borrowed from the
//! page (`RawValue`), costs one scan and no allocation per value; the caller then decodes only
//! the members it needs and keeps the rest as compact text.
//!
//! A listing page is read in one pass instead ([`ObjectReader`], [`IfObject`]): each resource is
//! built while the page is parsed, so its text is scanned once, not once for the page, once for
//! the array and once for the resource. [`Pick`] keeps, among members of the same name, the one
//! [`Members::get`] would return.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
        self.get(name).and_then(string_of)
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

/// Appends `value` as a JSON string literal; returns whether it needed no escapes, that is
/// whether the text between the quotes is `value` itself.
pub(crate) fn push_json_string(text: &mut String, value: &str) -> bool {
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        text.push('"');
        text.push_str(value);
        text.push('"');
        true
    } else {
        text.push_str(&serde_json::Value::from(value).to_string());
        false
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
                while let Some(MemberName(key)) = map.next_key()? {
                    members.push((key, map.next_value::<&RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A member name, borrowed from the text unless it holds escapes.
pub(crate) struct MemberName<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberNameVisitor;
        impl<'de> Visitor<'de> for MemberNameVisitor {
            type Value = MemberName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(MemberNameVisitor)
    }
}

/// The value of one of several members whose names match case-insensitively, chosen as
/// [`Members::get`] chooses: an exact match wins, then the last member written.
pub(crate) struct Pick<V> {
    value: Option<V>,
    exact: bool,
}

impl<V> Default for Pick<V> {
    fn default() -> Self {
        Pick {
            value: None,
            exact: false,
        }
    }
}

impl<V> Pick<V> {
    /// Offers the value of a member called `key` when `key` is `name` in any case; returns
    /// whether it matched. The value is only made when it does.
    pub fn offer(&mut self, key: &str, name: &str, value: impl FnOnce() -> V) -> bool {
        if !key.eq_ignore_ascii_case(name) {
            return false;
        }
        let exact = key == name;
        if exact || !self.exact {
            self.value = Some(value());
            self.exact = exact;
        }
        true
    }

    /// The chosen value; `None` when no member matched.
    pub fn into_inner(self) -> Option<V> {
        self.value
    }
}

/// The visitor arms of a reader that has no use for a scalar: a boolean, number or string
/// reads as `None`.
macro_rules! scalars_read_as_none {
    () => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}
pub(crate) use scalars_read_as_none;

/// Reads a JSON object member by member while it is parsed (see [`IfObject`]).
pub(crate) trait ObjectReader<'de> {
    type Value;
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error>;
}

/// Reads a value with an [`ObjectReader`] when it is an object; any other value is skipped and
/// reads as `None`.
///
/// Unlike a borrowed [`RawValue`], a value read this way has its type decoded, and a number
/// too large for a float is refused; callers fall back to [`Members`] when it is.
pub(crate) struct IfObject<R>(pub R);

impl<'de, R: ObjectReader<'de>> DeserializeSeed<'de> for IfObject<R> {
    type Value = Option<R::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, R: ObjectReader<'de>> Visitor<'de> for IfObject<R> {
    type Value = Option<R::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.read(map).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    scalars_read_as_none!();

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The string a member's JSON text holds; `None` when it is not a string.
#[must_use]
pub fn string_of(json: &RawValue) -> Option<String> {
    super::scan::string(json.get()).map(Cow::into_owned)
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
        assert!(members.get("Meta").is_some());
        assert!(members.get("groups").is_none());
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
