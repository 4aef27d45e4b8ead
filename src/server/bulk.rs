//! `/Bulk` (RFC 7644 §3.7): operations run one by one, each in its own transaction (SCIM bulk is
//! not atomic). `bulkId:` references in paths and data are replaced by the ids of resources
//! created earlier in the same request; an operation whose reference is not yet resolvable waits
//! for the operation that creates it (§3.7.1 lets a client order them freely), and what can never
//! resolve — a failed, missing or circular reference — fails with 409.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::schema::{self, BULK_MAX_OPERATIONS, ResourceKind};
use super::service::Batch;

struct BulkOp {
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
}

fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Runs a `BulkRequest` and returns the `BulkResponse` body.
// One loop with the RFC 7644 §3.7 rules side by side reads better than scattered helpers.
#[allow(clippy::too_many_lines)]
pub fn run(dir: &mut Batch<'_, '_>, request: &Value) -> Result<Value, ScimError> {
    let Value::Object(map) = request else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object",
        ));
    };
    let is_bulk = get_ci(map, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(schema::BULK_REQUEST))
            })
        });
    if !is_bulk {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must be [\"{}\"]",
            schema::BULK_REQUEST
        )));
    }
    let fail_on_errors =
        match get_ci(map, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })?),
        };
    let Some(Value::Array(raw_ops)) = get_ci(map, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest needs an \"Operations\" list",
        ));
    };
    if raw_ops.len() > BULK_MAX_OPERATIONS {
        return Err(ScimError::new(
            413,
            None,
            format!(
                "the bulk request has {} operations; maxOperations is {BULK_MAX_OPERATIONS}",
                raw_ops.len()
            ),
        ));
    }
    let mut ops = Vec::with_capacity(raw_ops.len());
    for raw in raw_ops {
        let Value::Object(o) = raw else {
            return Err(ScimError::invalid_syntax(
                "each bulk operation must be an object",
            ));
        };
        let text = |name: &str| get_ci(o, name).and_then(Value::as_str).map(str::to_owned);
        let Some(method) = text("method") else {
            return Err(ScimError::invalid_syntax(
                "each bulk operation needs a method",
            ));
        };
        let Some(path) = text("path") else {
            return Err(ScimError::invalid_syntax(
                "each bulk operation needs a path",
            ));
        };
        ops.push(BulkOp {
            method: method.to_ascii_uppercase(),
            bulk_id: text("bulkId"),
            version: text("version"),
            path,
            data: get_ci(o, "data").cloned(),
        });
    }

    let defined: std::collections::HashSet<String> = ops
        .iter()
        .filter(|o| o.method == "POST")
        .filter_map(|o| o.bulk_id.clone())
        .collect();
    let mut resolved: HashMap<String, String> = HashMap::new();
    let mut failed_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut responses: Vec<(usize, Value)> = Vec::new();
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut errors = 0u64;
    'outer: while !pending.is_empty() {
        let mut progressed = false;
        let mut waiting = Vec::new();
        for index in std::mem::take(&mut pending) {
            let op = &ops[index];
            let mut refs = Vec::new();
            collect_refs(&Value::String(op.path.clone()), &mut refs);
            if let Some(data) = &op.data {
                collect_refs(data, &mut refs);
            }
            let unresolvable = refs.iter().find(|r| {
                !resolved.contains_key(*r) && (failed_ids.contains(*r) || !defined.contains(*r))
            });
            let outcome = if let Some(r) = unresolvable {
                Err(ScimError::new(
                    409,
                    Some("invalidValue"),
                    format!("bulkId {r:?} cannot be resolved"),
                ))
            } else if refs.iter().any(|r| !resolved.contains_key(r)) {
                waiting.push(index);
                continue;
            } else {
                execute(dir, op, &resolved)
            };
            progressed = true;
            let entry = match outcome {
                Ok((status, location, version, id)) => {
                    if let (Some(bulk_id), Some(id)) = (&op.bulk_id, id) {
                        resolved.insert(bulk_id.clone(), id);
                    }
                    let mut e = json!({"method": op.method, "status": status.to_string()});
                    if let Some(l) = location {
                        e["location"] = json!(l);
                    }
                    if let Some(v) = version {
                        e["version"] = json!(v);
                    }
                    e
                }
                Err(error) => {
                    errors += 1;
                    if let Some(b) = &op.bulk_id {
                        failed_ids.insert(b.clone());
                    }
                    json!({"method": op.method, "status": error.status.to_string(), "response": error.body()})
                }
            };
            let mut entry = entry;
            if let Some(b) = &op.bulk_id {
                entry["bulkId"] = json!(b);
            }
            responses.push((index, entry));
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break 'outer;
            }
        }
        pending = waiting;
        if !progressed {
            // Everything left waits on something that waits on it: a cycle.
            for index in std::mem::take(&mut pending) {
                let op = &ops[index];
                let error = ScimError::new(409, Some("invalidValue"), "circular bulkId reference");
                let mut entry =
                    json!({"method": op.method, "status": "409", "response": error.body()});
                if let Some(b) = &op.bulk_id {
                    entry["bulkId"] = json!(b);
                }
                responses.push((index, entry));
            }
        }
    }
    responses.sort_by_key(|(i, _)| *i);
    Ok(json!({
        "schemas": [schema::BULK_RESPONSE],
        "Operations": responses.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
    }))
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            for part in s.split('/') {
                if let Some(id) = part.strip_prefix("bulkId:") {
                    out.push(id.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn substitute(value: &Value, resolved: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) if s.contains("bulkId:") => Value::String(
            s.split('/')
                .map(|part| match part.strip_prefix("bulkId:") {
                    Some(id) => resolved.get(id).cloned().unwrap_or_else(|| part.to_owned()),
                    None => part.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/"),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| substitute(i, resolved)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, resolved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

type Done = (u16, Option<String>, Option<String>, Option<String>);

fn execute(
    dir: &mut Batch<'_, '_>,
    op: &BulkOp,
    resolved: &HashMap<String, String>,
) -> Result<Done, ScimError> {
    let path = substitute(&Value::String(op.path.clone()), resolved);
    let path = path.as_str().unwrap_or_default().trim_matches('/');
    let (endpoint, id) = match path.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (path, None),
    };
    let kind = match endpoint {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        _ => return Err(ScimError::invalid_path(format!("no endpoint /{endpoint}"))),
    };
    let data = op.data.as_ref().map(|d| substitute(d, resolved));
    let need_data = || {
        data.as_ref()
            .ok_or_else(|| ScimError::invalid_syntax("this operation needs data"))
    };
    let version = op.version.as_deref();
    let done = |status: u16, r: super::service::Rendered| {
        let id = r
            .resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((status, Some(r.location), Some(r.etag), id))
    };
    match (op.method.as_str(), id) {
        ("POST", None) => done(201, dir.create(kind, need_data()?)?),
        ("PUT", Some(id)) => done(200, dir.replace(kind, id, need_data()?, version)?),
        ("PATCH", Some(id)) => done(200, dir.patch(kind, id, need_data()?, version)?),
        ("DELETE", Some(id)) => {
            dir.delete(kind, id, version)?;
            Ok((
                204,
                Some(format!("{}/{}/{id}", dir.base_url(), kind.endpoint())),
                None,
                None,
            ))
        }
        (method, _) => Err(ScimError::new(
            405,
            None,
            format!("{method} is not allowed on {}", op.path),
        )),
    }
}
