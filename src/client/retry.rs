//! The retry policy every request goes through (README, Apply; docs/apply.md, Faults).
//!
//! Every failed attempt is sorted into a [`Fault`]: whether the server said to come back later
//! (429, 503), whether the request certainly never reached it (the connection could not be
//! made, or 408), whether it may or may not have been applied (another 5xx, a reset, a
//! timeout), or whether trying again cannot help (501 and every other 4xx). The first two are
//! retried for any request; the third only for requests that are safe to repeat, which is why
//! a lost create is looked up before it is sent again (`apply::create`). Delays come from an
//! exponential backoff with jitter (`backon`), bounded by a number of attempts and a total
//! time; `Retry-After` replaces the backoff's delay when the server sends it, capped so that a
//! server cannot park the run.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use super::ClientError;

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
            // A link that loses one request in four still gets every request of a plan of
            // 100,000 users through: a request fails for good with a chance of 4^-9.
            max_retries: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(120),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

/// What a failed attempt says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 429 or 503: the server did not do it and says when to come back (RFC 6585 §4,
    /// RFC 9110 §15.6.4).
    Throttled(Option<Duration>),
    /// The connection could not be made, or the server says it did not get the whole
    /// request: it was not applied.
    NotSent,
    /// The request may have been applied: another 5xx, a reset connection, a timeout, an
    /// response cut short.
    Lost,
    /// A success whose body could not be parsed: done, and what it said is unknown.
    Unreadable,
    /// A response that repeating the request will not change: 501 (RFC 9110 §15.6.2) and
    /// every 4xx but 408 and 429.
    Final,
}

impl Fault {
    pub(crate) fn of(error: &ClientError) -> Fault {
        match error {
            ClientError::Status {
                status: 429 | 503,
                retry_after,
                ..
            } => Fault::Throttled(retry_after.map(Duration::from_secs)),
            // 408: the server did not receive the whole request (RFC 9110 §15.5.9).
            ClientError::Status { status: 408, .. } => Fault::NotSent,
            // Not Implemented: the method or feature will not start working on a retry.
            ClientError::Status { status: 501, .. } => Fault::Final,
            ClientError::Status { status, .. } if *status >= 500 => Fault::Lost,
            ClientError::Transport { source, .. } if source.is_connect() => Fault::NotSent,
            ClientError::Transport { .. } => Fault::Lost,
            ClientError::Decode { .. } => Fault::Unreadable,
            _ => Fault::Final,
        }
    }
}

/// The retry budget of one request.
pub(crate) struct Attempts {
    backoff: ExponentialBackoff,
    deadline: Instant,
    retry_after_cap: Duration,
    /// Attempts made so far.
    pub made: u32,
}

impl Attempts {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
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
    pub(crate) async fn wait(&mut self, fault: Fault) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<u64>) -> ClientError {
        ClientError::Status {
            request: crate::client::RequestLabel {
                method: reqwest::Method::POST,
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
        assert_eq!(Fault::of(&status(501, None)), Fault::Final);
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
}
