//! A live resource as the user diff reads it: found by attribute path in the resource's JSON
//! text, each attribute decoded only when the diff asks for it.
//!
//! The diff compares every declared user with its server copy, and most of them match. Decoding
//! each whole resource into a `serde_json::Value` to compare a handful of attributes cost more
//! than the rest of the diff together at 100,000 users (SPEC §8); strings are compared here
//! straight from the text, without a copy unless they hold escapes.

use std::borrow::Cow;
use std::cell::RefCell;

use serde_json::Value;
use serde_json::value::RawValue;

use super::patch::split_urn;
use super::user::Item;
use crate::client::{Members, json_items};

/// The members of one live resource, read lazily.
pub struct LiveView<'a> {
    members: Option<Members<'a>>,
    /// The sub-object read last (`name`, say), kept for its next attribute.
    child: RefCell<Option<(&'a RawValue, Option<Members<'a>>)>>,
}

impl<'a> LiveView<'a> {
    /// A view of the JSON object `text`; anything else reads as an empty resource.
    #[must_use]
    pub fn parse(text: &'a str) -> Self {
        LiveView {
            members: Members::parse(text),
            child: RefCell::new(None),
        }
    }

    /// The JSON text at `path` (`attribute`, `attribute.sub` or `urn:…:attribute`), names
    /// matched case-insensitively; `null` reads as absent. Reads as `patch::get_path` does.
    fn raw(&self, path: &str) -> Option<&'a RawValue> {
        let members = self.members.as_ref()?;
        let found = match split_urn(path).or_else(|| path.split_once('.')) {
            Some((parent, attribute)) => {
                let parent = members.get(parent)?;
                let mut child = self.child.borrow_mut();
                if !child
                    .as_ref()
                    .is_some_and(|(raw, _)| std::ptr::eq(*raw, parent))
                {
                    *child = Some((parent, Members::parse(parent.get())));
                }
                child.as_ref()?.1.as_ref()?.get(attribute)
            }
            None => members.get(path),
        };
        found.filter(|raw| raw.get() != "null")
    }

    /// The value at `path`, decoded.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Value> {
        self.raw(path)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// The string at `path`; `None` when absent or not a string.
    #[must_use]
    pub fn get_str(&self, path: &str) -> Option<Cow<'a, str>> {
        string(self.raw(path)?)
    }
}

impl<'a> LiveView<'a> {
    /// The strings of the multi-valued attribute at `path`: items that are strings, or objects
    /// with a string `value`; other items are skipped, and an absent attribute or one that is
    /// not an array holds none. Reads as `user::live_roles` does.
    #[must_use]
    pub fn strings(&self, path: &str) -> Vec<Cow<'a, str>> {
        let Some(items) = self.raw(path).and_then(|raw| json_items(raw.get())) else {
            return Vec::new();
        };
        items
            .into_iter()
            .filter_map(|item| {
                let text = item.get();
                if text.starts_with('{') {
                    string(Members::parse(text)?.get("value")?)
                } else {
                    string(item)
                }
            })
            .collect()
    }
}

impl<'a> LiveView<'a> {
    /// The items of the multi-valued attribute at `path`; none when it is absent or not an
    /// array. Reads as `user::Item::of` reads a decoded item.
    #[must_use]
    pub(super) fn items(&self, path: &str) -> Vec<Item<'a>> {
        let Some(items) = self.raw(path).and_then(|raw| json_items(raw.get())) else {
            return Vec::new();
        };
        items
            .into_iter()
            .map(|item| match Members::parse(item.get()) {
                Some(members) => Item {
                    value: members.get("value").and_then(string),
                    kind: members.get("type").and_then(string),
                    primary: members.get("primary").is_some_and(|p| p.get() == "true"),
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

/// The string `raw` holds, borrowed unless it has escapes; `None` for anything else.
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(text) => Some(Cow::Borrowed(text)),
        // A string with escapes cannot be borrowed.
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
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
