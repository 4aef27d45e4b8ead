//! Evaluates a filter against a resource's JSON (RFC 7644 §3.4.2.2).
//!
//! The rules, and the choices where the RFC leaves room:
//!
//! - Names match ASCII case-insensitively (RFC 7643 §2.1); null values count as absent
//!   (RFC 7643 §2.5).
//! - A comparison on a multi-valued attribute matches if any value matches; a comparison on a
//!   complex value without a sub-attribute compares its `value` sub-attribute (`emails co "x"`).
//! - `pr` matches a value that is not null, not `""`, not `[]` and not `{}`.
//! - `eq null` matches when the attribute is absent and `ne null` when it is present; any other
//!   operator against `null` matches nothing.
//! - `ne` is the negation of `eq` per value, and matches an attribute with no value at all.
//! - Strings compare case-insensitively unless the schema says `caseExact`; `gt`/`ge`/`lt`/`le`
//!   order them lexicographically (by code point, after lower-casing). `dateTime` attributes
//!   compare chronologically when both sides parse as RFC 3339 date-times. Numbers compare
//!   numerically, booleans only by `eq`/`ne`.
//! - Ordering a boolean or binary attribute matches nothing; [`Filter::validate`] reports it up
//!   front as the `invalidFilter` RFC 7644 asks for. Operands of different JSON types are never
//!   equal.

use std::borrow::Cow;
use std::cmp::Ordering;

use scim::attribute::{get_ci_in, names};
use serde_json::{Map, Value};

use super::{AttrKind, AttrPath, AttributeTypes, CompValue, CompareOp, Filter};
#[cfg(test)]
use super::{FilterError, FilterErrorKind};

impl Filter {
    /// Whether `resource` (a User, a Group…) matches the filter.
    #[must_use]
    pub fn matches(&self, resource: &Value, types: &dyn AttributeTypes) -> bool {
        eval(self, Scope::Resource(resource), types)
    }

    /// Whether one value of the multi-valued attribute `attr` matches the filter of a value
    /// path, as PATCH needs to find the values `members[value eq "id"]` designates. The value is
    /// a complex value (an object) or, for attributes of simple values such as `tonkeanRoles`, the
    /// value itself, which the filter names `value`.
    #[must_use]
    #[cfg(test)]
    pub fn matches_value(
        &self,
        value: &Value,
        attr: &AttrPath,
        types: &dyn AttributeTypes,
    ) -> bool {
        eval(self, Scope::Value { value, attr }, types)
    }

    /// Checks what the grammar cannot: that no `gt`, `ge`, `lt` or `le` orders a boolean or a
    /// binary attribute, which RFC 7644 §3.4.2.2 answers with 400 `invalidFilter`.
    #[cfg(test)]
    pub fn validate(&self, types: &dyn AttributeTypes) -> Result<(), FilterError> {
        validate(self, None, types)
    }
}

#[cfg(test)]
fn validate(
    filter: &Filter,
    outer: Option<&AttrPath>,
    types: &dyn AttributeTypes,
) -> Result<(), FilterError> {
    match filter {
        Filter::Present(_) => Ok(()),
        Filter::Compare(path, op, _) => {
            if !op.is_ordering() {
                return Ok(());
            }
            let path = match outer {
                Some(outer) => Cow::Owned(inner_path(outer, path)),
                None => Cow::Borrowed(path),
            };
            let kind = match types.kind(&path) {
                AttrKind::Boolean => "boolean",
                AttrKind::Binary => "binary",
                _ => return Ok(()),
            };
            let kind = FilterErrorKind::UnsupportedComparison {
                path: path.to_string(),
                op: op.as_str(),
                kind,
            };
            Err(FilterError::new(kind, None, "invalidFilter"))
        }
        Filter::Not(inner) => validate(inner, outer, types),
        Filter::And(left, right) | Filter::Or(left, right) => {
            validate(left, outer, types)?;
            validate(right, outer, types)
        }
        Filter::ValuePath(path, inner) => validate(inner, Some(path), types),
    }
}

/// What paths are resolved against.
#[derive(Clone, Copy)]
enum Scope<'v, 'p> {
    Resource(&'v Value),
    /// One value of the multi-valued attribute `attr`, inside a value path.
    Value {
        value: &'v Value,
        attr: &'p AttrPath,
    },
}

fn eval(filter: &Filter, scope: Scope<'_, '_>, types: &dyn AttributeTypes) -> bool {
    match filter {
        Filter::Present(path) => scope_values(scope, path).into_iter().any(is_present),
        Filter::Compare(path, op, value) => compare(scope, path, *op, value, types),
        Filter::Not(inner) => !eval(inner, scope, types),
        Filter::And(left, right) => eval(left, scope, types) && eval(right, scope, types),
        Filter::Or(left, right) => eval(left, scope, types) || eval(right, scope, types),
        Filter::ValuePath(path, inner) => match scope {
            Scope::Resource(resource) => path_values(resource, path)
                .into_iter()
                .any(|value| eval(inner, Scope::Value { value, attr: path }, types)),
            // The parser refuses nested value paths; a hand-built one matches nothing.
            Scope::Value { .. } => false,
        },
    }
}

/// `emails` and `type` make `emails.type`: the path the schema knows an inner path by.
fn inner_path(outer: &AttrPath, inner: &AttrPath) -> AttrPath {
    AttrPath {
        urn: outer.urn.clone(),
        attr: outer.attr.clone(),
        sub_attr: Some(inner.attr.clone()),
    }
}

fn compare(
    scope: Scope<'_, '_>,
    path: &AttrPath,
    op: CompareOp,
    expected: &CompValue,
    types: &dyn AttributeTypes,
) -> bool {
    let values = scope_values(scope, path);
    if *expected == CompValue::Null {
        let present = values.into_iter().any(is_present);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    // The path the schema knows the compared values by, worked out once and only if needed.
    let direct = || match scope {
        Scope::Resource(_) => Cow::Borrowed(path),
        // A simple value compared as `value` is a value of the attribute itself.
        Scope::Value { value, attr } if !value.is_object() => Cow::Borrowed(attr),
        Scope::Value { attr, .. } => Cow::Owned(inner_path(attr, path)),
    };
    let mut direct_rules = None;
    let mut value_rules = None;
    let mut any_value = false;
    for value in values {
        let (value, rules) = match value {
            // A complex value compares by its `value` sub-attribute.
            Value::Object(object) if path.sub_attr.is_none() => {
                let Some(inner) = get_ci_in(object, "value").filter(|v| !v.is_null()) else {
                    continue;
                };
                let rules = *value_rules.get_or_insert_with(|| {
                    let mut with_value = direct().into_owned();
                    with_value.sub_attr = Some("value".to_owned());
                    Rules::of(&with_value, types)
                });
                (inner, rules)
            }
            _ => (
                value,
                *direct_rules.get_or_insert_with(|| Rules::of(&direct(), types)),
            ),
        };
        any_value = true;
        if compare_one(value, op, expected, rules) {
            return true;
        }
    }
    !any_value && op == CompareOp::Ne
}

/// What the schema says about the compared attribute.
#[derive(Clone, Copy)]
struct Rules {
    kind: AttrKind,
    case_exact: bool,
}

impl Rules {
    fn of(path: &AttrPath, types: &dyn AttributeTypes) -> Self {
        Self {
            kind: types.kind(path),
            case_exact: types.case_exact(path),
        }
    }
}

fn compare_one(actual: &Value, op: CompareOp, expected: &CompValue, rules: Rules) -> bool {
    if op == CompareOp::Ne {
        return !compare_one(actual, CompareOp::Eq, expected, rules);
    }
    match (actual, expected) {
        (Value::String(actual), CompValue::String(expected)) => {
            compare_strings(actual, op, expected, rules)
        }
        (Value::Number(actual), CompValue::Number(expected)) => {
            !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
                && compare_numbers(actual, expected).is_some_and(|ord| ordering_holds(op, ord))
        }
        (Value::Bool(actual), CompValue::Bool(expected)) => {
            op == CompareOp::Eq && actual == expected
        }
        _ => false,
    }
}

fn compare_strings(actual: &str, op: CompareOp, expected: &str, rules: Rules) -> bool {
    if op.is_ordering() && matches!(rules.kind, AttrKind::Boolean | AttrKind::Binary) {
        return false;
    }
    if rules.kind == AttrKind::DateTime
        && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && let (Some(actual), Some(expected)) = (parse_date_time(actual), parse_date_time(expected))
    {
        return ordering_holds(op, actual.cmp(&expected));
    }
    let exact = rules.case_exact;
    match op {
        CompareOp::Co => contains(actual, expected, exact),
        CompareOp::Sw => starts_with(actual, expected, exact),
        CompareOp::Ew => ends_with(actual, expected, exact),
        _ => ordering_holds(op, cmp_strings(actual, expected, exact)),
    }
}

fn ordering_holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn cmp_strings(a: &str, b: &str, exact: bool) -> Ordering {
    if exact {
        a.cmp(b)
    } else if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .cmp(b.chars().flat_map(char::to_lowercase))
    }
}

fn contains(haystack: &str, needle: &str, exact: bool) -> bool {
    if exact {
        haystack.contains(needle)
    } else if haystack.is_ascii() && needle.is_ascii() {
        needle.is_empty()
            || haystack
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        haystack.to_lowercase().contains(&needle.to_lowercase())
    }
}

fn starts_with(haystack: &str, prefix: &str, exact: bool) -> bool {
    if exact {
        haystack.starts_with(prefix)
    } else if haystack.is_ascii() && prefix.is_ascii() {
        haystack.len() >= prefix.len()
            && haystack.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    } else {
        haystack.to_lowercase().starts_with(&prefix.to_lowercase())
    }
}

fn ends_with(haystack: &str, suffix: &str, exact: bool) -> bool {
    if exact {
        haystack.ends_with(suffix)
    } else if haystack.is_ascii() && suffix.is_ascii() {
        haystack.len() >= suffix.len()
            && haystack.as_bytes()[haystack.len() - suffix.len()..]
                .eq_ignore_ascii_case(suffix.as_bytes())
    } else {
        haystack.to_lowercase().ends_with(&suffix.to_lowercase())
    }
}

/// Integers compare exactly, anything else as `f64`.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    let integer = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// A value counts as present unless it is null or empty (RFC 7644 §3.4.2.2 `pr`).
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(values) => values.iter().any(is_present),
        Value::Object(object) => object.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The object holding the attributes of `urn`'s schema in `resource`: the extension object
/// stored under the URN, or the resource itself for its core schema.
fn schema_object<'v>(resource: &'v Value, urn: Option<&str>) -> Option<&'v Map<String, Value>> {
    let resource = resource.as_object()?;
    let Some(urn) = urn else {
        return Some(resource);
    };
    if let Some(extension) = get_ci_in(resource, urn) {
        return extension.as_object();
    }
    let is_core = starts_with(urn, scim::urn::CORE_PREFIX, false)
        || get_ci_in(resource, "schemas")
            .and_then(|schemas| schemas.as_array()?.first()?.as_str())
            .is_some_and(|core| core.eq_ignore_ascii_case(urn));
    is_core.then_some(resource)
}

/// Every non-null value `path` designates in `resource`, arrays flattened. A path without a URN
/// names a core attribute or, failing that, an extension attribute of that name.
pub(super) fn path_values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(object) = schema_object(resource, path.urn.as_deref()) else {
        // `urn:scim:tonkean` reads as attribute `tonkean` of `urn:scim`, but names the extension.
        if let (Some(urn), None, Some(resource)) = (&path.urn, &path.sub_attr, resource.as_object())
            && let Some(extension) = get_ci_in(resource, &format!("{urn}:{}", path.attr))
        {
            push_values(&mut out, extension, None);
        }
        return out;
    };
    let value = get_ci_in(object, &path.attr).or_else(|| {
        // RFC 7644 §3.10: clients SHOULD, not MUST, qualify extension attributes with their URN.
        path.urn
            .is_none()
            .then(|| extension_attr(object, &path.attr))?
    });
    if let Some(value) = value {
        push_values(&mut out, value, path.sub_attr.as_deref());
    }
    out
}

/// `attr` in the first extension object of `resource` that has it.
fn extension_attr<'v>(resource: &'v Map<String, Value>, attr: &str) -> Option<&'v Value> {
    resource
        .iter()
        .filter(|(key, _)| key.contains(':'))
        .find_map(|(_, extension)| get_ci_in(extension.as_object()?, attr))
}

/// The values `path` designates within one value of a value path's attribute.
fn scope_values<'v>(scope: Scope<'v, '_>, path: &AttrPath) -> Vec<&'v Value> {
    match scope {
        Scope::Resource(resource) => path_values(resource, path),
        Scope::Value { value, .. } => {
            let mut out = Vec::new();
            match value {
                Value::Object(object) => {
                    if let Some(value) = get_ci_in(object, &path.attr) {
                        push_values(&mut out, value, path.sub_attr.as_deref());
                    }
                }
                // A simple value is its own `value`.
                simple if names(&path.attr, "value") && path.sub_attr.is_none() => {
                    push_values(&mut out, simple, None);
                }
                _ => {}
            }
            out
        }
    }
}

/// Pushes `value`, or its `sub_attr`, flattening arrays and dropping nulls.
fn push_values<'v>(out: &mut Vec<&'v Value>, value: &'v Value, sub_attr: Option<&str>) {
    match (value, sub_attr) {
        (Value::Array(values), _) => {
            for value in values {
                // Arrays do not nest in SCIM; one level of flattening is all there is.
                if !value.is_array() {
                    push_values(out, value, sub_attr);
                }
            }
        }
        (Value::Object(object), Some(sub_attr)) => {
            if let Some(value) = get_ci_in(object, sub_attr) {
                push_values(out, value, None);
            }
        }
        (Value::Null, _) | (_, Some(_)) => {}
        (value, None) => out.push(value),
    }
}

/// An RFC 3339 date-time (`xsd:dateTime`, RFC 7643 §2.3.5) as nanoseconds since the epoch, UTC.
/// A missing offset is read as UTC.
pub(super) fn parse_date_time(text: &str) -> Option<i128> {
    let at = match text.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(_) => text
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    Some(at.as_nanosecond())
}
