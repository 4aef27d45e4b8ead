//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2): parsing, canonical
//! printing and evaluation against a resource's JSON.
//!
//! The module does no I/O and knows no schema. What the evaluator must know about attributes
//! (is a string `caseExact`? is it a `dateTime`?) it asks through [`AttributeTypes`], which the
//! server implements from its schemas.
//!
//! Parsing is bounded by [`Limits`], because filters arrive from the network: the input length is
//! checked before anything else, the parser recurses only into `(…)`, `not (…)` and `[…]`
//! groups and refuses to go deeper than `max_depth`, and `and`/`or` chains are read in a loop
//! and built as balanced trees, so `a or b or … (n terms)` costs ⌈log2 n⌉ levels of the tree
//! rather than n. The tree's height is also held to `max_depth`, which keeps the recursive
//! evaluator, `Display` and `Drop` shallow.
//!
//! Paths keep the case they were written in; every lookup compares names ASCII
//! case-insensitively, as RFC 7643 §2.1 asks.
//!
//! The module's example, `a_filter_parses_matches_and_prints_canonically` in its tests, shows
//! the three together.

mod error;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

pub use error::{FilterError, FilterErrorKind};

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted input, in characters.
    pub max_len: usize,
    /// Deepest accepted nesting of groups, and highest accepted tree (a single comparison is 1).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 16,
        }
    }
}

/// `attrPath` of RFC 7644 §3.10: `[URI ":"] ATTRNAME ["." subAttr]`.
///
/// The URN is everything before the last `:`, so `urn:scim:tonkean:tonkeanRoles` has the URN
/// `urn:scim:tonkean` and `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`
/// the URN `…:2.0:User`, the attribute `manager` and the sub-attribute `value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute of the resource's core schema.
    #[must_use]
    #[cfg(test)]
    pub fn new(attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// The same path, pointing at `sub_attr` of the attribute.
    #[must_use]
    #[cfg(test)]
    pub fn with_sub_attr(mut self, sub_attr: impl Into<String>) -> Self {
        self.sub_attr = Some(sub_attr.into());
        self
    }

    /// The same path, qualified by a schema URN.
    #[must_use]
    #[cfg(test)]
    pub fn with_urn(mut self, urn: impl Into<String>) -> Self {
        self.urn = Some(urn.into());
        self
    }

    /// Every non-null value the path designates in `resource`, multi-valued attributes
    /// flattened: `emails.value` gives each email's `value`, `tonkeanRoles` each role.
    ///
    /// A URN selects the extension object stored under that key; a URN with no such object that
    /// names a core schema (`urn:ietf:params:scim:schemas:core:…`, or the first entry of the
    /// resource's `schemas`) selects the top level. A path without a URN names a core attribute
    /// or, if the resource has none of that name, an extension attribute (RFC 7644 §3.10 only
    /// says clients SHOULD qualify those). A path that is a whole extension URN
    /// (`urn:scim:tonkean`, parsed as attribute `tonkean` of `urn:scim`) gives the extension
    /// object.
    #[must_use]
    #[cfg(test)]
    pub fn values<'v>(&self, resource: &'v serde_json::Value) -> Vec<&'v serde_json::Value> {
        eval::path_values(resource, self)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub_attr) = &self.sub_attr {
            write!(f, ".{sub_attr}")?;
        }
        Ok(())
    }
}

/// `compareOp` of RFC 7644 §3.4.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator's keyword, in the lower case the RFC prints it in.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator named by `word`, in any case.
    #[must_use]
    pub fn from_keyword(word: &str) -> Option<Self> {
        [
            Self::Eq,
            Self::Ne,
            Self::Co,
            Self::Sw,
            Self::Ew,
            Self::Gt,
            Self::Ge,
            Self::Lt,
            Self::Le,
        ]
        .into_iter()
        .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether the operator orders its operands (`gt`, `ge`, `lt`, `le`).
    #[must_use]
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `compValue` of RFC 7644 §3.4.2.2: a JSON literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            // A JSON string literal, which is what the grammar reads back.
            Self::String(s) => write!(f, "{}", serde_json::Value::from(s.as_str())),
        }
    }
}

/// A parsed filter.
///
/// Inside a [`Filter::ValuePath`], attribute paths name sub-attributes of the value path's
/// attribute: in `emails[type eq "work"]` the inner path is `type`. For a multi-valued attribute
/// of simple values, such as `tonkeanRoles`, the inner path `value` names the value itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath compareOp compValue`
    Compare(AttrPath, CompareOp, CompValue),
    /// `not (filter)`
    Not(Box<Filter>),
    /// `filter and filter`
    And(Box<Filter>, Box<Filter>),
    /// `filter or filter`
    Or(Box<Filter>, Box<Filter>),
    /// `attrPath[valFilter]`
    ValuePath(AttrPath, Box<Filter>),
}

impl Filter {
    /// `path eq value` for a string value: the filter a client sends to find an object by
    /// `userName`, `displayName` or `externalId`.
    #[must_use]
    #[cfg(test)]
    pub fn eq_string(path: AttrPath, value: impl Into<String>) -> Self {
        Self::Compare(path, CompareOp::Eq, CompValue::String(value.into()))
    }
}

/// Prints canonical filter text, which [`parse_filter`] reads back into an equivalent filter:
/// keywords in lower case, single spaces, string values as JSON strings, and parentheses only
/// where precedence needs them.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Present(path) => write!(f, "{path} pr"),
            Self::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::And(left, right) => {
                write_and_operand(f, left)?;
                f.write_str(" and ")?;
                write_and_operand(f, right)
            }
            Self::Or(left, right) => write!(f, "{left} or {right}"),
            Self::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
        }
    }
}

/// `and` binds tighter than `or`, so an `or` beneath an `and` needs its parentheses back.
fn write_and_operand(f: &mut fmt::Formatter<'_>, operand: &Filter) -> fmt::Result {
    if matches!(operand, Filter::Or(..)) {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

/// The `path` of a PATCH operation (RFC 7644 §3.5.2): `attrPath / valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// `members`, `name.givenName`, `urn:scim:tonkean:tonkeanRoles`
    Attr(AttrPath),
    /// `members[value eq "id"]`, `emails[type eq "work"].value`
    ValuePath {
        attr: AttrPath,
        filter: Filter,
        sub_attr: Option<String>,
    },
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attr(path) => write!(f, "{path}"),
            Self::ValuePath {
                attr,
                filter,
                sub_attr,
            } => {
                write!(f, "{attr}[{filter}]")?;
                if let Some(sub_attr) = sub_attr {
                    write!(f, ".{sub_attr}")?;
                }
                Ok(())
            }
        }
    }
}

/// The type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrKind {
    /// The kind named by an attribute definition's `type` (RFC 7643 §7), in any case.
    #[must_use]
    #[cfg(test)]
    pub fn from_type_name(name: &str) -> Option<Self> {
        [
            ("string", Self::String),
            ("boolean", Self::Boolean),
            ("decimal", Self::Decimal),
            ("integer", Self::Integer),
            ("dateTime", Self::DateTime),
            ("binary", Self::Binary),
            ("reference", Self::Reference),
            ("complex", Self::Complex),
        ]
        .into_iter()
        .find_map(|(type_name, kind)| type_name.eq_ignore_ascii_case(name).then_some(kind))
    }
}

/// What the evaluator needs to know about the schema; the server implements it.
///
/// Paths arrive as the filter wrote them (a URN if it gave one, names in its case), except that
/// inside a value path they are made whole: in `emails[type eq "work"]` the evaluator asks about
/// `emails.type`, and a comparison on a complex attribute with no sub-attribute (`emails co "x"`)
/// compares, and asks about, its `value` sub-attribute. For an attribute of simple values such as
/// `tonkeanRoles`, `tonkeanRoles[value eq "x"]` asks about `tonkeanRoles` itself.
pub trait AttributeTypes {
    /// Whether string comparisons on the attribute respect case (RFC 7643 §2.2 `caseExact`).
    fn case_exact(&self, path: &AttrPath) -> bool;
    /// The attribute's type. `DateTime` values compare chronologically; `Boolean` and `Binary`
    /// values cannot be ordered.
    fn kind(&self, path: &AttrPath) -> AttrKind;
}

/// Parses a `filter` query parameter (or a `.search` body's `filter`).
pub fn parse_filter(input: &str, limits: &Limits) -> Result<Filter, FilterError> {
    parser::parse_filter(input, limits)
}

/// Whether filter text holds a `(` outside its string literals. [`parse_filter`] reads grouping
/// parentheses away, so the parsed filter cannot tell `(a eq "x")` from `a eq "x"`; the tokens
/// can. Text that does not tokenize holds no parentheses this can vouch for, and is answered
/// `false`; [`parse_filter`] refuses it.
#[must_use]
pub fn has_parentheses(input: &str) -> bool {
    lexer::tokenize(input)
        .is_ok_and(|tokens| tokens.iter().any(|token| token.tok == lexer::Tok::LParen))
}

/// Parses the `path` of a PATCH operation. Errors in the path's structure are `invalidPath`;
/// errors inside its `[…]` filter, an unclosed `[` included, are `invalidFilter`.
pub fn parse_patch_path(input: &str, limits: &Limits) -> Result<PatchPath, FilterError> {
    parser::parse_patch_path(input, limits)
}

/// Parses a bare attribute path, as in `sortBy` and in the entries of `attributes` and
/// `excludedAttributes` (RFC 7644 §3.4.2.3, §3.4.2.5). Errors are `invalidPath`.
#[cfg(test)]
pub fn parse_attr_path(input: &str, limits: &Limits) -> Result<AttrPath, FilterError> {
    parser::parse_attr_path(input, limits)
}
