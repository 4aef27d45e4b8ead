//! What the readers of live users and groups share: offering a member to the attribute it
//! names, reading the sub-attributes of a complex attribute, and keeping or hashing a whole
//! resource.
//!
//! A resource is read once, by `serde_json`, member by member as its page is parsed. Each
//! member the diff needs is decoded into a typed value; the others are read and dropped. Which
//! member is read when a server writes one attribute under two spellings is decided by
//! [`scim::attribute`], here and nowhere else.

use std::fmt;
use std::marker::PhantomData;

use scim::attribute::{Pick, names};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::json::{MemberName, Object, ReadObject, Skip, scalars_read_as};

/// Reads the member `key`'s value with `seed` when it is the member read for the attribute
/// `name` (see [`scim::attribute`]), and reads it as [`Skip`] does otherwise.
pub(super) fn offer<'de, A, S>(
    map: &mut A,
    key: MemberName<'de>,
    name: &str,
    pick: &mut Pick<'de, S::Value>,
    seed: S,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    S: DeserializeSeed<'de>,
{
    let MemberName(key) = key;
    if pick.wants(&key, name) {
        let value = map.next_value_seed(seed)?;
        pick.put(key, value);
    } else {
        map.next_value::<Skip>()?;
    }
    Ok(())
}

/// Offers the member `key` to the pick of the attribute it names among `attributes`, each
/// read as `serde_json` reads a value; returns the key back when it names none of them.
pub(super) fn offer_among<'de, A: MapAccess<'de>, const N: usize>(
    map: &mut A,
    key: MemberName<'de>,
    attributes: &[&str; N],
    picks: &mut [Pick<'de, Value>; N],
) -> Result<Option<MemberName<'de>>, A::Error> {
    match attributes.iter().position(|name| names(&key.0, name)) {
        Some(i) => {
            offer(map, key, attributes[i], &mut picks[i], PhantomData::<Value>)?;
            Ok(None)
        }
        None => Ok(Some(key)),
    }
}

/// Reads the sub-attributes `0` of a complex attribute's object (RFC 7643 §2.3.8), each by
/// the attribute rule; the other members are read as [`Skip`] does.
pub(super) struct SubAttributes<const N: usize>(pub &'static [&'static str; N]);

impl<'de, const N: usize> ReadObject<'de> for SubAttributes<N> {
    type Value = [Option<Value>; N];

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picks: [Pick<'de, Value>; N] = std::array::from_fn(|_| Pick::default());
        while let Some(key) = map.next_key::<MemberName<'de>>()? {
            if offer_among(&mut map, key, self.0, &mut picks)?.is_some() {
                map.next_value::<Skip>()?;
            }
        }
        Ok(picks.map(Pick::into_value))
    }
}

/// The items of a multi-valued attribute (RFC 7643 §2.4): each item's sub-attributes `names`
/// are read, and `make` makes the item from them, or from `None` when the item is not an
/// object; `None` when the attribute is not an array.
pub(super) struct Items<T, const N: usize> {
    pub names: &'static [&'static str; N],
    pub make: fn(Option<[Option<Value>; N]>) -> T,
}

impl<'de, T, const N: usize> DeserializeSeed<'de> for Items<T, N> {
    type Value = Option<Vec<T>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T, const N: usize> Visitor<'de> for Items<T, N> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a multi-valued attribute")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Object(SubAttributes(self.names)))? {
            items.push((self.make)(item));
        }
        Ok(Some(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Skip::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    scalars_read_as!(None);
}

/// A value read as a string: `Some` only for a JSON string.
pub(super) fn string(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A string attribute's value: `None` for an empty string (RFC 7643 §2.5: unassigned) and for
/// a value of another type, which a string attribute cannot hold.
pub(super) fn text(value: Option<Value>) -> Option<Box<str>> {
    string(value)
        .filter(|s| !s.is_empty())
        .map(String::into_boxed_str)
}

/// A boolean attribute's value: `None` for anything but `true` or `false`.
pub(super) fn flag(value: Option<&Value>) -> Option<bool> {
    value.and_then(Value::as_bool)
}

/// The JSON object `resource` without the members `left_out` names (any spelling), as compact
/// JSON text: the whole resource, kept to be sent back.
pub(super) fn whole(resource: &Value, left_out: &'static [&'static str]) -> Box<RawValue> {
    let text = match resource {
        Value::Object(members) => serde_json::value::to_raw_value(&Without(members, left_out)),
        other => serde_json::value::to_raw_value(other),
    };
    text.expect("a JSON value always serializes")
}

/// An object's members but those a list names, written as the object itself would be, without
/// copying it.
struct Without<'a>(&'a serde_json::Map<String, Value>, &'static [&'static str]);

impl serde::Serialize for Without<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            (self.0.iter()).filter(|(key, _)| !self.1.iter().any(|name| names(key, name))),
        )
    }
}

/// The members `meta` and `groups` are read-only (RFC 7643 §3.1, §4.1.2): never sent back,
/// and left out of what a plan observes.
pub(super) const READ_ONLY: &[&str] = &["meta", "groups"];

/// `sha256:<hex>` of a resource's canonical JSON, without `meta` and `groups`: what a saved plan
/// records of a whole resource, to tell whether it moved since (README, Saved plans).
#[must_use]
pub fn resource_hash(resource: &Value) -> String {
    // serde_json's maps are sorted, so this text is canonical.
    let text = match resource {
        Value::Object(members) => serde_json::to_string(&Without(members, READ_ONLY)),
        other => serde_json::to_string(other),
    }
    .expect("a JSON value always serializes");
    crate::digest::sha256_hex(text.as_bytes())
}

/// `sha256:<hex>` of what a plan read of a resource (README, Saved plans): the whole resource when
/// it was kept, since a PUT sends it back; else the attributes it can manage, as `managed` writes
/// them.
pub(super) fn read_hash(whole: Option<&RawValue>, managed: impl FnOnce() -> Value) -> String {
    match whole {
        Some(resource) => resource_hash(&kept(resource)),
        None => crate::digest::sha256_hex(managed().to_string().as_bytes()),
    }
}

/// The whole resource as the server sent it: what a PUT sends back, changed
/// (RFC 7644 §3.5.1).
///
/// # Panics
///
/// When the resource was not read with [`Keep::Whole`](crate::client::Keep::Whole): a PUT of
/// less than the whole resource would clear what it leaves out.
pub(super) fn whole_resource(whole: Option<&RawValue>) -> Value {
    kept(whole.expect("a resource updated with PUT is read with Keep::Whole"))
}

fn kept(resource: &RawValue) -> Value {
    serde_json::from_str(resource.get()).expect("a kept resource is JSON it was written as")
}
