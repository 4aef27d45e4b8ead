//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): filter, sort, pagination and the
//! `attributes`/`excludedAttributes` projection.
//!
//! The equality filters a reconciler sends most (`userName eq`, `externalId eq`,
//! `displayName eq`, `id eq`) are answered by an index; any other filter narrows by an index
//! when one of its `and` terms allows it and is otherwise evaluated row by row, streaming, so a
//! full scan holds one page in memory, not the table.

use std::cmp::Ordering;

use rusqlite::Connection;
use scim::ResourceKind;
use scim::attribute::{get_ci, names};
use serde_json::{Value, json};

use super::error::ScimError;
use super::filter::{self, AttrPath, CompValue, CompareOp, Filter, Limits};
use super::resource;
use super::schema::{self, MAX_RESULTS, Returned, registry};

use super::store::{self, Lookup, Row};

/// Bounds on a filter's text and nesting (RFC 7644 §3.4.2.2 leaves them to the server).
pub const FILTER_LIMITS: Limits = Limits {
    max_len: 4096,
    max_depth: 16,
};

/// The parameters of a list or search request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    /// RFC 9865's `cursor`, as sent (empty for the first page). Only a service emulated with
    /// cursor paging reads it ([`super::emulate`]); otherwise it is ignored, as RFC 7644
    /// §3.4.2 has a server ignore parameters it does not know.
    pub cursor: Option<String>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_int(name: &str, value: &str) -> Result<i64, ScimError> {
    value
        .trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {value:?}")))
}

impl ListQuery {
    /// From the query string of a GET (parameter names compared case-insensitively).
    pub fn from_params(params: &[(String, String)]) -> Result<Self, ScimError> {
        let mut q = Self::default();
        for (name, value) in params {
            match name.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(value.clone()),
                "startindex" => q.start_index = Some(parse_int("startIndex", value)?),
                "cursor" => q.cursor = Some(value.clone()),
                "count" => q.count = Some(parse_int("count", value)?),
                "sortby" => q.sort_by = Some(value.clone()),
                "sortorder" => q.descending = parse_order(value)?,
                "attributes" => q.attributes = split_list(value),
                "excludedattributes" => q.excluded_attributes = split_list(value),
                _ => {}
            }
        }
        Ok(q)
    }

    /// From a `SearchRequest` body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(map) = body else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        let mut q = Self::default();
        let text = |v: &Value, name: &str| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must be a string")))
        };
        let int = |v: &Value, name: &str| match v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
            Value::String(s) => parse_int(name, s),
            _ => Err(ScimError::invalid_value(format!(
                "{name} must be an integer"
            ))),
        };
        let list = |v: &Value, name: &str| match v {
            Value::Array(items) => items.iter().map(|i| text(i, name)).collect(),
            Value::String(s) => Ok(split_list(s)),
            _ => Err(ScimError::invalid_value(format!(
                "{name} must be a list of strings"
            ))),
        };
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            match key.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(text(value, "filter")?),
                "startindex" => q.start_index = Some(int(value, "startIndex")?),
                "cursor" => q.cursor = Some(text(value, "cursor")?),
                "count" => q.count = Some(int(value, "count")?),
                "sortby" => q.sort_by = Some(text(value, "sortBy")?),
                "sortorder" => q.descending = parse_order(&text(value, "sortOrder")?)?,
                "attributes" => q.attributes = list(value, "attributes")?,
                "excludedattributes" => q.excluded_attributes = list(value, "excludedAttributes")?,
                _ => {}
            }
        }
        Ok(q)
    }

    /// The projection this query asks for, for one resource type.
    #[must_use]
    pub fn projection(&self, kind: ResourceKind) -> Projection {
        Projection::new(kind, &self.attributes, &self.excluded_attributes)
    }
}

fn parse_order(value: &str) -> Result<bool, ScimError> {
    match value.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::invalid_value(format!(
            "sortOrder must be \"ascending\" or \"descending\", not {value:?}"
        ))),
    }
}

/// Parses a filter, answering 400 `invalidFilter` (RFC 7644 §3.4.2.2) when it does not parse or
/// exceeds the limits.
pub fn parse_filter(text: &str) -> Result<Filter, ScimError> {
    filter::parse_filter(text, &FILTER_LIMITS)
        .map_err(|e| ScimError::new(400, Some(e.scim_type()), e.to_string()))
}

/// An index lookup equivalent to the filter (`exact`) or narrowing it (an `and` term).
fn index_lookup(kind: ResourceKind, filter: &Filter) -> Option<(Lookup, bool)> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, CompValue::String(value))
            if path.sub_attr.is_none()
                && path
                    .urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema())) =>
        {
            let attr = path.attr.to_ascii_lowercase();
            let lookup = match attr.as_str() {
                "id" => Lookup::Id(value.clone()),
                "username" if kind == ResourceKind::User => Lookup::UserName(value.clone()),
                "externalid" => Lookup::ExternalId(value.clone()),
                "displayname" => Lookup::DisplayName(value.clone()),
                _ => return None,
            };
            Some((lookup, true))
        }
        Filter::And(a, b) => index_lookup(kind, a)
            .or_else(|| index_lookup(kind, b))
            .map(|(lookup, _)| (lookup, false)),
        _ => None,
    }
}

/// Whether the filter refers to `groups`, which is computed and so costs a lookup per row.
fn mentions_groups(filter: &Filter) -> bool {
    filter.to_string().to_ascii_lowercase().contains("groups")
}

/// One type's share of a list: its total and the rendered resources of the requested window.
pub struct Page {
    pub total: usize,
    pub resources: Vec<Value>,
}

/// Lists one resource type: `offset` is 0-based, `count` already capped.
#[allow(clippy::too_many_arguments)]
pub fn list(
    conn: &Connection,
    kind: ResourceKind,
    filter: Option<&Filter>,
    sort_by: Option<&str>,
    descending: bool,
    offset: usize,
    count: usize,
    projection: &Projection,
    base_url: &str,
) -> Result<Page, ScimError> {
    let with_groups = kind == ResourceKind::User;
    let groups_for_output = with_groups && projection.wants("groups");
    let render = |row: &Row, groups: bool| -> Result<Value, ScimError> {
        let groups = if groups {
            Some(
                store::memberships(conn, &[row.id.as_str()])?
                    .remove(&row.id)
                    .unwrap_or_default(),
            )
        } else {
            None
        };
        Ok(resource::render(row, base_url, groups.as_deref()))
    };
    let lookup = filter.and_then(|f| index_lookup(kind, f));
    let exact = filter.is_none() || lookup.as_ref().is_some_and(|(_, exact)| *exact);
    let lookup = lookup.map(|(l, _)| l);
    let types = schema::ResourceTypes(kind);

    if exact && sort_by.is_none() {
        return page_in_order(
            conn,
            kind,
            lookup.as_ref(),
            (offset, count),
            projection,
            base_url,
            groups_for_output,
        );
    }

    let groups_for_filter = with_groups
        && (filter.is_some_and(mentions_groups)
            || sort_by.is_some_and(|s| s.to_ascii_lowercase().contains("groups")));
    let mut failure = None;
    let mut total = 0usize;
    let mut resources = Vec::new();
    let mut keyed: Vec<(Option<Value>, String)> = Vec::new();
    let sort_path = sort_by.map(|s| registry().split_name(kind, s));
    store::scan(conn, kind, lookup.as_ref(), 0, None, |row| {
        let rendered = match render(&row, groups_for_filter) {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        if filter.is_some_and(|f| !f.matches(&rendered, &types)) {
            return true;
        }
        if let Some(path) = &sort_path {
            keyed.push((sort_key(kind, &rendered, path), row.id));
        } else {
            if total >= offset && resources.len() < count {
                resources.push(rendered);
            }
            total += 1;
        }
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if sort_path.is_some() {
        total = keyed.len();
        keyed.sort_by(|(a, _), (b, _)| {
            // RFC 7644 §3.4.2.3: unassigned values sort last ascending, first descending.
            let order = match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_values(a, b),
            };
            if descending { order.reverse() } else { order }
        });
        for (_, id) in keyed.iter().skip(offset).take(count) {
            if let Some(row) = store::get(conn, kind, id)? {
                resources.push(render(&row, groups_for_output)?);
            }
        }
    } else if groups_for_filter != groups_for_output {
        resources = resources
            .into_iter()
            .map(|mut r| {
                if let Value::Object(m) = &mut r
                    && !groups_for_output
                {
                    m.remove("groups");
                }
                r
            })
            .collect();
    }
    for r in &mut resources {
        project(r, projection);
    }
    Ok(Page { total, resources })
}

/// A page in insertion order, straight from the store: no filter, or one an index answers.
fn page_in_order(
    conn: &Connection,
    kind: ResourceKind,
    lookup: Option<&Lookup>,
    (offset, count): (usize, usize),
    projection: &Projection,
    base_url: &str,
    groups_for_output: bool,
) -> Result<Page, ScimError> {
    let total = store::count(conn, kind, lookup)?;
    let mut rows = Vec::new();
    if count > 0 {
        store::scan(conn, kind, lookup, offset, Some(count), |row| {
            rows.push(row);
            true
        })?;
    }
    let groups = if groups_for_output {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        store::memberships(conn, &ids)?
    } else {
        std::collections::HashMap::new()
    };
    let mut resources = Vec::with_capacity(rows.len());
    for row in rows {
        let member_of = groups.get(row.id.as_str()).map(Vec::as_slice);
        let mut r = resource::render_owned(row, base_url, member_of);
        project(&mut r, projection);
        resources.push(r);
    }
    Ok(Page { total, resources })
}

fn sort_key(kind: ResourceKind, resource: &Value, path: &AttrPath) -> Option<Value> {
    let container = match path
        .urn
        .as_deref()
        .and_then(|u| registry().schema_of(kind, u))
    {
        Some(urn) if urn != kind.core_schema() => resource.get(urn)?,
        _ => resource,
    };
    let mut value = get_ci(container, &path.attr)?;
    if let Value::Array(items) = value {
        // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, if any.
        value = items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    let value = match &path.sub_attr {
        Some(sub) => get_ci(value, sub)?,
        None if value.is_object() => get_ci(value, "value")?,
        None => value,
    };
    let case_exact = registry().resolve(kind, path).is_some_and(|a| a.case_exact);
    Some(match value {
        Value::String(s) if !case_exact => Value::String(s.to_lowercase()),
        other => other.clone(),
    })
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&b.as_f64().unwrap_or(0.0)),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// The 1-based start index and capped count of a query (RFC 7644 §3.4.2.4: values below 1 mean
/// 1, a negative count means 0, and the server may cap it).
#[must_use]
pub fn window(query: &ListQuery) -> (usize, usize) {
    let start = query.start_index.unwrap_or(1).max(1) as usize;
    let count = query
        .count
        .map_or(MAX_RESULTS, |c| (c.max(0) as usize).min(MAX_RESULTS));
    (start, count)
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) resolved for one resource type.
#[derive(Debug, Clone)]
pub struct Projection {
    kind: ResourceKind,
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    #[must_use]
    pub fn new(kind: ResourceKind, attributes: &[String], excluded: &[String]) -> Self {
        let resolve = |names: &[String]| -> Vec<AttrPath> {
            names
                .iter()
                .map(|n| {
                    let n = n.trim();
                    if let Some(urn) = registry().schema_of(kind, n) {
                        // A bare schema URN names every attribute of that schema.
                        AttrPath {
                            urn: Some(urn.to_owned()),
                            attr: String::new(),
                            sub_attr: None,
                        }
                    } else {
                        let mut p = registry().split_name(kind, n);
                        if p.urn.as_deref() == Some(kind.core_schema()) {
                            p.urn = None;
                        }
                        p
                    }
                })
                .collect()
        };
        Self {
            kind,
            attributes: resolve(attributes),
            excluded: resolve(excluded),
        }
    }

    /// Whether the output will contain this core attribute.
    #[must_use]
    pub fn wants(&self, attr: &str) -> bool {
        let named =
            |list: &[AttrPath]| list.iter().any(|p| p.urn.is_none() && names(&p.attr, attr));
        if self.attributes.is_empty() {
            !self
                .excluded
                .iter()
                .any(|p| p.urn.is_none() && p.sub_attr.is_none() && names(&p.attr, attr))
        } else {
            named(&self.attributes)
        }
    }

    /// Whether nothing at all was asked for beyond the defaults.
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: &mut Value) {
        let Value::Object(map) = resource else { return };
        let registry = registry();
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let urn = registry
                .schema_of(self.kind, &key)
                .filter(|u| *u != self.kind.core_schema());
            if let Some(urn) = urn {
                let Some(Value::Object(ext)) = map.get_mut(&key) else {
                    continue;
                };
                let members: Vec<String> = ext.keys().cloned().collect();
                for name in members {
                    let returned = registry
                        .attribute(self.kind, Some(urn), &name)
                        .map_or(Returned::Default, |(_, a)| a.returned);
                    let in_urn = |p: &&AttrPath| {
                        p.urn
                            .as_deref()
                            .is_some_and(|u| u.eq_ignore_ascii_case(urn))
                            && (p.attr.is_empty() || names(&p.attr, &name))
                    };
                    let selected: Vec<&AttrPath> = self.attributes.iter().filter(in_urn).collect();
                    let excluded: Vec<&AttrPath> = self.excluded.iter().filter(in_urn).collect();
                    if let Some(v) = ext.get_mut(&name)
                        && !keep(
                            returned,
                            &selected,
                            &excluded,
                            !self.attributes.is_empty(),
                            v,
                        )
                    {
                        ext.remove(&name);
                    }
                }
                if ext.is_empty() {
                    map.remove(&key);
                }
                continue;
            }
            if key == "schemas" || key == "id" {
                continue;
            }
            let returned = registry
                .attribute(self.kind, None, &key)
                .map_or(Returned::Default, |(_, a)| a.returned);
            let core = |p: &&AttrPath| p.urn.is_none() && names(&p.attr, &key);
            let selected: Vec<&AttrPath> = self.attributes.iter().filter(core).collect();
            let excluded: Vec<&AttrPath> = self.excluded.iter().filter(core).collect();
            if let Some(v) = map.get_mut(&key)
                && !keep(
                    returned,
                    &selected,
                    &excluded,
                    !self.attributes.is_empty(),
                    v,
                )
            {
                map.remove(&key);
            }
        }
        // Keep `schemas` honest about the extensions still present.
        let present: Vec<Value> = std::iter::once(self.kind.core_schema())
            .chain(
                schema::extensions(self.kind)
                    .iter()
                    .copied()
                    .filter(|u| map.contains_key(*u)),
            )
            .map(|u| json!(u))
            .collect();
        map.insert("schemas".to_owned(), Value::Array(present));
    }
}

/// Whether to keep one attribute, trimming its sub-attributes in place when only some are
/// selected or excluded.
fn keep(
    returned: Returned,
    selected: &[&AttrPath],
    excluded: &[&AttrPath],
    selecting: bool,
    value: &mut Value,
) -> bool {
    match returned {
        Returned::Always => return true,
        Returned::Never => return false,
        Returned::Request if selected.is_empty() => return false,
        _ => {}
    }
    if selecting {
        if selected.is_empty() {
            return false;
        }
        if selected.iter().any(|p| p.sub_attr.is_none()) {
            return true;
        }
        let subs: Vec<&str> = selected
            .iter()
            .filter_map(|p| p.sub_attr.as_deref())
            .collect();
        retain_subs(value, |name| subs.iter().any(|s| names(s, name)));
        return !is_empty(value);
    }
    if excluded.iter().any(|p| p.sub_attr.is_none()) {
        return false;
    }
    let subs: Vec<&str> = excluded
        .iter()
        .filter_map(|p| p.sub_attr.as_deref())
        .collect();
    if !subs.is_empty() {
        retain_subs(value, |name| !subs.iter().any(|s| names(s, name)));
    }
    !is_empty(value)
}

fn retain_subs(value: &mut Value, keep: impl Fn(&str) -> bool) {
    let trim = |v: &mut Value| {
        if let Value::Object(m) = v {
            m.retain(|k, _| keep(k));
        }
    };
    match value {
        Value::Array(items) => {
            items.iter_mut().for_each(trim);
            items.retain(|i| !is_empty(i));
        }
        other => trim(other),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// A helper for callers that render one resource with a projection.
pub fn project(resource: &mut Value, projection: &Projection) {
    if !projection.is_default() {
        projection.apply(resource);
    }
}
