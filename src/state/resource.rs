//! A live resource held as compact JSON text.
//!
//! The plan compares every declared object with its live copy, but reads each live copy once.
//! Keeping 100,000 users as `serde_json::Value` trees costs about 3.5 KB each (every object is
//! a map of its own); the same users as text cost a few hundred bytes. The tree is built when
//! the diff looks at one resource, and dropped after (SPEC §8).

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// The attributes of a resource as the server sent them, minus the read-only `meta` and a
/// user's computed `groups`, kept as one JSON object's text.
///
/// A resource read from a listing also keeps where each of its members' values begins and
/// ends, as the reader wrote them, so that the diff finds its attributes without scanning the
/// text again.
#[derive(Clone)]
pub struct Resource {
    text: Box<str>,
    /// The start and end of each member's value in `text`, in order; empty when not known.
    values: Box<[u16]>,
}

/// The most members whose places a resource keeps; a resource with more is scanned instead.
pub(crate) const MAX_MEMBERS: usize = 32;

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
        Some(Resource {
            text,
            values: Box::default(),
        })
    }

    /// The resource's attributes as JSON text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The resource as a JSON tree.
    #[must_use]
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.text).expect("a resource is JSON text it was made from")
    }

    /// Each member as its key and the text of its value, in order; `None` when the places of
    /// the members are not known. Places are only kept when every key was written without
    /// escapes, so a key's text between its quotes is the key itself.
    pub(crate) fn members(&self) -> Option<impl Iterator<Item = (&str, &str)>> {
        if self.values.is_empty() && self.text.len() > 2 {
            return None;
        }
        let (text, values) = (&*self.text, &*self.values);
        Some((0..values.len() / 2).map(move |i| {
            let (start, end) = (usize::from(values[2 * i]), usize::from(values[2 * i + 1]));
            // `{"key":value,"key":value}`: a key runs from past the `{"` or `,"` that follows
            // the value before it to the `":` before its own value.
            let previous_end = if i == 0 {
                0
            } else {
                usize::from(values[2 * i - 1])
            };
            (&text[previous_end + 2..start - 2], &text[start..end])
        }))
    }
}

/// Writes a resource's compact text member by member, keeping where each value is.
pub(crate) struct ResourceWriter<'s> {
    text: &'s mut String,
    values: [u16; 2 * MAX_MEMBERS],
    members: usize,
    /// Whether every key was written as it is, without escapes.
    plain_keys: bool,
    may_overflow: bool,
}

impl<'s> ResourceWriter<'s> {
    /// Starts an object in `text` (cleared first: it is a buffer reused for each resource).
    pub(crate) fn new(text: &'s mut String) -> Self {
        text.clear();
        text.push('{');
        ResourceWriter {
            text,
            values: [0; 2 * MAX_MEMBERS],
            members: 0,
            plain_keys: true,
            may_overflow: false,
        }
    }

    /// Appends the member `key` with `value`, the JSON text a parser has read.
    pub(crate) fn member(&mut self, key: &str, value: &str) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        self.plain_keys &= crate::client::push_json_string(self.text, key);
        self.value(value);
    }

    /// Appends a member as a parser read it: its key borrowed from the JSON text, which a key
    /// with escapes cannot be, and `value`'s JSON text. The key is written as it is, unchecked.
    pub(crate) fn member_as_read(&mut self, key: Cow<'_, str>, value: &str) {
        match key {
            Cow::Borrowed(key) => {
                self.text
                    .push_str(if self.text.len() > 1 { ",\"" } else { "\"" });
                self.text.push_str(key);
                self.text.push('"');
                self.value(value);
            }
            Cow::Owned(key) => self.member(&key, value),
        }
    }

    /// Appends `:` and the value of the member whose key was written last.
    fn value(&mut self, value: &str) {
        self.text.push(':');
        let start = self.text.len();
        self.text.push_str(value);
        // Strings and literals hold no number.
        if !matches!(value.as_bytes().first(), Some(b'"' | b't' | b'f' | b'n')) {
            self.may_overflow |= may_overflow(value);
        }
        if let (Some(slot), Ok(start), Ok(end)) = (
            self.values.get_mut(2 * self.members..2 * self.members + 2),
            u16::try_from(start),
            u16::try_from(self.text.len()),
        ) {
            slot.copy_from_slice(&[start, end]);
        }
        self.members += 1;
    }

    /// The resource written; `None` as [`Resource::from_text`] refuses one.
    pub(crate) fn finish(self) -> Option<Resource> {
        self.text.push('}');
        if self.may_overflow && serde_json::from_str::<Value>(self.text).is_err() {
            return None;
        }
        let known = self.plain_keys
            && self.members <= MAX_MEMBERS
            && u16::try_from(self.text.len()).is_ok();
        Some(Resource {
            text: self.text.as_str().into(),
            values: if known {
                self.values[..2 * self.members].into()
            } else {
                Box::default()
            },
        })
    }
}

/// Whether the JSON `text` may hold a number that overflows a float: only one written with an
/// exponent, or with hundreds of digits, can. A quick scan that skips strings, so that the full
/// check runs only on the rare resource that needs it.
fn may_overflow(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Most values hold no digit followed by an `e` anywhere, in strings or out, and are too
    // short for hundreds of digits: one pass without branches clears them.
    if bytes.len() < MANY_DIGITS && !digit_before_e(bytes) {
        return false;
    }
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

/// More digits than any float's integer part holds without overflowing (about 309).
const MANY_DIGITS: usize = 300;

/// Whether a digit is followed by `e` or `E` anywhere in `bytes`.
fn digit_before_e(bytes: &[u8]) -> bool {
    let mut found = false;
    for (a, b) in bytes.iter().zip(bytes.iter().skip(1)) {
        // `&`, not `&&`: without a branch the loop is vectorised, and runs in a fraction of
        // the instructions.
        #[allow(clippy::needless_bitwise_bool)]
        {
            found |= a.is_ascii_digit() & (b | 0x20 == b'e');
        }
    }
    found
}

/// Whether JSON text outside strings holds a number with an exponent (a digit followed by
/// `e`; `true` and `false` have none) or a run of hundreds of digits.
fn numbers_may_overflow(outside: &[u8]) -> bool {
    let mut digits = 0;
    for pair in outside.windows(2) {
        if pair[0].is_ascii_digit() {
            digits += 1;
            if digits > MANY_DIGITS || matches!(pair[1], b'e' | b'E') {
                return true;
            }
        } else {
            digits = 0;
        }
    }
    false
}

impl From<Value> for Resource {
    /// A resource from a tree, as tests and single reads build them: an object is written
    /// member by member, as a listing's reader writes it.
    fn from(value: Value) -> Self {
        if let Value::Object(members) = &value {
            let mut text = String::new();
            let mut writer = ResourceWriter::new(&mut text);
            for (key, member) in members {
                writer.member(key, &member.to_string());
            }
            if let Some(resource) = writer.finish() {
                return resource;
            }
        }
        Resource {
            text: value.to_string().into_boxed_str(),
            values: Box::default(),
        }
    }
}

/// Resources are equal when their texts are, whether or not the places of members are known.
impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Resource {}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
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
    }

    fn written(members: &[(&str, &str)]) -> Option<Resource> {
        let mut text = String::from("left from the last resource");
        let mut writer = ResourceWriter::new(&mut text);
        for (key, value) in members {
            writer.member(key, value);
        }
        writer.finish()
    }

    #[test]
    fn a_written_resource_knows_where_each_member_is() {
        let members = [
            ("userName", r#""ada@example.com""#),
            ("name", r#"{"givenName":"Ada","familyName":"Lovelace"}"#),
            ("emails", r#"[{"value":"a@x","primary":true}]"#),
            ("a key", "null"),
            ("n", "-12.5"),
            ("active", "false"),
        ];
        let resource = written(&members).unwrap();
        assert_eq!(
            resource.value(),
            Value::Object(
                members
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::from_str(v).unwrap()))
                    .collect()
            )
        );
        let found: Vec<(String, &str)> = resource
            .members()
            .expect("places known")
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        let expected: Vec<(String, &str)> =
            members.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        assert_eq!(found, expected);
        assert_eq!(written(&[]).unwrap().members().unwrap().count(), 0);
        // A member holding an overflowing number refuses the resource; one in a string does not.
        assert!(written(&[("a", "[1e400]")]).is_none());
        assert!(written(&[("a", r#""1e400""#)]).is_some());
    }

    #[test]
    fn places_are_not_kept_past_their_limits() {
        let long = format!("\"{}\"", "x".repeat(70_000));
        let resource = written(&[("a", "1"), ("b", &long)]).unwrap();
        assert!(resource.members().is_none());
        assert_eq!(resource.value()["a"], 1);

        let keys: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("k{i}")).collect();
        let many: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "true")).collect();
        assert!(written(&many).unwrap().members().is_none());
        assert!(written(&many[..MAX_MEMBERS]).unwrap().members().is_some());
        // A key written with escapes is not kept as placed; the text still holds it.
        let escaped = written(&[("a", "1"), ("b\"c", "2")]).unwrap();
        assert!(escaped.members().is_none());
        assert_eq!(escaped.value()["b\"c"], 2);
        // A key a parser borrowed from its text is written as it is; one it had to decode
        // (it held escapes) is escaped again, and then the places are not kept.
        let mut text = String::new();
        let mut writer = ResourceWriter::new(&mut text);
        writer.member_as_read(Cow::Borrowed("a"), "1");
        writer.member_as_read(Cow::Owned("b\\".to_owned()), "2");
        let read = writer.finish().unwrap();
        assert_eq!(read.as_str(), r#"{"a":1,"b\\":2}"#);
        assert!(read.members().is_none());
        // Texts without places read as having none, or as unknown.
        assert_eq!(
            Resource::from_text("{}")
                .unwrap()
                .members()
                .unwrap()
                .count(),
            0
        );
        assert!(
            Resource::from_text(r#"{"a":1}"#)
                .unwrap()
                .members()
                .is_none()
        );
        assert!(!may_overflow(
            r#"{"a":true,"b":false,"c":[12,"5e5"],"d":"x\\\"1e9"}"#
        ));
        assert!(may_overflow(r#"{"s":"\\","n":7e1}"#));
        assert!(may_overflow("[1E5]"));
    }

    #[test]
    fn the_quick_check_agrees_with_the_full_scan() {
        // The full scan alone: what `may_overflow` answered before the quick check.
        let full = |text: &str| {
            let padded = format!("{text}{}", " ".repeat(MANY_DIGITS));
            may_overflow(&padded)
        };
        let long = format!("[{}]", "9".repeat(MANY_DIGITS + 1));
        for text in [
            "[1e5]",
            "[1E5]",
            "[1.5e-3,2]",
            r#"["1e5"]"#,
            r#"{"a":"user0e@example.com","b":[1,2]}"#,
            r#"{"emails":[{"value":"a@b.c","primary":true}],"n":-0.5}"#,
            r#"["e1","E9",0]"#,
            long.as_str(),
        ] {
            assert_eq!(may_overflow(text), full(text), "{text}");
        }
        assert!(!digit_before_e(b"e1 E2 x"));
        assert!(digit_before_e(b"x 9E"));
    }
}
