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

use serde_json::Value;

use super::patch::split_urn;
use super::user::Item;
use crate::client::scan::{Items, Pick, members, offer_members, string};
use crate::state::{MAX_MEMBERS, Resource};

/// One live resource, its attributes found when the diff asks for them. A view holds no
/// copy of anything: a resource whose reader kept the places of its members is read from
/// them, any other text is scanned.
pub struct LiveView<'a> {
    object: Object<'a>,
}

// A view lives on the stack for the diff of one resource: boxing the large variant would
// allocate, which is what it is there to avoid.
#[allow(clippy::large_enum_variant)]
enum Object<'a> {
    /// The members of a resource whose places are known, each key and value as its text, in
    /// order: the first `len` of `members`. Kept in place rather than in a `Vec`, so that
    /// viewing a resource allocates nothing.
    Placed {
        members: [(&'a str, &'a str); MAX_MEMBERS],
        len: usize,
    },
    /// The text of a JSON value; a value that is not an object holds no members.
    Text(&'a str),
}

impl<'a> LiveView<'a> {
    /// A view of a live resource, its members found where the reader wrote them when known.
    #[must_use]
    pub fn of(resource: &'a Resource) -> Self {
        let object = match resource.members() {
            Some(found) => {
                let mut members = [("", ""); MAX_MEMBERS];
                let mut len = 0;
                for (slot, member) in members.iter_mut().zip(found) {
                    *slot = member;
                    len += 1;
                }
                Object::Placed { members, len }
            }
            None => Object::Text(resource.as_str()),
        };
        LiveView { object }
    }

    /// A view of the JSON object `text` (valid JSON); anything else reads as an empty resource.
    #[must_use]
    pub fn parse(text: &'a str) -> Self {
        LiveView {
            object: Object::Text(text),
        }
    }

    /// The value of the top-level member called `name`, as [`Pick`] chooses it.
    fn member(&self, name: &str) -> Option<&'a str> {
        let mut pick = Pick::new(name);
        match &self.object {
            Object::Placed { members, len } => {
                for (key, value) in &members[..*len] {
                    pick.offer(key, value);
                }
            }
            Object::Text(text) => offer_members(text, &mut pick),
        }
        pick.found()
    }

    /// The JSON text at `path` (`attribute`, `attribute.sub` or `urn:…:attribute`), names
    /// matched case-insensitively; `null` reads as absent. Reads as `patch::get_path` does.
    pub(super) fn raw(&self, path: &str) -> Option<&'a str> {
        // Paths are short: a byte loop finds the dot for a fraction of what a char search costs.
        let parent_and_attribute = split_urn(path).or_else(|| {
            let dot = path.bytes().position(|b| b == b'.')?;
            Some((&path[..dot], &path[dot + 1..]))
        });
        let found = match parent_and_attribute {
            Some((parent, attribute)) => {
                let mut pick = Pick::new(attribute);
                offer_members(self.member(parent)?, &mut pick);
                pick.found()
            }
            None => self.member(path),
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
        let mut strings = Vec::new();
        for item in Items::of(self.raw(path)) {
            if item.starts_with('{') {
                let mut value = Pick::new("value");
                offer_members(item, &mut value);
                strings.extend(value.found().and_then(string));
            } else {
                strings.extend(string(item));
            }
        }
        strings
    }

    /// The items of the multi-valued attribute at `path`; none when it is absent or not an
    /// array. Reads as `user::Item::of` reads a decoded item.
    #[must_use]
    pub(super) fn items(&self, path: &str) -> Vec<Item<'a>> {
        Items::of(self.raw(path))
            .map(|item| {
                let (mut value, mut kind, mut primary) =
                    (Pick::new("value"), Pick::new("type"), Pick::new("primary"));
                for (key, raw) in members(item) {
                    value.offer(&key, raw);
                    kind.offer(&key, raw);
                    primary.offer(&key, raw);
                }
                Item {
                    value: value.found().and_then(string),
                    kind: kind.found().and_then(string),
                    primary: primary.found() == Some("true"),
                }
            })
            .collect()
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
                let parsed = Parsed::parse(&text);
                if let (Some(scanned), Some(parsed)) = (&scanned, &parsed) {
                    objects += 1;
                    let object = value.as_object().unwrap();
                    // A resource written member by member is viewed as its text is scanned.
                    let mut buffer = String::new();
                    let mut writer = ResourceWriter::new(&mut buffer);
                    for (key, member) in object {
                        writer.member(key, &member.to_string());
                    }
                    let resource = writer.finish().unwrap();
                    let plain_keys = object
                        .keys()
                        .all(|key| key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
                    assert_eq!(resource.members().is_some(), plain_keys, "{text}");
                    let (placed, written) = (LiveView::of(&resource), LiveView::parse(&buffer));
                    assert_eq!(scanned.len(), object.len(), "{text}");
                    let view = LiveView::parse(&text);
                    for key in object
                        .keys()
                        .map(String::as_str)
                        .chain(["VALUE", "A", "missing"])
                    {
                        let from_parser = parsed.get(key).map(serde_json::value::RawValue::get);
                        assert_eq!(view.member(key), from_parser, "{key} in {text}");
                        assert_eq!(placed.member(key), written.member(key), "{key} in {text}");
                        assert_eq!(written.member(key).is_some(), from_parser.is_some());
                    }
                } else {
                    assert_eq!(scanned.is_some(), parsed.is_some(), "{text}");
                }
                let items = text.starts_with('[').then(|| {
                    Items::of(Some(&text))
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                });
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

    /// The members of `text` when it is an object, as the view finds them.
    fn scan_members(text: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
        text.starts_with('{').then(|| members(text).collect())
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
