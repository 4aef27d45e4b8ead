//! A YAML document as a tree of nodes that remember where they came from, and a serde
//! `Deserializer` over that tree.
//!
//! Why not deserialize the YAML straight into the raw config types? Because serde stops at the
//! first error, and §1.4 asks for every error at once. Parsing into this tree first (the only
//! step that can fail on YAML syntax) lets the loader deserialize each provider, user, group and
//! role on its own, so one typo in one user does not hide the mistakes in the others. Every
//! error raised while deserializing from a node carries that node's [`Span`].

use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::source::{SourceId, Span};
use super::spanned::SPANNED_MARKER;

/// One YAML node and the place in its file it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// The value of a [`Node`]. Mappings keep their entries in source order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
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

impl Node {
    /// Converts the tree that serde-saphyr produced, with its character and byte locations,
    /// into a tree whose spans point into the source registered as `source`.
    pub(crate) fn from_parsed(parsed: Parsed, source: SourceId) -> Node {
        let span = span_of(&parsed.referenced, source);
        let value =
            match parsed.value {
                ParsedValue::Null => Value::Null,
                ParsedValue::Bool(b) => Value::Bool(b),
                ParsedValue::Int(i) => Value::Int(i),
                ParsedValue::Float(f) => Value::Float(f),
                ParsedValue::String(s) => Value::String(s),
                // Fresh vectors, not `into_iter().map().collect()`: that reuses the parsed vector's
                // allocation in place, sized for the much larger parsed nodes, and keeps it for as
                // long as the tree lives (hundreds of MB for a 100,000-user directory).
                ParsedValue::Seq(items) => {
                    let mut nodes = Vec::with_capacity(items.len());
                    nodes.extend(
                        items
                            .into_iter()
                            .map(|item| Node::from_parsed(item, source)),
                    );
                    Value::Seq(nodes)
                }
                ParsedValue::Map(entries) => {
                    let mut nodes = Vec::with_capacity(entries.len());
                    nodes.extend(entries.into_iter().map(|(k, v)| {
                        (Node::from_parsed(k, source), Node::from_parsed(v, source))
                    }));
                    Value::Map(nodes)
                }
            };
        Node { span, value }
    }

    /// The entries of a mapping node, or `None` for any other node.
    #[must_use]
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence node, or `None` for any other node.
    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node]> {
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

    /// Deserializes `T` from this node. The error carries the span of the node it is about.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, NodeError> {
        T::deserialize(self)
    }
}

fn span_of(location: &serde_saphyr::Location, source: SourceId) -> Span {
    let span = location.span();
    let start = span.byte_offset().unwrap_or(0);
    let len = span.byte_len().unwrap_or(0);
    Span::new(
        source,
        usize::try_from(start).unwrap_or(usize::MAX),
        usize::try_from(len).unwrap_or(0),
    )
}

/// The tree as serde-saphyr hands it over: each node wrapped in its `Spanned`.
pub(crate) type Parsed = serde_saphyr::Spanned<ParsedValue>;

pub(crate) enum ParsedValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Parsed>),
    Map(Vec<(Parsed, Parsed)>),
}

impl<'de> Deserialize<'de> for ParsedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParsedVisitor;

        impl<'de> Visitor<'de> for ParsedVisitor {
            type Value = ParsedValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<ParsedValue, E> {
                Ok(ParsedValue::Null)
            }
            fn visit_none<E>(self) -> Result<ParsedValue, E> {
                Ok(ParsedValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ParsedValue, D::Error> {
                ParsedValue::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<ParsedValue, E> {
                Ok(ParsedValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ParsedValue, E> {
                Ok(ParsedValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParsedValue, E> {
                // Integers beyond i64 are no valid value anywhere in the format; keep them as
                // floats so the type error names a number rather than failing here.
                Ok(i64::try_from(v).map_or(ParsedValue::Float(v as f64), ParsedValue::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ParsedValue, E> {
                Ok(ParsedValue::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<ParsedValue, E> {
                Ok(ParsedValue::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<ParsedValue, E> {
                Ok(ParsedValue::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Parsed>()? {
                    items.push(item);
                }
                Ok(ParsedValue::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParsedValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Parsed, Parsed>()? {
                    entries.push(entry);
                }
                Ok(ParsedValue::Map(entries))
            }
        }

        deserializer.deserialize_any(ParsedVisitor)
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

impl<'de> Deserializer<'de> for &'de Node {
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
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        if name == SPANNED_MARKER {
            return visitor.visit_map(SpannedAccess {
                node: self,
                step: 0,
            });
        }
        let _ = fields;
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

struct NodeSeq<'de> {
    items: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for NodeSeq<'de> {
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

struct NodeMap<'de> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    value: Option<(&'de Node, &'de Node)>,
}

impl<'de> MapAccess<'de> for NodeMap<'de> {
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
struct SpannedAccess<'de> {
    node: &'de Node,
    step: u8,
}

impl<'de> MapAccess<'de> for SpannedAccess<'de> {
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
            let span = self.node.span;
            let parts = [
                span.source().index() as u64,
                span.start() as u64,
                span.len() as u64,
            ];
            seed.deserialize(de::value::SeqDeserializer::new(parts.into_iter()))
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
