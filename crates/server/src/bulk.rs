//! `/Bulk` (RFC 7644 §3.7): operations run one by one, each in its own savepoint (SCIM bulk is
//! not atomic).
//!
//! A request is handled in two halves. [`Plan::parse`] reads and checks the whole request
//! without touching the store: the operations, their `bulkId`s (each unique), the resources
//! they carry (validated as a POST or PUT would be) and the order they run in. Then [`Run`]
//! executes that plan as the store's writer, letting other writes in every [`STEP`]
//! ([`super::service::Directory::bulk`]).
//!
//! `bulkId:` references in paths and data are replaced by the ids of resources created earlier
//! in the same request. RFC 7644 §3.7.1 lets a client list operations in any order, so they run in
//! a topological order of those references (Kahn's algorithm, earliest listed first among the ready
//! ones): linear in the request, however the references are chained. What can never resolve fails
//! with 409: a reference to a `bulkId` no POST defines, to an operation that failed, or within a
//! cycle.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use scim::ResourceKind;
use scim::attribute::{get_ci_in, schemas_include};
use serde_json::{Value, json};

use super::error::ScimError;
use super::patch;
use super::resource;
use super::schema::BULK_MAX_OPERATIONS;

use super::service::{Batch, Body, Rendered};

/// How long a bulk runs before it lets the writes that wait meanwhile in. Each time costs the
/// bulk a commit, so it does not happen after every operation: a write waits for about this
/// long (and one operation), not for the whole bulk.
pub const STEP: Duration = Duration::from_millis(10);

/// One operation of a request, read and checked.
struct BulkOp {
    /// Upper-cased, as echoed in the response.
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    /// The `bulkId`s the path and data refer to, each once.
    refs: Vec<String>,
    /// What to do, or why it cannot be done (reported when its turn comes).
    action: Result<Action, ScimError>,
}

/// An operation's request, parsed; ids may still be `bulkId:` references.
enum Action {
    Create(ResourceKind, Body),
    Replace(ResourceKind, String, Body),
    Patch(ResourceKind, String, Vec<patch::Operation>),
    Delete(ResourceKind, String),
}

/// A checked `BulkRequest` and the order its operations run in.
pub struct Plan {
    ops: Vec<BulkOp>,
    /// Indexes into `ops`: a topological order of the references, then the operations caught
    /// in a cycle.
    order: Vec<usize>,
    /// How many operations are in `order` before the cyclic ones.
    runnable: usize,
    fail_on_errors: Option<u64>,
}

impl Plan {
    /// Reads a `BulkRequest`. A request that is not one, that exceeds `maxOperations`, or
    /// that gives one `bulkId` to two operations is refused as a whole; a single operation
    /// that is malformed fails alone when its turn comes.
    pub fn parse(request: &Value) -> Result<Self, ScimError> {
        let Value::Object(map) = request else {
            return Err(ScimError::invalid_syntax(
                "a BulkRequest must be a JSON object",
            ));
        };
        let is_bulk = get_ci_in(map, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| schemas_include(s, scim::urn::BULK_REQUEST));
        if !is_bulk {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be [\"{}\"]",
                scim::urn::BULK_REQUEST
            )));
        }
        let fail_on_errors = match get_ci_in(map, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })?),
        };
        let Some(Value::Array(raw_ops)) = get_ci_in(map, "Operations") else {
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
        let ops = raw_ops
            .iter()
            .map(parse_op)
            .collect::<Result<Vec<_>, _>>()?;

        // Each bulkId names one operation (RFC 7644 §3.7: "unique within a bulk request").
        let mut named: HashMap<&str, usize> = HashMap::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            if let Some(bulk_id) = op.bulk_id.as_deref()
                && let Some(first) = named.insert(bulk_id, index)
            {
                return Err(ScimError::invalid_value(format!(
                    "bulkId {bulk_id:?} is given to operations {} and {}; each operation's \
                     bulkId must be unique within the request",
                    first + 1,
                    index + 1
                )));
            }
        }
        // Only a POST creates what a reference resolves to.
        let definer = |bulk_id: &str| {
            named
                .get(bulk_id)
                .copied()
                .filter(|&i| ops[i].method == "POST")
        };
        let (order, runnable) = topological_order(ops.len(), |index| {
            ops[index].refs.iter().filter_map(|r| definer(r)).collect()
        });
        Ok(Self {
            ops,
            order,
            runnable,
            fail_on_errors,
        })
    }
}

/// Kahn's algorithm over `n` nodes, where `depends_on(i)` lists the nodes `i` waits for; among
/// the ready nodes the lowest index goes first. Returns every node, those in or behind a
/// cycle last (in index order), and how many come before them.
fn topological_order(n: usize, depends_on: impl Fn(usize) -> Vec<usize>) -> (Vec<usize>, usize) {
    let mut waits_for = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (index, waits) in waits_for.iter_mut().enumerate() {
        let mut deps = depends_on(index);
        deps.sort_unstable();
        deps.dedup();
        *waits = deps.len();
        for dep in deps {
            dependents[dep].push(index);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waits_for[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(index)) = ready.pop() {
        order.push(index);
        for &dependent in &dependents[index] {
            waits_for[dependent] -= 1;
            if waits_for[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    let runnable = order.len();
    order.extend((0..n).filter(|&i| waits_for[i] > 0));
    (order, runnable)
}

fn parse_op(raw: &Value) -> Result<BulkOp, ScimError> {
    let Value::Object(o) = raw else {
        return Err(ScimError::invalid_syntax(
            "each bulk operation must be an object",
        ));
    };
    let text = |name: &str| {
        get_ci_in(o, name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
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
    let method = method.to_ascii_uppercase();
    let data = get_ci_in(o, "data");
    let mut refs = Vec::new();
    collect_refs(&path, &mut refs);
    if let Some(data) = data {
        collect_refs_in(data, &mut refs);
    }
    refs.sort_unstable();
    refs.dedup();
    Ok(BulkOp {
        action: action(&method, &path, data),
        method,
        bulk_id: text("bulkId"),
        version: text("version"),
        refs,
    })
}

/// What an operation asks for, checked as far as it can be without the store.
fn action(method: &str, path: &str, data: Option<&Value>) -> Result<Action, ScimError> {
    let trimmed = path.trim_matches('/');
    let (endpoint, id) = match trimmed.split_once('/') {
        Some((e, id)) => (e, Some(id.to_owned())),
        None => (trimmed, None),
    };
    let kind = match endpoint {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        _ => return Err(ScimError::invalid_path(format!("no endpoint /{endpoint}"))),
    };
    let data = || data.ok_or_else(|| ScimError::invalid_syntax("this operation needs data"));
    match (method, id) {
        ("POST", None) => Ok(Action::Create(kind, resource::validate(kind, data()?)?)),
        ("PUT", Some(id)) => Ok(Action::Replace(
            kind,
            id,
            resource::validate(kind, data()?)?,
        )),
        ("PATCH", Some(id)) => Ok(Action::Patch(kind, id, patch::parse(data()?)?)),
        ("DELETE", Some(id)) => Ok(Action::Delete(kind, id)),
        (method, _) => Err(ScimError::new(
            405,
            None,
            format!("{method} is not allowed on {path}"),
        )),
    }
}

/// A [`Plan`] being executed: what has run, the ids it created, the responses so far.
pub struct Run {
    plan: Plan,
    /// How far into `plan.order` execution has come.
    next: usize,
    resolved: HashMap<String, String>,
    responses: Vec<Option<Value>>,
    errors: u64,
    stopped: bool,
}

impl Run {
    #[must_use]
    pub fn new(plan: Plan) -> Self {
        let n = plan.ops.len();
        Self {
            plan,
            next: 0,
            resolved: HashMap::with_capacity(n),
            responses: vec![None; n],
            errors: 0,
            stopped: false,
        }
    }

    /// Runs operations until all are done (true), or until another write waits for the store
    /// once this step has run for [`STEP`] (false: call again).
    pub fn step(&mut self, batch: &mut Batch<'_, '_>) -> bool {
        let started = Instant::now();
        while !self.stopped && self.next < self.plan.order.len() {
            if started.elapsed() >= STEP && batch.writes_waiting() {
                return false;
            }
            let position = self.next;
            self.next += 1;
            self.execute(batch, position);
        }
        true
    }

    fn execute(&mut self, batch: &mut Batch<'_, '_>, position: usize) {
        let index = self.plan.order[position];
        let op = &self.plan.ops[index];
        let outcome = if position >= self.plan.runnable {
            Err(ScimError::new(
                409,
                Some("invalidValue"),
                "circular bulkId reference",
            ))
        } else if let Some(r) = op.refs.iter().find(|r| !self.resolved.contains_key(*r)) {
            // Every operation that could define it has run: it is undefined or failed.
            Err(ScimError::new(
                409,
                Some("invalidValue"),
                format!("bulkId {r:?} cannot be resolved"),
            ))
        } else {
            match &op.action {
                Ok(action) => perform(batch, action, op.version.as_deref(), &self.resolved),
                Err(error) => Err(error.clone()),
            }
        };
        let mut entry = json!({"method": op.method});
        match outcome {
            Ok(done) => {
                if let (Some(bulk_id), Some(id)) = (&op.bulk_id, done.id) {
                    self.resolved.insert(bulk_id.clone(), id);
                }
                entry["status"] = json!(done.status.to_string());
                entry["location"] = json!(done.location);
                if let Some(v) = done.version {
                    entry["version"] = json!(v);
                }
            }
            Err(error) => {
                self.errors += 1;
                entry["status"] = json!(error.status.to_string());
                entry["response"] = error.body();
                if self.plan.fail_on_errors.is_some_and(|l| self.errors >= l) {
                    self.stopped = true;
                }
            }
        }
        if let Some(b) = &op.bulk_id {
            entry["bulkId"] = json!(b);
        }
        self.responses[index] = Some(entry);
    }

    /// The `BulkResponse`: one entry per operation that ran, in request order.
    #[must_use]
    pub fn into_response(self) -> Value {
        json!({
            "schemas": [scim::urn::BULK_RESPONSE],
            "Operations": self.responses.into_iter().flatten().collect::<Vec<_>>(),
        })
    }
}

/// What a successful operation reports.
struct Done {
    status: u16,
    location: String,
    version: Option<String>,
    id: Option<String>,
}

fn perform(
    batch: &mut Batch<'_, '_>,
    action: &Action,
    version: Option<&str>,
    resolved: &HashMap<String, String>,
) -> Result<Done, ScimError> {
    let done = |status: u16, r: Rendered| Done {
        status,
        id: r
            .resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        location: r.location,
        version: Some(r.etag),
    };
    match action {
        Action::Create(kind, body) => Ok(done(
            201,
            batch.create(*kind, substitute_body(body, resolved))?,
        )),
        Action::Replace(kind, id, body) => Ok(done(
            200,
            batch.replace(
                *kind,
                &substitute(id, resolved),
                substitute_body(body, resolved),
                version,
            )?,
        )),
        Action::Patch(kind, id, operations) => {
            let operations: Vec<patch::Operation> = operations
                .iter()
                .map(|o| patch::Operation {
                    op: o.op,
                    path: o.path.as_deref().map(|p| substitute(p, resolved)),
                    value: o.value.as_ref().map(|v| substitute_value(v, resolved)),
                })
                .collect();
            Ok(done(
                200,
                batch.patch(*kind, &substitute(id, resolved), &operations, version)?,
            ))
        }
        Action::Delete(kind, id) => {
            let id = substitute(id, resolved);
            batch.delete(*kind, &id, version)?;
            Ok(Done {
                status: 204,
                location: format!("{}{}/{id}", batch.base_url(), kind.endpoint()),
                version: None,
                id: None,
            })
        }
    }
}

/// The `bulkId:` references in a string: each `/`-separated part that starts with it.
fn collect_refs(text: &str, out: &mut Vec<String>) {
    for part in text.split('/') {
        if let Some(id) = part.strip_prefix("bulkId:") {
            out.push(id.to_owned());
        }
    }
}

fn collect_refs_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => collect_refs(s, out),
        Value::Array(items) => items.iter().for_each(|i| collect_refs_in(i, out)),
        Value::Object(map) => map.values().for_each(|v| collect_refs_in(v, out)),
        _ => {}
    }
}

fn substitute(text: &str, resolved: &HashMap<String, String>) -> String {
    if !text.contains("bulkId:") {
        return text.to_owned();
    }
    text.split('/')
        .map(|part| match part.strip_prefix("bulkId:") {
            Some(id) => resolved.get(id).map_or(part, String::as_str),
            None => part,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn substitute_value(value: &Value, resolved: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, resolved)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute_value(i, resolved))
                .collect(),
        ),
        Value::Object(map) => Value::Object(substitute_body(map, resolved)),
        other => other.clone(),
    }
}

fn substitute_body(body: &Body, resolved: &HashMap<String, String>) -> Body {
    body.iter()
        .map(|(k, v)| (k.clone(), substitute_value(v, resolved)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_a_reverse_chain_in_one_pass() {
        // Operation i waits for i + 1: the last runs first.
        let n = 1000;
        let (order, runnable) =
            topological_order(n, |i| if i + 1 < n { vec![i + 1] } else { vec![] });
        assert_eq!(runnable, n);
        assert_eq!(order, (0..n).rev().collect::<Vec<_>>());
    }

    #[test]
    fn keeps_request_order_among_ready_operations() {
        // 0 waits for 2; 1 and 2 are ready; 3 waits for 0.
        let deps = [vec![2], vec![], vec![], vec![0]];
        let (order, runnable) = topological_order(4, |i| deps[i].clone());
        assert_eq!((order, runnable), (vec![1, 2, 0, 3], 4));
    }

    #[test]
    fn puts_cycles_and_what_waits_on_them_last() {
        // 0 and 1 wait for each other, 2 waits for 1, 3 for itself, 4 is free.
        let deps = [vec![1], vec![0], vec![1], vec![3], vec![]];
        let (order, runnable) = topological_order(5, |i| deps[i].clone());
        assert_eq!((order, runnable), (vec![4, 0, 1, 2, 3], 1));
    }

    fn request(operations: &Value) -> Value {
        json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": operations})
    }

    #[test]
    fn refuses_a_bulk_id_given_twice() {
        let Err(e) = Plan::parse(&request(&json!([
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"schemas": [scim::urn::USER], "userName": "x"}},
            {"method": "DELETE", "path": "/Users/1"},
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"schemas": [scim::urn::USER], "userName": "y"}},
        ]))) else {
            panic!("a repeated bulkId is refused");
        };
        assert_eq!((e.status, e.scim_type), (400, Some("invalidValue")));
        assert!(e.detail.contains("operations 1 and 3"), "{}", e.detail);
    }

    #[test]
    fn substitutes_references_in_paths_and_values() {
        let resolved = HashMap::from([("u".to_owned(), "42".to_owned())]);
        assert_eq!(substitute("/Users/bulkId:u", &resolved), "/Users/42");
        assert_eq!(substitute("bulkId:v", &resolved), "bulkId:v");
        assert_eq!(
            substitute_value(&json!([{"value": "bulkId:u"}]), &resolved),
            json!([{"value": "42"}])
        );
    }
}
