//! A live resource as the user diff reads it: found by attribute path in the resource's JSON
//! text, each attribute decoded only when the diff asks for it.
//!
//! The diff compares every declared user with its server copy, and most of them match. Decoding
//! each whole resource into a `serde_json::Value` to compare a handful of attributes cost more
//! than the rest of the diff together at 100,000 users (SPEC §8); strings are compared here
//! straight from the text, without a copy unless they hold escapes.
//!
//! The text a view reads was read by a JSON parser before (a live resource's text, or one made
//! from a tree), so it is valid JSON: the view only finds where members and items begin and
//! end, without checking the text again.

use std::borrow::Cow;
use std::cell::RefCell;

use serde_json::Value;

use super::patch::split_urn;
use super::user::Item;
use crate::state::Resource;

/// The members of a JSON object, each value as its text.
type Members<'a> = Vec<(Cow<'a, str>, &'a str)>;

/// The members of one live resource, read lazily.
pub struct LiveView<'a> {
    members: Option<Members<'a>>,
    /// The sub-object read last (`name`, say), kept for its next attribute.
    child: RefCell<Option<(&'a str, Option<Members<'a>>)>>,
}

impl<'a> LiveView<'a> {
    /// A view of a live resource, its members found where the reader wrote them when known.
    #[must_use]
    pub fn of(resource: &'a Resource) -> Self {
        let members = match resource.members() {
            Some(found) => Some(placed_members(found)),
            None => scan_members(resource.as_str()),
        };
        LiveView {
            members,
            child: RefCell::new(None),
        }
    }

    /// A view of the JSON object `text` (valid JSON); anything else reads as an empty resource.
    #[must_use]
    pub fn parse(text: &'a str) -> Self {
        LiveView {
            members: scan_members(text),
            child: RefCell::new(None),
        }
    }

    /// The JSON text at `path` (`attribute`, `attribute.sub` or `urn:…:attribute`), names
    /// matched case-insensitively; `null` reads as absent. Reads as `patch::get_path` does.
    pub(super) fn raw(&self, path: &str) -> Option<&'a str> {
        let members = self.members.as_ref()?;
        let found = match split_urn(path).or_else(|| path.split_once('.')) {
            Some((parent, attribute)) => {
                let parent = member(members, parent)?;
                let mut child = self.child.borrow_mut();
                if !child
                    .as_ref()
                    .is_some_and(|(raw, _)| std::ptr::eq(*raw, parent))
                {
                    *child = Some((parent, scan_members(parent)));
                }
                member(child.as_ref()?.1.as_ref()?, attribute)
            }
            None => member(members, path),
        };
        found.filter(|raw| *raw != "null")
    }

    /// The value at `path`, decoded.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Value> {
        self.raw(path)
            .and_then(|raw| serde_json::from_str(raw).ok())
    }

    /// The string at `path`; `None` when absent or not a string.
    #[must_use]
    pub fn get_str(&self, path: &str) -> Option<Cow<'a, str>> {
        string(self.raw(path)?)
    }

    /// The strings of the multi-valued attribute at `path`: items that are strings, or objects
    /// with a string `value`; other items are skipped, and an absent attribute or one that is
    /// not an array holds none. Reads as `user::live_roles` does.
    #[must_use]
    pub fn strings(&self, path: &str) -> Vec<Cow<'a, str>> {
        let Some(items) = self.raw(path).and_then(scan_items) else {
            return Vec::new();
        };
        items
            .into_iter()
            .filter_map(|item| {
                if item.starts_with('{') {
                    string(member(&scan_members(item)?, "value")?)
                } else {
                    string(item)
                }
            })
            .collect()
    }

    /// The items of the multi-valued attribute at `path`; none when it is absent or not an
    /// array. Reads as `user::Item::of` reads a decoded item.
    #[must_use]
    pub(super) fn items(&self, path: &str) -> Vec<Item<'a>> {
        let Some(items) = self.raw(path).and_then(scan_items) else {
            return Vec::new();
        };
        items
            .into_iter()
            .map(|item| match scan_members(item) {
                Some(members) => Item {
                    value: member(&members, "value").and_then(string),
                    kind: member(&members, "type").and_then(string),
                    primary: member(&members, "primary").is_some_and(|p| p == "true"),
                },
                None => Item {
                    value: None,
                    kind: None,
                    primary: false,
                },
            })
            .collect()
    }
}

/// The members where a resource's reader placed them.
fn placed_members<'a>(found: impl Iterator<Item = (&'a str, &'a str)>) -> Members<'a> {
    let mut members = Vec::with_capacity(16);
    members.extend(found.map(|(key, value)| (Cow::Borrowed(key), value)));
    members
}

/// The value of the member called `name`, compared case-insensitively (RFC 7643 §2.1): an
/// exact match wins, then the last member written, as `client::Members::get` finds it.
fn member<'a>(members: &Members<'a>, name: &str) -> Option<&'a str> {
    members
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .or_else(|| {
            members
                .iter()
                .rev()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
        })
        .map(|(_, value)| *value)
}

/// The string the JSON text `raw` holds, borrowed unless it has escapes; `None` for anything
/// else.
fn string(raw: &str) -> Option<Cow<'_, str>> {
    match crate::client::plain_string(raw) {
        Some(inner) => Some(Cow::Borrowed(inner)),
        None if raw.starts_with('"') => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
        None => None,
    }
}

/// The members of the valid JSON object `text`; `None` when it is not an object.
fn scan_members(text: &str) -> Option<Members<'_>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::with_capacity(16);
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(members);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, at)?;
        let key = string(&text[at..key_end])?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, at + 1);
        let end = value_end(bytes, start)?;
        members.push((key, &text[start..end]));
        at = skip_space(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_space(bytes, at + 1),
            b'}' => return Some(members),
            _ => return None,
        }
    }
}

/// The items of the valid JSON array `text`; `None` when it is not an array.
fn scan_items(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    let mut items = Vec::new();
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b']') {
        return Some(items);
    }
    loop {
        let end = value_end(bytes, at)?;
        items.push(&text[at..end]);
        at = skip_space(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_space(bytes, at + 1),
            b']' => return Some(items),
            _ => return None,
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// Where the string starting at `at` (its opening quote) ends: just past its closing quote.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// Where the value starting at `at` ends.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::patch::get_path;
    use serde_json::json;

    #[test]
    fn reads_every_path_as_the_tree_does() {
        let resource = json!({
            "userName": "ada", "Title": "Chief \"A\"", "nickName": null, "active": false,
            "name": {"GivenName": "Ada", "familyName": null},
            "emails": [{"value": "a@x"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "1"}},
        });
        let text = resource.to_string();
        let view = LiveView::parse(&text);
        for path in [
            "userName",
            "title",
            "nickName",
            "active",
            "name",
            "name.givenName",
            "name.familyName",
            "name.middleName",
            "emails",
            "missing",
            "missing.sub",
            "urn:scim:tonkean:tonkeanRoles",
            "urn:scim:tonkean:other",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:nothing:here",
        ] {
            assert_eq!(view.get(path).as_ref(), get_path(&resource, path), "{path}");
        }
        assert_eq!(view.get_str("title").as_deref(), Some("Chief \"A\""));
        assert!(matches!(
            view.get_str("userName"),
            Some(Cow::Borrowed("ada"))
        ));
        assert_eq!(view.get_str("active"), None);
        assert_eq!(view.get_str("nickName"), None);
        assert_eq!(LiveView::parse("[]").get("userName"), None);
    }

    /// The scan finds the members and items a JSON parser finds, in any layout.
    #[test]
    fn the_scan_finds_what_a_parser_finds() {
        use crate::client::{Members as Parsed, json_items};
        use crate::random::Lcg;
        use crate::state::ResourceWriter;
        fn random_value(rng: &mut Lcg, depth: usize) -> Value {
            let leaf = [
                json!(null),
                json!(true),
                json!(-12.5e3),
                json!(7),
                json!(""),
                json!("a \"quoted\" \\ word"),
                json!("Zoë ✓ \n tab\t"),
                json!("}],{["),
            ];
            if depth == 0 || rng.chance(40) {
                return rng.pick(&leaf).clone();
            }
            if rng.chance(50) {
                Value::Array(
                    (0..rng.below(4))
                        .map(|_| random_value(rng, depth - 1))
                        .collect(),
                )
            } else {
                let keys = ["a", "Value", "b\"c", "k:ey", "ü", "", "x y"];
                Value::Object(
                    (0..rng.below(5))
                        .map(|_| ((*rng.pick(&keys)).to_owned(), random_value(rng, depth - 1)))
                        .collect(),
                )
            }
        }
        let mut rng = Lcg(20_261_129);
        let (mut objects, mut arrays) = (0, 0);
        for _ in 0..2_000 {
            let value = random_value(&mut rng, 4);
            if !value.is_object() && !value.is_array() {
                continue;
            }
            for text in [
                value.to_string(),
                serde_json::to_string_pretty(&value).unwrap(),
            ] {
                let scanned = scan_members(&text).map(|members| {
                    members
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v.to_owned()))
                        .collect::<Vec<_>>()
                });
                let parsed = Parsed::parse(&text).map(|members| {
                    let mut all = Vec::new();
                    for key in value.as_object().unwrap().keys() {
                        all.push((key.clone(), members.get(key).unwrap().get().to_owned()));
                    }
                    all
                });
                if let (Some(scanned), Some(parsed)) = (&scanned, &parsed) {
                    objects += 1;
                    // A resource written member by member is viewed as its text is scanned.
                    let mut buffer = String::new();
                    let mut writer = ResourceWriter::new(&mut buffer);
                    for (key, member) in value.as_object().unwrap() {
                        writer.member(key, &member.to_string());
                    }
                    let resource = writer.finish().unwrap();
                    let plain_keys = value
                        .as_object()
                        .unwrap()
                        .keys()
                        .all(|key| key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
                    assert_eq!(resource.members().is_some(), plain_keys, "{text}");
                    let of = LiveView::of(&resource).members;
                    assert_eq!(of, scan_members(resource.as_str()), "{text}");
                    assert_eq!(scanned.len(), parsed.len(), "{text}");
                    for (key, text) in parsed {
                        assert_eq!(
                            member(&scan_members_owned(scanned), key),
                            Some(text.as_str()),
                            "{text}"
                        );
                    }
                } else {
                    assert_eq!(scanned.is_some(), parsed.is_some(), "{text}");
                }
                let items = scan_items(&text)
                    .map(|items| items.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>());
                let parsed_items = json_items(&text)
                    .map(|items| items.iter().map(|i| i.get().to_owned()).collect::<Vec<_>>());
                arrays += usize::from(items.is_some());
                assert_eq!(items, parsed_items, "{text}");
            }
        }
        // The comparisons above ran on many objects and arrays, not only on scalars.
        assert!(
            objects > 500 && arrays > 500,
            "{objects} objects, {arrays} arrays"
        );
    }

    fn scan_members_owned(members: &[(String, String)]) -> Members<'_> {
        members
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), v.as_str()))
            .collect()
    }

    #[test]
    fn items_are_read_as_the_tree_reads_them() {
        let emails = json!([
            {"value": "A@x", "type": "work", "primary": true},
            {"Value": "b@x", "primary": "true"},
            {"value": 3, "type": null},
            "c@x",
            {"value": "d\"@x", "primary": false},
        ]);
        let resource = json!({"emails": emails});
        let text = resource.to_string();
        let from_text = LiveView::parse(&text).items("emails");
        let from_tree: Vec<Item<'_>> = emails.as_array().unwrap().iter().map(Item::of).collect();
        assert_eq!(from_text.len(), from_tree.len());
        for (a, b) in from_text.iter().zip(&from_tree) {
            assert_eq!(a.value, b.value);
            assert_eq!(a.kind, b.kind);
            assert_eq!(a.primary, b.primary);
        }
        assert!(
            LiveView::parse(r#"{"emails": {"value": "a"}}"#)
                .items("emails")
                .is_empty()
        );
        assert!(LiveView::parse("{}").items("emails").is_empty());
    }

    #[test]
    fn role_strings_are_read_as_the_tree_reads_them() {
        for roles in [
            json!(["A", {"value": "B"}, {"value": 3}, 4, null, "A", "C\"D"]),
            json!([]),
            json!("A"),
            json!({"value": "A"}),
            json!(null),
        ] {
            let resource = json!({"urn:scim:tonkean": {"tonkeanRoles": roles}});
            let text = resource.to_string();
            let view = LiveView::parse(&text);
            let mut strings = view.strings("urn:scim:tonkean:tonkeanRoles");
            strings.sort();
            strings.dedup();
            let from_tree = crate::diff::live_roles(&resource, "urn:scim:tonkean:tonkeanRoles");
            assert!(
                strings
                    .iter()
                    .map(AsRef::as_ref)
                    .eq(from_tree.iter().map(String::as_str)),
                "{roles}"
            );
        }
        assert!(LiveView::parse("{}").strings("roles").is_empty());
    }
}
