//! A group as the server holds it, read into what the diff compares: displayName, externalId
//! and the ids of its members (README, Groups), and whether the server showed its members at all.

use std::collections::BTreeSet;
use std::fmt;

use scim::attribute::{Pick, names};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::reader::{SubAttributes, offer, offer_among, read_hash, string, whole, whole_resource};
use crate::client::json::{MemberName, Object, ReadObject, Skip, scalars_read_as};
use crate::client::{Keep, Listed};

/// A group as the server holds it.
#[derive(Debug, Clone, Default)]
pub struct LiveGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: Option<String>,
    /// Member ids.
    pub members: BTreeSet<String>,
    /// Whether the server listed the group with its `members` attribute.
    pub members_listed: bool,
    /// The resource as the server sent it, without `meta`; kept only when read with
    /// [`Keep::Whole`], for a PUT to send back.
    pub resource: Option<Box<RawValue>>,
}

/// The read-only member of a group (RFC 7643 §3.1).
const META: &[&str] = &["meta"];

impl LiveGroup {
    /// A group read from its JSON; `None` when it is not one (no id or displayName). `keep`
    /// says whether to keep the whole resource too.
    #[must_use]
    pub fn from_value(resource: &Value, keep: Keep) -> Option<Self> {
        let mut group = Object(GroupReader).deserialize(resource).ok()?.flatten()?;
        if keep == Keep::Whole {
            group.resource = Some(whole(resource, META));
        }
        Some(group)
    }

    /// What the group holds of the attributes scimform manages, as a JSON object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut group = Map::new();
        group.insert(
            "displayName".into(),
            Value::from(self.display_name.as_str()),
        );
        if let Some(external_id) = &self.external_id {
            group.insert("externalId".into(), Value::from(external_id.as_str()));
        }
        if self.members_listed {
            let members = (self.members.iter())
                .map(|id| Value::Object(Map::from_iter([("value".into(), Value::from(&**id))])))
                .collect();
            group.insert("members".into(), Value::Array(members));
        }
        Value::Object(group)
    }

    /// `sha256:<hex>` of what the plan read of the group (see [`read_hash`]).
    #[must_use]
    pub fn hash(&self) -> String {
        read_hash(self.resource.as_deref(), || self.to_json())
    }

    /// The whole resource as the server sent it, without `meta`: what a PUT sends
    /// back, changed. Panics when it was not kept (see [`whole_resource`]).
    #[must_use]
    pub fn whole_resource(&self) -> Value {
        whole_resource(self.resource.as_deref())
    }
}

impl Listed for LiveGroup {
    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        keep: Keep,
    ) -> Result<Option<Self>, D::Error> {
        match keep {
            Keep::Managed => Ok(Object(GroupReader).deserialize(deserializer)?.flatten()),
            Keep::Whole => Ok(Self::from_value(&Value::deserialize(deserializer)?, keep)),
        }
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// The single-valued attributes a group is read for.
const SCALARS: [&str; 3] = ["id", "displayName", "externalId"];

/// Reads a group's object member by member; `None` when it has no id or displayName.
struct GroupReader;

impl<'de> ReadObject<'de> for GroupReader {
    type Value = Option<LiveGroup>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scalars: [Pick<'de, Value>; SCALARS.len()] = Default::default();
        let mut members = Pick::default();
        let mut meta = Pick::default();
        while let Some(key) = map.next_key::<MemberName<'de>>()? {
            let Some(key) = offer_among(&mut map, key, &SCALARS, &mut scalars)? else {
                continue;
            };
            if names(&key.0, "members") {
                offer(&mut map, key, "members", &mut members, MembersReader)?;
            } else if names(&key.0, "meta") {
                offer(
                    &mut map,
                    key,
                    "meta",
                    &mut meta,
                    Object(SubAttributes(&["version"])),
                )?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        let [id, display_name, external_id] = scalars;
        let (id, display_name, external_id) = (
            id.into_value(),
            display_name.into_value(),
            external_id.into_value(),
        );
        let (Some(id), Some(display_name)) = (string(id), string(display_name)) else {
            return Ok(None);
        };
        let members: Option<Members> = members.into_value();
        let listed = members
            .as_ref()
            .is_some_and(|m| !matches!(m, Members::Null));
        Ok(Some(LiveGroup {
            id,
            display_name,
            external_id: string(external_id),
            version: meta
                .into_value()
                .flatten()
                .and_then(|[version]| string(version)),
            members: match members {
                Some(Members::Listed(ids)) => ids,
                _ => BTreeSet::new(),
            },
            members_listed: listed,
            resource: None,
        }))
    }
}

/// A group's `members` as read.
enum Members {
    /// `null`: the group's members are not shown.
    Null,
    /// The `value` of each item that holds a string one; none when `members` is not an array.
    Listed(BTreeSet<String>),
}

/// Reads a group's `members` (RFC 7643 §4.2).
struct MembersReader;

impl<'de> DeserializeSeed<'de> for MembersReader {
    type Value = Members;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Members, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MembersReader {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a group's members")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Members, E> {
        Ok(Members::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Members, A::Error> {
        let mut ids = BTreeSet::new();
        while let Some(item) = seq.next_element_seed(Object(SubAttributes(&["value"])))? {
            ids.extend(item.and_then(|[value]| string(value)));
        }
        Ok(Members::Listed(ids))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Members, A::Error> {
        Skip::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Members::Listed(BTreeSet::new()))
    }

    scalars_read_as!(Members::Listed(BTreeSet::new()));
}

#[cfg(test)]
mod tests;
