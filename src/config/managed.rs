//! The three states of a declared attribute.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// Whether and how the config manages one attribute (README, Users).
///
/// scimform only touches what the file declares: an attribute the file does not mention is
/// left alone on the server, `attr: null` removes it, and a value makes the server hold
/// exactly that value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Managed<T> {
    /// Not declared: the server's value is left alone.
    #[default]
    Unmanaged,
    /// Declared as `null`: the attribute is removed on the server.
    Remove,
    /// Declared with a value: the server must hold this value.
    Set(T),
}

impl<T> Managed<T> {
    /// The declared value, if there is one.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Managed::Set(value) => Some(value),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_managed(&self) -> bool {
        !matches!(self, Managed::Unmanaged)
    }

    pub fn as_ref(&self) -> Managed<&T> {
        match self {
            Managed::Unmanaged => Managed::Unmanaged,
            Managed::Remove => Managed::Remove,
            Managed::Set(value) => Managed::Set(value),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Managed<U> {
        match self {
            Managed::Unmanaged => Managed::Unmanaged,
            Managed::Remove => Managed::Remove,
            Managed::Set(value) => Managed::Set(f(value)),
        }
    }
}

/// A field of type `Managed<T>` must carry `#[serde(default)]`: a missing key never reaches
/// this impl and stays [`Managed::Unmanaged`].
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Managed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Managed::Remove, Managed::Set))
    }
}

impl<T: JsonSchema> JsonSchema for Managed<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Option::<T>::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Option::<T>::json_schema(generator)
    }
}
