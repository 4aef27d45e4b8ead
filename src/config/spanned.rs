//! Values that remember where in the config they were written, so validation errors can point
//! at them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::source::Span;

/// The struct name by which `Spanned<T>` asks the node deserializer for its span.
pub(crate) const SPANNED_MARKER: &str = "$scimform::Spanned";

/// A value and the span of the YAML node it was read from.
#[derive(Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value with its location")
            }

            // Inlined, so that a large `T` (a user) is built where its caller keeps it rather
            // than copied out of this frame.
            #[inline]
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let (Some(_), PackedSpan(span)) = (
                    map.next_key::<de::IgnoredAny>()?,
                    map.next_value::<PackedSpan>()?,
                ) else {
                    return Err(de::Error::custom("span expected"));
                };
                let (Some(_), value) = (map.next_key::<de::IgnoredAny>()?, map.next_value::<T>()?)
                else {
                    return Err(de::Error::custom("value expected"));
                };
                Ok(Spanned { value, span })
            }
        }

        deserializer.deserialize_struct(
            SPANNED_MARKER,
            &["span", "value"],
            SpannedVisitor(PhantomData),
        )
    }
}

/// A span as the node deserializer hands it to `Spanned<T>`: packed into one integer
/// ([`Span::pack`]).
struct PackedSpan(Span);

impl<'de> Deserialize<'de> for PackedSpan {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PackedVisitor;

        impl Visitor<'_> for PackedVisitor {
            type Value = PackedSpan;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a packed span")
            }

            fn visit_u128<E: de::Error>(self, packed: u128) -> Result<PackedSpan, E> {
                Ok(PackedSpan(Span::unpack(packed)))
            }
        }

        deserializer.deserialize_u128(PackedVisitor)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A YAML mapping whose keys are names chosen by the user (provider names, role values,
/// extension schema URNs), kept in source order with the span of every key.
#[derive(Clone, Debug, PartialEq)]
pub struct SpannedMap<V> {
    pub entries: Vec<(Spanned<String>, V)>,
}

impl<V> Default for SpannedMap<V> {
    fn default() -> Self {
        SpannedMap {
            entries: Vec::new(),
        }
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SpannedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = SpannedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpannedMap<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(SpannedMap { entries })
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for SpannedMap<V> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let values = generator.subschema_for::<V>();
        json_schema!({
            "type": "object",
            "additionalProperties": values,
        })
    }
}
