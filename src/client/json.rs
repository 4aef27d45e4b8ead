//! Serde pieces for reading SCIM JSON in one pass, shared by the page reader and the readers
//! of live users and groups: a member name as the parser read it, a value read and dropped,
//! and an object read member by member.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The visitor methods of every JSON scalar but `null`, each giving `$value`.
macro_rules! scalars_read_as {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
pub(crate) use scalars_read_as;

/// A member name as the parser read it: borrowed from the text unless it holds escapes.
pub(crate) struct MemberName<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = MemberName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// A JSON value read and dropped.
///
/// serde's `IgnoredAny` lets `serde_json` step over a number without decoding it. This reads
/// every number, so that a number that overflows f64 (`1e400`), which `serde_json` refuses
/// wherever it decodes one, refuses a response wherever it is written, not only in the
/// attributes scimform reads.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    scalars_read_as!(Skip);
}

/// Reads a JSON object member by member, as the parser meets them (see [`Object`]).
pub(crate) trait ReadObject<'de> {
    type Value;
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error>;
}

/// Reads a value with a [`ReadObject`] when it is an object; any other value is read as
/// [`Skip`] reads it, and gives `None`.
pub(crate) struct Object<R>(pub R);

impl<'de, R: ReadObject<'de>> DeserializeSeed<'de> for Object<R> {
    type Value = Option<R::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, R: ReadObject<'de>> Visitor<'de> for Object<R> {
    type Value = Option<R::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.read(map).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    scalars_read_as!(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Keys;

    impl<'de> ReadObject<'de> for Keys {
        type Value = Vec<String>;
        fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(MemberName(key)) = map.next_key()? {
                map.next_value::<Skip>()?;
                keys.push(key.into_owned());
            }
            Ok(keys)
        }
    }

    fn keys(text: &str) -> Result<Option<Vec<String>>, serde_json::Error> {
        Object(Keys).deserialize(&mut serde_json::Deserializer::from_str(text))
    }

    #[test]
    fn an_object_is_read_and_anything_else_skipped() {
        assert_eq!(
            keys(r#"{"a": [1, {"b": null}], "c\"d": "x", "e": {"f": true}}"#).unwrap(),
            Some(vec!["a".to_owned(), "c\"d".to_owned(), "e".to_owned()])
        );
        for other in ["[1, [2], {\"a\": 3}]", "\"x\"", "1.5", "-2", "true", "null"] {
            assert_eq!(keys(other).unwrap(), None, "{other}");
        }
    }

    #[test]
    fn a_skipped_number_that_overflows_f64_is_refused() {
        for text in [
            r#"{"a": 1e400}"#,
            r#"{"a": [{"b": -2E+999}]}"#,
            "[1e400]",
            "1e400",
        ] {
            let error = keys(text).unwrap_err();
            assert!(
                error.to_string().contains("number out of range"),
                "{text}: {error}"
            );
        }
        assert!(keys(r#"{"a": "1e400", "b": 1.5e300}"#).is_ok());
    }
}
