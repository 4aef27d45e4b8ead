//! Sending one request through faults (SPEC §4.3).
//!
//! Every failed attempt is sorted into a [`Fault`]: whether the server said to come back later
//! (429, 503), whether the request certainly never reached it (the connection could not be
//! made), whether it may or may not have been applied (another 5xx, a reset, a timeout), or
//! whether trying again cannot help (any other error answer). The first two are retried for
//! any request; the third only for requests that are safe to repeat, which is why creates go
//! through [`super::create`] instead. Delays come from an exponential backoff with jitter
//! (`backon`), bounded by a number of retries and a total time; `Retry-After` replaces the
//! backoff's delay when the server sends it, capped so a server cannot park the run.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use reqwest::Method;
use serde_json::Value;

use crate::client::{ClientError, Response, ScimClient};

/// How hard to try before giving up on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The first backoff delay; each retry doubles it, with jitter.
    pub min_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt.
    pub max_elapsed: Duration,
    /// The longest `Retry-After` honoured; a longer one is shortened to this.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(120),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

/// What a failed attempt says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// 429 or 503: the server did not do it and says when to come back (RFC 6585 §4,
    /// RFC 9110 §15.6.4).
    Throttled(Option<Duration>),
    /// The connection could not be made, or the server says it did not get the whole
    /// request: it was not applied.
    NotSent,
    /// The request may have been applied: another 5xx, a reset connection, a timeout, an
    /// answer cut short.
    Lost,
    /// A success whose body could not be parsed: done, and what it said is unknown.
    Unreadable,
    /// An answer that repeating the request will not change (4xx).
    Final,
}

impl Fault {
    pub(super) fn of(error: &ClientError) -> Fault {
        match error {
            ClientError::Status {
                status: 429 | 503,
                retry_after,
                ..
            } => Fault::Throttled(retry_after.map(Duration::from_secs)),
            // 408: the server did not receive the whole request (RFC 9110 §15.5.9).
            ClientError::Status { status: 408, .. } => Fault::NotSent,
            ClientError::Status { status, .. } if *status >= 500 => Fault::Lost,
            ClientError::Transport { source, .. } if source.is_connect() => Fault::NotSent,
            ClientError::Transport { .. } => Fault::Lost,
            ClientError::Decode { .. } => Fault::Unreadable,
            _ => Fault::Final,
        }
    }
}

/// The retry budget of one request.
pub(super) struct Attempts {
    backoff: ExponentialBackoff,
    deadline: Instant,
    retry_after_cap: Duration,
    /// Attempts made so far.
    pub made: u32,
}

impl Attempts {
    pub(super) fn new(policy: &RetryPolicy) -> Self {
        Attempts {
            backoff: ExponentialBuilder::default()
                .with_min_delay(policy.min_delay)
                .with_max_delay(policy.max_delay)
                .with_max_times(policy.max_retries)
                .with_jitter()
                .build(),
            deadline: Instant::now() + policy.max_elapsed,
            retry_after_cap: policy.retry_after_cap,
            made: 0,
        }
    }

    /// Waits before the next attempt after `fault`; `false` when the budget is spent.
    pub(super) async fn wait(&mut self, fault: Fault) -> bool {
        let Some(backoff) = self.backoff.next() else {
            return false;
        };
        let delay = match fault {
            Fault::Throttled(Some(retry_after)) => retry_after.min(self.retry_after_cap),
            _ => backoff,
        };
        if Instant::now() + delay > self.deadline {
            return false;
        }
        tokio::time::sleep(delay).await;
        true
    }
}

/// Sends one request once, logging method, path, status and latency (never a header).
pub(super) async fn send_once(
    client: &ScimClient,
    method: &Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
    if_match: Option<&str>,
) -> Result<Response, ClientError> {
    let started = Instant::now();
    let result = client
        .send(method.clone(), path, query, body, if_match)
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(response) => {
            tracing::debug!(%method, path, status = response.status.as_u16(), latency_ms, "request");
        }
        Err(ClientError::Status { status, .. }) => {
            tracing::debug!(%method, path, status, latency_ms, "request");
        }
        Err(error) => {
            tracing::debug!(%method, path, latency_ms, %error, "request without an answer");
        }
    }
    result
}

/// Sends a request that is safe to repeat (GET, PUT, PATCH, DELETE) until it is answered with
/// success or a final error, or the budget is spent. Returns the last result and how many
/// attempts were made.
///
/// `If-Match` goes with every attempt until one may have been applied: the attempts after it
/// go without, since the version they would match is the one that attempt replaced.
pub(super) async fn send_idempotent(
    client: &ScimClient,
    policy: &RetryPolicy,
    method: &Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
    mut if_match: Option<&str>,
) -> (Result<Response, ClientError>, u32) {
    let mut attempts = Attempts::new(policy);
    loop {
        attempts.made += 1;
        let result = send_once(client, method, path, query, body, if_match).await;
        let Err(error) = &result else {
            return (result, attempts.made);
        };
        let fault = match Fault::of(error) {
            // A write answered with success is done, whatever its body; a read is read again.
            Fault::Unreadable if *method != Method::GET => return (result, attempts.made),
            Fault::Unreadable => Fault::Lost,
            fault => fault,
        };
        if fault == Fault::Final {
            return (result, attempts.made);
        }
        if fault == Fault::Lost {
            if_match = None;
        }
        tracing::info!(%method, path, %error, "retrying");
        if !attempts.wait(fault).await {
            return (result, attempts.made);
        }
    }
}

/// The resources whose `attribute` equals `value`, read through faults. A 404 means none
/// (servers answer an empty filter either way).
pub(super) async fn find_by(
    client: &ScimClient,
    policy: &RetryPolicy,
    kind: crate::client::ResourceKind,
    attribute: &str,
    value: &str,
) -> Result<Vec<Value>, ClientError> {
    let filter = format!("{attribute} eq {}", Value::String(value.to_owned()));
    let query = [("filter", filter)];
    let (result, _) = send_idempotent(
        client,
        policy,
        &Method::GET,
        kind.endpoint(),
        &query,
        None,
        None,
    )
    .await;
    match result {
        Ok(response) => Ok(list_resources(response.body.as_ref())),
        Err(ClientError::Status { status: 404, .. }) => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// The `Resources` of a `ListResponse`, tolerantly: missing means none.
fn list_resources(body: Option<&Value>) -> Vec<Value> {
    body.and_then(Value::as_object)
        .and_then(|object| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Resources"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<u64>) -> ClientError {
        ClientError::Status {
            request: crate::client::RequestLabel {
                method: Method::POST,
                path: "/Users".into(),
            },
            status,
            scim_type: None,
            detail: None,
            retry_after,
        }
    }

    #[test]
    fn faults_are_sorted_by_what_a_retry_can_do() {
        assert_eq!(
            Fault::of(&status(429, Some(2))),
            Fault::Throttled(Some(Duration::from_secs(2)))
        );
        assert_eq!(Fault::of(&status(503, None)), Fault::Throttled(None));
        assert_eq!(Fault::of(&status(500, None)), Fault::Lost);
        assert_eq!(Fault::of(&status(502, None)), Fault::Lost);
        assert_eq!(Fault::of(&status(408, None)), Fault::NotSent);
        assert_eq!(Fault::of(&status(400, None)), Fault::Final);
        assert_eq!(Fault::of(&status(409, None)), Fault::Final);
        assert_eq!(Fault::of(&status(404, None)), Fault::Final);
    }

    #[tokio::test]
    async fn the_budget_bounds_retries_and_caps_retry_after() {
        let policy = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_elapsed: Duration::from_secs(600),
            retry_after_cap: Duration::from_millis(20),
        };
        let mut attempts = Attempts::new(&policy);
        let started = Instant::now();
        assert!(
            attempts
                .wait(Fault::Throttled(Some(Duration::from_secs(3600))))
                .await
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "capped: {waited:?}");
        assert!(attempts.wait(Fault::Lost).await);
        assert!(attempts.wait(Fault::NotSent).await);
        assert!(!attempts.wait(Fault::Lost).await, "three retries, no more");
    }

    #[test]
    fn lists_without_resources_are_empty() {
        assert!(list_resources(None).is_empty());
        assert!(list_resources(Some(&serde_json::json!({"totalResults": 0}))).is_empty());
        assert_eq!(
            list_resources(Some(&serde_json::json!({"Resources": [{"id": "1"}]}))).len(),
            1
        );
    }
}
