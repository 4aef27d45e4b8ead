//! A user as the server holds it, read into the typed values the diff compares (README, Users)
//! and nothing else.
//!
//! At 100,000 users, what a server sends is mostly what the plan never reads: `meta`,
//! `schemas`, attributes nobody declares. A live user keeps its id, userName, externalId and
//! version, and the attributes scimform can manage: the core ones (README, Users) as typed
//! fields, and every extension attribute (RFC 7643 §3.3) as `serde_json` reads it, since their
//! types are the extension's to say and `import` writes them all. The whole resource is kept
//! too only when it will be sent back: by a PUT, on a server without PATCH.

use std::collections::BTreeSet;

use scim::attribute::{self, Pick, get_ci, is_schema_urn, is_unassigned, names};
use scim::urn;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::reader::{
    Items, READ_ONLY, SubAttributes, flag, offer, offer_among, read_hash, string, text, whole,
    whole_resource,
};
use crate::client::json::{MemberName, Object, ReadObject, Skip};
use crate::client::{Keep, Listed};

/// A user as the server holds it.
#[derive(Debug, Clone, Default)]
pub struct LiveUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `meta.version`: the version the server gives the resource.
    pub version: Option<String>,
    /// The other attributes scimform can manage, as the server holds them.
    pub attributes: UserAttributes,
    /// The resource as the server sent it, without `meta` and `groups`; kept only when read
    /// with [`Keep::Whole`], for a PUT to send back.
    pub resource: Option<Box<RawValue>>,
}

/// The attributes of a user that scimform can manage (README, Users), but `userName` and
/// `externalId`. An unassigned value (RFC 7643 §2.5: null, empty) is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserAttributes {
    pub name: Name,
    pub display_name: Option<Box<str>>,
    pub nick_name: Option<Box<str>>,
    pub title: Option<Box<str>>,
    pub user_type: Option<Box<str>>,
    pub preferred_language: Option<Box<str>>,
    pub locale: Option<Box<str>>,
    pub timezone: Option<Box<str>>,
    pub active: Option<bool>,
    /// `emails`, in the server's order; empty when absent.
    pub emails: Box<[Item]>,
    /// `phoneNumbers`, in the server's order; empty when absent.
    pub phone_numbers: Box<[Item]>,
    /// The attributes of each schema extension, under the spellings the server wrote.
    pub extensions: Box<[Extension]>,
}

impl UserAttributes {
    /// The single-valued string attributes, by SCIM name, in the order the README's Users
    /// section lists them.
    #[must_use]
    pub fn strings(&self) -> [(&'static str, Option<&str>); 7] {
        [
            ("displayName", self.display_name.as_deref()),
            ("nickName", self.nick_name.as_deref()),
            ("title", self.title.as_deref()),
            ("userType", self.user_type.as_deref()),
            ("preferredLanguage", self.preferred_language.as_deref()),
            ("locale", self.locale.as_deref()),
            ("timezone", self.timezone.as_deref()),
        ]
    }
}

/// The components of a user's `name` (RFC 7643 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub formatted: Option<Box<str>>,
    pub family_name: Option<Box<str>>,
    pub given_name: Option<Box<str>>,
    pub middle_name: Option<Box<str>>,
    pub honorific_prefix: Option<Box<str>>,
    pub honorific_suffix: Option<Box<str>>,
}

/// The sub-attributes of `name`, in the order of [`Name::parts`].
const NAME_PARTS: [&str; 6] = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];

impl Name {
    /// Each component, by its name in SCIM, in the order RFC 7643 §4.1.1 lists them.
    #[must_use]
    pub fn parts(&self) -> [(&'static str, Option<&str>); 6] {
        let values = [
            &self.formatted,
            &self.family_name,
            &self.given_name,
            &self.middle_name,
            &self.honorific_prefix,
            &self.honorific_suffix,
        ];
        std::array::from_fn(|i| (NAME_PARTS[i], values[i].as_deref()))
    }

    /// The name as a JSON object of its components; `None` when it has none.
    #[must_use]
    pub fn to_json(&self) -> Option<Value> {
        let members: Map<String, Value> = (self.parts().into_iter())
            .filter_map(|(part, value)| Some((part.to_owned(), Value::from(value?))))
            .collect();
        (!members.is_empty()).then_some(Value::Object(members))
    }

    fn from_parts(parts: Option<[Option<Value>; 6]>) -> Self {
        let [
            formatted,
            family_name,
            given_name,
            middle_name,
            honorific_prefix,
            honorific_suffix,
        ] = parts.unwrap_or_default().map(text);
        Name {
            formatted,
            family_name,
            given_name,
            middle_name,
            honorific_prefix,
            honorific_suffix,
        }
    }
}

/// One item of a multi-valued attribute (RFC 7643 §2.4) such as `emails`: its `value`, `type`
/// and `primary` flag, each `None` when the item holds none (or is not an object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    pub value: Option<Box<str>>,
    pub kind: Option<Box<str>>,
    pub primary: Option<bool>,
}

/// The sub-attributes an [`Item`] is read from.
const ITEM_PARTS: [&str; 3] = ["value", "type", "primary"];

impl Item {
    fn from_parts(parts: Option<[Option<Value>; 3]>) -> Self {
        let [value, kind, primary] = parts.unwrap_or_default();
        Item {
            value: string(value).map(String::into_boxed_str),
            kind: string(kind).map(String::into_boxed_str),
            primary: flag(primary.as_ref()),
        }
    }

    /// The item as a JSON object of the sub-attributes it holds.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut item = Map::new();
        if let Some(value) = &self.value {
            item.insert("value".into(), Value::from(&**value));
        }
        if let Some(kind) = &self.kind {
            item.insert("type".into(), Value::from(&**kind));
        }
        if let Some(primary) = self.primary {
            item.insert("primary".into(), Value::Bool(primary));
        }
        Value::Object(item)
    }
}

/// Items as the JSON array they were read from, as far as [`Item`] holds them.
#[must_use]
pub fn items_json(items: &[Item]) -> Value {
    Value::Array(items.iter().map(Item::to_json).collect())
}

/// The attributes a user holds under one schema extension's URN (RFC 7643 §3.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// The URN, as the server spelled it.
    pub schema: Box<str>,
    /// Each attribute, by its name as the server spelled it; `None` when the server sent
    /// something other than an object under the URN.
    pub attributes: Option<Box<[Attribute]>>,
}

/// An extension attribute as the server holds it: its name as the server spelled it, and its
/// value as `serde_json` reads it (the extension's schema says its type, not scimform).
pub type Attribute = (Box<str>, Value);

impl UserAttributes {
    /// The value of the extension attribute `attribute` of `schema`, both names matched by
    /// [`scim::attribute`]'s rule; `None` when absent or unassigned.
    #[must_use]
    pub fn extension(&self, schema: &str, attribute: &str) -> Option<&Value> {
        let extension = attribute::find(
            (self.extensions.iter()).map(|extension| (&*extension.schema, extension)),
            schema,
        )?;
        let attributes = extension.attributes.as_ref()?;
        attribute::find(
            attributes.iter().map(|(name, value)| (&**name, value)),
            attribute,
        )
        .filter(|value| !is_unassigned(value))
    }
}

impl LiveUser {
    /// A user read from its JSON; `None` when it is not one (no id or userName). `keep` says
    /// whether to keep the whole resource too.
    #[must_use]
    pub fn from_value(resource: &Value, keep: Keep) -> Option<Self> {
        let mut user = Object(UserReader).deserialize(resource).ok()?.flatten()?;
        if keep == Keep::Whole {
            user.resource = Some(whole(resource, READ_ONLY));
        }
        Some(user)
    }

    /// What the user holds of the attributes scimform can manage, as a JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut user = Map::new();
        user.insert("userName".into(), Value::from(self.user_name.as_str()));
        if let Some(external_id) = &self.external_id {
            user.insert("externalId".into(), Value::from(external_id.as_str()));
        }
        let a = &self.attributes;
        if let Some(name) = a.name.to_json() {
            user.insert("name".into(), name);
        }
        for (attribute, value) in a.strings() {
            if let Some(value) = value {
                user.insert(attribute.into(), Value::from(value));
            }
        }
        if let Some(active) = a.active {
            user.insert("active".into(), Value::Bool(active));
        }
        for (attribute, items) in [("emails", &a.emails), ("phoneNumbers", &a.phone_numbers)] {
            if !items.is_empty() {
                user.insert(attribute.into(), items_json(items));
            }
        }
        for extension in &a.extensions {
            if let Some(attributes) = &extension.attributes {
                let attributes = (attributes.iter())
                    .map(|(name, value)| ((**name).to_owned(), value.clone()))
                    .collect();
                user.insert((*extension.schema).to_owned(), Value::Object(attributes));
            }
        }
        Value::Object(user)
    }

    /// `sha256:<hex>` of what the plan read of the user (see [`read_hash`]).
    #[must_use]
    pub fn hash(&self) -> String {
        read_hash(self.resource.as_deref(), || self.to_json())
    }

    /// The whole resource as the server sent it, without `meta` and `groups`: what a PUT sends
    /// back, changed. Panics when it was not kept (see [`whole_resource`]).
    #[must_use]
    pub fn whole_resource(&self) -> Value {
        whole_resource(self.resource.as_deref())
    }

    /// The role values the user holds in the extension attribute `attribute` of `schema`:
    /// strings, or objects with a string `value` (RFC 7643 §2.4).
    #[must_use]
    pub fn roles(&self, schema: &str, attribute: &str) -> BTreeSet<String> {
        role_values(self.attributes.extension(schema, attribute))
            .map(str::to_owned)
            .collect()
    }
}

/// The role values in the attribute that keeps them: its items that are strings, or objects
/// with a string `value`; none when it is not an array.
pub fn role_values(attribute: Option<&Value>) -> impl Iterator<Item = &str> {
    (attribute.and_then(Value::as_array).into_iter().flatten()).filter_map(|item| {
        item.as_str()
            .or_else(|| get_ci(item, "value").and_then(Value::as_str))
    })
}

impl Listed for LiveUser {
    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        keep: Keep,
    ) -> Result<Option<Self>, D::Error> {
        match keep {
            Keep::Managed => Ok(Object(UserReader).deserialize(deserializer)?.flatten()),
            Keep::Whole => Ok(Self::from_value(&Value::deserialize(deserializer)?, keep)),
        }
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// The single-valued attributes a user is read for, but `name`.
const SCALARS: [&str; 11] = [
    "id",
    "userName",
    "externalId",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
];

/// Reads a user's object member by member; `None` when it has no id or userName.
struct UserReader;

impl<'de> ReadObject<'de> for UserReader {
    type Value = Option<LiveUser>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scalars: [Pick<'de, Value>; SCALARS.len()] = Default::default();
        let mut name = Pick::default();
        let mut emails = Pick::default();
        let mut phone_numbers = Pick::default();
        let mut meta = Pick::default();
        let mut extensions = Vec::new();
        let items = || Items {
            names: &ITEM_PARTS,
            make: Item::from_parts,
        };
        while let Some(key) = map.next_key::<MemberName<'de>>()? {
            let Some(key) = offer_among(&mut map, key, &SCALARS, &mut scalars)? else {
                continue;
            };
            let name_of = |attribute| names(&key.0, attribute);
            if name_of("name") {
                offer(
                    &mut map,
                    key,
                    "name",
                    &mut name,
                    Object(SubAttributes(&NAME_PARTS)),
                )?;
            } else if name_of("emails") {
                offer(&mut map, key, "emails", &mut emails, items())?;
            } else if name_of("phoneNumbers") {
                offer(&mut map, key, "phoneNumbers", &mut phone_numbers, items())?;
            } else if name_of("meta") {
                offer(
                    &mut map,
                    key,
                    "meta",
                    &mut meta,
                    Object(SubAttributes(&["version"])),
                )?;
            } else if is_schema_urn(&key.0) {
                let attributes = map.next_value_seed(Object(ExtensionReader))?;
                add_extension(&mut extensions, key.0.into(), attributes);
            } else if let Some(attribute) = CORE_ROLES.iter().find(|a| name_of(a)) {
                // Where services keep roles in the core schema (RFC 7643 §4.1.2): held as the
                // core URN's attributes, so that a role definition finds them as it finds an
                // extension's.
                let mut value: Value = map.next_value()?;
                shrink(&mut value);
                add_core_attribute(&mut extensions, attribute, value);
            } else {
                map.next_value::<Skip>()?;
            }
        }
        let [
            id,
            user_name,
            external_id,
            display_name,
            nick_name,
            title,
            user_type,
            preferred_language,
            locale,
            timezone,
            active,
        ] = scalars;
        let (Some(id), Some(user_name)) = (string(id.into_value()), string(user_name.into_value()))
        else {
            return Ok(None);
        };
        let version = meta
            .into_value()
            .flatten()
            .and_then(|[version]| string(version));
        Ok(Some(LiveUser {
            id,
            user_name,
            external_id: string(external_id.into_value()),
            version,
            attributes: UserAttributes {
                name: Name::from_parts(name.into_value().flatten()),
                display_name: text(display_name.into_value()),
                nick_name: text(nick_name.into_value()),
                title: text(title.into_value()),
                user_type: text(user_type.into_value()),
                preferred_language: text(preferred_language.into_value()),
                locale: text(locale.into_value()),
                timezone: text(timezone.into_value()),
                active: flag(active.into_value().as_ref()),
                emails: boxed(emails.into_value().flatten()),
                phone_numbers: boxed(phone_numbers.into_value().flatten()),
                extensions: extensions.into_boxed_slice(),
            },
            resource: None,
        }))
    }
}

/// The core User attributes that services keep roles in (RFC 7643 §4.1.2).
const CORE_ROLES: [&str; 2] = ["roles", "entitlements"];

/// Adds a core attribute that holds roles to the attributes held under the core User URN.
fn add_core_attribute(extensions: &mut Vec<Extension>, attribute: &str, value: Value) {
    let index = if let Some(index) = extensions.iter().position(|e| &*e.schema == urn::USER) {
        index
    } else {
        extensions.push(Extension {
            schema: urn::USER.into(),
            attributes: None,
        });
        extensions.len() - 1
    };
    let core = &mut extensions[index];
    let mut attributes = core.attributes.take().map(Vec::from).unwrap_or_default();
    attributes.push((attribute.into(), value));
    core.attributes = Some(attributes.into_boxed_slice());
}

/// Adds what the server holds under the URN `schema`; a URN written twice in the same spelling
/// is read where it is written last, as for any member (see [`scim::attribute`]).
fn add_extension(
    extensions: &mut Vec<Extension>,
    schema: Box<str>,
    attributes: Option<Vec<Attribute>>,
) {
    let attributes = attributes.map(Vec::into_boxed_slice);
    match extensions.iter_mut().find(|e| e.schema == schema) {
        Some(extension) => extension.attributes = attributes,
        None => extensions.push(Extension { schema, attributes }),
    }
}

/// Reads the attributes of one schema extension, each value as `serde_json` reads it; an
/// attribute written twice in the same spelling is read where it is written last.
struct ExtensionReader;

impl<'de> ReadObject<'de> for ExtensionReader {
    type Value = Vec<Attribute>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attributes: Vec<Attribute> = Vec::new();
        while let Some(MemberName(name)) = map.next_key()? {
            let mut value: Value = map.next_value()?;
            shrink(&mut value);
            match attributes.iter_mut().find(|(n, _)| **n == *name) {
                Some((_, kept)) => *kept = value,
                None => attributes.push((name.into(), value)),
            }
        }
        Ok(attributes)
    }
}

/// The items read, held in no more memory than they take: a `Vec` grown item by item holds
/// room for four, and 100,000 users hold several such lists each.
fn boxed<T>(items: Option<Vec<T>>) -> Box<[T]> {
    items.map(Vec::into_boxed_slice).unwrap_or_default()
}

/// Frees the room `serde_json` left in the arrays and objects of `value` as it read them.
fn shrink(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.iter_mut().for_each(shrink);
            items.shrink_to_fit();
        }
        Value::Object(members) => members.values_mut().for_each(shrink),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
