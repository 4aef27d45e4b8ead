//! What a server holds: its users and groups, read as cheaply as correctness allows
//! (README, Plans).
//!
//! Reading starts with the first page of `/Users` and of `/Groups`, which tells how many
//! objects the server holds. When the rest of a listing would cost more requests than looking
//! up the declared objects one by one (`filter=userName eq "…"`), and nothing will be pruned,
//! the objects are looked up instead; otherwise the remaining pages are read concurrently and
//! each is checked (see [`crate::client::Listing`]), so that pruning can trust the listing.
//!
//! A listing that fails a check is kept for what it shows, never for what it leaves out: each
//! declared object it does not show is looked up by filter as well, so that no create is
//! planned for an object that exists, and the failed check is kept so that pruning and import
//! can refuse, naming it. Group members a server does not show are read the way it allows
//! ([`members`]).
//!
//! Each user and group is read once, by `serde_json`, while its page is parsed, into the typed
//! values the diff compares ([`LiveUser`], [`LiveGroup`]); nothing reads its JSON again. A
//! server without PATCH is updated with PUT, so there each resource is kept whole as well
//! ([`Keep::Whole`]).

mod group;
mod members;
mod reader;
mod user;

use std::collections::HashSet;

use scim::ResourceKind;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use scim::profile::Profile;

use crate::client::{Capabilities, ClientError, FirstPage, Keep, Listed, ScimClient, Untrusted};

pub use group::LiveGroup;
pub use members::{HiddenMembers, MEMBER_FILTERS, a_member_is_found, member_filter};
pub use reader::resource_hash;
pub use user::{Extension, Item, LiveUser, Name, UserAttributes, items_json, role_values};

/// How many lookups run at once in a targeted read.
const CONCURRENT_LOOKUPS: usize = 8;

/// Why a server could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A lookup by filter answered a resource the filter does not match: the server ignores
    /// filters, so a lookup cannot prove that an object is absent.
    #[error(
        "{request} answered a {kind} whose {attribute} is {found}: the server does not apply \
         the filter, so objects its listing leaves out cannot be looked up"
    )]
    FilterIgnored {
        request: String,
        kind: &'static str,
        attribute: &'static str,
        found: String,
    },
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
    /// The check the user listing failed, if it failed one: then it is not complete, and the
    /// declared users it did not show were looked up.
    pub users_untrusted: Option<Untrusted>,
    /// The check the group listing failed, if it failed one.
    pub groups_untrusted: Option<Untrusted>,
    /// How the members of groups the server lists without them were read, when no group read
    /// showed any: see [`members`].
    pub hidden_members: Option<HiddenMembers>,
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
    /// Declared groups whose members the file manages: their members must be known.
    pub member_groups: Vec<Key<'a>>,
    /// Whether every group's members are needed, not only the declared groups' (import).
    pub all_members: bool,
}

/// Reads the users and groups the plan needs from a server. `profile` is what the server's
/// service documents about itself, when the config names it (README, Provider profiles).
pub async fn read(
    client: &ScimClient,
    capabilities: &Capabilities,
    wanted: &Wanted<'_>,
    profile: Option<&'static Profile>,
) -> Result<LiveState, ReadError> {
    let page = capabilities.max_results;
    let keep = Keep::for_server(capabilities);
    // A server that pages by cursor only is listed by cursor (RFC 9865).
    let client = &client.clone().with_cursor_paging(capabilities.cursor);
    // A user's `groups` is computed from the groups, which are read too; leaving it out of the
    // user listing saves about a fifth of its bytes.
    let (users_first, groups_first) = tokio::try_join!(
        client.list_first::<LiveUser>(ResourceKind::User, page, &["groups"], keep),
        client.list_first::<LiveGroup>(ResourceKind::Group, page, &[], keep),
    )?;
    let first_totals = (users_first.total_results, groups_first.total_results);
    let everything = wanted.everything || !capabilities.filter;
    let ((users, users_read), (groups, groups_read)) = tokio::try_join!(
        read_rest(client, users_first, &wanted.users, everything),
        read_rest(client, groups_first, &wanted.groups, everything),
    )?;
    // A listing read whole knows its total even without a `totalResults` (cursor pages may
    // leave it out); the first page alone would understate it, to the mass-delete guard too.
    let mut live = LiveState {
        users,
        groups,
        total_users: users_read.total.unwrap_or(first_totals.0),
        total_groups: groups_read.total.unwrap_or(first_totals.1),
        users_complete: users_read.complete,
        groups_complete: groups_read.complete,
        users_untrusted: users_read.untrusted,
        groups_untrusted: groups_read.untrusted,
        hidden_members: None,
    };
    let hidden = profile.and_then(|p| p.members.hidden_filter());
    live.hidden_members = members::read(client, capabilities, wanted, hidden, &mut live).await?;
    Ok(live)
}

/// How much of a resource type a read holds.
struct Coverage {
    /// Every resource, proven by a listing that passed its checks.
    complete: bool,
    /// The check the listing failed, if it was read and failed one.
    untrusted: Option<Untrusted>,
    /// How many resources the server holds, when a complete listing proves it.
    total: Option<usize>,
}

/// Finishes reading one resource type: the rest of the listing, or lookups of the wanted keys
/// not on the first page, whichever sends fewer requests. A listing that fails a check is
/// completed with lookups of the wanted keys it does not show.
async fn read_rest<T: Live>(
    client: &ScimClient,
    first: FirstPage<T>,
    wanted: &[Key<'_>],
    everything: bool,
) -> Result<(Vec<T>, Coverage), ReadError> {
    let (kind, keep) = (first.kind, first.keep());
    let remaining = first.remaining_pages();
    let missing = if everything || remaining == 0 {
        Vec::new()
    } else {
        missing_keys(&first.resources, wanted, remaining)
    };
    // A missing name may be a rename, found by its externalId: count that lookup too.
    let lookups = missing.len() + missing.iter().filter(|k| k.external_id.is_some()).count();
    if !everything && remaining > 0 && lookups < remaining {
        let mut resources = first.resources;
        resources.extend(look_up(client, kind, keep, &missing).await?);
        let coverage = Coverage {
            complete: false,
            untrusted: None,
            total: None,
        };
        // One object can be found twice (by its key and by its externalId, or on the first
        // page too); a listing holds each id once already.
        return Ok((first_of_each_id(resources), coverage));
    }
    let listing = client.list_rest(first).await?;
    let Some(untrusted) = listing.untrusted else {
        let coverage = Coverage {
            complete: true,
            untrusted: None,
            total: Some(listing.total_results),
        };
        return Ok((listing.resources, coverage));
    };
    // What the listing shows exists; what it leaves out may exist too.
    let missing = missing_keys(&listing.resources, wanted, usize::MAX);
    let mut resources = listing.resources;
    resources.extend(look_up(client, kind, keep, &missing).await?);
    let coverage = Coverage {
        complete: false,
        untrusted: Some(untrusted),
        total: None,
    };
    Ok((first_of_each_id(resources), coverage))
}

/// Looks up `missing` keys by filter: each by its name, then those not found by their
/// externalId (a rename).
async fn look_up<T: Live>(
    client: &ScimClient,
    kind: ResourceKind,
    keep: Keep,
    missing: &[&Key<'_>],
) -> Result<Vec<T>, ReadError> {
    let names: Vec<&str> = missing.iter().map(|k| k.name).collect();
    let mut found: Vec<T> = lookup_all(client, kind, keep, T::KEY_ATTRIBUTE, &names).await?;
    let found_names: HashSet<String> = found.iter().map(|r| r.key().to_lowercase()).collect();
    let renamed: Vec<&str> = missing
        .iter()
        .filter(|k| !found_names.contains(&k.name.to_lowercase()))
        .filter_map(|k| k.external_id)
        .collect();
    found.extend(lookup_all(client, kind, keep, "externalId", &renamed).await?);
    Ok(found)
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

/// Looks up each of `values` with `filter=attribute eq "value"`. Every resource found must
/// hold the value (case-insensitively, as servers compare): one that does not means the server
/// ignores the filter, and then not finding an object proves nothing.
async fn lookup_all<T: Live>(
    client: &ScimClient,
    kind: ResourceKind,
    keep: Keep,
    attribute: &'static str,
    values: &[&str],
) -> Result<Vec<T>, ReadError> {
    let mut found = Vec::new();
    let mut tasks = JoinSet::new();
    let mut pending = values.iter().map(|v| (*v).to_owned());
    loop {
        while tasks.len() < CONCURRENT_LOOKUPS {
            let Some(value) = pending.next() else { break };
            let client = client.clone();
            // A lookup by externalId names no object by its key.
            let span = if attribute == T::KEY_ATTRIBUTE {
                crate::client::object_span(kind, &value)
            } else {
                tracing::Span::none()
            };
            tasks.spawn(
                async move {
                    let found = client.find_by::<T>(kind, attribute, &value, keep).await;
                    (value, found)
                }
                .instrument(span),
            );
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (value, resources) = joined.expect("a lookup task does not panic");
        let resources = resources?;
        if let Some(other) = resources.iter().find(|r| !r.holds(attribute, &value)) {
            return Err(ReadError::FilterIgnored {
                request: format!(
                    "GET {}?filter={attribute} eq {}",
                    kind.endpoint(),
                    Value::String(value.clone())
                ),
                kind: match kind {
                    ResourceKind::User => "user",
                    ResourceKind::Group => "group",
                },
                attribute,
                found: other.value_of(attribute).map_or_else(
                    || "absent".to_owned(),
                    |v| Value::String(v.to_owned()).to_string(),
                ),
            });
        }
        found.extend(resources);
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

    /// The value of `attribute` (the key attribute or `externalId`) as a lookup compares it.
    fn value_of(&self, attribute: &str) -> Option<&str> {
        if attribute == Self::KEY_ATTRIBUTE {
            Some(self.key())
        } else {
            self.external_id()
        }
    }

    /// Whether a lookup of `attribute eq value` may answer this resource. Case is ignored, as
    /// servers compare userName and displayName (caseExact false, RFC 7643 §4.1.1, §4.2), and
    /// some externalId too.
    fn holds(&self, attribute: &str, value: &str) -> bool {
        self.value_of(attribute).is_some_and(|held| {
            held.eq_ignore_ascii_case(value) || held.to_lowercase() == value.to_lowercase()
        })
    }
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
