//! Turning request JSON into a stored body and a stored row back into a response.
//!
//! Validation follows the schemas in [`super::schema`]: attribute names are case-insensitive
//! and stored in their canonical spelling (RFC 7643 §2.1), types are checked, unknown attributes
//! are rejected (400 `invalidValue`), readOnly attributes (`id`, `meta`, `User.groups`) are
//! ignored as RFC 7643 §2.2 allows, and `null` or `[]` mean "unassigned" (RFC 7644 §3.5.1).

use scim::ResourceKind;
use scim::attribute::{get_ci_in, names};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::schema::{self, Attribute, Mutability, registry};

use super::store::{Membership, Row};

/// Validates a full resource representation (POST, PUT, or the result of a PATCH) and returns
/// the body to store: canonical attribute names, `schemas` listing the core schema and every
/// extension present.
// The RFC 7643 checks in the order a reader of the RFC expects them.
#[allow(clippy::too_many_lines)]
pub fn validate(kind: ResourceKind, input: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax(
            "the resource must be a JSON object",
        ));
    };
    let registry = registry();
    let mut declared = Vec::new();
    match get_ci_in(input, "schemas") {
        Some(Value::Array(list)) => {
            for urn in list {
                let urn = urn
                    .as_str()
                    .ok_or_else(|| ScimError::invalid_syntax("schemas must be a list of URNs"))?;
                let canonical = registry.schema_of(kind, urn).ok_or_else(|| {
                    ScimError::invalid_value(format!("{urn} is not a schema of a {}", kind.name()))
                })?;
                declared.push(canonical);
            }
        }
        _ => {
            return Err(ScimError::invalid_syntax(
                "the resource lacks its \"schemas\" list",
            ));
        }
    }
    if !declared.contains(&kind.core_schema()) {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must include {}",
            kind.core_schema()
        )));
    }

    let mut body = Map::new();
    let mut extensions: Vec<(&'static str, Map<String, Value>)> = Vec::new();
    for (key, value) in input {
        if names(key, "schemas") || value.is_null() {
            continue;
        }
        if let Some(urn) = registry.schema_of(kind, key) {
            if urn == kind.core_schema() {
                // Core attributes nested under their URN are still core attributes.
                let Value::Object(inner) = value else {
                    return Err(ScimError::invalid_syntax(format!(
                        "{key} must be an object"
                    )));
                };
                for (name, value) in inner {
                    put_attribute(kind, None, name, value, &mut body)?;
                }
                continue;
            }
            let Value::Object(inner) = value else {
                return Err(ScimError::invalid_syntax(format!(
                    "{key} must be an object"
                )));
            };
            let mut ext = Map::new();
            for (name, value) in inner {
                put_attribute(kind, Some(urn), name, value, &mut ext)?;
            }
            if !ext.is_empty() {
                extensions.push((urn, ext));
            }
            continue;
        }
        if scim::attribute::has_urn_prefix(key) {
            // `urn:…:attr` written as a flat key.
            let path = registry.split_name(kind, key);
            if let Some(urn) = path
                .urn
                .as_deref()
                .and_then(|u| registry.schema_of(kind, u))
                && path.sub_attr.is_none()
            {
                if urn == kind.core_schema() {
                    put_attribute(kind, None, &path.attr, value, &mut body)?;
                } else {
                    let pos = extensions
                        .iter()
                        .position(|(u, _)| *u == urn)
                        .unwrap_or_else(|| {
                            extensions.push((urn, Map::new()));
                            extensions.len() - 1
                        });
                    put_attribute(kind, Some(urn), &path.attr, value, &mut extensions[pos].1)?;
                }
                continue;
            }
            return Err(ScimError::invalid_value(format!(
                "unknown schema or attribute {key}"
            )));
        }
        put_attribute(kind, None, key, value, &mut body)?;
    }

    // Required attributes (RFC 7643 §4.1, §4.2): userName, displayName.
    let core = registry
        .schema(kind.core_schema())
        .expect("core schemas are bundled");
    for attribute in core.attributes.iter().filter(|a| a.required) {
        match body.get(&attribute.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(v) if !v.is_string() => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{} is required and must not be empty",
                    attribute.name
                )));
            }
        }
    }

    check_names(&body)?;

    let mut schemas = vec![json!(kind.core_schema())];
    for &urn in schema::extensions(kind) {
        if let Some(pos) = extensions.iter().position(|(u, _)| *u == urn) {
            let (_, ext) = extensions.swap_remove(pos);
            schemas.push(json!(urn));
            body.insert(urn.to_owned(), Value::Object(ext));
        }
    }
    body.insert("schemas".to_owned(), Value::Array(schemas));
    Ok(body)
}

/// The attributes that name a resource or a person, or key it for a client: `userName`,
/// `displayName` (of users and groups), `nickName`, `externalId` and every part of `name`.
const NAMES: [&str; 4] = ["userName", "displayName", "nickName", "externalId"];

/// Refuses a control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) in a name.
/// None belongs in one, and a NUL or a line break there would be shown, logged and compared
/// as something other than what it looks like.
fn check_names(body: &Map<String, Value>) -> Result<(), ScimError> {
    let parts = body
        .get("name")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(sub, v)| (format!("name.{sub}"), v));
    let names = NAMES
        .iter()
        .filter_map(|n| body.get(*n).map(|v| ((*n).to_owned(), v)))
        .chain(parts);
    for (attribute, value) in names {
        let Some(text) = value.as_str() else { continue };
        if let Some((offset, c)) = text.char_indices().find(|(_, c)| c.is_control()) {
            return Err(ScimError::invalid_value(format!(
                "{attribute} must not contain control characters (U+{:04X} at byte {offset})",
                u32::from(c)
            )));
        }
    }
    Ok(())
}

/// Checks one top-level attribute and stores it under its canonical name.
fn put_attribute(
    kind: ResourceKind,
    urn: Option<&str>,
    name: &str,
    value: &Value,
    into: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let Some((_, attribute)) = registry().attribute(kind, urn, name) else {
        let what = urn.map_or_else(|| name.to_owned(), |u| format!("{u}:{name}"));
        return Err(ScimError::invalid_value(format!(
            "unknown attribute {what} for a {}",
            kind.name()
        )));
    };
    if matches!(
        attribute.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) {
        // readOnly: ignored (RFC 7643 §2.2). writeOnly (password): this server keeps no
        // credentials, so it is accepted and discarded.
        return Ok(());
    }
    if attribute.name == "schemas" {
        return Ok(());
    }
    match check_value(attribute, value)? {
        Some(v) => {
            into.insert(attribute.name.clone(), v);
        }
        None => {
            into.remove(&attribute.name);
        }
    }
    Ok(())
}

/// Checks a value against its attribute definition and returns it normalised, or `None` when
/// it amounts to "unassigned".
pub(crate) fn check_value(
    attribute: &Attribute,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !attribute.multi_valued {
        if value.is_array() {
            return Err(ScimError::invalid_value(format!(
                "{} is single-valued",
                attribute.name
            )));
        }
        return check_single(attribute, value);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    // Duplicates are dropped; hashing the text keeps a large group's members linear.
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        if let Some(v) = check_single(attribute, item)?
            && seen.insert(v.to_string())
        {
            out.push(v);
        }
    }
    let primaries = out
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one value of {} may be primary",
            attribute.name
        )));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn check_single(attribute: &Attribute, value: &Value) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.is_complex() {
        let Value::Object(map) = value else {
            return Err(ScimError::invalid_value(format!(
                "{} must be a complex value (an object)",
                attribute.name
            )));
        };
        let mut out = Map::new();
        for (key, sub_value) in map {
            let Some(sub) = attribute.sub(key) else {
                return Err(ScimError::invalid_value(format!(
                    "unknown sub-attribute {}.{key}",
                    attribute.name
                )));
            };
            if sub.name == "$ref" && attribute.name == "members" {
                // Computed from `value` when the group is read.
                continue;
            }
            if let Some(v) = check_single(sub, sub_value)? {
                out.insert(sub.name.clone(), v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        return Ok(Some(Value::Object(out)));
    }
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "{} must be {expected}, not {value}",
            attribute.name
        ))
    };
    let checked = match attribute.kind.as_str() {
        "boolean" => match value {
            Value::Bool(_) => value.clone(),
            // Some clients (Entra ID among them) send "True"/"False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("a boolean")),
        },
        "integer" => {
            if value.as_i64().is_none() {
                return Err(wrong("an integer"));
            }
            value.clone()
        }
        "decimal" => {
            if !value.is_number() {
                return Err(wrong("a number"));
            }
            value.clone()
        }
        _ => {
            let Value::String(s) = value else {
                return Err(wrong("a string"));
            };
            if attribute.closed_values && !attribute.canonical_values.iter().any(|c| c == s) {
                return Err(ScimError::invalid_value(format!(
                    "{s:?} is not a valid {}; allowed: {}",
                    attribute.name,
                    attribute.canonical_values.join(", ")
                )));
            }
            value.clone()
        }
    };
    Ok(Some(checked))
}

/// The ids of a group's members, in order.
#[must_use]
pub(crate) fn member_ids(body: &Map<String, Value>) -> Vec<String> {
    body.get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A stored row as a full SCIM resource: body, `id`, `meta`, computed `$ref`s and, for users,
/// the `groups` they are in.
#[must_use]
pub(crate) fn render(row: &Row, base_url: &str, groups: Option<&[Membership]>) -> Value {
    render_owned(row.clone(), base_url, groups)
}

/// [`render`], consuming the row: listing moves each body instead of copying it.
#[must_use]
pub(crate) fn render_owned(row: Row, base_url: &str, groups: Option<&[Membership]>) -> Value {
    let Row {
        id,
        kind,
        created,
        last_modified,
        version,
        body,
    } = row;
    let etag = format!("W/\"{version}\"");
    let mut out = body;
    out.insert("id".to_owned(), json!(id));
    if let Some(Value::Array(members)) = out.get_mut("members") {
        for member in members {
            if let Value::Object(m) = member
                && let Some(id) = m.get("value").and_then(Value::as_str)
            {
                let endpoint = match m.get("type").and_then(Value::as_str) {
                    Some("Group") => "Groups",
                    _ => "Users",
                };
                let reference = format!("{base_url}/{endpoint}/{id}");
                m.insert("$ref".to_owned(), json!(reference));
            }
        }
    }
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        let groups: Vec<Value> = groups
            .iter()
            .map(|m| {
                json!({
                    "value": m.id,
                    "$ref": format!("{base_url}/Groups/{}", m.id),
                    "display": m.display,
                    "type": if m.direct { "direct" } else { "indirect" },
                })
            })
            .collect();
        out.insert("groups".to_owned(), Value::Array(groups));
    }
    out.insert(
        "meta".to_owned(),
        json!({
            "resourceType": kind.name(),
            "created": created,
            "lastModified": last_modified,
            "location": format!("{base_url}{}/{id}", kind.endpoint()),
            "version": etag,
        }),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use scim::urn::{TONKEAN, USER};

    #[test]
    fn canonicalises_names_and_drops_read_only() {
        let body = validate(
            ResourceKind::User,
            &json!({"schemas": [USER], "USERNAME": "ada", "id": "x", "meta": {},
                    "emails": [{"VALUE": "a@b.c", "primary": true}], "title": null}),
        )
        .unwrap();
        assert_eq!(body["userName"], "ada");
        assert!(!body.contains_key("id") && !body.contains_key("title"));
        assert_eq!(body["emails"][0]["value"], "a@b.c");
    }

    #[test]
    fn enforces_tonkean_roles() {
        let ok = json!({"schemas": [USER, TONKEAN], "userName": "a",
                        TONKEAN: {"tonkeanRoles": ["SYSTEM_USER"]}});
        assert!(validate(ResourceKind::User, &ok).is_ok());
        let bad = json!({"schemas": [USER, TONKEAN], "userName": "a",
                         TONKEAN: {"tonkeanRoles": ["ADMIN"]}});
        assert_eq!(validate(ResourceKind::User, &bad).unwrap_err().status, 400);
    }

    #[test]
    fn refuses_control_characters_in_names() {
        for (kind, input) in [
            (
                ResourceKind::User,
                json!({"schemas": [USER], "userName": "ada\u{0}"}),
            ),
            (
                ResourceKind::User,
                json!({"schemas": [USER], "userName": "a", "displayName": "A\nB"}),
            ),
            (
                ResourceKind::User,
                json!({"schemas": [USER], "userName": "a", "name": {"givenName": "\u{1b}[31m"}}),
            ),
            (
                ResourceKind::User,
                json!({"schemas": [USER], "userName": "a", "nickName": "x\u{85}"}),
            ),
            (
                ResourceKind::Group,
                json!({"schemas": [scim::urn::GROUP], "displayName": "G\t1"}),
            ),
        ] {
            let e = validate(kind, &input).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some("invalidValue")),
                "{input}"
            );
            assert!(e.detail.contains("control characters"), "{}", e.detail);
        }
        // Other text may hold them: an address is written over lines.
        let ok = json!({"schemas": [USER], "userName": "Zoë O'Brien",
                        "addresses": [{"formatted": "1 Main St\nSpringfield"}]});
        assert!(validate(ResourceKind::User, &ok).is_ok());
    }

    #[test]
    fn rejects_unknown_attributes() {
        let e = validate(
            ResourceKind::User,
            &json!({"schemas": [USER], "userName": "a", "x": 1}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
    }
}
