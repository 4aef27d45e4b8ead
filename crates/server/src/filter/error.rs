//! Why a filter or path was refused, and where.

use std::fmt;

/// A filter or PATCH path that could not be accepted. Its message says why and, when the input
/// is at fault at a particular character, its offset (counted from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    kind: FilterErrorKind,
    offset: Option<usize>,
    scim_type: &'static str,
}

/// The reasons a filter or path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// Nothing but whitespace.
    Empty,
    /// Longer than `Limits::max_len` characters.
    TooLong { len: usize, max: usize },
    /// Groups nested, or a tree grown, deeper than `Limits::max_depth`.
    TooDeep { max: usize },
    /// A `"` with no closing `"`.
    UnterminatedString,
    /// A string literal that is not a valid JSON string (a bad escape, a raw control character).
    InvalidString { reason: String },
    /// Something other than an attribute path where one must stand.
    ExpectedAttrPath { found: String },
    /// An attribute path that breaks the `attrPath` grammar.
    InvalidAttrPath { path: String, reason: &'static str },
    /// A word where an operator must stand that is none.
    UnknownOperator { found: String },
    /// A comparison with no value, or a value that is no JSON literal.
    ExpectedValue { found: String },
    /// `not` followed by anything but `(`.
    NotWithoutParens,
    /// A `(` or `[` that is never closed.
    Unclosed { open: char },
    /// A token the grammar does not allow where it stands.
    Unexpected {
        found: String,
        expected: &'static str,
    },
    /// A value path inside a value path.
    NestedValuePath,
    /// An operator that cannot apply to the attribute's type (`gt` on a boolean).
    // Only `Filter::validate` makes it, and the server does not call that yet.
    #[cfg_attr(not(test), expect(dead_code))]
    UnsupportedComparison {
        path: String,
        op: &'static str,
        kind: &'static str,
    },
}

impl FilterError {
    pub(super) fn new(
        kind: FilterErrorKind,
        offset: Option<usize>,
        scim_type: &'static str,
    ) -> Self {
        Self {
            kind,
            offset,
            scim_type,
        }
    }

    /// Why the input was refused.
    #[must_use]
    #[cfg(test)]
    pub fn kind(&self) -> &FilterErrorKind {
        &self.kind
    }

    /// The character (counted from 0) the error is about, if it is about one.
    #[must_use]
    #[cfg(test)]
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// The `scimType` of the 400 error the server answers with (RFC 7644 §3.12):
    /// `invalidFilter`, or `invalidPath` for the structure of a PATCH path or attribute path.
    #[must_use]
    pub fn scim_type(&self) -> &'static str {
        self.scim_type
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "at character {offset}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for FilterError {}

impl fmt::Display for FilterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the input is empty"),
            Self::TooLong { len, max } => {
                write!(f, "{len} characters long, more than the limit of {max}")
            }
            Self::TooDeep { max } => write!(f, "nested deeper than the limit of {max} levels"),
            Self::UnterminatedString => f.write_str("string literal is never closed by '\"'"),
            Self::InvalidString { reason } => write!(f, "invalid string literal: {reason}"),
            Self::ExpectedAttrPath { found } => {
                write!(f, "expected an attribute path, found {found}")
            }
            Self::InvalidAttrPath { path, reason } => {
                write!(f, "invalid attribute path `{path}`: {reason}")
            }
            Self::UnknownOperator { found } => write!(
                f,
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr), found {found}"
            ),
            Self::ExpectedValue { found } => write!(
                f,
                "expected a value (a string, a number, true, false or null), found {found}"
            ),
            Self::NotWithoutParens => f.write_str("`not` must be followed by a filter in '(…)'"),
            Self::Unclosed { open } => {
                let close = if *open == '[' { ']' } else { ')' };
                write!(f, "'{open}' is never closed by '{close}'")
            }
            Self::Unexpected { found, expected } => write!(f, "expected {expected}, found {found}"),
            Self::NestedValuePath => f.write_str("value paths cannot be nested"),
            Self::UnsupportedComparison { path, op, kind } => {
                write!(f, "`{op}` cannot compare `{path}`, which is a {kind}")
            }
        }
    }
}
