//! The executor: sends a plan's ops to a server, and nothing else (docs/apply.md).
//!
//! Ops run phase by phase ([`Phase::ALL`]); within a phase they are independent and run
//! concurrently, at most [`ExecOptions::parallelism`] requests in flight (lookups and retries
//! included). Ops of one phase that write the same object (a group's membership split over
//! several PATCH requests) run one after another, so a server that reads, modifies and writes
//! cannot lose one of them. With [`ExecOptions::bulk`], the other ops of a phase go in `/Bulk`
//! requests.
//!
//! Creates record the id the server assigned under the op's bulkId; later ops have every
//! `"bulkId:X"` in their path and body replaced by it before they are sent. An op that refers
//! to a create that failed or was skipped is skipped in turn. A failure never stops other ops.
//!
//! The executor does not diff and does not read the server except where fault handling needs
//! to (see `create`): what it sends is what the plan says. Whether a saved plan is still valid
//! is checked before, by [`check_preconditions`]. `docs/apply.md` tells users the same.
//!
//! ```no_run
//! # async fn example(client: &scimform::client::ScimClient, plan: &scimform::plan::ProviderPlan)
//! # -> Result<(), scimform::apply::PreconditionError> {
//! use scimform::apply::{self, ExecOptions, Quiet};
//!
//! // A saved plan: refuse it if what it touches moved since, then guard each first write.
//! apply::check_preconditions(client, plan).await?;
//! let options = ExecOptions { if_match: plan.capabilities.etag, ..ExecOptions::default() };
//! let report = apply::execute(client, plan, &options, &Quiet).await;
//! eprint!("{report}");
//! # Ok(()) }
//! ```

mod bulk;
mod create;
mod members;
mod precondition;
mod substitute;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method as HttpMethod;
use scim::ResourceKind;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::client::{ClientError, ScimClient};
use crate::plan::{Method, Observed, Op, Phase, ProviderPlan};
use crate::report::{Entry, Failure, Note, Outcome, Report};

pub use precondition::{Moved, Movement, PreconditionError, check_preconditions};

/// How to execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// The most requests in flight at once (`--parallelism`); at least 1.
    pub parallelism: usize,
    /// Send each op's first write to an existing object with `If-Match: <version seen by the
    /// plan>` (RFC 7644 §3.14), so that an object changed after the plan was checked answers
    /// 412 and is left alone. For saved plans on servers that announce `ETag` support; later
    /// writes to the same object in the run go without, as the run itself moved it on.
    pub if_match: bool,
    /// Send the independent writes of each phase in `/Bulk` requests, within the limits the
    /// server announces, when it announces support; otherwise one request per op.
    pub bulk: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            parallelism: 4,
            if_match: false,
            bulk: false,
        }
    }
}

/// Follows an apply as it runs: the command line prints the audit trail with it, a line per
/// op as it finishes ([`crate::report::AuditLine`]), and draws a progress bar on a TTY.
/// Called from the task that drives the run, never concurrently.
pub trait Progress: Sync {
    /// The run starts, with this many ops.
    fn started(&self, _ops: usize) {}
    /// One op is done, failed or skipped.
    fn op_finished(&self, _entry: &Entry) {}
    /// Every op has finished.
    fn finished(&self, _report: &Report) {}
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}

impl Progress for indicatif::ProgressBar {
    fn started(&self, ops: usize) {
        self.set_length(ops as u64);
    }

    fn op_finished(&self, entry: &Entry) {
        self.set_message(entry.key.clone());
        self.inc(1);
    }

    fn finished(&self, _report: &Report) {
        self.finish_and_clear();
    }
}

/// What every op task shares.
struct Context {
    client: ScimClient,
    options: ExecOptions,
    /// Whether the server supports PATCH, for the update that may follow an adoption.
    patch: bool,
}

/// An op ready to send: its references resolved.
struct Ready {
    index: usize,
    op: Arc<Op>,
    path: String,
    /// The body with its references resolved, when it had any.
    resolved_body: Option<Value>,
    /// The version the write must find, when it is sent with `If-Match`.
    if_match: Option<String>,
}

impl Ready {
    /// The body to send.
    fn body(&self) -> Option<&Value> {
        self.resolved_body
            .as_ref()
            .or(self.op.request.body.as_ref())
    }
}

/// What one task sends: ops one after another, or together in one bulk request.
enum Job {
    Lane(Vec<Ready>),
    Bulk(Vec<Ready>),
}

/// How one op ended.
#[derive(Clone)]
struct Finished {
    outcome: Outcome,
    attempts: u32,
    /// The HTTP status of the response the outcome rests on, when there was one.
    status: Option<u16>,
}

/// One op's end, as a task reports it to the driving task.
struct Sent {
    index: usize,
    /// The path as sent.
    path: String,
    finished: Finished,
    /// From when its task took the op up to its end.
    elapsed: Duration,
}

/// Executes `plan` against `client`, the server it was computed for, and reports what became
/// of every op. Never stops early: each op is done, failed or skipped.
pub async fn execute(
    client: &ScimClient,
    plan: &ProviderPlan,
    options: &ExecOptions,
    progress: &dyn Progress,
) -> Report {
    let context = Arc::new(Context {
        client: client.clone(),
        options: ExecOptions {
            parallelism: options.parallelism.max(1),
            ..*options
        },
        patch: plan.capabilities.patch,
    });
    progress.started(plan.ops.len());
    let mut run = Run {
        plan,
        progress,
        if_match: options.if_match,
        written: HashSet::new(),
        created: HashMap::new(),
        unavailable: HashMap::new(),
        members_added: HashMap::new(),
        entries: vec![None; plan.ops.len()],
    };
    // Shared with the tasks that send them.
    let ops: Vec<Arc<Op>> = plan.ops.iter().cloned().map(Arc::new).collect();
    for phase in Phase::ALL {
        let mut lanes: Vec<Vec<Ready>> = Vec::new();
        let mut lane_of_path: HashMap<String, usize> = HashMap::new();
        for (index, op) in ops.iter().enumerate() {
            if op.phase != phase {
                continue;
            }
            let ready = match run.resolve(index, op) {
                Ok(ready) => ready,
                Err((path, finished)) => {
                    run.record(index, &path, finished, Duration::ZERO);
                    continue;
                }
            };
            if op.request.method == Method::Post {
                lanes.push(vec![ready]);
            } else if let Some(&lane) = lane_of_path.get(&ready.path) {
                lanes[lane].push(ready);
            } else {
                lane_of_path.insert(ready.path.clone(), lanes.len());
                lanes.push(vec![ready]);
            }
        }
        let jobs = match (context.options.bulk, plan.capabilities.bulk) {
            (true, Some(limits)) => {
                // Single-op lanes go in bulk requests; an object written twice in a phase
                // keeps its writes in order, one request at a time.
                let (singles, ordered): (Vec<_>, Vec<_>) =
                    lanes.into_iter().partition(|lane| lane.len() == 1);
                let (batches, left) =
                    bulk::batches(singles.into_iter().flatten().collect(), limits);
                let mut jobs: Vec<Job> = batches.into_iter().map(Job::Bulk).collect();
                jobs.extend(left.into_iter().map(|ready| Job::Lane(vec![ready])));
                jobs.extend(ordered.into_iter().map(Job::Lane));
                jobs
            }
            _ => lanes.into_iter().map(Job::Lane).collect(),
        };
        let mut jobs = jobs.into_iter();
        let mut tasks = JoinSet::new();
        loop {
            while tasks.len() < context.options.parallelism {
                let Some(job) = jobs.next() else { break };
                let context = Arc::clone(&context);
                tasks.spawn(async move {
                    match job {
                        Job::Bulk(batch) => bulk::run(&context, batch).await,
                        Job::Lane(lane) => run_lane(&context, lane).await,
                    }
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let results = match joined {
                Ok(results) => results,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            };
            for sent in results {
                run.record(sent.index, &sent.path, sent.finished, sent.elapsed);
            }
        }
    }
    let report = Report {
        provider: plan.provider.clone(),
        entries: run
            .entries
            .into_iter()
            .map(|e| e.expect("every op is recorded once"))
            .collect(),
    };
    progress.finished(&report);
    report
}

/// Sends the ops of a lane one after another.
async fn run_lane(context: &Context, lane: Vec<Ready>) -> Vec<Sent> {
    let mut results = Vec::with_capacity(lane.len());
    for ready in lane {
        let started = Instant::now();
        let finished = run_op(context, &ready)
            .instrument(object_span(&ready.op))
            .await;
        results.push(Sent {
            index: ready.index,
            path: ready.path,
            finished,
            elapsed: started.elapsed(),
        });
    }
    results
}

/// The state of one execution, kept by the driving task.
struct Run<'a> {
    plan: &'a ProviderPlan,
    progress: &'a dyn Progress,
    if_match: bool,
    /// Objects (by path) a write of this run has been prepared for.
    written: HashSet<String>,
    /// bulkId → the id the server assigned.
    created: HashMap<String, String>,
    /// bulkId → why there is no id for it, for the ops that are skipped because of it.
    unavailable: HashMap<String, String>,
    /// Group path → the member ids this run's `PATCH` requests add to it, which it never removes
    /// ([`members`]).
    members_added: HashMap<String, HashSet<String>>,
    entries: Vec<Option<Entry>>,
}

impl Run<'_> {
    /// The op with its references resolved; or, with the path as planned or resolved, how it
    /// ended without being sent: skipped for a reference without an id, or done when nothing
    /// is left to send.
    fn resolve(&mut self, index: usize, op: &Arc<Op>) -> Result<Ready, (String, Finished)> {
        let unsent = |path: &str, outcome| {
            let finished = Finished {
                outcome,
                attempts: 0,
                status: None,
            };
            (path.to_owned(), finished)
        };
        let missing = |bulk_id: &str| {
            let reason = match self.unavailable.get(bulk_id) {
                Some(why) => format!("it depends on {why}"),
                None => format!("it refers to bulkId {bulk_id}, which no earlier op created"),
            };
            unsent(&op.request.path, Outcome::Skipped { reason })
        };
        if let Some(bulk_id) = op
            .depends_on
            .iter()
            .find(|b| !self.created.contains_key(*b))
        {
            return Err(missing(bulk_id));
        }
        let path = substitute::path(&op.request.path, &self.created).map_err(|b| missing(&b))?;
        let mut resolved_body = match &op.request.body {
            Some(body) => substitute::body(body, &self.created).map_err(|b| missing(&b))?,
            None => None,
        };
        if op.resource == ResourceKind::Group && op.request.method == Method::Patch {
            let body = resolved_body.as_ref().or(op.request.body.as_ref());
            let added = self.members_added.entry(path.clone()).or_default();
            if let Some(body) = body {
                match members::to_send(added, body) {
                    Some(Cow::Borrowed(_)) => {}
                    Some(Cow::Owned(kept)) => resolved_body = Some(kept),
                    None => {
                        let id = match &op.observed {
                            Observed::Present { id, .. } => Some(id.clone()),
                            Observed::Absent => None,
                        };
                        let note = Some(Note::MemberAdopted);
                        return Err(unsent(&path, Outcome::Done { id, note }));
                    }
                }
            }
        }
        let first_write = self.written.insert(path.clone());
        let if_match = match &op.observed {
            Observed::Present {
                version: Some(version),
                ..
            } if self.if_match && first_write => Some(version.clone()),
            _ => None,
        };
        Ok(Ready {
            index,
            op: Arc::clone(op),
            path,
            resolved_body,
            if_match,
        })
    }

    fn record(&mut self, index: usize, path: &str, finished: Finished, elapsed: Duration) {
        let Finished {
            outcome,
            attempts,
            status,
        } = finished;
        let op = &self.plan.ops[index];
        if let Some(bulk_id) = &op.bulk_id {
            let what = format!("{} {}", op.resource.as_str(), op.key);
            match &outcome {
                Outcome::Done { id: Some(id), .. } => {
                    self.created.insert(bulk_id.clone(), id.clone());
                }
                Outcome::Done { id: None, .. } => {
                    let why = format!("{what}, whose id the server did not tell");
                    self.unavailable.insert(bulk_id.clone(), why);
                }
                Outcome::Failed(_) => {
                    let why = format!("{what}, whose create failed");
                    self.unavailable.insert(bulk_id.clone(), why);
                }
                Outcome::Skipped { .. } => {
                    let why = format!("{what}, whose create was skipped");
                    self.unavailable.insert(bulk_id.clone(), why);
                }
            }
        }
        let entry = Entry {
            index,
            phase: op.phase,
            action: op.action,
            resource: op.resource,
            key: op.key.clone(),
            method: op.request.method,
            path: path.to_owned(),
            outcome,
            attempts,
            status,
            elapsed_ms: elapsed.as_millis() as u64,
        };
        self.progress.op_finished(&entry);
        self.entries[index] = Some(entry);
    }
}

/// The span an op's requests are sent in, naming its object in the request log. A `/Bulk`
/// request, about many objects, is sent outside any.
fn object_span(op: &Op) -> tracing::Span {
    crate::client::object_span(op.resource, &op.key)
}

/// Why an op is not sent at all: the server has stopped answering ([`ScimClient::unreachable`]).
fn not_sent(context: &Context) -> Option<Finished> {
    let silent = context.client.unreachable()?;
    Some(Finished {
        outcome: Outcome::Skipped {
            reason: format!(
                "not sent: the server has answered nothing for {} s",
                silent.as_secs()
            ),
        },
        attempts: 0,
        status: None,
    })
}

async fn run_op(context: &Context, ready: &Ready) -> Finished {
    if let Some(finished) = not_sent(context) {
        return finished;
    }
    let method = match ready.op.request.method {
        Method::Post => {
            let body = ready.body().unwrap_or(&Value::Null);
            return create::create(context, &ready.op, &ready.path, body, None).await;
        }
        Method::Put => HttpMethod::PUT,
        Method::Patch => HttpMethod::PATCH,
        Method::Delete => HttpMethod::DELETE,
    };
    let (result, attempts) = context
        .client
        .send_counted(
            method.clone(),
            &ready.path,
            &[],
            ready.body(),
            ready.if_match.as_deref(),
        )
        .await;
    let id = match &ready.op.observed {
        Observed::Present { id, .. } => Some(id.clone()),
        Observed::Absent => None,
    };
    let status = match &result {
        Ok(response) => Some(response.status.as_u16()),
        Err(error) => error.http_status(),
    };
    let outcome = match result {
        // A success, even one whose body is not JSON: the write was done, and its response is
        // not needed.
        Ok(_) | Err(ClientError::Decode { .. }) => Outcome::Done { id, note: None },
        // Deleting what is already gone reaches the op's goal; on a retry it is the sign
        // that the first attempt went through.
        Err(ClientError::Status { status: 404, .. }) if method == HttpMethod::DELETE => {
            Outcome::Done {
                id,
                note: Some(Note::AlreadyGone),
            }
        }
        Err(error) => Outcome::Failed(Failure::from_error(&error)),
    };
    Finished {
        outcome,
        attempts,
        status,
    }
}

#[cfg(test)]
mod tests;
