//! PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with or without a path, with
//! value-path filters. Operations apply in order to a copy of the stored body; the result is
//! validated as a whole, like a PUT, so a PATCH can never store what a PUT could not.

use scim::ResourceKind;
use scim::attribute::{get_ci_in, names, schemas_include};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::query::FILTER_LIMITS;
use super::resource::check_value;
use super::schema::{self, Attribute, Mutability, registry};

pub use scim::patch::Op;

/// One entry of `Operations`.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parses a `PatchOp` message.
pub fn parse(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax("a PatchOp must be a JSON object"));
    };
    let is_patch = get_ci_in(map, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| schemas_include(s, scim::urn::PATCH_OP));
    if !is_patch {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must be [\"{}\"]",
            scim::urn::PATCH_OP
        )));
    }
    let Some(Value::Array(operations)) = get_ci_in(map, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "a PatchOp needs an \"Operations\" list",
        ));
    };
    if operations.is_empty() {
        return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
    }
    operations
        .iter()
        .map(|operation| {
            let Value::Object(o) = operation else {
                return Err(ScimError::invalid_syntax(
                    "each operation must be an object",
                ));
            };
            let word = get_ci_in(o, "op").and_then(Value::as_str);
            let Some(op) = word.and_then(Op::from_word) else {
                return Err(ScimError::invalid_syntax(format!(
                    "op must be add, replace or remove, not {}",
                    word.map_or_else(|| "missing".to_owned(), str::to_ascii_lowercase)
                )));
            };
            let path = match get_ci_in(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(p.clone()),
                Some(_) => return Err(ScimError::invalid_path("path must be a string")),
            };
            let value = get_ci_in(o, "value").cloned();
            if op != Op::Remove && value.is_none() {
                return Err(ScimError::invalid_syntax("add and replace need a value"));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Applies the operations to a stored body.
pub fn apply(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    ops: &[Operation],
) -> Result<(), ScimError> {
    for operation in ops {
        apply_one(kind, body, operation)?;
    }
    // An extension left empty is no longer present.
    for urn in schema::extensions(kind) {
        if body
            .get(*urn)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
        {
            body.remove(*urn);
        }
    }
    Ok(())
}

fn apply_one(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    operation: &Operation,
) -> Result<(), ScimError> {
    let null = Value::Null;
    let value = operation.value.as_ref().unwrap_or(&null);
    let Some(path) = operation.path.as_deref() else {
        // RFC 7644 §3.5.2.1 / §3.5.2.3: no path, the value is a partial resource.
        if operation.op == Op::Remove {
            return Err(ScimError::no_target("remove needs a path"));
        }
        let Value::Object(values) = value else {
            return Err(ScimError::invalid_syntax(
                "without a path, the value must be an object",
            ));
        };
        for (key, v) in values {
            if names(key, "schemas") {
                continue;
            }
            if let Some(urn) = registry().schema_of(kind, key) {
                let Value::Object(inner) = v else {
                    return Err(ScimError::invalid_syntax(format!(
                        "{key} must be an object"
                    )));
                };
                let urn = (urn != kind.core_schema()).then_some(urn);
                for (name, v) in inner {
                    let path = registry().split_name(kind, name);
                    let target = AttrPath {
                        urn: urn.map(str::to_owned),
                        ..path
                    };
                    apply_attr(kind, body, operation.op, &target, v, false)?;
                }
                continue;
            }
            let target = registry().split_name(kind, key);
            apply_attr(kind, body, operation.op, &target, v, false)?;
        }
        return Ok(());
    };

    // A path that is a bare extension URN addresses the whole extension.
    if let Some(urn) = registry().schema_of(kind, path.trim())
        && urn != kind.core_schema()
    {
        if operation.op == Op::Remove {
            body.remove(urn);
            return Ok(());
        }
        let Value::Object(inner) = value else {
            return Err(ScimError::invalid_syntax(format!(
                "the value for {urn} must be an object"
            )));
        };
        for (name, v) in inner {
            let target = AttrPath {
                urn: Some(urn.to_owned()),
                attr: name.clone(),
                sub_attr: None,
            };
            apply_attr(kind, body, operation.op, &target, v, false)?;
        }
        return Ok(());
    }

    match filter::parse_patch_path(path, &FILTER_LIMITS).map_err(|e| {
        ScimError::new(
            400,
            Some(e.scim_type()),
            format!("invalid path {path:?}: {e}"),
        )
    })? {
        PatchPath::Attr(target) => apply_attr(kind, body, operation.op, &target, value, true),
        PatchPath::ValuePath {
            attr,
            filter,
            sub_attr,
        } => apply_filtered(
            kind,
            body,
            operation.op,
            &attr,
            &filter,
            sub_attr.as_deref(),
            value,
        ),
    }
}

/// Finds an attribute and the object holding it (the body, or its extension object).
fn locate<'a>(
    kind: ResourceKind,
    body: &'a mut Map<String, Value>,
    target: &AttrPath,
    explicit: bool,
) -> Result<(&'a mut Map<String, Value>, &'static Attribute), ScimError> {
    let Some((ext, attribute)) = registry().attribute(kind, target.urn.as_deref(), &target.attr)
    else {
        let name = match &target.urn {
            Some(u) => format!("{u}:{}", target.attr),
            None => target.attr.clone(),
        };
        let detail = format!("no attribute {name} on a {}", kind.name());
        return Err(if explicit {
            ScimError::invalid_path(detail)
        } else {
            ScimError::invalid_value(detail)
        });
    };
    let container = match ext {
        Some(urn) => {
            let entry = body
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            entry.as_object_mut().expect("just made an object")
        }
        None => body,
    };
    Ok((container, attribute))
}

fn read_only(attribute: &Attribute) -> bool {
    matches!(attribute.mutability, Mutability::ReadOnly) || attribute.name == "schemas"
}

// One arm per (operation, sub-attribute) case of RFC 7644 §3.5.2, side by side.
#[allow(clippy::too_many_lines)]
fn apply_attr(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    op: Op,
    target: &AttrPath,
    value: &Value,
    explicit: bool,
) -> Result<(), ScimError> {
    let (container, attribute) = locate(kind, body, target, explicit)?;
    if read_only(attribute) || attribute.mutability == Mutability::WriteOnly {
        if explicit && read_only(attribute) {
            return Err(ScimError::mutability(format!(
                "{} is read-only",
                attribute.name
            )));
        }
        // A readOnly attribute inside a path-less value is ignored, as in a PUT.
        return Ok(());
    }
    let name = attribute.name.clone();
    let sub = match &target.sub_attr {
        Some(s) => Some(attribute.sub(s).ok_or_else(|| {
            ScimError::invalid_path(format!("no sub-attribute {}.{s}", attribute.name))
        })?),
        None => None,
    };

    match (op, sub) {
        (Op::Remove, None) => {
            if attribute.multi_valued && !value.is_null() {
                // Tolerated form: remove the listed values from a multi-valued attribute.
                let doomed = match check_value(attribute, value)? {
                    Some(Value::Array(d)) => d,
                    _ => Vec::new(),
                };
                if let Some(Value::Array(items)) = container.get_mut(&name) {
                    items.retain(|i| !doomed.iter().any(|d| same_value(i, d)));
                    if items.is_empty() {
                        container.remove(&name);
                    }
                }
            } else {
                container.remove(&name);
            }
        }
        (Op::Remove, Some(sub)) => {
            match container.get_mut(&name) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(m) = item {
                            m.remove(&sub.name);
                        }
                    }
                    items.retain(|i| i.as_object().is_none_or(|m| !m.is_empty()));
                }
                Some(Value::Object(m)) => {
                    m.remove(&sub.name);
                }
                _ => {}
            }
            if container.get(&name).is_some_and(|v| {
                v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty)
            }) {
                container.remove(&name);
            }
        }
        (Op::Add | Op::Replace, None) => {
            let Some(new) = check_value(attribute, value)? else {
                if op == Op::Replace {
                    container.remove(&name);
                }
                return Ok(());
            };
            if attribute.multi_valued && op == Op::Add {
                let existing = container
                    .entry(name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let (Value::Array(items), Value::Array(new)) = (existing, new) {
                    // Position of each value by identity, so adding to a large group is linear.
                    let mut index: std::collections::HashMap<String, usize> = items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (identity(v), i))
                        .collect();
                    for item in new {
                        if item.get("primary") == Some(&Value::Bool(true)) {
                            // RFC 7644 §3.5.2: a new primary value demotes the old one.
                            for old in items.iter_mut() {
                                if let Value::Object(m) = old {
                                    m.remove("primary");
                                }
                            }
                        }
                        if let Some(&pos) = index.get(&identity(&item)) {
                            items[pos] = item;
                        } else {
                            index.insert(identity(&item), items.len());
                            items.push(item);
                        }
                    }
                }
            } else if attribute.is_complex() && !attribute.multi_valued {
                // Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.1, §3.5.2.3).
                let existing = container
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(old), Value::Object(new)) = (existing, new) {
                    old.extend(new);
                }
            } else {
                container.insert(name, new);
            }
        }
        (Op::Add | Op::Replace, Some(sub)) => {
            let new = check_value(sub, value)?;
            match container.get_mut(&name) {
                Some(Value::Array(items)) if attribute.multi_valued => {
                    for item in items.iter_mut() {
                        if let Value::Object(m) = item {
                            set_or_remove(m, &sub.name, new.clone());
                        }
                    }
                }
                Some(Value::Object(m)) => set_or_remove(m, &sub.name, new),
                _ => {
                    if let Some(new) = new {
                        let mut m = Map::new();
                        m.insert(sub.name.clone(), new);
                        let v = if attribute.multi_valued {
                            Value::Array(vec![Value::Object(m)])
                        } else {
                            Value::Object(m)
                        };
                        container.insert(name, v);
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_or_remove(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            map.insert(key.to_owned(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

/// The key [`same_value`] compares by.
fn identity(v: &Value) -> String {
    v.get("value").unwrap_or(v).to_string()
}

/// Two values of a multi-valued attribute are the same when their `value`s are (or, without one,
/// when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `add` to `emails[type eq "work"].value` when no work email exists creates one, `{type:
/// "work", value: …}`: the filter, a single equality, says what the new value is. Entra ID
/// provisions users this way.
fn new_element(
    attribute: &Attribute,
    filter: &Filter,
    sub: Option<&Attribute>,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    let (Some(sub), Filter::Compare(path, CompareOp::Eq, CompValue::String(key))) = (sub, filter)
    else {
        return Ok(None);
    };
    if path.urn.is_some() || path.sub_attr.is_some() || !attribute.is_complex() {
        return Ok(None);
    }
    let mut element = Map::new();
    element.insert(path.attr.clone(), Value::String(key.clone()));
    element.insert(sub.name.clone(), value.clone());
    let single = Attribute {
        multi_valued: false,
        ..attribute.clone()
    };
    check_value(&single, &Value::Object(element))
}

/// Tests one value of a multi-valued attribute against a value-path filter. Each value is tested
/// on its own, as the only value of its attribute in an otherwise empty resource, so the
/// whole-resource evaluator decides with the schema's caseExact and types.
fn value_matcher(
    kind: ResourceKind,
    urn: Option<&str>,
    name: &str,
    filter: &Filter,
) -> impl Fn(&Value) -> bool + use<> {
    let ext = registry()
        .schema_of(kind, urn.unwrap_or_default())
        .filter(|u| *u != kind.core_schema());
    let whole = Filter::ValuePath(
        AttrPath {
            urn: ext.map(str::to_owned),
            attr: name.to_owned(),
            sub_attr: None,
        },
        Box::new(filter.clone()),
    );
    let name = name.to_owned();
    move |item: &Value| {
        let mut inner = Map::new();
        inner.insert(name.clone(), Value::Array(vec![item.clone()]));
        let resource = match ext {
            Some(urn) => {
                let mut outer = Map::new();
                outer.insert(urn.to_owned(), Value::Object(inner));
                outer
            }
            None => inner,
        };
        whole.matches(&Value::Object(resource), &schema::ResourceTypes(kind))
    }
}

fn apply_filtered(
    kind: ResourceKind,
    body: &mut Map<String, Value>,
    op: Op,
    target: &AttrPath,
    filter: &Filter,
    sub_attr: Option<&str>,
    value: &Value,
) -> Result<(), ScimError> {
    let (container, attribute) = locate(kind, body, target, true)?;
    if !attribute.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "{} is single-valued; a value filter needs a multi-valued attribute",
            attribute.name
        )));
    }
    if read_only(attribute) {
        return Err(ScimError::mutability(format!(
            "{} is read-only",
            attribute.name
        )));
    }
    let sub = match sub_attr {
        Some(s) if attribute.is_complex() => Some(attribute.sub(s).ok_or_else(|| {
            ScimError::invalid_path(format!("no sub-attribute {}.{s}", attribute.name))
        })?),
        Some(s) => {
            return Err(ScimError::invalid_path(format!(
                "{} has no sub-attribute {s}",
                attribute.name
            )));
        }
        None => None,
    };
    let name = attribute.name.clone();
    let matches = value_matcher(kind, target.urn.as_deref(), &name, filter);
    let mut items = match container.remove(&name) {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let result = (|| {
        match op {
            Op::Remove => match sub {
                None => items.retain(|i| !matches(i)),
                Some(sub) => {
                    for item in items.iter_mut().filter(|i| matches(i)) {
                        if let Value::Object(m) = item {
                            m.remove(&sub.name);
                        }
                    }
                    items.retain(|i| i.as_object().is_none_or(|m| !m.is_empty()));
                }
            },
            Op::Add | Op::Replace => {
                let hits: Vec<usize> = (0..items.len()).filter(|&i| matches(&items[i])).collect();
                if hits.is_empty() {
                    if op == Op::Add
                        && let Some(item) = new_element(attribute, filter, sub, value)?
                    {
                        items.push(item);
                        return Ok(());
                    }
                    return Err(ScimError::no_target(format!(
                        "no value of {name} matches {filter}"
                    )));
                }
                if let Some(sub) = sub {
                    let new = check_value(sub, value)?;
                    for i in hits {
                        if let Value::Object(m) = &mut items[i] {
                            set_or_remove(m, &sub.name, new.clone());
                        }
                    }
                } else {
                    let single = Attribute {
                        multi_valued: false,
                        ..attribute.clone()
                    };
                    let new = check_value(&single, value)?;
                    for i in hits {
                        match (&mut items[i], &new) {
                            (Value::Object(old), Some(Value::Object(new))) if op == Op::Add => {
                                old.extend(new.clone());
                            }
                            (slot, Some(new)) => *slot = new.clone(),
                            (slot, None) => *slot = Value::Null,
                        }
                    }
                    items.retain(|i| !i.is_null());
                }
            }
        }
        Ok(())
    })();
    if !items.is_empty() {
        container.insert(name, Value::Array(items));
    }
    result
}
