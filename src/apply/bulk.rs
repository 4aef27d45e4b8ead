//! Sending a phase's independent writes in `/Bulk` requests (RFC 7644 §3.7), where the server
//! supports it and the caller asks for it (docs/apply.md, `/Bulk`).
//!
//! A bulk request holds ops of one phase only, which never refer to each other, so every
//! bulkId reference in it is already resolved; a create still carries its bulkId so its
//! response can be told apart. The bulk response is checked op by op: each op is done, failed
//! with its own status and SCIM error, or handed to the single-request path when a retry is
//! due. When the bulk request as a whole fails, its ops fall back to single requests: all of
//! them when the server refused it (4xx), and with a lookup before any create when its
//! response was lost, since the server may have applied any part of it.

use reqwest::Method as HttpMethod;
use serde_json::{Value, json};

use std::time::Instant;

use scim::ResourceKind;
use scim::attribute::get_ci;
use tracing::Instrument as _;

use super::{Context, Finished, Ready, Sent as Ended, create, object_span, run_op};
use crate::client::{Attempts, BulkLimits, ClientError, Fault, RawResponse, RequestLabel};
use crate::plan::Method;
use crate::report::{Failure, Note, Outcome};

/// Groups `ready` into bulk requests within the server's limits. An op too large for any
/// request on its own, and a batch of one, are returned as single ops.
pub(super) fn batches(ready: Vec<Ready>, limits: BulkLimits) -> (Vec<Vec<Ready>>, Vec<Ready>) {
    crate::plan::bulk_batches(ready, limits, |item| operation(item).to_string().len() + 1)
}

/// One bulk operation (RFC 7644 §3.7.1).
fn operation(item: &Ready) -> Value {
    let method = item.op.request.method;
    let mut operation = json!({"method": method.as_str(), "path": item.path});
    if method == Method::Post
        && let Some(bulk_id) = &item.op.bulk_id
    {
        operation["bulkId"] = json!(bulk_id);
    }
    if let Some(body) = item.body() {
        operation["data"] = body.clone();
    }
    if let Some(version) = &item.if_match {
        operation["version"] = json!(version);
    }
    operation
}

/// How the bulk request as a whole ended.
enum Sent {
    /// Responded to: the `Operations` of the bulk response.
    Responded(Vec<Value>),
    /// Refused as a whole, so none of it was applied.
    Refused,
    /// Maybe applied, in any part: the reason.
    Lost(String),
    /// Throttled or unreachable past the retry budget.
    GaveUp(ClientError),
}

/// Sends `batch` as one bulk request and reports on each of its ops.
pub(super) async fn run(context: &Context, batch: Vec<Ready>) -> Vec<Ended> {
    let started = Instant::now();
    if let Some(skipped) = super::not_sent(context) {
        return batch
            .into_iter()
            .map(|item| Ended {
                index: item.index,
                path: item.path,
                finished: skipped.clone(),
                elapsed: started.elapsed(),
            })
            .collect();
    }
    let request = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "Operations": batch.iter().map(operation).collect::<Vec<_>>(),
    });
    let mut attempts = Attempts::new(context.client.retry_policy());
    let sent = loop {
        attempts.made += 1;
        match context
            .client
            .send_once(
                HttpMethod::POST,
                "/Bulk",
                &[],
                Some(&request),
                None,
                attempts.made,
            )
            .await
            .and_then(RawResponse::into_json)
        {
            Ok(response) => break Sent::Responded(bulk_operations(response.body.as_ref())),
            Err(error @ ClientError::Unreachable { .. }) => break Sent::GaveUp(error),
            Err(error) => match Fault::of(&error) {
                fault @ (Fault::Throttled(_) | Fault::NotSent) => {
                    if !attempts.wait(fault).await {
                        break Sent::GaveUp(error);
                    }
                }
                Fault::Lost | Fault::Unreadable => {
                    break Sent::Lost(format!("the answer to /Bulk was lost: {error}"));
                }
                Fault::Final => {
                    tracing::info!(%error, "the server refused a bulk request; sending its ops one by one");
                    break Sent::Refused;
                }
            },
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (position, item) in batch.iter().enumerate() {
        let mut finished = async {
            match &sent {
                Sent::Responded(op_responses) => {
                    if let Some(op_response) = find_op_response(op_responses, position, item) {
                        responded(context, item, op_response).await
                    } else {
                        let why = "the bulk response has no answer for this op".to_owned();
                        single(context, item, Some(why)).await
                    }
                }
                Sent::Refused => single(context, item, None).await,
                Sent::Lost(why) => single(context, item, Some(why.clone())).await,
                Sent::GaveUp(error) => Finished {
                    outcome: Outcome::Failed(Failure::from_error(error)),
                    attempts: 0,
                    status: error.http_status(),
                },
            }
        }
        .instrument(object_span(&item.op))
        .await;
        finished.attempts += attempts.made;
        results.push(Ended {
            index: item.index,
            path: item.path.clone(),
            finished,
            elapsed: started.elapsed(),
        });
    }
    results
}

/// Sends one op of the batch on its own; `lost` says why the bulk may have applied it.
async fn single(context: &Context, item: &Ready, lost: Option<String>) -> Finished {
    match (item.op.request.method, lost) {
        (Method::Post, lost) => {
            let body = item.body().unwrap_or(&Value::Null);
            create::create(context, &item.op, &item.path, body, lost).await
        }
        // PUT, PATCH and DELETE may be repeated; a repeated DELETE answers 404, which is done.
        (_, _) => run_op(context, item).await,
    }
}

/// What the response to one op inside the bulk response means.
async fn responded(context: &Context, item: &Ready, op_response: &Value) -> Finished {
    let status = status_of(op_response).unwrap_or(0);
    let method = item.op.request.method;
    let done = |outcome| Finished {
        outcome,
        attempts: 0,
        status: Some(status).filter(|s| *s != 0),
    };
    match status {
        200..=299 if method == Method::Post => {
            let id = get_ci(op_response, "response")
                .and_then(|r| get_ci(r, "id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    get_ci(op_response, "location")
                        .and_then(Value::as_str)
                        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned)
                });
            let key = create::key_of(&item.op, item.body());
            let id = if id.is_some() {
                id
            } else {
                create::created_id(context, item.op.resource, &key).await
            };
            if item.op.resource == ResourceKind::Group
                && let Some(id) = &id
                && let Some(body) = item.body()
                && let Some(outcome) = create::settle_race(context, &item.op, body, &key, id).await
            {
                return done(outcome);
            }
            done(Outcome::Done { id, note: None })
        }
        200..=299 => done(Outcome::Done {
            id: observed_id(item),
            note: None,
        }),
        404 if method == Method::Delete => done(Outcome::Done {
            id: observed_id(item),
            note: Some(Note::AlreadyGone),
        }),
        // Not applied: sent again on its own, with the usual retries.
        429 | 503 => single(context, item, None).await,
        500..=599 | 0 => {
            let why = format!("its answer inside /Bulk was {status}");
            single(context, item, Some(why)).await
        }
        409 if method == Method::Post => {
            let error = context
                .client
                .redacted(op_response_error(item, status, op_response));
            let body = item.body().unwrap_or(&Value::Null);
            let key = create::key_of(&item.op, Some(body));
            done(create::conflict(context, &item.op, body, &key, &error).await)
        }
        _ => done(Outcome::Failed(Failure::from_error(
            &context
                .client
                .redacted(op_response_error(item, status, op_response)),
        ))),
    }
}

fn observed_id(item: &Ready) -> Option<String> {
    match &item.op.observed {
        crate::plan::Observed::Present { id, .. } => Some(id.clone()),
        crate::plan::Observed::Absent => None,
    }
}

/// The error response to one op, as the client reports errors.
fn op_response_error(item: &Ready, status: u16, op_response: &Value) -> ClientError {
    let error = scim::message::ErrorBody::read(status, get_ci(op_response, "response"));
    ClientError::Status {
        request: RequestLabel {
            method: HttpMethod::from_bytes(item.op.request.method.as_str().as_bytes())
                .expect("a SCIM method is an HTTP method"),
            path: format!("{} (in /Bulk)", item.path),
        },
        status,
        scim_type: error.scim_type,
        detail: error.detail,
        retry_after: None,
    }
}

/// The `Operations` of a bulk response.
fn bulk_operations(body: Option<&Value>) -> Vec<Value> {
    body.and_then(|b| get_ci(b, "Operations"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The response to the op at `position` of the request: by bulkId for a create; otherwise the
/// response at the same position if it is for the same method and path, else the first that is.
fn find_op_response<'a>(
    op_responses: &'a [Value],
    position: usize,
    item: &Ready,
) -> Option<&'a Value> {
    let method = item.op.request.method.as_str();
    let same_method = |op_response: &Value| {
        get_ci(op_response, "method")
            .and_then(Value::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case(method))
    };
    if item.op.request.method == Method::Post
        && let Some(bulk_id) = &item.op.bulk_id
    {
        return op_responses.iter().find(|op_response| {
            get_ci(op_response, "bulkId").and_then(Value::as_str) == Some(bulk_id.as_str())
        });
    }
    let same_location = |op_response: &Value| {
        get_ci(op_response, "location")
            .and_then(Value::as_str)
            .is_none_or(|location| location.ends_with(&item.path))
    };
    op_responses
        .get(position)
        .filter(|a| same_method(a) && same_location(a))
        .or_else(|| {
            op_responses.iter().find(|a| {
                same_method(a)
                    && get_ci(a, "location")
                        .and_then(Value::as_str)
                        .is_some_and(|l| l.ends_with(&item.path))
            })
        })
}

/// An op's `status`: RFC 7644 writes it as a string; some servers send a number.
fn status_of(op_response: &Value) -> Option<u16> {
    match get_ci(op_response, "status")? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::Object(object) => object
            .get("code")
            .and_then(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .or_else(|| c.as_u64().map(|n| n.to_string()))
            })
            .and_then(|c| c.parse().ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Observed, Op, Phase, Request};
    use scim::ResourceKind;

    fn ready(index: usize, size: usize) -> Ready {
        let body = json!({"userName": format!("u{index}"), "title": "x".repeat(size)});
        let op = Op {
            phase: Phase::Users,
            action: Action::Create,
            resource: ResourceKind::User,
            key: format!("u{index}"),
            reason: None,
            bulk_id: Some(format!("u{index}")),
            changes: Vec::new(),
            request: Request {
                method: Method::Post,
                path: "/Users".into(),
                body: Some(body.clone()),
            },
            observed: Observed::Absent,
            depends_on: Vec::new(),
        };
        Ready {
            index,
            op: std::sync::Arc::new(op),
            path: "/Users".into(),
            resolved_body: None,
            if_match: None,
        }
    }

    fn indexes(batches: &[Vec<Ready>]) -> Vec<Vec<usize>> {
        batches
            .iter()
            .map(|b| b.iter().map(|r| r.index).collect())
            .collect()
    }

    #[test]
    fn batches_keep_within_the_operation_and_payload_limits() {
        let limits = BulkLimits {
            max_operations: 2,
            max_payload_size: 10_000,
        };
        let (requests, singles) = batches((0..5).map(|i| ready(i, 10)).collect(), limits);
        assert_eq!(indexes(&requests), [vec![0, 1], vec![2, 3]]);
        assert_eq!(singles.iter().map(|r| r.index).collect::<Vec<_>>(), [4]);

        let limits = BulkLimits {
            max_operations: 100,
            max_payload_size: 1_000,
        };
        let items = vec![ready(0, 300), ready(1, 300), ready(2, 300), ready(3, 2_000)];
        let (requests, singles) = batches(items, limits);
        assert_eq!(indexes(&requests), [vec![0, 1]]);
        let mut singles: Vec<usize> = singles.iter().map(|r| r.index).collect();
        singles.sort_unstable();
        assert_eq!(singles, [2, 3], "too large for any request, or alone");
    }

    #[test]
    fn op_responses_are_found_by_bulk_id_or_by_position_and_location() {
        let item = ready(3, 0);
        let op_responses = vec![
            json!({"method": "POST", "bulkId": "u1", "status": "201"}),
            json!({"method": "POST", "bulkId": "u3", "status": "409"}),
        ];
        assert_eq!(
            find_op_response(&op_responses, 0, &item),
            Some(&op_responses[1])
        );
        let mut patch = ready(0, 0);
        std::sync::Arc::make_mut(&mut patch.op).request.method = Method::Patch;
        patch.path = "/Users/7".into();
        let op_responses = vec![
            json!({"method": "DELETE", "location": "https://h/scim/v2/Users/9", "status": "204"}),
            json!({"method": "PATCH", "location": "https://h/scim/v2/Users/7", "status": "200"}),
        ];
        assert_eq!(
            find_op_response(&op_responses, 0, &patch),
            Some(&op_responses[1])
        );
        assert_eq!(find_op_response(&op_responses[..1], 0, &patch), None);
    }

    #[test]
    fn statuses_are_read_as_strings_or_numbers() {
        assert_eq!(status_of(&json!({"status": "201"})), Some(201));
        assert_eq!(status_of(&json!({"status": 409})), Some(409));
        assert_eq!(status_of(&json!({"status": {"code": "400"}})), Some(400));
        assert_eq!(status_of(&json!({})), None);
    }
}
