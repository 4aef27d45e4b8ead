//! Users: the attribute-by-attribute diff of a declared user against the server's, and the
//! body that creates one (SPEC §3.3).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::live::LiveView;
use super::patch::Operation;
use crate::config::model::key_text;
use crate::config::{Managed, MultiValue, Name, User};
use crate::plan::Change;
use crate::state::get_ci;

/// The core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The roles a user must hold on a provider, and where they are kept.
#[derive(Clone, Copy)]
pub struct Roles<'a> {
    /// Where the provider keeps them: `RoleDefinition::path`, made once per provider.
    pub path: &'a str,
    pub values: &'a BTreeSet<String>,
}

/// The changes that make `live` match `user`, and the PATCH operations that make them.
#[derive(Debug, Default)]
pub struct UserDiff {
    pub changes: Vec<Change>,
    pub operations: Vec<Operation>,
}

impl UserDiff {
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    fn replace(&mut self, path: &str, old: Option<&Value>, new: Value) {
        self.changes.push(Change {
            attribute: path.to_owned(),
            old: old.cloned(),
            new: Some(new.clone()),
        });
        self.operations.push(Operation::Replace {
            path: path.to_owned(),
            value: new,
        });
    }

    fn remove(&mut self, path: &str, old: &Value) {
        self.changes.push(Change {
            attribute: path.to_owned(),
            old: Some(old.clone()),
            new: None,
        });
        self.operations.push(Operation::Remove {
            path: path.to_owned(),
        });
    }

    /// Diffs one single-valued attribute at `path`.
    fn single(&mut self, live: &LiveView<'_>, path: &str, desired: &Managed<Value>) {
        match desired {
            Managed::Unmanaged => return,
            // A flag that holds its value is found without decoding it.
            Managed::Set(Value::Bool(flag)) if live.raw(path) == Some(bool_text(*flag)) => return,
            _ => {}
        }
        let current = live.get(path).filter(|v| !is_blank(v));
        match desired {
            Managed::Unmanaged => {}
            Managed::Remove => {
                if let Some(old) = current {
                    self.remove(path, &old);
                }
            }
            Managed::Set(new) => {
                if current.as_ref() != Some(new) {
                    self.replace(path, current.as_ref(), new.clone());
                }
            }
        }
    }

    /// [`UserDiff::single`] for a string attribute: an equal string is found without decoding
    /// anything else.
    fn string(&mut self, live: &LiveView<'_>, path: &str, desired: &Managed<String>) {
        match desired {
            Managed::Unmanaged => {}
            Managed::Remove => self.single(live, path, &Managed::Remove),
            Managed::Set(new) => {
                if !new.is_empty() && live.get_str(path).is_some_and(|s| s == new.as_str()) {
                    return;
                }
                let current = live.get(path).filter(|v| !is_blank(v));
                if current.as_ref().and_then(Value::as_str) != Some(new.as_str()) {
                    self.replace(path, current.as_ref(), Value::String(new.clone()));
                }
            }
        }
    }
}

/// `true` or `false` as JSON writes it.
fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// The string attributes of a User, by SCIM name.
fn strings(user: &User) -> [(&'static str, &Managed<String>); 8] {
    [
        ("displayName", &user.display_name),
        ("nickName", user.nick_name()),
        ("title", &user.title),
        ("userType", user.user_type()),
        ("preferredLanguage", user.preferred_language()),
        ("locale", user.locale()),
        ("timezone", user.timezone()),
        ("externalId", &user.external_id),
    ]
}

/// The parts of a name, by their paths from the User.
fn name_parts(name: &Name) -> [(&'static str, &Managed<String>); 6] {
    [
        ("name.formatted", &name.formatted),
        ("name.familyName", &name.family_name),
        ("name.givenName", &name.given_name),
        ("name.middleName", &name.middle_name),
        ("name.honorificPrefix", &name.honorific_prefix),
        ("name.honorificSuffix", &name.honorific_suffix),
    ]
}

/// Diffs a declared user against the server's copy. Only declared attributes are compared.
pub fn diff(user: &User, live: &LiveView<'_>, roles: Option<Roles<'_>>) -> UserDiff {
    let mut diff = UserDiff::default();
    // userName is matched case-insensitively (RFC 7643 §4.1.1), so only a rename is a change.
    let live_name = live.get_str("userName");
    if live_name.is_none_or(|n| key_text(&n) != user.key.as_str()) {
        diff.replace(
            "userName",
            live.get("userName").as_ref(),
            Value::String(user.user_name.clone()),
        );
    }
    match &user.name {
        Managed::Unmanaged => {}
        Managed::Remove => diff.single(live, "name", &Managed::Remove),
        Managed::Set(name) => {
            for (path, value) in name_parts(name) {
                diff.string(live, path, value);
            }
        }
    }
    for (attribute, value) in strings(user) {
        diff.string(live, attribute, value);
    }
    diff.single(live, "active", &user.active.clone().map(Value::Bool));
    multi_valued(&mut diff, live, "emails", &user.emails, key_text);
    multi_valued(&mut diff, live, "phoneNumbers", user.phone_numbers(), |v| {
        Cow::Borrowed(v.trim())
    });
    for extension in user.extensions() {
        diff.single(live, &extension.path(), &extension.value);
    }
    if let Some(roles) = roles
        && !same_roles(live.strings(roles.path), roles.values)
    {
        let path = roles.path;
        let current = roles_in(live.get(path).as_ref());
        if &current != roles.values {
            let old = Value::from(current.into_iter().collect::<Vec<_>>());
            let new = Value::from(roles.values.iter().cloned().collect::<Vec<_>>());
            if roles.values.is_empty() {
                diff.remove(path, &old);
            } else {
                diff.replace(path, Some(&old), new);
            }
        }
    }
    diff
}

/// Multi-valued attributes compare as sets of values (SPEC §3.3); `type` and `primary` only
/// when the file declares them.
fn multi_valued(
    diff: &mut UserDiff,
    live: &LiveView<'_>,
    path: &str,
    desired: &Managed<Vec<MultiValue>>,
    normalize: impl Fn(&str) -> Cow<'_, str>,
) {
    match desired {
        Managed::Unmanaged => return,
        // Most users hold what they declare: compare straight from the text first.
        Managed::Set(values) if same_values(values, &live.items(path), &normalize) => return,
        _ => {}
    }
    let current = live.get(path);
    let current = current
        .as_ref()
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty());
    match desired {
        Managed::Unmanaged => {}
        Managed::Remove => {
            if let Some(items) = current {
                diff.remove(path, &Value::Array(items.clone()));
            }
        }
        Managed::Set(values) => {
            let items: Vec<Item<'_>> = current
                .map(|items| items.iter().map(Item::of).collect())
                .unwrap_or_default();
            if !same_values(values, &items, &normalize) {
                let old = current.map(|items| Value::Array(items.clone()));
                diff.replace(path, old.as_ref(), multi_values_json(values));
            }
        }
    }
}

/// One item of a live multi-valued attribute, as the comparison reads it.
pub(super) struct Item<'a> {
    pub value: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
    pub primary: bool,
}

impl<'a> Item<'a> {
    pub(super) fn of(item: &'a Value) -> Self {
        let text = |name| {
            get_ci(item, name)
                .and_then(Value::as_str)
                .map(Cow::Borrowed)
        };
        Item {
            value: text("value"),
            kind: text("type"),
            primary: get_ci(item, "primary")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

fn same_values(
    desired: &[MultiValue],
    live: &[Item<'_>],
    normalize: &impl Fn(&str) -> Cow<'_, str>,
) -> bool {
    if live.len() != desired.len() {
        return false;
    }
    // One value on each side, as most users have: no sets to build.
    if let ([wanted], [item]) = (desired, live) {
        return holds(item, wanted, normalize);
    }
    let mut live_values: Vec<Cow<'_, str>> = live
        .iter()
        .filter_map(|item| item.value.as_deref())
        .map(normalize)
        .collect();
    let mut desired_values: Vec<Cow<'_, str>> =
        desired.iter().map(|v| normalize(&v.value)).collect();
    for values in [&mut live_values, &mut desired_values] {
        values.sort_unstable();
        values.dedup();
    }
    if live_values != desired_values {
        return false;
    }
    desired
        .iter()
        .all(|wanted| live.iter().any(|item| holds(item, wanted, normalize)))
}

/// Whether the live `item` is the declared value `wanted`: the same value once normalized,
/// and the declared `type` and `primary`, if any.
fn holds(item: &Item<'_>, wanted: &MultiValue, normalize: &impl Fn(&str) -> Cow<'_, str>) -> bool {
    item.value
        .as_deref()
        .is_some_and(|value| normalize(value) == normalize(&wanted.value))
        && wanted
            .kind
            .as_deref()
            .is_none_or(|k| item.kind.as_deref() == Some(k))
        && wanted.primary.is_none_or(|p| p == item.primary)
}

fn multi_values_json(values: &[MultiValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                let mut item = Map::new();
                item.insert("value".into(), Value::String(v.value.clone()));
                if let Some(kind) = &v.kind {
                    item.insert("type".into(), Value::String(kind.clone()));
                }
                if let Some(primary) = v.primary {
                    item.insert("primary".into(), Value::Bool(primary));
                }
                Value::Object(item)
            })
            .collect(),
    )
}

/// The role values a server user holds: strings, or objects with a `value`.
pub fn live_roles(live: &Value, path: &str) -> BTreeSet<String> {
    roles_in(super::patch::get_path(live, path))
}

/// Whether the role values read from the text are exactly `values`.
fn same_roles(mut live: Vec<Cow<'_, str>>, values: &BTreeSet<String>) -> bool {
    live.sort_unstable();
    live.dedup();
    live.len() == values.len() && live.iter().zip(values).all(|(a, b)| a == b)
}

/// The role values in the attribute that keeps them.
fn roles_in(attribute: Option<&Value>) -> BTreeSet<String> {
    attribute
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    item.as_str()
                        .or_else(|| get_ci(item, "value").and_then(Value::as_str))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_blank),
        _ => false,
    }
}

/// The POST body that creates `user` (RFC 7644 §3.3), with the changes it makes, for display.
pub fn create(user: &User, roles: Option<Roles<'_>>) -> (Value, Vec<Change>) {
    let empty = json!({"userName": user.user_name}).to_string();
    let mut diff = diff(user, &LiveView::parse(&empty), roles);
    // A new user's userName is not a change to show; it is the op's key.
    diff.changes.retain(|c| c.attribute != "userName");
    let mut schemas = vec![Value::String(USER_SCHEMA.to_owned())];
    let mut body = super::patch::put_body(&json!({"schemas": []}), &diff.operations);
    if let Some(object) = body.as_object_mut() {
        object.insert("userName".into(), Value::String(user.user_name.clone()));
        if let Some(Value::Array(extensions)) = object.remove("schemas") {
            schemas.extend(extensions);
        }
        object.insert("schemas".into(), Value::Array(schemas));
    }
    (body, diff.changes)
}
