//! Creates, which are not safe to repeat (docs/apply.md, Faults).
//!
//! A POST that the server may have applied without the response arriving (a reset, a timeout, a
//! 5xx other than 503) is never sent again blindly: the object is first looked up by its key
//! (userName, displayName). If it is there, it is adopted; only if it is not is the POST sent
//! again. A 409 `uniqueness` answer (RFC 7644 §3.3) adopts the object found the same way.
//!
//! An adopted object is compared with the create's body, attribute by attribute, leniently
//! (what the body says must be on the server; what the server adds, such as `meta` or an
//! email's `primary`, does not count). When it differs, one more write brings it in line: a
//! PATCH replacing the body's attributes, or, on a server without PATCH, a PUT of the object
//! with the body's attributes laid over it. This is the write the next plan would have
//! computed, so an adopted object is converged in the same run.
//!
//! A server need not keep group names unique (RFC 7643 §4.2), so two applies run at once would
//! each create the same group. After creating a group, its name is looked up again: if the
//! server now holds it more than once, the copy created first (by `meta.created`, then by id)
//! is the one kept, by every run alike; a run whose copy is not that one deletes its copy and
//! adopts the first.

use reqwest::Method;
use scim::ResourceKind;
use scim::attribute::get_ci;
use serde_json::{Map, Value, json};

use super::{Context, Finished};
use crate::client::{Attempts, ClientError, Fault, Keep, RawResponse};
use crate::plan::Op;
use crate::report::{AdoptCause, Failure, Note, Outcome};

/// The key of the object a create makes: from its body, else as planned.
pub(super) fn key_of(op: &Op, body: Option<&Value>) -> String {
    body.and_then(|b| get_ci(b, op.resource.key_attribute()))
        .and_then(Value::as_str)
        .unwrap_or(&op.key)
        .to_owned()
}

/// Sends the create `op`. `lost` says why an earlier send of it (inside `/Bulk`, say) may have
/// been applied without a response: the object is then looked up before anything is sent.
pub(super) async fn create(
    context: &Context,
    op: &Op,
    path: &str,
    body: &Value,
    mut lost: Option<String>,
) -> Finished {
    let key = key_of(op, Some(body));
    let mut attempts = Attempts::new(context.client.retry_policy());
    loop {
        if let Some(why) = lost.take()
            && let Some(outcome) = after_lost(context, op, body, &key, &why).await
        {
            return finished(outcome, &attempts, None);
        }
        attempts.made += 1;
        let sent = context
            .client
            .send_once(Method::POST, path, &[], Some(body), None, attempts.made)
            .await;
        let status = match &sent {
            Ok(response) => Some(response.status.as_u16()),
            Err(error) => error.http_status(),
        };
        let response_body = match sent.and_then(RawResponse::into_json) {
            Ok(response) => Ok(response.body),
            // A success whose body is not JSON: created, id unknown.
            Err(ClientError::Decode { .. }) => Ok(None),
            Err(error) => Err(error),
        };
        let error = match response_body {
            Ok(response_body) => {
                let id = match response_body.as_ref().and_then(id_of) {
                    Some(id) => Some(id),
                    // 201 or 204 without a body: the key says which object was made.
                    None => created_id(context, op.resource, &key).await,
                };
                if op.resource == ResourceKind::Group
                    && let Some(id) = &id
                    && let Some(outcome) = settle_race(context, op, body, &key, id).await
                {
                    return finished(outcome, &attempts, status);
                }
                return finished(Outcome::Done { id, note: None }, &attempts, status);
            }
            Err(error) => error,
        };
        match Fault::of(&error) {
            Fault::Final if is_conflict(&error) => {
                let outcome = conflict(context, op, body, &key, &error).await;
                return finished(outcome, &attempts, status);
            }
            Fault::Final | Fault::Unreadable => {
                let failed = Outcome::Failed(Failure::from_error(&error));
                return finished(failed, &attempts, status);
            }
            fault @ (Fault::Throttled(_) | Fault::NotSent) => {
                tracing::info!(path, %error, "retrying a create the server did not apply");
                if !attempts.wait(fault).await {
                    let failed = Outcome::Failed(Failure::from_error(&error));
                    return finished(failed, &attempts, status);
                }
            }
            Fault::Lost => {
                tracing::info!(path, %error, "the answer to a create was lost; looking it up");
                if attempts.wait(Fault::Lost).await {
                    lost = Some(error.to_string());
                    continue;
                }
                let outcome = after_lost(context, op, body, &key, &error.to_string())
                    .await
                    .unwrap_or_else(|| Outcome::Failed(Failure::from_error(&error)));
                return finished(outcome, &attempts, None);
            }
        }
    }
}

/// The id of an object just created, found by its key, when the response did not say it.
pub(super) async fn created_id(context: &Context, kind: ResourceKind, key: &str) -> Option<String> {
    match lookup(context, kind, key).await {
        Ok(found) if found.len() == 1 => id_of(&found[0]),
        Ok(_) | Err(_) => None,
    }
}

/// After creating group `ours`: `None` when it is the only group of its name, or the first
/// created of several; else deletes it and adopts the first (see the module's doc).
pub(super) async fn settle_race(
    context: &Context,
    op: &Op,
    body: &Value,
    key: &str,
    ours: &str,
) -> Option<Outcome> {
    let found = lookup(context, op.resource, key).await.ok()?;
    if found.len() < 2 {
        return None;
    }
    let first = first_created(&found)?;
    let first_id = id_of(first)?;
    if first_id == ours {
        return None;
    }
    tracing::info!(key, ours, first = %first_id, "another run created this group first");
    let path = format!(
        "{}/{}",
        op.resource.endpoint(),
        crate::client::encode_segment(ours)
    );
    match context
        .client
        .send(Method::DELETE, &path, &[], None, None)
        .await
    {
        Ok(_) | Err(ClientError::Status { status: 404, .. }) => {
            Some(adopt(context, op, body, first, AdoptCause::Concurrent).await)
        }
        Err(error) => Some(Outcome::Failed(Failure::other(format!(
            "created group {ours}, but another run created {key:?} first ({first_id}), and \
             deleting this run's copy failed: {error}"
        )))),
    }
}

/// Of several copies of one group, the one created first: by `meta.created` read as a time (as
/// text, "10:00:00.5Z" sorts before "10:00:00Z"), then by id. Copies without a creation time
/// that reads as one come last. Every run ranks the same copies the same.
fn first_created(found: &[Value]) -> Option<&Value> {
    found
        .iter()
        .filter_map(|group| {
            let id = id_of(group)?;
            let created = get_ci(group, "meta")
                .and_then(|meta| get_ci(meta, "created"))
                .and_then(Value::as_str)
                .and_then(|text| text.parse::<jiff::Timestamp>().ok());
            Some(((created.is_none(), created, id), group))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, group)| group)
}

/// After a 409: adopts the object that holds the key.
pub(super) async fn conflict(
    context: &Context,
    op: &Op,
    body: &Value,
    key: &str,
    error: &ClientError,
) -> Outcome {
    match lookup(context, op.resource, key).await {
        Ok(found) if found.len() == 1 => {
            adopt(context, op, body, &found[0], AdoptCause::Conflict).await
        }
        // The conflict is on another attribute (an email, an externalId), or the key is taken
        // several times over: nothing to adopt with certainty.
        Ok(_) => Outcome::Failed(Failure::from_error(error)),
        Err(lookup_error) => Outcome::Failed(Failure::from_error(&lookup_error)),
    }
}

/// After a send that may have been applied: the object adopted if it is there, a failure if
/// that cannot be told, or `None` when it is not there and may be sent.
async fn after_lost(
    context: &Context,
    op: &Op,
    body: &Value,
    key: &str,
    why: &str,
) -> Option<Outcome> {
    match lookup(context, op.resource, key).await {
        Ok(found) if found.len() == 1 => {
            Some(adopt(context, op, body, &found[0], AdoptCause::LostResponse).await)
        }
        Ok(found) if found.is_empty() => None,
        Ok(found) => Some(Outcome::Failed(Failure::other(format!(
            "{why}; afterwards the server holds {} objects with {} {key:?}, so which one the \
             create made cannot be told",
            found.len(),
            op.resource.key_attribute(),
        )))),
        // Without knowing whether the object exists, sending again could duplicate it.
        Err(lookup_error) => Some(Outcome::Failed(Failure::other(format!(
            "{why}; and whether it was created cannot be told: {lookup_error}"
        )))),
    }
}

/// How a create ended; `status` is that of the response to its POST, when the outcome rests on
/// one (an object found after a lost response rests on none).
fn finished(outcome: Outcome, attempts: &Attempts, status: Option<u16>) -> Finished {
    Finished {
        outcome,
        attempts: attempts.made,
        status,
    }
}

fn is_conflict(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Status { status: 409, scim_type, .. }
            if scim_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("uniqueness"))
    )
}

async fn lookup(
    context: &Context,
    kind: ResourceKind,
    key: &str,
) -> Result<Vec<Value>, ClientError> {
    context
        .client
        .find_by(kind, kind.key_attribute(), key, Keep::Managed)
        .await
}

fn id_of(resource: &Value) -> Option<String> {
    get_ci(resource, "id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Takes over `found` for the create `op`, bringing it in line with `body` when it differs.
async fn adopt(
    context: &Context,
    op: &Op,
    body: &Value,
    found: &Value,
    cause: AdoptCause,
) -> Outcome {
    let Some(id) = id_of(found) else {
        return Outcome::Failed(Failure::other(format!(
            "the existing {} {:?} has no id",
            op.resource.key_attribute(),
            op.key
        )));
    };
    let wanted = without_schemas(body);
    if contains(&wanted, found) {
        return Outcome::Done {
            id: Some(id),
            note: Some(Note::Adopted {
                cause,
                updated: false,
            }),
        };
    }
    let path = format!("{}/{id}", op.resource.endpoint());
    let (method, update) = if context.patch {
        (Method::PATCH, patch_body(&wanted))
    } else {
        (Method::PUT, put_body(found, &wanted))
    };
    let result = context
        .client
        .send(method, &path, &[], Some(&update), None)
        .await;
    match result {
        Ok(_) => Outcome::Done {
            id: Some(id),
            note: Some(Note::Adopted {
                cause,
                updated: true,
            }),
        },
        Err(error) => Outcome::Failed(Failure::other(format!(
            "adopted the existing object {id}, but could not bring it in line: {error}"
        ))),
    }
}

fn without_schemas(body: &Value) -> Map<String, Value> {
    let mut object = body.as_object().cloned().unwrap_or_default();
    object.retain(|k, _| !scim::attribute::names(k, "schemas"));
    object
}

/// Whether everything `wanted` says is on `found`: objects by their keys (case-insensitively,
/// RFC 7643 §2.1), arrays as sets of the same size, scalars equal.
fn contains(wanted: &Map<String, Value>, found: &Value) -> bool {
    wanted
        .iter()
        .all(|(name, value)| match get_ci(found, name) {
            Some(have) => value_contains(value, have),
            None => value.is_null() || value.as_array().is_some_and(Vec::is_empty),
        })
}

fn value_contains(wanted: &Value, found: &Value) -> bool {
    match (wanted, found) {
        (Value::Object(wanted), Value::Object(_)) => contains(wanted, found),
        (Value::Array(wanted), Value::Array(found)) => {
            wanted.len() == found.len()
                && wanted
                    .iter()
                    .all(|w| found.iter().any(|f| value_contains(w, f)))
        }
        _ => wanted == found,
    }
}

/// A PATCH replacing each attribute of `wanted` (RFC 7644 §3.5.2.3); extension attributes by
/// their full path, an empty multi-valued attribute by removing it.
fn patch_body(wanted: &Map<String, Value>) -> Value {
    let mut operations = Vec::new();
    for (name, value) in wanted {
        match value {
            Value::Object(inner) if scim::attribute::has_urn_prefix(name) => {
                for (sub, value) in inner {
                    operations.push(replace(&format!("{name}:{sub}"), value));
                }
            }
            Value::Array(items) if items.is_empty() => {
                operations.push(json!({"op": "remove", "path": name}));
            }
            _ => operations.push(replace(name, value)),
        }
    }
    json!({"schemas": [scim::urn::PATCH_OP], scim::patch::OPERATIONS: operations})
}

fn replace(path: &str, value: &Value) -> Value {
    json!({"op": "replace", "path": path, "value": value})
}

/// For a server without PATCH: the object as found, without `meta`, with the attributes of
/// `wanted` laid over it (complex ones merged one level deep, so sub-attributes the create did
/// not set survive).
fn put_body(found: &Value, wanted: &Map<String, Value>) -> Value {
    let mut object = found.as_object().cloned().unwrap_or_default();
    object.retain(|k, _| !scim::attribute::names(k, "meta"));
    for (name, value) in wanted {
        let existing = scim::attribute::key_ci(&object, name).cloned();
        let merged = match (existing.as_ref().and_then(|k| object.get(k)), value) {
            (Some(Value::Object(have)), Value::Object(want)) => {
                let mut merged = have.clone();
                merged.extend(want.clone());
                Value::Object(merged)
            }
            _ => value.clone(),
        };
        if let Some(existing) = existing {
            object.remove(&existing);
        }
        object.insert(name.clone(), merged);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(value: &Value) -> Map<String, Value> {
        without_schemas(value)
    }

    #[test]
    fn the_first_copy_is_ranked_by_creation_time_then_id() {
        let copy = |id: &str, created: Option<&str>| match created {
            Some(created) => json!({"id": id, "meta": {"created": created}}),
            None => json!({"id": id}),
        };
        let first = |found: &[Value]| id_of(first_created(found).unwrap()).unwrap();
        // Half a second later, though it sorts first as text.
        let found = [
            copy("b", Some("2026-12-07T10:00:00.5Z")),
            copy("c", Some("2026-12-07T10:00:00Z")),
        ];
        assert_eq!(first(&found), "c");
        // The same instant at another offset, then the id.
        let found = [
            copy("z", Some("2026-12-07T11:00:00+01:00")),
            copy("y", Some("2026-12-07T10:00:00Z")),
            copy("x", None),
        ];
        assert_eq!(first(&found), "y");
        assert_eq!(first(&[copy("x", None), copy("w", Some("soon"))]), "w");
    }

    #[test]
    fn what_the_server_adds_does_not_count_as_a_difference() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada"},
            "emails": [{"value": "ada@example.com"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}
        });
        let found = json!({
            "id": "1", "userName": "ada@example.com", "meta": {"version": "W/\"1\""},
            "name": {"givenName": "Ada", "formatted": "Ada"},
            "emails": [{"value": "ada@example.com", "primary": false}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}
        });
        assert!(contains(&wanted(&body), &found));
        let other = json!({"id": "1", "userName": "ada@example.com", "name": {"givenName": "Ann"},
                           "emails": [{"value": "ada@example.com"}],
                           "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}});
        assert!(!contains(&wanted(&body), &other));
    }

    #[test]
    fn members_compare_as_sets_of_the_same_size() {
        let body = json!({"displayName": "Ops", "members": [{"value": "1"}, {"value": "2"}]});
        let same = json!({"displayName": "Ops", "members": [{"value": "2", "display": "b"}, {"value": "1"}]});
        let more = json!({"displayName": "Ops", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}]});
        assert!(contains(&wanted(&body), &same));
        assert!(!contains(&wanted(&body), &more));
        let empty = json!({"displayName": "Ops", "members": []});
        assert!(contains(&wanted(&empty), &json!({"displayName": "Ops"})));
    }

    #[test]
    fn the_adopting_patch_replaces_each_attribute() {
        let body = json!({
            "schemas": ["x"], "userName": "ada@example.com", "name": {"givenName": "Ada"},
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}, "emails": []
        });
        let patch = patch_body(&wanted(&body));
        assert_eq!(
            patch["Operations"],
            json!([
                {"op": "remove", "path": "emails"},
                {"op": "replace", "path": "name", "value": {"givenName": "Ada"}},
                {"op": "replace", "path": "urn:scim:tonkean:tonkeanRoles", "value": ["SYSTEM_USER"]},
                {"op": "replace", "path": "userName", "value": "ada@example.com"},
            ])
        );
    }

    #[test]
    fn the_adopting_put_keeps_what_the_create_does_not_say() {
        let found = json!({"id": "1", "userName": "ada", "title": "Analyst",
                           "name": {"givenName": "A", "formatted": "A L"}, "meta": {}});
        let body = json!({"userName": "ada", "name": {"givenName": "Ada"}});
        assert_eq!(
            put_body(&found, &wanted(&body)),
            json!({"id": "1", "userName": "ada", "title": "Analyst",
                   "name": {"givenName": "Ada", "formatted": "A L"}})
        );
    }

    #[test]
    fn only_uniqueness_conflicts_adopt() {
        let conflict = |scim_type: Option<&str>| ClientError::Status {
            request: crate::client::RequestLabel {
                method: Method::POST,
                path: "/Users".into(),
            },
            status: 409,
            scim_type: scim_type.map(str::to_owned),
            detail: None,
            retry_after: None,
        };
        assert!(is_conflict(&conflict(Some("uniqueness"))));
        assert!(is_conflict(&conflict(None)));
        assert!(!is_conflict(&conflict(Some("mutability"))));
    }
}
