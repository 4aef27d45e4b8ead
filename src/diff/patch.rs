//! SCIM PATCH operations (RFC 7644 §3.5.2) and their PUT equivalent for servers without PATCH.

use scim::attribute::{self, names};
use scim::patch::{self, Op};
use scim::urn;
use serde_json::{Map, Value, json};

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    Add {
        path: String,
        value: Value,
    },
    Replace {
        path: String,
        value: Value,
    },
    Remove {
        path: String,
    },
    /// `remove` of the listed values of a multi-valued attribute, for services that take the
    /// values in the body rather than a value filter in the path.
    RemoveValues {
        path: String,
        value: Value,
    },
}

impl Operation {
    /// How much of a request's budget the operation takes: its member count for a members
    /// add, else one.
    pub fn weight(&self) -> usize {
        match self {
            Operation::Add { value, .. } | Operation::RemoveValues { value, .. } => {
                value.as_array().map_or(1, Vec::len)
            }
            _ => 1,
        }
    }

    /// The operation whose JSON [`Operation::to_json`] writes as `operation`, or `None` when
    /// `operation` is not exactly such JSON (another spelling of `op`, a key more or less).
    #[must_use]
    pub fn from_json(operation: &Value) -> Option<Self> {
        let verb = operation.get("op")?.as_str().and_then(Op::from_word)?;
        let path = operation.get("path")?.as_str()?.to_owned();
        let parsed = match (verb, operation.get("value").cloned()) {
            (Op::Add, Some(value)) => Operation::Add { path, value },
            (Op::Replace, Some(value)) => Operation::Replace { path, value },
            (Op::Remove, None) => Operation::Remove { path },
            (Op::Remove, Some(value)) => Operation::RemoveValues { path, value },
            (Op::Add | Op::Replace, None) => return None,
        };
        (parsed.to_json() == *operation).then_some(parsed)
    }

    fn to_json(&self) -> Value {
        match self {
            Operation::Add { path, value } => {
                json!({"op": Op::Add.as_str(), "path": path, "value": value})
            }
            Operation::Replace { path, value } => {
                json!({"op": Op::Replace.as_str(), "path": path, "value": value})
            }
            Operation::Remove { path } => json!({"op": Op::Remove.as_str(), "path": path}),
            Operation::RemoveValues { path, value } => {
                json!({"op": Op::Remove.as_str(), "path": path, "value": value})
            }
        }
    }
}

/// A `PatchOp` request body.
pub fn patch_body(operations: &[Operation]) -> Value {
    json!({
        "schemas": [urn::PATCH_OP],
        patch::OPERATIONS: operations.iter().map(Operation::to_json).collect::<Vec<_>>(),
    })
}

/// The operations of a `PatchOp` body, or `None` when one of them is not exactly as
/// [`patch_body`] writes it.
#[must_use]
pub fn operations_of(body: &Value) -> Option<Vec<Operation>> {
    let list = body.get(patch::OPERATIONS)?.as_array()?;
    list.iter().map(Operation::from_json).collect()
}

/// Splits operations into requests of at most `budget` weight each, keeping their order.
pub fn chunk(operations: Vec<Operation>, budget: usize) -> Vec<Vec<Operation>> {
    let mut chunks: Vec<Vec<Operation>> = Vec::new();
    let mut weight = 0;
    for operation in operations {
        let w = operation.weight();
        if chunks.is_empty() || weight + w > budget {
            chunks.push(Vec::new());
            weight = 0;
        }
        weight += w;
        chunks.last_mut().expect("pushed above").push(operation);
    }
    chunks
}

/// The body of a PUT that has the effect of `operations` on `resource`: the resource as the
/// server sent it, read-only attributes dropped, the simple paths this engine writes (`attr`,
/// `attr.sub`, `urn:…:attr`) replaced or removed.
pub fn put_body(resource: &Value, operations: &[Operation]) -> Value {
    let mut body = resource.clone();
    if let Some(object) = body.as_object_mut() {
        // RFC 7643 §3.1 / §4.1.2: meta and groups are read-only; servers ignore or reject them.
        object.retain(|k, _| !names(k, "meta") && !names(k, "groups"));
    }
    for operation in operations {
        match operation {
            Operation::Add { path, value } | Operation::Replace { path, value } => {
                set_path(&mut body, path, Some(value.clone()));
            }
            Operation::Remove { path } => set_path(&mut body, path, None),
            // Only group members are removed this way, and a group's PUT body is given its
            // whole member list instead (`group::put_body`).
            Operation::RemoveValues { .. } => {}
        }
    }
    body
}

/// Splits `urn:…:attr` into the schema URN and the attribute, or returns `None` for a core
/// path.
#[must_use]
pub fn split_urn(path: &str) -> Option<(&str, &str)> {
    if !path.starts_with(urn::PREFIX) {
        return None;
    }
    let at = path.rfind(':')?;
    Some((&path[..at], &path[at + 1..]))
}

fn set_path(resource: &mut Value, path: &str, value: Option<Value>) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    let (container, attribute): (&mut Map<String, Value>, &str) =
        if let Some((urn, attribute)) = split_urn(path) {
            add_schema(object, urn);
            let key = existing_key(object, urn).unwrap_or_else(|| urn.to_owned());
            let entry = object.entry(key).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            (entry.as_object_mut().expect("made an object"), attribute)
        } else if let Some((parent, sub)) = path.split_once('.') {
            let key = existing_key(object, parent).unwrap_or_else(|| parent.to_owned());
            let entry = object.entry(key).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            (entry.as_object_mut().expect("made an object"), sub)
        } else {
            (object, path)
        };
    let key = existing_key(container, attribute).unwrap_or_else(|| attribute.to_owned());
    // One attribute is one member: another spelling of it left in the body would leave the
    // server to choose between them (RFC 7643 §2.1).
    container.retain(|k, _| *k == key || !names(k, attribute));
    match value {
        Some(value) => {
            container.insert(key, value);
        }
        None => {
            container.remove(&key);
        }
    }
}

/// The spelling of the member the attribute `name` is read from, if any.
fn existing_key(object: &Map<String, Value>, name: &str) -> Option<String> {
    attribute::key_ci(object, name).cloned()
}

/// Adds an extension's URN to `schemas` (RFC 7643 §3: extensions in use are listed there).
fn add_schema(object: &mut Map<String, Value>, urn: &str) {
    let key = existing_key(object, "schemas").unwrap_or_else(|| "schemas".to_owned());
    let schemas = object.entry(key).or_insert_with(|| json!([]));
    if let Some(list) = schemas.as_array_mut()
        && !attribute::schemas_include(list, urn)
    {
        list.push(Value::String(urn.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_body_reads_back_as_the_operations_it_was_written_from() {
        let operations = vec![
            Operation::Replace {
                path: "displayName".into(),
                value: json!("Ops"),
            },
            Operation::Add {
                path: "members".into(),
                value: json!([{"value": "a"}]),
            },
            Operation::Remove {
                path: "members[value eq \"b\"]".into(),
            },
            Operation::RemoveValues {
                path: "members".into(),
                value: json!([{"value": "c"}]),
            },
        ];
        let body = patch_body(&operations);
        assert_eq!(operations_of(&body), Some(operations));
        let mut spelled_otherwise = body.clone();
        spelled_otherwise[patch::OPERATIONS][0]["op"] = json!("Replace");
        assert_eq!(operations_of(&spelled_otherwise), None);
        let mut extra_key = body;
        extra_key[patch::OPERATIONS][2]["display"] = json!("b");
        assert_eq!(operations_of(&extra_key), None);
    }

    #[test]
    fn chunks_by_member_count() {
        let add = |n: usize| Operation::Add {
            path: "members".into(),
            value: Value::Array(vec![json!({"value": "x"}); n]),
        };
        let remove = || Operation::Remove {
            path: "members[value eq \"x\"]".into(),
        };
        let chunks = chunk(vec![add(600), add(600), remove(), remove()], 1000);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].len(), 1);
        assert_eq!(chunks[1].len(), 3);
        assert!(chunk(Vec::new(), 10).is_empty());
    }

    #[test]
    fn put_body_applies_simple_paths_and_drops_read_only_attributes() {
        let live = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "1", "userName": "ada", "Title": "Analyst",
            "name": {"givenName": "Ada"},
            "meta": {"version": "W/\"1\""}, "groups": [{"value": "g"}]
        });
        let body = put_body(
            &live,
            &[
                Operation::Replace {
                    path: "title".into(),
                    value: json!("Lead"),
                },
                Operation::Replace {
                    path: "name.familyName".into(),
                    value: json!("Lovelace"),
                },
                Operation::Remove {
                    path: "name.givenName".into(),
                },
                Operation::Replace {
                    path: "urn:scim:tonkean:tonkeanRoles".into(),
                    value: json!(["SYSTEM_USER"]),
                },
            ],
        );
        assert_eq!(
            body,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:scim:tonkean"],
                "id": "1", "userName": "ada", "Title": "Lead",
                "name": {"familyName": "Lovelace"},
                "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}
            })
        );
    }

    #[test]
    fn put_body_writes_an_attribute_once_under_the_spelling_read() {
        let live = json!({"id": "1", "TITLE": "b", "title": "a", "NickName": "n", "nickname": "m"});
        let body = put_body(
            &live,
            &[
                Operation::Replace {
                    path: "title".into(),
                    value: json!("c"),
                },
                Operation::Replace {
                    path: "nickName".into(),
                    value: json!("o"),
                },
            ],
        );
        // The exact spelling is the one read; else the one that sorts first.
        assert_eq!(body, json!({"id": "1", "title": "c", "NickName": "o"}));
        let body = put_body(
            &live,
            &[Operation::Remove {
                path: "title".into(),
            }],
        );
        assert_eq!(body, json!({"id": "1", "NickName": "n", "nickname": "m"}));
    }

    #[test]
    fn paths_split_at_the_last_colon_of_a_urn() {
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            Some((
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "employeeNumber"
            ))
        );
        assert_eq!(
            split_urn("urn:scim:tonkean:tonkeanRoles"),
            Some(("urn:scim:tonkean", "tonkeanRoles"))
        );
        assert_eq!(split_urn("name.givenName"), None);
    }
}
