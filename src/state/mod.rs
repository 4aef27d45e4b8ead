//! What a server holds: its users and groups, read as cheaply as correctness allows
//! (SPEC §3.1).
//!
//! Reading starts with the first page of `/Users` and of `/Groups`, which tells how many
//! objects the server holds. When the rest of a listing would cost more requests than looking
//! up the declared objects one by one (`filter=userName eq "…"`), and nothing will be pruned,
//! the objects are looked up instead; otherwise the remaining pages are read concurrently and
//! the listing is proven complete (unique ids == `totalResults`) so that pruning can trust it.
//!
//! Each user and group is read once, by `serde_json`, while its page is parsed, into the typed
//! values the diff compares ([`LiveUser`], [`LiveGroup`]); nothing reads its JSON again. A
//! server without PATCH is updated with PUT, so there each resource is kept whole as well
//! ([`Keep::Whole`]).

mod group;
mod reader;
mod user;

use std::collections::HashSet;

use tokio::task::JoinSet;

use crate::client::{Capabilities, ClientError, FirstPage, Keep, Listed, ResourceKind, ScimClient};

pub use group::LiveGroup;
pub use reader::resource_hash;
pub use user::{Extension, Item, LiveUser, Name, UserAttributes, items_json, role_values};

/// How many lookups run at once in a targeted read.
const CONCURRENT_LOOKUPS: usize = 8;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    pub name: &'a str,
    pub external_id: Option<&'a str>,
}

/// What the config asks of a server, so the reader knows what it must find.
#[derive(Debug, Clone, Default)]
pub struct Wanted<'a> {
    /// Declared users (tombstones included).
    pub users: Vec<Key<'a>>,
    /// Declared groups (tombstones included).
    pub groups: Vec<Key<'a>>,
    /// Whether every object must be read (pruning is on).
    pub everything: bool,
    /// Whether every group's members are needed, not only the declared groups' (import).
    pub all_members: bool,
}

/// Reads the users and groups the plan needs from a server.
pub async fn read(
    client: &ScimClient,
    capabilities: &Capabilities,
    wanted: &Wanted<'_>,
) -> Result<LiveState, ClientError> {
    let page = capabilities.max_results;
    let keep = Keep::for_server(capabilities);
    // A user's `groups` is computed from the groups, which are read too; leaving it out of the
    // user listing saves about a fifth of its bytes.
    let (users_first, groups_first) = tokio::try_join!(
        client.list_first::<LiveUser>(ResourceKind::User, page, &["groups"], keep),
        client.list_first::<LiveGroup>(ResourceKind::Group, page, &[], keep),
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
    let ((users, users_complete), (mut groups, groups_complete)) = tokio::try_join!(
        async { Ok::<_, ClientError>((users.await?, users_complete)) },
        async { Ok::<_, ClientError>((groups.await?, groups_complete)) },
    )?;
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
                && let Some(full) =
                    (response.body.as_ref()).and_then(|body| LiveGroup::from_value(body, keep))
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
    wanted: &'a [Key<'a>],
    everything: bool,
) -> (impl Future<Output = Result<Vec<T>, ClientError>> + 'a, bool) {
    let remaining = first.remaining_pages();
    let missing = if everything || remaining == 0 {
        Vec::new()
    } else {
        missing_keys(&first.resources, wanted, remaining)
    };
    // A missing name may be a rename, found by its externalId: count that lookup too.
    let lookups = missing.len() + missing.iter().filter(|k| k.external_id.is_some()).count();
    let targeted = !everything && remaining > 0 && lookups < remaining;
    let future = async move {
        if !targeted {
            return Ok(client.list_rest(first).await?.resources);
        }
        let (kind, keep) = (first.kind, first.keep);
        let mut resources = first.resources;
        let names: Vec<&str> = missing.iter().map(|k| k.name).collect();
        let found: Vec<T> = lookup_all(client, kind, keep, T::KEY_ATTRIBUTE, &names).await?;
        let found_names: HashSet<String> = found.iter().map(|r| r.key().to_lowercase()).collect();
        resources.extend(found);
        let renamed: Vec<&str> = missing
            .iter()
            .filter(|k| !found_names.contains(&k.name.to_lowercase()))
            .filter_map(|k| k.external_id)
            .collect();
        resources.extend(lookup_all(client, kind, keep, "externalId", &renamed).await?);
        // One object can be found twice (by its key and by its externalId, or on the first
        // page too); a listing holds each id once already.
        Ok(first_of_each_id(resources))
    };
    (future, !targeted)
}

/// The wanted keys not on the first page, in order; only as many as it takes to need `enough`
/// lookups (a name and, for a possible rename, an externalId each), since reading the rest of
/// the listing is then no dearer.
fn missing_keys<'a, 'k, T: Live>(
    first: &[T],
    wanted: &'a [Key<'k>],
    enough: usize,
) -> Vec<&'a Key<'k>> {
    let names_on_first: HashSet<String> = first.iter().map(|r| r.key().to_lowercase()).collect();
    let ids_on_first: HashSet<String> = first
        .iter()
        .filter_map(|r| r.external_id())
        .map(str::to_lowercase)
        .collect();
    let mut missing = Vec::new();
    let mut lookups = 0;
    for key in wanted {
        if lookups >= enough {
            break;
        }
        let on_first = names_on_first.contains(&key.name.to_lowercase())
            || key
                .external_id
                .is_some_and(|id| ids_on_first.contains(&id.to_lowercase()));
        if !on_first {
            lookups += 1 + usize::from(key.external_id.is_some());
            missing.push(key);
        }
    }
    missing
}

/// `resources` with each id once, where it was first.
fn first_of_each_id<T: Listed>(resources: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::with_capacity(resources.len());
    let first: Vec<bool> = resources.iter().map(|r| seen.insert(r.id())).collect();
    resources
        .into_iter()
        .zip(first)
        .filter_map(|(resource, first)| first.then_some(resource))
        .collect()
}

async fn lookup_all<T: Listed>(
    client: &ScimClient,
    kind: ResourceKind,
    keep: Keep,
    attribute: &'static str,
    values: &[&str],
) -> Result<Vec<T>, ClientError> {
    let mut found = Vec::new();
    let mut tasks = JoinSet::new();
    let mut pending = values.iter().map(|v| (*v).to_owned());
    loop {
        while tasks.len() < CONCURRENT_LOOKUPS {
            let Some(value) = pending.next() else { break };
            let client = client.clone();
            tasks.spawn(async move { client.find_by::<T>(kind, attribute, &value, keep).await });
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_keys_are_counted_until_reading_everything_is_no_dearer() {
        let first: Vec<LiveUser> = [("1", "Ada", None), ("2", "bob", Some("E2"))]
            .into_iter()
            .map(|(id, name, external_id)| {
                LiveUser::from_value(
                    &json!({"id": id, "userName": name, "externalId": external_id}),
                    Keep::Managed,
                )
                .unwrap()
            })
            .collect();
        let key = |name, external_id| Key { name, external_id };
        let wanted = [
            key("ada", None),
            key("renamed-bob", Some("e2")),
            key("cy", Some("e3")),
            key("di", None),
            key("ed", None),
        ];
        let names = |missing: Vec<&Key>| -> Vec<String> {
            missing.into_iter().map(|k| k.name.to_owned()).collect()
        };
        assert_eq!(names(missing_keys(&first, &wanted, 10)), ["cy", "di", "ed"]);
        assert_eq!(names(missing_keys(&first, &wanted, 3)), ["cy", "di"]);
        assert_eq!(names(missing_keys(&first, &wanted, 2)), ["cy"]);
    }

    #[test]
    fn a_targeted_read_keeps_each_id_where_it_was_first_found() {
        let found = first_of_each_id(vec![
            json!({"id": "a", "v": 1}),
            json!({"id": "b"}),
            json!({"id": "a", "v": 2}),
            json!({"id": "c"}),
            json!({"id": "b", "v": 3}),
        ]);
        assert_eq!(
            found,
            [
                json!({"id": "a", "v": 1}),
                json!({"id": "b"}),
                json!({"id": "c"})
            ]
        );
    }
}
