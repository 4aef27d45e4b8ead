//! What a server holds: its users and groups, read as cheaply as correctness allows
//! (SPEC §3.1).
//!
//! Reading starts with the first page of `/Users` and of `/Groups`, which tells how many
//! objects the server holds. When the rest of a listing would cost more requests than looking
//! up the declared objects one by one (`filter=userName eq "…"`), and nothing will be pruned,
//! the objects are looked up instead; otherwise the remaining pages are read concurrently and
//! the listing is proven complete (unique ids == `totalResults`) so that pruning can trust it.

mod resource;

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use crate::client::{
    Capabilities, ClientError, FirstPage, Listed, Members, ResourceKind, ScimClient,
};

pub use resource::Resource;

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
    /// The resource as the server sent it, without `meta` and `groups`.
    pub resource: Resource,
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
    /// Whether the server listed the group with its `members` attribute.
    pub members_listed: bool,
    /// The resource as the server sent it, without `meta`.
    pub resource: Resource,
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
        client.list_first::<LiveUser>(ResourceKind::User, page, &[]),
        client.list_first::<LiveGroup>(ResourceKind::Group, page, &[]),
    )?;
    let total_users = users_first.total_results;
    let total_groups = groups_first.total_results;
    let can_filter = capabilities.filter;
    let (users, users_complete) = read_rest(
        client,
        users_first,
        &wanted.users,
        wanted.everything || !can_filter,
    );
    let (groups, groups_complete) = read_rest(
        client,
        groups_first,
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
        .filter(|u| seen.insert(u.id.clone()))
        .collect();
    let mut seen = HashSet::new();
    let mut groups: Vec<LiveGroup> = groups
        .into_iter()
        .filter(|g| seen.insert(g.id.clone()))
        .collect();
    let users_complete = users_complete && users.len() == total_users;
    let groups_complete = groups_complete && groups.len() == total_groups;

    // Some servers leave `members` out of group lists. When no listed group has any, read the
    // groups whose members matter one by one: an empty group and an omitted attribute look the
    // same.
    if !groups.is_empty() && groups.iter().all(|g| !g.members_listed) {
        let declared: HashSet<String> = wanted
            .groups
            .iter()
            .map(|g| g.name.to_lowercase())
            .collect();
        for group in &mut groups {
            if (wanted.all_members || declared.contains(&group.display_name.to_lowercase()))
                && let Some(response) = client.get(ResourceKind::Group, &group.id).await?
                && let Some(full) = response.body.as_ref().and_then(LiveGroup::from_value)
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
fn read_rest<'a, T: Live>(
    client: &'a ScimClient,
    first: FirstPage<T>,
    wanted: &'a [Key],
    everything: bool,
) -> (impl Future<Output = Result<Vec<T>, ClientError>> + 'a, bool) {
    let names_on_first: HashSet<String> = first
        .resources
        .iter()
        .map(|r| r.key().to_lowercase())
        .collect();
    let ids_on_first: HashSet<String> = first
        .resources
        .iter()
        .filter_map(|r| r.external_id())
        .map(str::to_lowercase)
        .collect();
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
            return Ok(client.list_rest(first).await?.resources);
        }
        let kind = first.kind;
        let mut resources = first.resources;
        let names: Vec<&String> = missing.iter().map(|k| &k.name).collect();
        let found: Vec<T> = lookup_all(client, kind, T::KEY_ATTRIBUTE, &names).await?;
        let found_names: HashSet<String> = found.iter().map(|r| r.key().to_lowercase()).collect();
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

async fn lookup_all<T: Listed>(
    client: &ScimClient,
    kind: ResourceKind,
    attribute: &'static str,
    values: &[&String],
) -> Result<Vec<T>, ClientError> {
    let mut found = Vec::new();
    let mut tasks = JoinSet::new();
    let mut pending = values.iter().map(|v| (*v).clone());
    loop {
        while tasks.len() < CONCURRENT_LOOKUPS {
            let Some(value) = pending.next() else { break };
            let client = client.clone();
            tasks.spawn(async move { client.find_by::<T>(kind, attribute, &value).await });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        found.extend(joined.expect("a lookup task does not panic")?);
    }
    Ok(found)
}

/// A live user or group, as [`read_rest`] matches it to the declared keys.
trait Live: Listed {
    /// The attribute a declared object is found by.
    const KEY_ATTRIBUTE: &'static str;
    /// Its value: the userName or displayName.
    fn key(&self) -> &str;
    fn external_id(&self) -> Option<&str>;
}

impl Live for LiveUser {
    const KEY_ATTRIBUTE: &'static str = "userName";
    fn key(&self) -> &str {
        &self.user_name
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

impl Live for LiveGroup {
    const KEY_ATTRIBUTE: &'static str = "displayName";
    fn key(&self) -> &str {
        &self.display_name
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
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

/// The `version` inside a resource's `meta`.
fn version_of(members: &Members<'_>) -> Option<String> {
    let meta = Members::parse(members.get("meta")?.get())?;
    meta.get_str("version")
}

impl LiveUser {
    /// A user from its JSON; `None` without an id or userName.
    #[must_use]
    pub fn from_value(resource: &Value) -> Option<Self> {
        Self::from_json(&RawValue::from_string(resource.to_string()).ok()?)
    }
}

impl Listed for LiveUser {
    fn from_json(json: &RawValue) -> Option<Self> {
        let members = Members::parse(json.get())?;
        Some(LiveUser {
            id: members.get_str("id")?,
            user_name: members.get_str("userName")?,
            external_id: members.get_str("externalId"),
            version: version_of(&members),
            // Nothing is diffed, written or hashed from `meta` or a user's computed `groups`
            // (RFC 7643 §3.1, §4.1.2 make them read-only), and at 100,000 users they are most
            // of what a listing holds.
            resource: Resource::from_text(members.to_json_without(&["meta", "groups"])),
        })
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

impl LiveGroup {
    /// A group from its JSON; `None` without an id or displayName.
    #[must_use]
    pub fn from_value(resource: &Value) -> Option<Self> {
        Self::from_json(&RawValue::from_string(resource.to_string()).ok()?)
    }
}

impl Listed for LiveGroup {
    fn from_json(json: &RawValue) -> Option<Self> {
        let members = Members::parse(json.get())?;
        let listed = members.get("members").filter(|raw| raw.get() != "null");
        let ids = listed
            .and_then(|raw| crate::client::json_items(raw.get()))
            .map(|items| {
                items
                    .into_iter()
                    .filter_map(|item| Members::parse(item.get())?.get_str("value"))
                    .collect()
            })
            .unwrap_or_default();
        Some(LiveGroup {
            id: members.get_str("id")?,
            display_name: members.get_str("displayName")?,
            external_id: members.get_str("externalId"),
            version: version_of(&members),
            members: ids,
            members_listed: listed.is_some(),
            resource: Resource::from_text(members.to_json_without(&["meta"])),
        })
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_user_keeps_its_attributes_and_version_only() {
        let user = LiveUser::from_value(&json!({
            "id": "1", "userName": "ada", "title": "Analyst",
            "Meta": {"resourceType": "User", "Version": "W/\"3\"", "location": "x"},
            "groups": [{"value": "g", "display": "Owners"}],
        }))
        .unwrap();
        assert_eq!(user.version.as_deref(), Some("W/\"3\""));
        assert_eq!(
            user.resource.value(),
            json!({"id": "1", "userName": "ada", "title": "Analyst"})
        );
        assert!(LiveUser::from_value(&json!({"userName": "no id"})).is_none());
    }

    #[test]
    fn a_listed_group_keeps_its_members_and_says_whether_it_had_them() {
        let group = LiveGroup::from_value(&json!({
            "id": "g", "displayName": "Owners", "externalId": "x",
            "members": [{"value": "1"}, {"value": "2", "display": "bob"}],
            "meta": {"version": "W/\"9\""},
        }))
        .unwrap();
        assert!(group.members_listed);
        assert_eq!(
            group.members,
            BTreeSet::from(["1".to_owned(), "2".to_owned()])
        );
        assert_eq!(group.external_id.as_deref(), Some("x"));
        assert_eq!(group.version.as_deref(), Some("W/\"9\""));
        assert_eq!(group.resource.value()["members"][1]["display"], "bob");
        let bare = LiveGroup::from_value(&json!({"id": "h", "displayName": "Empty"})).unwrap();
        assert!(!bare.members_listed);
        assert!(bare.members.is_empty());
    }
}
