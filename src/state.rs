//! What a server holds: its users and groups, read as cheaply as correctness allows
//! (SPEC §3.1).
//!
//! Reading starts with the first page of `/Users` and of `/Groups`, which tells how many
//! objects the server holds. When the rest of a listing would cost more requests than looking
//! up the declared objects one by one (`filter=userName eq "…"`), and nothing will be pruned,
//! the objects are looked up instead; otherwise the remaining pages are read concurrently and
//! the listing is proven complete (unique ids == `totalResults`) so that pruning can trust it.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;
use tokio::task::JoinSet;

use crate::client::{Capabilities, ClientError, FirstPage, ResourceKind, ScimClient};

/// How many lookups run at once in a targeted read.
const CONCURRENT_LOOKUPS: usize = 8;

/// A user as the server holds it.
#[derive(Debug, Clone)]
pub struct LiveUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `meta.version`: the version the server gives the resource.
    pub version: Option<String>,
    /// The whole resource as the server sent it.
    pub resource: Value,
}

/// A group as the server holds it.
#[derive(Debug, Clone)]
pub struct LiveGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: Option<String>,
    /// Member ids.
    pub members: BTreeSet<String>,
    pub resource: Value,
}

/// Everything read from one server.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
    /// `totalResults` of `/Users`.
    pub total_users: usize,
    /// `totalResults` of `/Groups`.
    pub total_groups: usize,
    /// Whether `users` provably holds every user of the server.
    pub users_complete: bool,
    /// Whether `groups` provably holds every group of the server.
    pub groups_complete: bool,
}

/// One declared object, as the reader looks for it: by its key (userName or displayName) and,
/// failing that, by its declared externalId (a rename).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub external_id: Option<String>,
}

/// What the config asks of a server, so the reader knows what it must find.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Declared users (tombstones included).
    pub users: Vec<Key>,
    /// Declared groups (tombstones included).
    pub groups: Vec<Key>,
    /// Whether every object must be read (pruning is on).
    pub everything: bool,
    /// Whether every group's members are needed, not only the declared groups' (import).
    pub all_members: bool,
}

/// Reads the users and groups the plan needs from a server.
pub async fn read(
    client: &ScimClient,
    capabilities: &Capabilities,
    wanted: &Wanted,
) -> Result<LiveState, ClientError> {
    let page = capabilities.max_results;
    let (users_first, groups_first) = tokio::try_join!(
        client.list_first(ResourceKind::User, page, &[]),
        client.list_first(ResourceKind::Group, page, &[]),
    )?;
    let total_users = users_first.total_results;
    let total_groups = groups_first.total_results;
    let can_filter = capabilities.filter;
    let (users, users_complete) = read_rest(
        client,
        users_first,
        "userName",
        &wanted.users,
        wanted.everything || !can_filter,
    );
    let (groups, groups_complete) = read_rest(
        client,
        groups_first,
        "displayName",
        &wanted.groups,
        wanted.everything || !can_filter,
    );
    let ((users, users_complete), (groups, groups_complete)) = tokio::try_join!(
        async { Ok::<_, ClientError>((users.await?, users_complete)) },
        async { Ok::<_, ClientError>((groups.await?, groups_complete)) },
    )?;
    // A targeted read can find one object twice (by userName and by externalId).
    let mut seen = HashSet::new();
    let users: Vec<LiveUser> = users
        .into_iter()
        .filter_map(live_user)
        .filter(|u| seen.insert(u.id.clone()))
        .collect();
    let mut seen = HashSet::new();
    let mut groups: Vec<LiveGroup> = groups
        .into_iter()
        .filter_map(live_group)
        .filter(|g| seen.insert(g.id.clone()))
        .collect();
    let users_complete = users_complete && users.len() == total_users;
    let groups_complete = groups_complete && groups.len() == total_groups;

    // Some servers leave `members` out of group lists. When no listed group has any, read the
    // groups whose members matter one by one: an empty group and an omitted attribute look the
    // same.
    if !groups.is_empty() && groups.iter().all(|g| g.resource.get("members").is_none()) {
        let declared: HashSet<String> = wanted
            .groups
            .iter()
            .map(|g| g.name.to_lowercase())
            .collect();
        for group in &mut groups {
            if (wanted.all_members || declared.contains(&group.display_name.to_lowercase()))
                && let Some(response) = client.get(ResourceKind::Group, &group.id).await?
                && let Some(full) = response.body.and_then(live_group)
            {
                *group = full;
            }
        }
    }
    Ok(LiveState {
        users,
        groups,
        total_users,
        total_groups,
        users_complete,
        groups_complete,
    })
}

/// Finishes reading one resource type: the rest of the listing, or lookups of the wanted keys
/// not on the first page, whichever sends fewer requests. Returns the read future and whether
/// it reads everything.
fn read_rest<'a>(
    client: &'a ScimClient,
    first: FirstPage,
    key_attribute: &'static str,
    wanted: &'a [Key],
    everything: bool,
) -> (
    impl Future<Output = Result<Vec<Value>, ClientError>> + 'a,
    bool,
) {
    let on_first = |attribute: &str| -> HashSet<String> {
        first
            .resources
            .iter()
            .filter_map(|r| get_str(r, attribute))
            .map(str::to_lowercase)
            .collect()
    };
    let (names_on_first, ids_on_first) = (on_first(key_attribute), on_first("externalId"));
    let missing: Vec<&Key> = wanted
        .iter()
        .filter(|k| {
            !names_on_first.contains(&k.name.to_lowercase())
                && k.external_id
                    .as_ref()
                    .is_none_or(|id| !ids_on_first.contains(&id.to_lowercase()))
        })
        .collect();
    // A missing name may be a rename, found by its externalId: count that lookup too.
    let lookups = missing.len() + missing.iter().filter(|k| k.external_id.is_some()).count();
    let targeted = !everything && first.remaining_pages() > 0 && lookups < first.remaining_pages();
    let future = async move {
        if !targeted {
            return Ok(client.list_rest_with(first, slim).await?.resources);
        }
        let kind = first.kind;
        let mut resources = first.resources;
        let names: Vec<&String> = missing.iter().map(|k| &k.name).collect();
        let found = lookup_all(client, kind, key_attribute, &names).await?;
        let found_names: HashSet<String> = found
            .iter()
            .filter_map(|r| get_str(r, key_attribute))
            .map(str::to_lowercase)
            .collect();
        resources.extend(found);
        let renamed: Vec<&String> = missing
            .iter()
            .filter(|k| !found_names.contains(&k.name.to_lowercase()))
            .filter_map(|k| k.external_id.as_ref())
            .collect();
        resources.extend(lookup_all(client, kind, "externalId", &renamed).await?);
        Ok(resources)
    };
    (future, !targeted)
}

async fn lookup_all(
    client: &ScimClient,
    kind: ResourceKind,
    attribute: &'static str,
    values: &[&String],
) -> Result<Vec<Value>, ClientError> {
    let mut found = Vec::new();
    let mut tasks = JoinSet::new();
    let mut pending = values.iter().map(|v| (*v).clone());
    loop {
        while tasks.len() < CONCURRENT_LOOKUPS {
            let Some(value) = pending.next() else { break };
            let client = client.clone();
            tasks.spawn(async move { client.find_by(kind, attribute, &value).await });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        found.extend(joined.expect("a lookup task does not panic")?);
    }
    Ok(found)
}

/// A string attribute, its name matched case-insensitively (RFC 7643 §2.1).
#[must_use]
pub fn get_ci<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    let object = resource.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn get_str<'a>(resource: &'a Value, name: &str) -> Option<&'a str> {
    get_ci(resource, name).and_then(Value::as_str)
}

fn version_of(resource: &Value) -> Option<String> {
    get_ci(resource, "meta")
        .and_then(|m| get_ci(m, "version"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn live_user(mut resource: Value) -> Option<LiveUser> {
    let version = version_of(&resource);
    let user = LiveUser {
        id: get_str(&resource, "id")?.to_owned(),
        user_name: get_str(&resource, "userName")?.to_owned(),
        external_id: get_str(&resource, "externalId").map(str::to_owned),
        version,
        resource: Value::Null,
    };
    drop_server_maintained(&mut resource);
    Some(LiveUser { resource, ..user })
}

/// A group resource as the engine reads it; `None` without an id or displayName.
#[must_use]
pub fn live_group(mut resource: Value) -> Option<LiveGroup> {
    let members = get_ci(&resource, "members")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| get_str(m, "value").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let group = LiveGroup {
        id: get_str(&resource, "id")?.to_owned(),
        display_name: get_str(&resource, "displayName")?.to_owned(),
        external_id: get_str(&resource, "externalId").map(str::to_owned),
        version: version_of(&resource),
        members,
        resource: Value::Null,
    };
    drop_server_maintained(&mut resource);
    Some(LiveGroup { resource, ..group })
}

/// Keeps of a listed resource what the engine reads: everything but the computed `groups` of a
/// user and `meta` beyond its `version`. Applied page by page while a listing is read.
fn slim(resource: &mut Value) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    let meta_key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case("meta"))
        .cloned();
    let version = meta_key.as_ref().and_then(|key| {
        let meta = object.get_mut(key)?;
        let key = meta
            .as_object()?
            .keys()
            .find(|k| k.eq_ignore_ascii_case("version"))?
            .clone();
        meta.as_object_mut()?.remove(&key)
    });
    object.retain(|k, _| !k.eq_ignore_ascii_case("meta") && !k.eq_ignore_ascii_case("groups"));
    if let (Some(key), Some(version)) = (meta_key, version) {
        object.insert(key, serde_json::json!({ "version": version }));
    }
}

/// Drops `meta` (its version is kept apart) and a user's computed `groups`: nothing is diffed,
/// written or hashed from them (RFC 7643 §3.1, §4.1.2 make them read-only), and at 100,000
/// users they are a good part of what a listing holds in memory.
fn drop_server_maintained(resource: &mut Value) {
    if let Some(object) = resource.as_object_mut() {
        object.retain(|k, _| !k.eq_ignore_ascii_case("meta") && !k.eq_ignore_ascii_case("groups"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_slimmed_user_keeps_its_attributes_and_version_only() {
        let mut resource = json!({
            "id": "1", "userName": "ada", "title": "Analyst",
            "Meta": {"resourceType": "User", "Version": "W/\"3\"", "location": "x"},
            "groups": [{"value": "g", "display": "Owners"}],
        });
        slim(&mut resource);
        assert_eq!(
            resource,
            json!({"id": "1", "userName": "ada", "title": "Analyst", "Meta": {"version": "W/\"3\""}})
        );
        let user = live_user(resource).unwrap();
        assert_eq!(user.version.as_deref(), Some("W/\"3\""));
        assert_eq!(
            user.resource,
            json!({"id": "1", "userName": "ada", "title": "Analyst"})
        );
    }
}
