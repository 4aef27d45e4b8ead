//! What a server holds: its users and groups, read as cheaply as correctness allows
//! (SPEC §3.1).
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

mod members;
mod resource;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use crate::client::scan;
use crate::client::{
    Capabilities, ClientError, FirstPage, IfObject, Listed, MemberName, Members, ObjectReader,
    Pick, ResourceKind, ScimClient, Untrusted, string_of,
};

pub use members::{HiddenMembers, MEMBER_FILTERS, member_filter};
pub use resource::Resource;
pub(crate) use resource::{MAX_MEMBERS, ResourceWriter};

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
    /// Whether `members` is known: the group was read with its `members` attribute, or its
    /// members were read another way ([`members`]). When it is not, `members` is empty but the
    /// group may have members, and nothing may be inferred from it.
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

/// Reads the users and groups the plan needs from a server.
pub async fn read(
    client: &ScimClient,
    capabilities: &Capabilities,
    wanted: &Wanted<'_>,
) -> Result<LiveState, ReadError> {
    let page = capabilities.max_results;
    // A user's `groups` is computed from the groups, which are read too; leaving it out of the
    // user listing saves about a fifth of its bytes.
    let (users_first, groups_first) = tokio::try_join!(
        client.list_first::<LiveUser>(ResourceKind::User, page, &["groups"]),
        client.list_first::<LiveGroup>(ResourceKind::Group, page, &[]),
    )?;
    let total_users = users_first.total_results;
    let total_groups = groups_first.total_results;
    let everything = wanted.everything || !capabilities.filter;
    let ((users, users_read), (groups, groups_read)) = tokio::try_join!(
        read_rest(client, users_first, &wanted.users, everything),
        read_rest(client, groups_first, &wanted.groups, everything),
    )?;
    let mut live = LiveState {
        users,
        groups,
        total_users,
        total_groups,
        users_complete: users_read.complete,
        groups_complete: groups_read.complete,
        users_untrusted: users_read.untrusted,
        groups_untrusted: groups_read.untrusted,
        hidden_members: None,
    };
    live.hidden_members = members::read(client, capabilities, wanted, &mut live).await?;
    Ok(live)
}

/// How much of a resource type a read holds.
struct Coverage {
    /// Every resource, proven by a listing that passed its checks.
    complete: bool,
    /// The check the listing failed, if it was read and failed one.
    untrusted: Option<Untrusted>,
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
    let kind = first.kind;
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
        resources.extend(look_up(client, kind, &missing).await?);
        let coverage = Coverage {
            complete: false,
            untrusted: None,
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
        };
        return Ok((listing.resources, coverage));
    };
    // What the listing shows exists; what it leaves out may exist too.
    let missing = missing_keys(&listing.resources, wanted, usize::MAX);
    let mut resources = listing.resources;
    resources.extend(look_up(client, kind, &missing).await?);
    let coverage = Coverage {
        complete: false,
        untrusted: Some(untrusted),
    };
    Ok((first_of_each_id(resources), coverage))
}

/// Looks up `missing` keys by filter: each by its name, then those not found by their
/// externalId (a rename).
async fn look_up<T: Live>(
    client: &ScimClient,
    kind: ResourceKind,
    missing: &[&Key<'_>],
) -> Result<Vec<T>, ReadError> {
    let names: Vec<&str> = missing.iter().map(|k| k.name).collect();
    let mut found: Vec<T> = lookup_all(client, kind, T::KEY_ATTRIBUTE, &names).await?;
    let found_names: HashSet<String> = found.iter().map(|r| r.key().to_lowercase()).collect();
    let renamed: Vec<&str> = missing
        .iter()
        .filter(|k| !found_names.contains(&k.name.to_lowercase()))
        .filter_map(|k| k.external_id)
        .collect();
    found.extend(lookup_all(client, kind, "externalId", &renamed).await?);
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
            tasks.spawn(async move {
                let found = client.find_by::<T>(kind, attribute, &value).await;
                (value, found)
            });
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
            resource: Resource::from_text(members.to_json_without(&["meta", "groups"]))?,
        })
    }

    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        scratch: &mut String,
    ) -> Result<Option<Self>, D::Error> {
        let read = IfObject(ResourceReader {
            text: scratch,
            left_out: Some("groups"),
            members: false,
        })
        .deserialize(deserializer)?;
        let Some(read) = read else {
            return Ok(None);
        };
        let (Some(id), Some(user_name)) = (read.id, read.name) else {
            return Ok(None);
        };
        Ok(Some(LiveUser {
            id,
            user_name,
            external_id: read.external_id,
            version: read.version,
            resource: read.resource.ok_or_else(unreadable)?,
        }))
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
            resource: Resource::from_text(members.to_json_without(&["meta"]))?,
        })
    }

    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        scratch: &mut String,
    ) -> Result<Option<Self>, D::Error> {
        let read = IfObject(ResourceReader {
            text: scratch,
            left_out: None,
            members: true,
        })
        .deserialize(deserializer)?;
        let Some(read) = read else {
            return Ok(None);
        };
        let (Some(id), Some(display_name)) = (read.id, read.name) else {
            return Ok(None);
        };
        let listed = read.members.filter(|raw| raw.get() != "null");
        let members = match listed {
            Some(raw) => member_ids(raw),
            None => BTreeSet::new(),
        };
        Ok(Some(LiveGroup {
            id,
            display_name,
            external_id: read.external_id,
            version: read.version,
            members,
            members_listed: listed.is_some(),
            resource: read.resource.ok_or_else(unreadable)?,
        }))
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

/// The error that sends a page to be read member by member, where an unreadable resource
/// refuses the whole page.
fn unreadable<E: serde::de::Error>() -> E {
    E::custom("a number no JSON tree can hold")
}

/// What [`ResourceReader`] takes from a user or group.
struct ReadResource<'de> {
    id: Option<String>,
    /// userName or displayName.
    name: Option<String>,
    external_id: Option<String>,
    version: Option<String>,
    /// A group's `members` as its JSON text.
    members: Option<&'de RawValue>,
    /// The resource's compact text, as [`Members::to_json_without`] writes it; `None` when it
    /// holds a number no JSON tree can hold.
    resource: Option<Resource>,
}

/// Reads a listed user or group in one pass, as [`LiveUser::from_json`] and
/// [`LiveGroup::from_json`] read it from its members: the text leaves out `meta` and the member
/// `left_out` names, if any.
struct ResourceReader<'s> {
    text: &'s mut String,
    /// `groups` for a user (computed, read-only).
    left_out: Option<&'static str>,
    /// Whether to keep `members` (a group's).
    members: bool,
}

impl<'de> ObjectReader<'de> for ResourceReader<'_> {
    type Value = ReadResource<'de>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut text = ResourceWriter::new(self.text);
        let mut id = Pick::default();
        let mut user_name = Pick::default();
        let mut display_name = Pick::default();
        let mut external_id = Pick::default();
        let mut members = Pick::default();
        let mut version = Pick::default();
        while let Some(MemberName(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case("meta") {
                let meta = map.next_value_seed(IfObject(StringMember("version")))?;
                version.offer(&key, "meta", || meta.flatten());
                continue;
            }
            if self
                .left_out
                .is_some_and(|name| key.eq_ignore_ascii_case(name))
            {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value: &'de RawValue = map.next_value()?;
            let _ = id.offer(&key, "id", || value)
                || user_name.offer(&key, "userName", || value)
                || display_name.offer(&key, "displayName", || value)
                || external_id.offer(&key, "externalId", || value)
                || (self.members && members.offer(&key, "members", || value));
            text.member_as_read(key, value.get());
        }
        let name = if self.members {
            display_name
        } else {
            user_name
        };
        Ok(ReadResource {
            id: id.into_inner().and_then(string_of),
            name: name.into_inner().and_then(string_of),
            external_id: external_id.into_inner().and_then(string_of),
            version: version.into_inner().flatten(),
            members: members.into_inner(),
            resource: text.finish(),
        })
    }
}

/// Reads the string member `0` of an object, its name matched as [`Members::get`] matches it:
/// `meta.version` (see [`version_of`]), or a group member's `value`.
struct StringMember(&'static str);

impl<'de> ObjectReader<'de> for StringMember {
    type Value = Option<String>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = Pick::default();
        while let Some(MemberName(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case(self.0) {
                let value: &'de RawValue = map.next_value()?;
                found.offer(&key, self.0, || value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.into_inner().and_then(string_of))
    }
}

/// The `value` of each item of a group's `members`, as [`LiveGroup::from_json`] reads them.
/// The text was read by the page's parser already, so it is scanned, not parsed again; a
/// number no JSON tree can hold in it refuses the group's resource text instead.
fn member_ids(members: &RawValue) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    // `members` that is not a list holds no member, nor does an item that is not an object.
    for item in scan::Items::of(Some(members.get())) {
        let mut value = scan::Pick::new("value");
        scan::offer_members(item, &mut value);
        ids.extend(value.found().and_then(scan::string).map(Cow::into_owned));
    }
    ids
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

    /// Reads a page holding `items` both ways, checks that the one-pass reading did not fail
    /// unless `fails_one_pass` and that both agree, and returns what was read.
    fn read_both_ways<T: Listed + std::fmt::Debug>(items: &str, fails_one_pass: bool) -> Vec<T> {
        let text = format!(r#"{{"totalResults": 9, "Resources": [{items}]}}"#);
        let (one_pass, members) = crate::client::parse_both_ways::<T>(&text);
        assert_eq!(one_pass.is_err(), fails_one_pass, "{text}: {one_pass:?}");
        let members = members.unwrap().resources;
        if let Ok(one_pass) = one_pass {
            assert_eq!(
                format!("{:?}", one_pass.unwrap().resources),
                format!("{members:?}"),
                "{text}"
            );
        }
        let parsed = crate::client::ListPage::<T>::parse(text.as_bytes()).unwrap();
        assert_eq!(format!("{:?}", parsed.resources), format!("{members:?}"));
        members
    }

    #[test]
    fn a_listed_user_is_read_in_one_pass_as_from_its_members() {
        let users = read_both_ways::<LiveUser>(
            r#"{"id": "1", "userName": "ada", "externalId": "e1", "name": {"givenName": "Zoë"},
                "meta": {"version": "W/\"1\"", "location": "x"}, "groups": [{"value": "g"}]},
               {"ID": "upper", "id": "2", "Id": "mixed", "USERNAME": "bob", "Groups": null,
                "Meta": {"Version": "W/\"2\"", "version": "W/\"3\"", "VERSION": "W/\"4\""},
                "meta": "not an object", "n\u0061me": "esc\"aped", "big": 1.5e300, "x": [-0]},
               {"id": "3", "userName": "cy", "meta": {"version": 7}, "externalId": null},
               {"id": "4", "userName": "di", "meta": {"version": "W/\"5\""}, "META": [1]},
               {"id": "5", "userName": "ed", "meta": {"version": "\ud800"}},
               {"userName": "no id"}, {"id": 6, "userName": "numeric id"}, {"id": "7"},
               7, "x", null, [{"id": "8", "userName": "in an array"}], {}"#,
            false,
        );
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5"]);
        // The exact `meta` wins, and is not an object.
        assert_eq!(users[1].version, None);
        assert_eq!(users[2].version, None);
        assert_eq!(users[3].version.as_deref(), Some("W/\"5\""));
        assert_eq!(
            users[1].resource.as_str(),
            r#"{"ID":"upper","id":"2","Id":"mixed","USERNAME":"bob","name":"esc\"aped","big":1.5e300,"x":[-0]}"#
        );
        // A number no JSON tree can hold, in what is not kept of a resource: no harm done.
        let users = read_both_ways::<LiveUser>(
            r#"{"id": "1", "userName": "ada", "meta": {"version": 1e400}}"#,
            false,
        );
        assert_eq!(users.len(), 1);
        // Such a number in what is kept of a resource, or as an item, refuses the page: the
        // resource could be neither diffed nor written back.
        for items in [
            r#"{"id": "1", "userName": "ada", "title": 1e400}"#,
            r#"{"id": "1", "userName": "ada", "x": [{"y": -2E+999}]}"#,
            r#"{"id": "1", "userName": "ada"}, 1e400"#,
        ] {
            let text = format!(r#"{{"totalResults": 9, "Resources": [{items}]}}"#);
            assert!(
                crate::client::ListPage::<LiveUser>::parse(text.as_bytes()).is_none(),
                "{items}"
            );
        }
    }

    #[test]
    fn a_listed_group_is_read_in_one_pass_as_from_its_members() {
        let groups = read_both_ways::<LiveGroup>(
            r#"{"id": "g1", "displayName": "Owners", "members": [{"value": "1"},
                {"Value": "2", "value": "3"}, {"VALUE": "4"}, {"value": 5}, 6, "7", null,
                [{"value": "8"}], {"display": "no value"}], "meta": {"version": "W/\"1\""}},
               {"id": "g2", "DisplayName": "Empty", "members": null, "groups": []},
               {"id": "g3", "displayName": "Odd", "Members": {"value": "9"}},
               {"id": "g4", "displayName": "Twice", "members": [{"value": "a"}],
                "Members": [{"value": "b"}]},
               {"id": "g5", "displayName": "None"},
               {"id": "g6", "displayName": "Scalar", "members": 3},
               {"displayName": "no id", "members": []}"#,
            false,
        );
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g1", "g2", "g3", "g4", "g5", "g6"]);
        assert_eq!(
            groups[0].members,
            BTreeSet::from(["1", "3", "4"].map(str::to_owned))
        );
        assert!(!groups[1].members_listed);
        assert!(groups[2].members_listed && groups[2].members.is_empty());
        assert_eq!(groups[3].members, BTreeSet::from(["a".to_owned()]));
        assert!(groups[5].members_listed);
        assert_eq!(
            groups[1].resource.as_str(),
            r#"{"id":"g2","DisplayName":"Empty","members":null,"groups":[]}"#
        );
        let groups = read_both_ways::<LiveGroup>(
            r#"{"id": "g", "displayName": "G", "members": [], "meta": 1e400}"#,
            true,
        );
        assert_eq!(groups[0].version, None);
        // Such a number among the members refuses the page, as anywhere in a user.
        let text = r#"{"totalResults": 1, "Resources": [{"id": "g", "displayName": "G",
            "members": [{"value": "1", "n": 1e400}]}]}"#;
        assert!(crate::client::ListPage::<LiveGroup>::parse(text.as_bytes()).is_none());
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
