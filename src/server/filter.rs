//! Placeholder for the RFC 7644 §3.4.2.2 filter and PATCH path module, replaced when the `filter`
//! branch lands. It only carries the planned interface so the rest of the server compiles.

use std::fmt;

/// Bounds on filter input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_len: usize,
    pub max_depth: usize,
}

/// An attribute path: optional schema URN, attribute, optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A comparison value.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

/// Attribute data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, CompValue),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    ValuePath(AttrPath, Box<Filter>),
}

/// A PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    Attr(AttrPath),
    ValuePath {
        attr: AttrPath,
        filter: Filter,
        sub_attr: Option<String>,
    },
}

/// A filter or path that does not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct FilterError {
    detail: String,
    path: bool,
}

impl FilterError {
    #[must_use]
    pub fn scim_type(&self) -> &'static str {
        if self.path {
            "invalidPath"
        } else {
            "invalidFilter"
        }
    }
}

/// Schema knowledge the evaluator needs.
pub trait AttributeTypes {
    fn case_exact(&self, path: &AttrPath) -> bool;
    fn kind(&self, path: &AttrPath) -> AttrKind;
}

pub fn parse_filter(input: &str, limits: &Limits) -> Result<Filter, FilterError> {
    let _ = limits;
    Err(FilterError {
        detail: format!("filters are not supported yet: {input}"),
        path: false,
    })
}

pub fn parse_patch_path(input: &str, limits: &Limits) -> Result<PatchPath, FilterError> {
    let _ = limits;
    Err(FilterError {
        detail: format!("paths are not supported yet: {input}"),
        path: true,
    })
}

impl Filter {
    #[must_use]
    pub fn matches(&self, resource: &serde_json::Value, types: &dyn AttributeTypes) -> bool {
        let _ = (resource, types);
        false
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}
