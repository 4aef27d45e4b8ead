//! Pacing the requests sent to one provider
//! (README, Apply; docs/benchmarks.md, Rate-limited servers).
//!
//! A 429 is the server saying the provider as a whole goes too fast, not that one request
//! did; so the response is taken for every request to it. All clones of a client share one
//! [`Throttle`], which does three things:
//!
//! - a `Retry-After` on a 429 or 503 pauses every request to the provider until it has passed,
//!   not only the one that was refused;
//! - requests are spaced to a rate: the provider's `rate_limit` when the config sets one, and
//!   once the server has refused, a rate learnt from it (additive increase, multiplicative
//!   decrease): cut to below what the server let through in the last second at a refusal,
//!   then raised quickly back near the rate that was refused, held there for a minute, and only
//!   then raised slowly beyond it, so that refusals stay rare instead of recurring every few
//!   seconds;
//! - one refusal cuts the rate once: the refusals of requests sent before the last cut are
//!   responses to the old rate, not to the new one; and the rate is cut at most once a second,
//!   never before a few responses have come (what the server lets through is not known), and never
//!   below a quarter of the most it ever let through in a second, so that refusals that have
//!   nothing to do with the rate (a flaky gateway's) slow a run down, but do not stall it.
//!
//! How many requests are in flight at once stays with the callers (`--parallelism`, the
//! concurrent pages of a listing); spacing them is what keeps a server's rate.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::ClientError;
use super::retry::Fault;

/// The shortest time between two cuts of the rate, and the time a run must have been going
/// before a refusal cuts it.
const WINDOW: Duration = Duration::from_secs(1);
/// The window over which what the server let through is counted: two seconds, so that a
/// token bucket's burst weighs half what it would over one.
const MEASURED: Duration = Duration::from_secs(2);
/// At a refusal, the new rate is this share of what the server let through.
const DECREASE: f64 = 0.95;
/// Below this share of the refused rate, the rate grows by [`FAST_GROWTH`] of it per second.
const NEAR_CEILING: f64 = 0.97;
const FAST_GROWTH: f64 = 0.10;
/// How long the rate stays at [`NEAR_CEILING`] of the refused rate after a cut before it
/// creeps on: a refusal costs every request its `Retry-After`, more than running a few percent
/// under the server's rate for a minute does.
const HOLD: Duration = Duration::from_secs(60);
/// After [`HOLD`], from [`NEAR_CEILING`] up to the refused rate, the rate grows by this share
/// of itself per second.
const SLOW_GROWTH: f64 = 0.001;
/// Past the refused rate, by this share of itself per second: the server's limit may have
/// been lower for a while than it is now.
const PROBE_GROWTH: f64 = 0.005;
/// Past a refused rate that was measured only over a moment, by this share per second.
const QUICK_PROBE_GROWTH: f64 = 0.25;
/// The shortest time what the server let through is counted over: a token bucket lets a
/// burst through at once, which over a shorter time would look like a high rate.
const MIN_MEASURED: Duration = Duration::from_millis(250);
/// How many responses in the last window make a refusal in the first second teach a rate.
const MIN_ANSWERS: usize = 5;
/// What the server let through, as a share of the rate requests were spaced to, that shows
/// requests were sent at that rate.
const SENT_AT_RATE: f64 = 0.9;
/// The slowest learnt rate, in requests per second.
const MIN_RATE: f64 = 0.5;
/// The slowest learnt rate, as a share of the most the server let through in a window.
const FLOOR: f64 = 0.25;

/// The pacing shared by every request to one provider.
#[derive(Debug)]
pub(crate) struct Throttle {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The most requests per second the config allows, if it sets a rate.
    configured: Option<f64>,
    /// The rate requests are spaced to now; `None` when they are not spaced.
    rate: Option<f64>,
    /// The rate at which the server last refused.
    ceiling: Option<f64>,
    /// Whether that rate was measured over most of a window: one measured over a moment
    /// (right after a pause, say) is probed past quickly rather than crept up to.
    ceiling_measured: bool,
    /// When the next request may start.
    next_slot: Instant,
    /// No request starts before this: the server's `Retry-After`.
    paused_until: Option<Instant>,
    /// When the last pause began.
    paused_from: Option<Instant>,
    /// When the rate was last cut.
    last_cut: Option<Instant>,
    /// When the first request was let through.
    first: Option<Instant>,
    /// The most responses that came in one window.
    peak: usize,
    /// When the responses of the last [`MEASURED`] that were not refusals arrived.
    recent: VecDeque<Instant>,
}

/// What became of one request, as far as pacing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server responded, and did not refuse for going too fast.
    Responded,
    /// 429, or 503 with `Retry-After`: too fast, come back after the delay, if given.
    Refused(Option<Duration>),
    /// No response (a reset, a timeout): says nothing about the rate.
    NoResponse,
}

impl Outcome {
    /// What a request's error (`None` for a success) says about the rate. Only a 429, or a
    /// 503 with a `Retry-After` to wait, says the provider goes too fast; a `Retry-After: 0`
    /// says to come back at once, which is a flaky gateway's, not a rate's, and a 503
    /// without it is an outage that backoff handles.
    pub(crate) fn of(error: Option<&ClientError>) -> Outcome {
        let Some(error) = error else {
            return Outcome::Responded;
        };
        match (error, Fault::of(error)) {
            (_, Fault::Throttled(Some(delay))) if delay.is_zero() => Outcome::Responded,
            (ClientError::Status { status, .. }, Fault::Throttled(delay))
                if *status == 429 || delay.is_some() =>
            {
                Outcome::Refused(delay)
            }
            (ClientError::Status { .. } | ClientError::TooLarge { .. }, _) => Outcome::Responded,
            _ => Outcome::NoResponse,
        }
    }
}

impl Throttle {
    /// A throttle that spaces requests to at most `rate_limit` per second, if set.
    pub(crate) fn new(rate_limit: Option<f64>) -> Self {
        let configured = rate_limit.filter(|r| r.is_finite() && *r > 0.0);
        Throttle {
            state: Mutex::new(State {
                configured,
                rate: configured,
                ceiling: None,
                ceiling_measured: false,
                next_slot: Instant::now(),
                paused_until: None,
                paused_from: None,
                last_cut: None,
                first: None,
                peak: 0,
                recent: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a request may start; returns when it was let through, which
    /// [`Throttle::record`] is given back.
    pub(crate) async fn admit(&self) -> Instant {
        loop {
            let now = Instant::now();
            let start = {
                let mut state = self.lock();
                match state.paused_until {
                    Some(until) if until > now => Err(until),
                    _ => Ok(state.take_slot(now)),
                }
            };
            match start {
                Ok(slot) => {
                    if slot > now {
                        tokio::time::sleep_until(slot).await;
                    }
                    return slot;
                }
                // Paused: wait, then take a slot like any other request.
                Err(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Learns from what became of a request let through at `started`.
    pub(crate) fn record(&self, started: Instant, outcome: Outcome) {
        let now = Instant::now();
        let mut state = self.lock();
        match outcome {
            Outcome::Responded => state.responded(now),
            Outcome::Refused(retry_after) => {
                // A request sent before the last cut was refused for the old rate.
                let known = state.recent.len() >= MIN_ANSWERS
                    || state
                        .first
                        .is_some_and(|first| now.duration_since(first) >= WINDOW);
                let due = state
                    .last_cut
                    .is_none_or(|cut| started > cut && now.duration_since(cut) >= WINDOW);
                if known && due {
                    state.cut(now);
                }
                if let Some(delay) = retry_after {
                    let until = now + delay;
                    if state.paused_until.is_none_or(|u| u <= now) {
                        state.paused_from = Some(now);
                    }
                    state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
                }
            }
            Outcome::NoResponse => {}
        }
    }

    /// The rate requests are spaced to now, in requests per second.
    #[cfg(test)]
    fn rate(&self) -> Option<f64> {
        self.lock().rate
    }
}

impl State {
    /// The start of the next request, as the rate allows, reserved.
    fn take_slot(&mut self, now: Instant) -> Instant {
        self.first.get_or_insert(now);
        let Some(rate) = self.rate else {
            return now;
        };
        let slot = self.next_slot.max(now);
        self.next_slot = slot + Duration::from_secs_f64(1.0 / rate);
        slot
    }

    /// Forgets the responses that came before the window ending `now`.
    fn trim(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > MEASURED)
        {
            self.recent.pop_front();
        }
    }

    fn responded(&mut self, now: Instant) {
        self.recent.push_back(now);
        self.trim(now);
        self.peak = self.peak.max(self.recent.len());
        // A learnt rate grows a little with each response; as about `rate` responses come in a
        // second, each adds 1/rate of the growth per second.
        if let (Some(rate), Some(ceiling)) = (self.rate, self.ceiling) {
            let growth = if !self.ceiling_measured {
                QUICK_PROBE_GROWTH * rate
            } else if rate < NEAR_CEILING * ceiling {
                FAST_GROWTH * ceiling
            } else if self
                .last_cut
                .is_some_and(|cut| now.duration_since(cut) < HOLD)
            {
                0.0
            } else if rate < ceiling {
                SLOW_GROWTH * rate
            } else {
                PROBE_GROWTH * rate
            };
            let mut grown = rate + growth / rate;
            if let Some(configured) = self.configured {
                grown = grown.min(configured);
            }
            self.rate = Some(grown);
        }
    }

    /// Cuts the rate below what the server let through in the last window.
    fn cut(&mut self, now: Instant) {
        self.trim(now);
        // What the server let through, per second of the window in which requests were sent:
        // the time paused by a `Retry-After` does not count.
        // The window, no longer than the run so far.
        let span = self
            .first
            .map_or(MEASURED, |first| now.duration_since(first).min(MEASURED));
        let window_start = now.checked_sub(span).unwrap_or(now);
        let paused = match (self.paused_from, self.paused_until) {
            (Some(from), Some(until)) => until
                .min(now)
                .saturating_duration_since(from.max(window_start)),
            _ => Duration::ZERO,
        };
        let measured = span.saturating_sub(paused).max(MIN_MEASURED);
        let mut let_through = self.recent.len() as f64 / measured.as_secs_f64();
        // Probing quickly, the rate climbed through the window: averaged over all of it, what
        // the server let through reads low. Its last second, if nothing was paused in it, is
        // nearer the rate the server refused.
        let probing = self.ceiling.is_some() && !self.ceiling_measured;
        let unpaused = self
            .paused_until
            .is_none_or(|until| now.saturating_duration_since(until) >= WINDOW);
        if probing && unpaused {
            let last_window = self
                .recent
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) <= WINDOW)
                .count();
            let_through = let_through.max(last_window as f64 / WINDOW.as_secs_f64());
        }
        // Requests were spaced to `rate`: if about that many came back, the server refused that
        // rate, and what was counted fell short of it only by the jitter of responses across
        // the window's edges. Far fewer means fewer were sent (too few in flight to keep the
        // rate), and what was let through is what was refused.
        let refused_at = match self.rate {
            Some(rate) if let_through >= SENT_AT_RATE * rate => rate,
            Some(rate) => rate.min(let_through.max(MIN_RATE)),
            None => let_through.max(MIN_RATE),
        };
        let floor = (FLOOR * self.peak as f64 / MEASURED.as_secs_f64()).max(MIN_RATE);
        self.ceiling = Some(refused_at);
        self.ceiling_measured = measured >= WINDOW;
        let rate = (refused_at * DECREASE).max(floor);
        self.rate = Some(rate);
        self.last_cut = Some(now);
        tracing::info!(
            let_through = format!("{let_through:.1}/s"),
            "the server refused a request for going too fast: requests are now paced at {rate:.1}/s"
        );
        // The slots handed out at the old rate are given back: the next request waits for
        // the new spacing from now.
        self.next_slot = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_configured_rate_spaces_requests() {
        let throttle = Throttle::new(Some(10.0));
        let started = Instant::now();
        for _ in 0..11 {
            let at = throttle.admit().await;
            throttle.record(at, Outcome::Responded);
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(999) && took < Duration::from_millis(1100),
            "{took:?}"
        );
        assert_eq!(
            throttle.rate(),
            Some(10.0),
            "responses never raise a configured rate"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_pauses_every_request() {
        let throttle = Throttle::new(None);
        let first = throttle.admit().await;
        throttle.record(first, Outcome::Refused(Some(Duration::from_secs(2))));
        let started = Instant::now();
        throttle.admit().await;
        assert!(started.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_cuts_the_rate_once_and_responses_raise_it_again() {
        let throttle = Throttle::new(None);
        assert_eq!(throttle.rate(), None, "unpaced until the server refuses");
        // Before any response, a refusal pauses but teaches no rate: nothing is known.
        let early = throttle.admit().await;
        throttle.record(early, Outcome::Refused(None));
        assert_eq!(throttle.rate(), None);
        tokio::time::sleep(WINDOW).await;
        // The server let 40 requests a second through for two seconds, then refused three
        // that were in flight together.
        for _ in 0..80 {
            let at = throttle.admit().await;
            tokio::time::sleep(Duration::from_millis(24)).await;
            throttle.record(at, Outcome::Responded);
        }
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(throttle.admit().await);
        }
        for at in sent {
            throttle.record(at, Outcome::Refused(None));
        }
        let cut = throttle.rate().unwrap();
        assert!((cut - 38.0).abs() < 1e-9, "one cut to 95% of 40: {cut}");
        // Answers bring it back near 40 within seconds, then only creep past it.
        for _ in 0..200 {
            let at = throttle.admit().await;
            throttle.record(at, Outcome::Responded);
        }
        let grown = throttle.rate().unwrap();
        assert!((38.0..40.5).contains(&grown), "{grown}");
    }

    #[tokio::test(start_paused = true)]
    async fn time_paused_by_retry_after_is_not_counted_as_the_servers_rate() {
        let throttle = Throttle::new(None);
        let refused = throttle.admit().await;
        throttle.record(refused, Outcome::Refused(Some(Duration::from_millis(750))));
        // Once the pause is over, 25 responses in 0.3 seconds, then a refusal.
        for _ in 0..25 {
            let at = throttle.admit().await;
            tokio::time::sleep(Duration::from_millis(12)).await;
            throttle.record(at, Outcome::Responded);
        }
        let at = throttle.admit().await;
        throttle.record(at, Outcome::Refused(None));
        let rate = throttle.rate().unwrap();
        assert!(rate > 60.0, "25 in the 0.3 s that were not paused: {rate}");
    }

    #[test]
    fn only_a_429_or_a_wait_asked_for_says_the_rate_is_too_high() {
        let status = |status: u16, retry_after: Option<u64>| ClientError::Status {
            request: crate::client::RequestLabel {
                method: reqwest::Method::GET,
                path: "/Users".into(),
            },
            status,
            scim_type: None,
            detail: None,
            retry_after,
        };
        let of = |error: ClientError| Outcome::of(Some(&error));
        assert_eq!(Outcome::of(None), Outcome::Responded);
        assert_eq!(of(status(429, None)), Outcome::Refused(None));
        assert_eq!(
            of(status(429, Some(2))),
            Outcome::Refused(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            of(status(503, Some(1))),
            Outcome::Refused(Some(Duration::from_secs(1)))
        );
        assert_eq!(of(status(429, Some(0))), Outcome::Responded);
        assert_eq!(of(status(503, Some(0))), Outcome::Responded);
        assert_eq!(of(status(503, None)), Outcome::Responded);
        assert_eq!(of(status(500, None)), Outcome::Responded);
        assert_eq!(of(status(404, None)), Outcome::Responded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_learnt_rate_never_passes_the_configured_one() {
        let throttle = Throttle::new(Some(20.0));
        let at = throttle.admit().await;
        throttle.record(at, Outcome::Responded);
        tokio::time::sleep(WINDOW).await;
        for _ in 0..10 {
            let at = throttle.admit().await;
            throttle.record(at, Outcome::Responded);
        }
        let at = throttle.admit().await;
        throttle.record(at, Outcome::Refused(None));
        assert!(throttle.rate().unwrap() < 10.0);
        for _ in 0..6000 {
            let at = throttle.admit().await;
            throttle.record(at, Outcome::Responded);
        }
        assert_eq!(throttle.rate(), Some(20.0));
    }

    /// Runs `jobs` requests through `parallelism` workers against a token bucket of `rate`
    /// per second holding `burst`, each response taking `latency`, a refusal answered at once
    /// with `Retry-After: 1` and retried after it, as the client does. Virtual time: returns
    /// the wall time over the floor (requests let through ÷ rate) and the requests refused.
    async fn against_a_token_bucket(
        rate: f64,
        burst: f64,
        latency: Duration,
        parallelism: usize,
        jobs: usize,
    ) -> (f64, usize) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Bucket {
            tokens: f64,
            at: Instant,
        }
        let throttle = Arc::new(Throttle::new(None));
        let bucket = Arc::new(Mutex::new(Bucket {
            tokens: burst,
            at: Instant::now(),
        }));
        let next = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..parallelism {
            let (throttle, bucket, next, refused) = (
                Arc::clone(&throttle),
                Arc::clone(&bucket),
                Arc::clone(&next),
                Arc::clone(&refused),
            );
            workers.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < jobs {
                    loop {
                        let at = throttle.admit().await;
                        // The request reaches the server a little after it starts.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        let admitted = {
                            let mut b = bucket.lock().unwrap();
                            let now = Instant::now();
                            b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate)
                                .min(burst);
                            b.at = now;
                            if b.tokens >= 1.0 {
                                b.tokens -= 1.0;
                                true
                            } else {
                                false
                            }
                        };
                        if admitted {
                            tokio::time::sleep(latency).await;
                            throttle.record(at, Outcome::Responded);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        refused.fetch_add(1, Ordering::Relaxed);
                        throttle.record(at, Outcome::Refused(Some(Duration::from_secs(1))));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
        let floor = jobs as f64 / rate;
        (
            started.elapsed().as_secs_f64() / floor,
            refused.load(Ordering::Relaxed),
        )
    }

    /// The benchmark's server (`benches/ratelimit.rs`), and one slower and one faster, in
    /// virtual time: a minute of requests learnt from refusals alone stays near the floor.
    #[tokio::test(start_paused = true)]
    async fn a_rate_learnt_from_refusals_keeps_near_a_token_buckets() {
        for (rate, bound) in [(50.0, 1.10), (20.0, 1.12), (100.0, 1.15)] {
            let jobs = (rate * 60.0) as usize;
            let (ratio, refused) =
                against_a_token_bucket(rate, 5.0, Duration::from_millis(22), 8, jobs).await;
            println!("{rate}/s: {ratio:.3} of the floor, {refused} of {jobs} refused");
            assert!(
                ratio < bound,
                "{rate}/s: {ratio:.3} of the floor, over {bound}"
            );
            assert!(refused * 20 < jobs, "{rate}/s: {refused} of {jobs} refused");
        }
    }
}
