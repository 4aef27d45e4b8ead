//! The service provider's operations, independent of HTTP: create, read, replace, patch, delete
//! and list, each in one SQLite transaction, with the integrity rules of RFC 7643 (unique
//! userName, existing members, `User.groups` following group membership) and ETag
//! preconditions (RFC 7644 §3.14). `/Bulk` and the HTTP routes both go through here.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};

use rusqlite::{Connection, Transaction};
use scim::ResourceKind;
use serde_json::{Value, json};

use super::emulate::Emulation;
use super::error::{ScimError, ServerError};
use super::ids;
use super::patch;
use super::query::{self, ListQuery, Projection};
use super::resource;
use super::store::{self, Row};

/// A resource body as stored: what [`resource::validate`] returns.
pub type Body = serde_json::Map<String, Value>;

/// A rendered resource and its ETag.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub resource: Value,
    pub etag: String,
    pub location: String,
}

/// Read connections beside the one writer: WAL lets readers proceed while a write commits, so
/// a long listing never holds up a write, nor a write a listing.
const READERS: usize = 4;

/// The directory: one store and the base URL its resources are located under.
pub struct Directory {
    conn: Mutex<Connection>,
    queue: Mutex<Queue>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    base_url: String,
    emulation: Emulation,
}

impl Directory {
    /// Opens the store at `path`, answering as `emulation` says.
    pub fn open(path: &Path, base_url: String, emulation: Emulation) -> Result<Self, ServerError> {
        let conn = Mutex::new(store::open(path)?);
        let readers = (0..READERS)
            .map(|_| store::open_reader(path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            conn,
            queue: Mutex::new(Queue::default()),
            readers,
            next_reader: AtomicUsize::new(0),
            base_url,
            emulation,
        })
    }

    /// A free read connection, or the next one in turn if all are busy. A read transaction
    /// started after a commit sees it, so reads follow writes as on a single connection.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..READERS {
            if let Ok(guard) = self.readers[(start + i) % READERS].try_lock() {
                return guard;
            }
        }
        self.readers[start % READERS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The service this directory answers as, if any.
    #[must_use]
    pub fn emulation(&self) -> Emulation {
        self.emulation
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (it rolls
        // back on drop), so the connection stays usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one write and returns once it is committed. Writes that arrive while another
    /// commit is on its way to disk queue up, and the next writer to lead commits them all at
    /// once, each in its own savepoint: concurrent clients share fsyncs while every write still
    /// succeeds or fails alone. A writer waits for its own outcome, never for the connection,
    /// so whoever leads (a group of writes or a `/Bulk`) can hand it back between steps.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Directory, &Connection) -> Result<T, ScimError> + Send + 'static,
    ) -> Result<T, ScimError> {
        let (send, recv) = mpsc::channel();
        let lead = send.clone();
        let job: Job = Box::new(move |dir, conn| {
            let out = f(dir, conn);
            let ok = out.is_ok();
            let deliver: Deliver = Box::new(move |committed| {
                let _ = send.send(Wake::Done(committed.and(out)));
            });
            (ok, deliver)
        });
        let entry = Entry::Write {
            job,
            lead: Box::new(move || {
                let _ = lead.send(Wake::Lead);
            }),
        };
        if self.enqueue(entry) {
            self.lead_writes();
        }
        loop {
            match recv.recv() {
                Ok(Wake::Done(out)) => return out,
                Ok(Wake::Lead) => self.lead_writes(),
                Err(_) => return Err(ScimError::internal(&"a queued write was dropped")),
            }
        }
    }

    /// Queues an entry; true when nobody leads, and the caller now does.
    fn enqueue(&self, entry: Entry) -> bool {
        let mut queue = self.queue();
        if queue.led {
            queue.entries.push_back(entry);
            false
        } else {
            queue.led = true;
            if let Entry::Write { .. } = entry {
                queue.entries.push_back(entry);
            }
            true
        }
    }

    /// As the leader: commits every queued write in one transaction, then hands the lead on.
    fn lead_writes(&self) {
        let _lead = Leadership(self);
        let jobs = self.queue().take_writes();
        if jobs.is_empty() {
            return;
        }
        let mut conn = self.lock();
        let mut delivers = Vec::with_capacity(jobs.len());
        let committed = conn
            .transaction()
            .map_err(ScimError::from)
            .and_then(|mut tx| {
                run_jobs(self, &mut tx, jobs, &mut delivers)?;
                tx.commit().map_err(ScimError::from)
            });
        drop(conn);
        for deliver in delivers {
            deliver(committed.clone());
        }
    }

    /// Gives the lead to the first queued entry, or lets it go when nothing waits.
    fn hand_over(&self) {
        let mut queue = self.queue();
        match queue.entries.front() {
            None => queue.led = false,
            Some(Entry::Write { lead, .. }) => lead(),
            Some(Entry::Bulk(_)) => {
                if let Some(Entry::Bulk(lead)) = queue.entries.pop_front() {
                    // A bulk that is gone (its request was dropped) cannot lead: pass it on.
                    if lead.send(()).is_err() {
                        drop(queue);
                        self.hand_over();
                    }
                }
            }
        }
    }

    fn render(&self, conn: &Connection, row: &Row) -> Result<Rendered, ScimError> {
        let groups = match row.kind {
            ResourceKind::User => Some(
                store::memberships(conn, &[row.id.as_str()])?
                    .remove(&row.id)
                    .unwrap_or_default(),
            ),
            ResourceKind::Group => None,
        };
        let mut resource = resource::render(row, &self.base_url, groups.as_deref());
        self.emulation.hide_members(row.kind, &mut resource);
        Ok(Rendered {
            resource,
            etag: row.etag(),
            location: format!("{}{}/{}", self.base_url, row.kind.endpoint(), row.id),
        })
    }

    /// `GET /{Users,Groups}/{id}`.
    pub fn get(&self, kind: ResourceKind, id: &str) -> Result<Rendered, ScimError> {
        let conn = self.reader();
        let row = store::get(&conn, kind, id)?.ok_or_else(|| not_found(kind, id))?;
        self.render(&conn, &row)
    }

    /// `POST /{Users,Groups}`. The resource is validated before the write waits its turn.
    pub fn create(&self, kind: ResourceKind, input: &Value) -> Result<Rendered, ScimError> {
        let body = resource::validate(kind, input)?;
        self.write(move |dir, tx| dir.create_in(tx, kind, body))
    }

    fn create_in(
        &self,
        tx: &Connection,
        kind: ResourceKind,
        mut body: Body,
    ) -> Result<Rendered, ScimError> {
        self.emulation.check_create(kind, &body)?;
        let id = ids::resource_id().map_err(|e| ScimError::internal(&e))?;
        check_members(tx, kind, &id, &mut body)?;
        let now = ids::now();
        let row = Row {
            id: id.clone(),
            kind,
            created: now.clone(),
            last_modified: now,
            version: 1,
            body,
        };
        store::insert(tx, &row)?;
        if kind == ResourceKind::Group {
            store::set_members(tx, &row.id, &resource::member_ids(&row.body))?;
        }
        self.render(tx, &row)
    }

    /// `PUT /{Users,Groups}/{id}` (RFC 7644 §3.5.1).
    pub fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        input: &Value,
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        let body = resource::validate(kind, input)?;
        let (id, if_match) = (id.to_owned(), if_match.map(str::to_owned));
        self.write(move |dir, tx| dir.replace_in(tx, kind, &id, body, if_match.as_deref()))
    }

    fn replace_in(
        &self,
        tx: &Connection,
        kind: ResourceKind,
        id: &str,
        body: Body,
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        self.emulation.check_replace(kind)?;
        let row = store::get(tx, kind, id)?.ok_or_else(|| not_found(kind, id))?;
        check_if_match(if_match, &row)?;
        self.store_new_body(tx, row, body)
    }

    /// `PATCH /{Users,Groups}/{id}` (RFC 7644 §3.5.2).
    pub fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        request: &Value,
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        let operations = patch::parse(request)?;
        let (id, if_match) = (id.to_owned(), if_match.map(str::to_owned));
        self.write(move |dir, tx| dir.patch_in(tx, kind, &id, &operations, if_match.as_deref()))
    }

    fn patch_in(
        &self,
        tx: &Connection,
        kind: ResourceKind,
        id: &str,
        operations: &[patch::Operation],
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        self.emulation.check_patch(kind, operations)?;
        let row = store::get(tx, kind, id)?.ok_or_else(|| not_found(kind, id))?;
        check_if_match(if_match, &row)?;
        let mut body = row.body.clone();
        patch::apply(kind, &mut body, operations)?;
        let body = resource::validate(kind, &Value::Object(body))?;
        self.store_new_body(tx, row, body)
    }

    fn store_new_body(
        &self,
        tx: &Connection,
        mut row: Row,
        mut body: Body,
    ) -> Result<Rendered, ScimError> {
        self.emulation.check_body(row.kind, &body)?;
        check_members(tx, row.kind, &row.id, &mut body)?;
        if body != row.body {
            // Only a real change moves the version, so a no-op write keeps ETags valid.
            row.body = body;
            row.version += 1;
            row.last_modified = ids::now();
            store::update(tx, &row)?;
            if row.kind == ResourceKind::Group {
                store::set_members(tx, &row.id, &resource::member_ids(&row.body))?;
            }
        }
        self.render(tx, &row)
    }

    /// `DELETE /{Users,Groups}/{id}`: also removes the resource from every group listing it.
    pub fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        let (id, if_match) = (id.to_owned(), if_match.map(str::to_owned));
        self.write(move |_, tx| delete_in(tx, kind, &id, if_match.as_deref()))
    }

    /// Runs a `/Bulk` as the writer: `step` runs some of its operations, each in its own
    /// savepoint (an operation that fails leaves no trace, the others stand), and says whether
    /// it is done. Between steps the writes queued meanwhile join the transaction and it
    /// commits, so a long bulk costs few commits yet holds up another write by one operation
    /// at most ([`Batch::writes_waiting`] tells a step when to stop).
    pub fn bulk(&self, mut step: impl FnMut(&mut Batch<'_, '_>) -> bool) -> Result<(), ScimError> {
        let (turn, my_turn) = mpsc::channel();
        if !self.enqueue(Entry::Bulk(turn)) && my_turn.recv().is_err() {
            return Err(ScimError::internal(&"the bulk lost its turn"));
        }
        let _lead = Leadership(self);
        let mut conn = self.lock();
        loop {
            let mut batch = Batch {
                dir: self,
                tx: conn.transaction()?,
            };
            let done = step(&mut batch);
            let mut tx = batch.tx;
            let jobs = self.queue().take_writes();
            let mut delivers = Vec::with_capacity(jobs.len());
            let committed = run_jobs(self, &mut tx, jobs, &mut delivers)
                .and_then(|()| tx.commit().map_err(ScimError::from));
            for deliver in delivers {
                deliver(committed.clone());
            }
            committed?;
            if done {
                return Ok(());
            }
        }
    }
}

/// Who waits in the write queue: a write, with how to tell its thread to lead, or a `/Bulk`,
/// which runs only when it leads.
enum Entry {
    Write {
        job: Job,
        lead: Box<dyn Fn() + Send>,
    },
    Bulk(mpsc::Sender<()>),
}

/// What a waiting writer is woken with.
enum Wake<T> {
    Done(Result<T, ScimError>),
    Lead,
}

/// The writes waiting to be committed, and whether a thread leads (holds the writer's turn and
/// will look at the queue again before it lets go).
#[derive(Default)]
struct Queue {
    entries: VecDeque<Entry>,
    led: bool,
}

impl Queue {
    /// Takes the queued writes, leaving any bulk waiting its turn in place.
    fn take_writes(&mut self) -> Vec<Job> {
        let mut jobs = Vec::new();
        let mut rest = VecDeque::new();
        for entry in self.entries.drain(..) {
            match entry {
                Entry::Write { job, .. } => jobs.push(job),
                bulk @ Entry::Bulk(_) => rest.push_back(bulk),
            }
        }
        self.entries = rest;
        jobs
    }

    fn writes_waiting(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, Entry::Write { .. }))
    }
}

/// The writer's turn, handed on when dropped, on every path out.
struct Leadership<'d>(&'d Directory);

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        self.0.hand_over();
    }
}

fn delete_in(
    tx: &Connection,
    kind: ResourceKind,
    id: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let row = store::get(tx, kind, id)?.ok_or_else(|| not_found(kind, id))?;
    check_if_match(if_match, &row)?;
    for group_id in store::groups_of(tx, id)? {
        let Some(mut group) = store::get(tx, ResourceKind::Group, &group_id)? else {
            continue;
        };
        if let Some(Value::Array(members)) = group.body.get_mut("members") {
            members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
            if members.is_empty() {
                group.body.remove("members");
            }
        }
        group.version += 1;
        group.last_modified = ids::now();
        store::update(tx, &group)?;
        store::set_members(tx, &group.id, &resource::member_ids(&group.body))?;
    }
    store::delete(tx, id)?;
    Ok(())
}

/// A queued write: runs in a savepoint, says whether it succeeded, and hands back how to tell
/// its caller once the outcome of the commit is known.
type Job = Box<dyn FnOnce(&Directory, &Connection) -> (bool, Deliver) + Send>;
type Deliver = Box<dyn FnOnce(Result<(), ScimError>) + Send>;

/// Runs queued writes inside `tx`, each in its own savepoint.
fn run_jobs(
    dir: &Directory,
    tx: &mut Transaction<'_>,
    jobs: Vec<Job>,
    delivers: &mut Vec<Deliver>,
) -> Result<(), ScimError> {
    for job in jobs {
        let savepoint = tx.savepoint()?;
        let (ok, deliver) = job(dir, &savepoint);
        delivers.push(deliver);
        if ok {
            savepoint.commit()?;
        }
        // A failed write's savepoint is dropped, which rolls it back.
    }
    Ok(())
}

/// Operations inside one step of [`Directory::bulk`].
pub struct Batch<'d, 'c> {
    dir: &'d Directory,
    tx: Transaction<'c>,
}

impl Batch<'_, '_> {
    fn step<T>(
        &mut self,
        f: impl FnOnce(&Directory, &Connection) -> Result<T, ScimError>,
    ) -> Result<T, ScimError> {
        let savepoint = self.tx.savepoint()?;
        // On error the savepoint is dropped, which rolls back to it.
        let out = f(self.dir, &savepoint)?;
        savepoint.commit()?;
        Ok(out)
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.dir.base_url
    }

    /// Whether writes wait for the writer's turn: a bulk step should end and let them in.
    #[must_use]
    pub fn writes_waiting(&self) -> bool {
        self.dir.queue().writes_waiting()
    }

    /// Creates a resource from a body [`resource::validate`] returned.
    pub fn create(&mut self, kind: ResourceKind, body: Body) -> Result<Rendered, ScimError> {
        self.step(|dir, c| dir.create_in(c, kind, body))
    }

    /// Replaces a resource with a body [`resource::validate`] returned.
    pub fn replace(
        &mut self,
        kind: ResourceKind,
        id: &str,
        body: Body,
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        self.step(|dir, c| dir.replace_in(c, kind, id, body, if_match))
    }

    /// Patches a resource with operations [`patch::parse`] returned.
    pub fn patch(
        &mut self,
        kind: ResourceKind,
        id: &str,
        operations: &[patch::Operation],
        if_match: Option<&str>,
    ) -> Result<Rendered, ScimError> {
        self.step(|dir, c| dir.patch_in(c, kind, id, operations, if_match))
    }

    pub fn delete(
        &mut self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        self.step(|_, c| delete_in(c, kind, id, if_match))
    }
}

impl Directory {
    /// A list or search over one or more resource types (`/.search` spans both).
    pub fn list(&self, kinds: &[ResourceKind], q: &ListQuery) -> Result<Value, ScimError> {
        let filter = q.filter.as_deref().map(query::parse_filter).transpose()?;
        let mut q = q.clone();
        self.emulation.check_query(&mut q, filter.as_ref())?;
        if let Some(sort_by) = &q.sort_by {
            let known = kinds.iter().any(|k| {
                let p = super::schema::registry().split_name(*k, sort_by);
                super::schema::registry().resolve(*k, &p).is_some()
            });
            if !known {
                return Err(ScimError::invalid_value(format!(
                    "cannot sort by unknown attribute {sort_by}"
                )));
            }
        }
        let (start, count) = query::window(&q);
        let mut offset = start - 1;
        let mut remaining = count;
        let mut total = 0;
        let mut resources = Vec::new();
        let reader = self.reader();
        // One read transaction, so the total and the page come from the same snapshot.
        let conn = reader.unchecked_transaction()?;
        for &kind in kinds {
            let projection: Projection = q.projection(kind);
            let page = query::list(
                &conn,
                kind,
                filter.as_ref(),
                q.sort_by.as_deref(),
                q.descending,
                offset,
                remaining,
                &projection,
                &self.base_url,
            )?;
            offset = offset.saturating_sub(page.total);
            remaining -= page.resources.len();
            total += page.total;
            resources.extend(page.resources.into_iter().map(|mut resource| {
                self.emulation.hide_members(kind, &mut resource);
                resource
            }));
        }
        Ok(self.emulation.list_response(&q, total, start, &resources))
    }
}

fn not_found(kind: ResourceKind, id: &str) -> ScimError {
    ScimError::not_found(format!("no {} with id {id:?}", kind.name()))
}

/// `If-Match` (RFC 7232 §3.1 with weak comparison, as SCIM ETags are weak): `*` or any listed tag
/// equal to the current version passes; otherwise 412.
pub fn check_if_match(if_match: Option<&str>, row: &Row) -> Result<(), ScimError> {
    let Some(header) = if_match else {
        return Ok(());
    };
    if etag_matches(header, &row.etag()) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(&row.etag()))
    }
}

/// Whether an `If-Match`/`If-None-Match` header value names this ETag.
#[must_use]
pub fn etag_matches(header: &str, etag: &str) -> bool {
    let opaque = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let current = opaque(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == current)
}

/// Group members must exist (400 `invalidValue` otherwise); their `type` is filled in.
fn check_members(
    conn: &Connection,
    kind: ResourceKind,
    group_id: &str,
    body: &mut Body,
) -> Result<(), ScimError> {
    if kind != ResourceKind::Group {
        return Ok(());
    }
    let Some(Value::Array(members)) = body.get_mut("members") else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(members.len());
    for member in members.drain(..) {
        let Some(id) = member
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(ScimError::invalid_value(
                "every member needs a \"value\" (the member's id)",
            ));
        };
        if id == group_id {
            return Err(ScimError::invalid_value("a group cannot be its own member"));
        }
        let Some(member_kind) = store::kind_of(conn, &id)? else {
            return Err(ScimError::invalid_value(format!(
                "member {id:?} does not exist"
            )));
        };
        if !seen.insert(id) {
            continue;
        }
        let mut member = member;
        member["type"] = json!(member_kind.name());
        checked.push(member);
    }
    *members = checked;
    if members.is_empty() {
        body.remove("members");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use scim::urn::USER;

    fn user(user_name: &str) -> Body {
        resource::validate(
            ResourceKind::User,
            &json!({"schemas": [USER], "userName": user_name}),
        )
        .unwrap()
    }

    #[test]
    fn a_write_that_waits_on_a_bulk_is_answered_between_its_steps() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Arc::new(
            Directory::open(
                &dir.path().join("s.db"),
                "http://x/scim/v2".to_owned(),
                Emulation::default(),
            )
            .unwrap(),
        );
        let (answered, answer) = mpsc::channel();
        let mut steps = 0;
        directory
            .bulk(|batch| {
                steps += 1;
                if steps == 1 {
                    batch.create(ResourceKind::User, user("bulk-1")).unwrap();
                    let directory = Arc::clone(&directory);
                    let answered = answered.clone();
                    std::thread::spawn(move || {
                        let created = directory.create(
                            ResourceKind::User,
                            &json!({"schemas": [USER], "userName": "single"}),
                        );
                        let _ = answered.send(created.map(|r| r.resource["userName"].clone()));
                    });
                    while !batch.writes_waiting() {
                        std::thread::yield_now();
                    }
                    false
                } else {
                    // The bulk is not over, yet the write has been committed and answered.
                    let created = answer
                        .recv_timeout(Duration::from_secs(60))
                        .expect("the waiting write is answered before the bulk goes on");
                    assert_eq!(created.unwrap(), "single");
                    assert!(!batch.writes_waiting());
                    batch.create(ResourceKind::User, user("bulk-2")).unwrap();
                    true
                }
            })
            .unwrap();
        assert_eq!(steps, 2);
        let all = directory
            .list(&[ResourceKind::User], &ListQuery::from_params(&[]).unwrap())
            .unwrap();
        let names: Vec<&str> = all["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["bulk-1", "single", "bulk-2"]);
    }

    #[test]
    fn concurrent_writes_all_commit_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Arc::new(
            Directory::open(
                &dir.path().join("s.db"),
                "http://x/scim/v2".to_owned(),
                Emulation::default(),
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let directory = Arc::clone(&directory);
                std::thread::spawn(move || {
                    (0..20)
                        .map(|i| {
                            directory
                                .create(
                                    ResourceKind::User,
                                    &json!({"schemas": [USER], "userName": format!("u{}", (t * 20 + i) % 200)}),
                                )
                                .is_ok()
                        })
                        .filter(|ok| *ok)
                        .count()
                })
            })
            .collect();
        let created: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(created, 200);
    }
}
