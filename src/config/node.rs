//! A YAML document as a tree of nodes that remember where they came from, and a serde
//! `Deserializer` over that tree.
//!
//! Why not deserialize the YAML straight into the raw config types? Because serde stops at the
//! first error, and every error is reported at once (README, Errors). Parsing into this tree first
//! (the only step that can fail on YAML syntax) lets the loader deserialize each provider, user,
//! group and role on its own, so one typo in one user does not hide the mistakes in the others.
//! Every error raised while deserializing from a node carries that node's [`Span`].

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::source::Span;
use super::spanned::SPANNED_MARKER;

/// One YAML node and its span: where in its file it was written. Strings written as they read
/// (plain, or quoted without escapes) borrow the file's text `'a`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<'a> {
    pub span: Span,
    pub value: Value<'a>,
}

/// The value of a [`Node`]. Mappings keep their entries in source order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

impl Value<'_> {
    /// The value with every string owned, borrowing nothing.
    #[must_use]
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Seq(items) => Value::Seq(items.into_iter().map(Node::into_owned).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// How the value is described in a type error, in serde's words.
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::String(s) => de::Unexpected::Str(s),
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
        }
    }
}

impl<'a> Node<'a> {
    /// The node with every string owned, borrowing nothing.
    #[must_use]
    pub fn into_owned(self) -> Node<'static> {
        Node {
            span: self.span,
            value: self.value.into_owned(),
        }
    }

    /// The entries of a mapping node, or `None` for any other node.
    #[must_use]
    pub fn as_map(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence node, or `None` for any other node.
    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node<'a>]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The text of a string node, or `None` for any other node.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this node, or one inside it, has exactly this span.
    #[must_use]
    pub fn contains_span(&self, span: Span) -> bool {
        self.span == span
            || match &self.value {
                Value::Seq(items) => items.iter().any(|item| item.contains_span(span)),
                Value::Map(entries) => entries
                    .iter()
                    .any(|(k, v)| k.span == span || v.contains_span(span)),
                _ => false,
            }
    }

    /// Deserializes `T` from this node. The error carries the span of the node it is about.
    pub fn deserialize<'de, T: Deserialize<'de>>(&'de self) -> Result<T, NodeError> {
        T::deserialize(self)
    }
}

/// An error raised while deserializing a raw config type from a [`Node`]: serde's message and
/// the span of the node (or mapping key) it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    pub message: String,
    pub span: Option<Span>,
}

impl NodeError {
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NodeError {}

impl de::Error for NodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NodeError {
            message: msg.to_string(),
            span: None,
        }
    }
}

impl<'de> Deserializer<'de> for &'de Node<'_> {
    type Error = NodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let result = match &self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(NodeSeq {
                items: items.iter(),
            }),
            Value::Map(entries) => visitor.visit_map(NodeMap {
                entries: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.at(self.span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match &self.value {
            Value::String(s) => visitor.visit_borrowed_str(s),
            other => Err(
                <NodeError as de::Error>::invalid_type(other.unexpected(), &visitor).at(self.span),
            ),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        if name == SPANNED_MARKER {
            return visitor.visit_map(SpannedAccess {
                node: self,
                step: 0,
            });
        }
        match &self.value {
            Value::Map(_) => self.deserialize_any(visitor),
            other => Err(
                <NodeError as de::Error>::invalid_type(other.unexpected(), &visitor).at(self.span),
            ),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        match &self.value {
            Value::String(s) => visitor
                .visit_enum(UnitVariant { name: s })
                .map_err(|e| e.at(self.span)),
            other => Err(
                <NodeError as de::Error>::invalid_type(other.unexpected(), &visitor).at(self.span),
            ),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map ignored_any
    }
}

struct NodeSeq<'de, 'a> {
    items: std::slice::Iter<'de, Node<'a>>,
}

impl<'de> SeqAccess<'de> for NodeSeq<'de, '_> {
    type Error = NodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, NodeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(node)
                .map(Some)
                .map_err(|e| e.at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct NodeMap<'de, 'a> {
    entries: std::slice::Iter<'de, (Node<'a>, Node<'a>)>,
    value: Option<(&'de Node<'a>, &'de Node<'a>)>,
}

impl<'de> MapAccess<'de> for NodeMap<'de, '_> {
    type Error = NodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, NodeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some((key, value));
                seed.deserialize(key).map(Some).map_err(|e| e.at(key.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        let (key, value) = self
            .value
            .take()
            .expect("next_value_seed after next_key_seed");
        seed.deserialize(value).map_err(|e| {
            // A mapping that misses a required field has no better place to point at than
            // the key that introduces it.
            let span = if matches!(value.value, Value::Map(_) | Value::Null) {
                key.span
            } else {
                value.span
            };
            e.at(span)
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Feeds a node's span and then the node itself to `Spanned<T>`'s visitor.
struct SpannedAccess<'de, 'a> {
    node: &'de Node<'a>,
    step: u8,
}

impl<'de> MapAccess<'de> for SpannedAccess<'de, '_> {
    type Error = NodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, NodeError> {
        let key = match self.step {
            0 => "span",
            1 => "value",
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        self.step += 1;
        if self.step == 1 {
            seed.deserialize(de::value::U128Deserializer::new(self.node.span.pack()))
        } else {
            seed.deserialize(self.node)
        }
    }
}

struct UnitVariant<'de> {
    name: &'de str,
}

impl<'de> EnumAccess<'de> for UnitVariant<'de> {
    type Error = NodeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), NodeError> {
        let name: de::value::BorrowedStrDeserializer<'de, NodeError> =
            de::value::BorrowedStrDeserializer::new(self.name);
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'de> {
    type Error = NodeError;

    fn unit_variant(self) -> Result<(), NodeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, NodeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a plain value",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, NodeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a plain value",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, NodeError> {
        Err(de::Error::invalid_type(
            de::Unexpected::UnitVariant,
            &"a plain value",
        ))
    }
}
