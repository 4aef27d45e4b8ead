//! Users: the attribute-by-attribute diff of a declared user against the server's, and the
//! body that creates one (README, Users).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::patch::Operation;
use crate::config::model::key_text;
use crate::config::{Managed, MultiValue, Name, RoleDefinition, User};
use crate::plan::Change;
use crate::state::{self, Item, LiveUser, items_json, role_values};

/// The roles a user must hold on a provider, and where they are kept.
#[derive(Clone, Copy)]
pub struct Roles<'a> {
    /// The schema and attribute that keep them, and the shape of a value.
    pub definition: &'a RoleDefinition,
    /// Their path: `RoleDefinition::path`, made once per provider.
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
        self.replace_shown_as(path, old, new.clone(), new);
    }

    /// [`UserDiff::replace`] with `new` shown as `shown`: role values are shown as the strings
    /// they are, whatever shape the provider takes them in.
    fn replace_shown_as(&mut self, path: &str, old: Option<&Value>, shown: Value, new: Value) {
        self.changes.push(Change {
            attribute: path.to_owned(),
            old: old.cloned(),
            new: Some(shown),
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

    /// Diffs one single-valued attribute at `path`, whose live value is `live` (absent when
    /// unassigned).
    fn single(&mut self, path: &str, live: Option<&Value>, desired: &Managed<Value>) {
        match desired {
            Managed::Unmanaged => {}
            Managed::Remove => {
                if let Some(old) = live {
                    self.remove(path, old);
                }
            }
            Managed::Set(new) => {
                if live != Some(new) {
                    self.replace(path, live, new.clone());
                }
            }
        }
    }

    /// [`UserDiff::single`] for a string attribute.
    fn string(&mut self, path: &str, live: Option<&str>, desired: &Managed<String>) {
        match desired {
            Managed::Unmanaged => {}
            Managed::Remove => {
                if let Some(old) = live {
                    self.remove(path, &Value::from(old));
                }
            }
            Managed::Set(new) => {
                if live != Some(new.as_str()) {
                    self.replace(
                        path,
                        live.map(Value::from).as_ref(),
                        Value::from(new.as_str()),
                    );
                }
            }
        }
    }

    /// [`UserDiff::single`] for a boolean attribute.
    fn flag(&mut self, path: &str, live: Option<bool>, desired: &Managed<bool>) {
        match desired {
            Managed::Unmanaged => {}
            Managed::Remove => {
                if let Some(old) = live {
                    self.remove(path, &Value::Bool(old));
                }
            }
            Managed::Set(new) => {
                if live != Some(*new) {
                    self.replace(path, live.map(Value::Bool).as_ref(), Value::Bool(*new));
                }
            }
        }
    }
}

/// The string attributes of a User, by SCIM name, with their live values.
fn strings<'a>(
    user: &'a User,
    live: &'a LiveUser,
) -> [(&'static str, &'a Managed<String>, Option<&'a str>); 8] {
    let a = &live.attributes;
    [
        ("displayName", &user.display_name, a.display_name.as_deref()),
        ("nickName", user.nick_name(), a.nick_name.as_deref()),
        ("title", &user.title, a.title.as_deref()),
        ("userType", user.user_type(), a.user_type.as_deref()),
        (
            "preferredLanguage",
            user.preferred_language(),
            a.preferred_language.as_deref(),
        ),
        ("locale", user.locale(), a.locale.as_deref()),
        ("timezone", user.timezone(), a.timezone.as_deref()),
        // An empty externalId is unassigned (RFC 7643 §2.5).
        (
            "externalId",
            &user.external_id,
            live.external_id.as_deref().filter(|id| !id.is_empty()),
        ),
    ]
}

/// The parts of a name, by their paths from the User, with their live values.
fn name_parts<'a>(
    name: &'a Name,
    live: &'a state::Name,
) -> [(&'static str, &'a Managed<String>, Option<&'a str>); 6] {
    [
        ("name.formatted", &name.formatted, live.formatted.as_deref()),
        (
            "name.familyName",
            &name.family_name,
            live.family_name.as_deref(),
        ),
        (
            "name.givenName",
            &name.given_name,
            live.given_name.as_deref(),
        ),
        (
            "name.middleName",
            &name.middle_name,
            live.middle_name.as_deref(),
        ),
        (
            "name.honorificPrefix",
            &name.honorific_prefix,
            live.honorific_prefix.as_deref(),
        ),
        (
            "name.honorificSuffix",
            &name.honorific_suffix,
            live.honorific_suffix.as_deref(),
        ),
    ]
}

/// Diffs a declared user against the server's copy. Only declared attributes are compared.
pub fn diff(user: &User, live: &LiveUser, roles: Option<Roles<'_>>) -> UserDiff {
    let mut diff = UserDiff::default();
    // userName is matched case-insensitively (RFC 7643 §4.1.1), so only a rename is a change.
    if key_text(&live.user_name) != user.key.as_str() {
        diff.replace(
            "userName",
            Some(&Value::from(live.user_name.as_str())),
            Value::String(user.user_name.clone()),
        );
    }
    let attributes = &live.attributes;
    match &user.name {
        Managed::Unmanaged => {}
        Managed::Remove => {
            diff.single("name", attributes.name.to_json().as_ref(), &Managed::Remove);
        }
        Managed::Set(name) => {
            for (path, value, current) in name_parts(name, &attributes.name) {
                diff.string(path, current, value);
            }
        }
    }
    for (attribute, value, current) in strings(user, live) {
        diff.string(attribute, current, value);
    }
    diff.flag("active", attributes.active, &user.active);
    multi_valued(
        &mut diff,
        "emails",
        &attributes.emails,
        &user.emails,
        key_text,
    );
    multi_valued(
        &mut diff,
        "phoneNumbers",
        &attributes.phone_numbers,
        user.phone_numbers(),
        |v| Cow::Borrowed(v.trim()),
    );
    for extension in user.extensions() {
        let current = attributes.extension(&extension.schema, &extension.name);
        diff.single(&extension.path(), current, &extension.value);
    }
    if let Some(roles) = roles {
        let definition = roles.definition;
        let current = attributes.extension(&definition.schema, &definition.attribute);
        if !same_roles(current, roles.values) {
            let old = Value::from(
                role_values(current)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            if roles.values.is_empty() {
                diff.remove(roles.path, &old);
            } else {
                let shown =
                    Value::from(roles.values.iter().map(String::as_str).collect::<Vec<_>>());
                let new = definition.value(roles.values);
                diff.replace_shown_as(roles.path, Some(&old), shown, new);
            }
        }
    }
    diff
}

/// Multi-valued attributes compare as sets of values (README, Users); `type` and `primary` only
/// when the file declares them.
fn multi_valued(
    diff: &mut UserDiff,
    path: &str,
    live: &[Item],
    desired: &Managed<Vec<MultiValue>>,
    normalize: impl Fn(&str) -> Cow<'_, str>,
) {
    match desired {
        Managed::Unmanaged => {}
        Managed::Remove => {
            if !live.is_empty() {
                diff.remove(path, &items_json(live));
            }
        }
        Managed::Set(values) => {
            if !same_values(values, live, &normalize) {
                let old = (!live.is_empty()).then(|| items_json(live));
                diff.replace(path, old.as_ref(), multi_values_json(values));
            }
        }
    }
}

fn same_values(
    desired: &[MultiValue],
    live: &[Item],
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
fn holds(item: &Item, wanted: &MultiValue, normalize: &impl Fn(&str) -> Cow<'_, str>) -> bool {
    item.value
        .as_deref()
        .is_some_and(|value| normalize(value) == normalize(&wanted.value))
        && wanted
            .kind
            .as_deref()
            .is_none_or(|k| item.kind.as_deref() == Some(k))
        && wanted
            .primary
            .is_none_or(|p| p == item.primary.unwrap_or(false))
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

/// Whether the role values in the live attribute are exactly `values`.
fn same_roles(live: Option<&Value>, values: &BTreeSet<String>) -> bool {
    let mut live: Vec<&str> = role_values(live).collect();
    live.sort_unstable();
    live.dedup();
    live.len() == values.len() && live.iter().zip(values).all(|(a, b)| a == b)
}

/// The POST body that creates `user` (RFC 7644 §3.3), with the changes it makes, for display.
pub fn create(user: &User, roles: Option<Roles<'_>>) -> (Value, Vec<Change>) {
    let empty = LiveUser {
        user_name: user.user_name.clone(),
        ..LiveUser::default()
    };
    let mut diff = diff(user, &empty, roles);
    // A new user's userName is not a change to show; it is the op's key.
    diff.changes.retain(|c| c.attribute != "userName");
    let mut schemas = vec![Value::String(scim::urn::USER.to_owned())];
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
