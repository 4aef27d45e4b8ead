//! The SQLite store. Each resource is one row: its JSON body (everything but `id`, `meta` and the
//! computed `User.groups`) plus the columns that answer the common lookups through an index —
//! `userName` (lower-cased, unique per user: RFC 7643 makes it caseExact false and server-unique),
//! `externalId` and `displayName` (lower-cased, caseExact false). Group membership is mirrored in
//! its own table so that `User.groups` and "delete a user from every group" are index lookups.
//!
//! WAL with `synchronous=FULL`: a commit is on disk before the response leaves, so an
//! acknowledged write survives `kill -9` and power loss alike.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use scim::ResourceKind;
use serde_json::{Map, Value};

use super::error::{ScimError, ServerError};
use super::files;

/// One stored resource.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub kind: ResourceKind,
    pub created: String,
    pub last_modified: String,
    pub version: i64,
    pub body: Map<String, Value>,
}

impl Row {
    /// The weak ETag of this version (RFC 7644 §3.14).
    #[must_use]
    pub(crate) fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// An equality lookup an index answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Id(String),
    UserName(String),
    ExternalId(String),
    DisplayName(String),
}

impl Lookup {
    fn clause(&self) -> (&'static str, String) {
        match self {
            Self::Id(v) => ("id = ?2", v.clone()),
            Self::UserName(v) => ("user_name_key = ?2", v.to_lowercase()),
            Self::ExternalId(v) => ("external_id = ?2", v.clone()),
            Self::DisplayName(v) => ("display_name_key = ?2", v.to_lowercase()),
        }
    }
}

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    user_name_key TEXT,
    external_id TEXT,
    display_name_key TEXT,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS resources_user_name
    ON resources(user_name_key) WHERE kind = 'User';
CREATE INDEX IF NOT EXISTS resources_kind_seq ON resources(kind, seq);
CREATE INDEX IF NOT EXISTS resources_external_id ON resources(kind, external_id);
CREATE INDEX IF NOT EXISTS resources_display_name ON resources(kind, display_name_key);
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_member ON members(member_id);
";

/// How SQLite opens the store: as usual, but never through a symbolic link.
fn open_flags() -> OpenFlags {
    OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW
}

/// Opens (creating if needed, with its folders) the store at `path`. Its files are private
/// (mode 0600) and never reached through a symbolic link ([`files::prepare_store`]).
pub fn open(path: &Path) -> Result<Connection, ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::create_private_dir_all(parent)?;
    }
    files::prepare_store(path)?;
    let fail = |source| ServerError::Store {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(path, open_flags()).map_err(fail)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(fail)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(fail)?;
    conn.execute_batch(SCHEMA_SQL).map_err(fail)?;
    Ok(conn)
}

/// Opens a read connection to a store [`open`] has prepared.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, ServerError> {
    let fail = |source| ServerError::Store {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(path, open_flags()).map_err(fail)?;
    conn.pragma_update(None, "query_only", true).map_err(fail)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(fail)?;
    Ok(conn)
}

const COLUMNS: &str = "id, kind, created, last_modified, version, body";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let kind: String = row.get(1)?;
    let body: String = row.get(5)?;
    let body = match serde_json::from_str(&body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Ok(Row {
        id: row.get(0)?,
        kind: ResourceKind::from_name(&kind).unwrap_or(ResourceKind::User),
        created: row.get(2)?,
        last_modified: row.get(3)?,
        version: row.get(4)?,
        body,
    })
}

/// A resource by id.
pub(crate) fn get(
    conn: &Connection,
    kind: ResourceKind,
    id: &str,
) -> rusqlite::Result<Option<Row>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM resources WHERE id = ?1 AND kind = ?2"
    ))?
    .query_row(params![id, kind.name()], read_row)
    .optional()
}

/// The type of the resource with this id, if any.
pub(crate) fn kind_of(conn: &Connection, id: &str) -> rusqlite::Result<Option<ResourceKind>> {
    let kind: Option<String> = conn
        .prepare_cached("SELECT kind FROM resources WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(kind.and_then(|k| ResourceKind::from_name(&k)))
}

fn index_columns(row: &Row) -> (Option<String>, Option<String>, Option<String>) {
    let text = |name: &str| {
        row.body
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (
        text("userName").map(|v| v.to_lowercase()),
        text("externalId"),
        text("displayName").map(|v| v.to_lowercase()),
    )
}

fn unique_violation(error: rusqlite::Error, row: &Row) -> ScimError {
    if let rusqlite::Error::SqliteFailure(e, _) = &error
        && e.code == rusqlite::ErrorCode::ConstraintViolation
    {
        let user_name = row
            .body
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return ScimError::uniqueness(format!("userName {user_name:?} is already taken"));
    }
    ScimError::from(error)
}

/// Inserts a new resource.
pub fn insert(conn: &Connection, row: &Row) -> Result<(), ScimError> {
    let (user_name, external_id, display_name) = index_columns(row);
    conn.prepare_cached(
        "INSERT INTO resources (id, kind, user_name_key, external_id, display_name_key, created,
             last_modified, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        row.id,
        row.kind.name(),
        user_name,
        external_id,
        display_name,
        row.created,
        row.last_modified,
        row.version,
        Value::Object(row.body.clone()).to_string(),
    ])
    .map_err(|e| unique_violation(e, row))?;
    Ok(())
}

/// Overwrites an existing resource (same id).
pub(crate) fn update(conn: &Connection, row: &Row) -> Result<(), ScimError> {
    let (user_name, external_id, display_name) = index_columns(row);
    conn.prepare_cached(
        "UPDATE resources SET user_name_key = ?2, external_id = ?3, display_name_key = ?4,
             last_modified = ?5, version = ?6, body = ?7 WHERE id = ?1",
    )?
    .execute(params![
        row.id,
        user_name,
        external_id,
        display_name,
        row.last_modified,
        row.version,
        Value::Object(row.body.clone()).to_string(),
    ])
    .map_err(|e| unique_violation(e, row))?;
    Ok(())
}

/// Deletes a resource and its own membership rows.
pub(crate) fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM resources WHERE id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM members WHERE group_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Replaces the mirrored member list of a group.
pub fn set_members(conn: &Connection, group_id: &str, members: &[String]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM members WHERE group_id = ?1")?
        .execute([group_id])?;
    let mut insert =
        conn.prepare_cached("INSERT OR IGNORE INTO members (group_id, member_id) VALUES (?1, ?2)")?;
    for member in members {
        insert.execute(params![group_id, member])?;
    }
    Ok(())
}

/// The ids of the groups that list `member_id` directly.
pub(crate) fn groups_of(conn: &Connection, member_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT m.group_id FROM members m JOIN resources r ON r.id = m.group_id
         WHERE m.member_id = ?1 ORDER BY r.seq",
    )?;
    let ids = statement.query_map([member_id], |r| r.get(0))?;
    ids.collect()
}

/// A group a resource belongs to, directly or through nested groups (RFC 7643 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub id: String,
    pub display: String,
    pub direct: bool,
}

/// The groups each of `member_ids` belongs to, directly or through groups in groups, in one
/// recursive query per 500 ids. `UNION` (not `UNION ALL`) keeps a membership cycle finite.
pub(crate) fn memberships(
    conn: &Connection,
    member_ids: &[&str],
) -> rusqlite::Result<std::collections::HashMap<String, Vec<Membership>>> {
    let mut out: std::collections::HashMap<String, Vec<Membership>> =
        std::collections::HashMap::new();
    for chunk in member_ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut statement = conn.prepare(&format!(
            "WITH RECURSIVE ancestors(member_id, group_id, direct) AS (
                 SELECT member_id, group_id, 1 FROM members WHERE member_id IN ({marks})
                 UNION
                 SELECT a.member_id, m.group_id, 0
                 FROM members m JOIN ancestors a ON m.member_id = a.group_id
             )
             SELECT a.member_id, r.id, json_extract(r.body, '$.displayName'), MAX(a.direct)
             FROM ancestors a JOIN resources r ON r.id = a.group_id
             WHERE a.group_id != a.member_id
             GROUP BY a.member_id, r.id ORDER BY MIN(r.seq)"
        ))?;
        let rows = statement.query_map(rusqlite::params_from_iter(chunk), |r| {
            Ok((
                r.get::<_, String>(0)?,
                Membership {
                    id: r.get(1)?,
                    display: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    direct: r.get::<_, i64>(3)? == 1,
                },
            ))
        })?;
        for row in rows {
            let (member, membership) = row?;
            out.entry(member).or_default().push(membership);
        }
    }
    Ok(out)
}

/// How many resources of a type match an optional indexed lookup.
pub(crate) fn count(
    conn: &Connection,
    kind: ResourceKind,
    lookup: Option<&Lookup>,
) -> rusqlite::Result<usize> {
    let (clause, value) = lookup.map_or(("1 = 1", String::new()), Lookup::clause);
    let sql = format!("SELECT COUNT(*) FROM resources WHERE kind = ?1 AND {clause}");
    let mut statement = conn.prepare_cached(&sql)?;
    let n: i64 = if lookup.is_some() {
        statement.query_row(params![kind.name(), value], |r| r.get(0))?
    } else {
        statement.query_row(params![kind.name()], |r| r.get(0))?
    };
    Ok(n as usize)
}

/// Resources of a type in insertion order, optionally narrowed by an indexed lookup, skipping
/// `offset` and stopping after `limit`; `visit` returns false to stop early.
pub(crate) fn scan(
    conn: &Connection,
    kind: ResourceKind,
    lookup: Option<&Lookup>,
    offset: usize,
    limit: Option<usize>,
    mut visit: impl FnMut(Row) -> bool,
) -> rusqlite::Result<()> {
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let (sql, value) = if let Some(lookup) = lookup {
        let (clause, value) = lookup.clause();
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = ?1 AND {clause} ORDER BY seq
             LIMIT {limit} OFFSET {offset}"
        );
        (sql, value)
    } else {
        // OFFSET would materialise every skipped row; find where the page starts in the
        // covering (kind, seq) index instead, then read only the page.
        let first: Option<i64> = conn
            .prepare_cached(&format!(
                "SELECT seq FROM resources WHERE kind = ?1 ORDER BY seq LIMIT 1 OFFSET {offset}"
            ))?
            .query_row([kind.name()], |r| r.get(0))
            .optional()?;
        let Some(first) = first else { return Ok(()) };
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = ?1 AND seq >= ?2 ORDER BY seq
             LIMIT {limit}"
        );
        (sql, first.to_string())
    };
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = if lookup.is_some() {
        statement.query(params![kind.name(), value])?
    } else {
        statement.query(params![kind.name(), value.parse::<i64>().unwrap_or(0)])?
    };
    while let Some(row) = rows.next()? {
        if !visit(read_row(row)?) {
            break;
        }
    }
    Ok(())
}
