//! Group members a server does not show (README, Plans).
//!
//! Servers leave `members` out of group lists, where it is by far the largest attribute, and
//! some leave it out of `GET /Groups/{id}` too: AWS IAM Identity Center documents that its
//! `GetGroup` and `ListGroups` "return an empty member list", and that a group's members are
//! found with a member filter on `/Groups`. An omitted or empty multi-valued attribute means "none"
//! (RFC 7643 §2.5), so a group that shows no members may be empty or may hide them. Taking it
//! for empty proposes the same additions on every plan, never a removal, and imports every
//! group empty.
//!
//! So the members of the groups that matter (declared with members, or every group for an
//! import) are proven before the diff reads them, the cheapest way first:
//!
//! 1. A group listing in which some group shows a member shows members: a group that shows
//!    none has none.
//! 2. Otherwise the groups that matter are read by id, a few at a time. If one of the first
//!    few shows a member, `GET /Groups/{id}` shows members, and the rest are read that way.
//! 3. Otherwise no read shows a member, and membership is read per user: after a probe with an
//!    id no user has proves that the server applies the filter, one
//!    `GET /Groups?filter=members.value eq "<user id>"` listing per user of the server (or
//!    `members eq`, the form older AWS documentation gives). That needs every user, so the
//!    user listing is read whole and must pass its checks. The plan states the cost.
//!    Where the provider's profile documents hidden members (AWS IAM Identity Center), steps
//!    2 and the probe are skipped and the profile's filter is used as documented: the
//!    documentation, not a probe, is what says the server applies it.
//! 4. When no way works, the members stay unknown (`members_listed` false), and the plan and
//!    import refuse to rely on them, naming the server's behaviour.
//!
//! Members that are not users (nested groups) cannot be found per user; servers that hide
//! members do not nest groups (AWS IAM Identity Center does not).

use std::collections::{BTreeSet, HashMap, HashSet};

use scim::ResourceKind;
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{CONCURRENT_LOOKUPS, Key, LiveGroup, LiveState, LiveUser, ReadError, Wanted};
use crate::client::{Capabilities, ClientError, Keep, ScimClient};

/// The filters that find a user's groups, in the order they are tried: RFC 7644 §3.4.2.2's
/// sub-attribute form, then the bare form AWS IAM Identity Center documents.
pub const MEMBER_FILTERS: [&str; 2] = ["members.value", "members"];

/// A member id no user has, to prove that a server applies a member filter.
const PROBE_ID: &str = "scimform-probe-no-such-member";

/// How the members of groups that show none were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiddenMembers {
    /// With one `GET /Groups?filter=<attribute> eq "<user id>"` listing per user.
    Filtered {
        /// `members.value` or `members`.
        attribute: &'static str,
        /// The users asked about.
        users: usize,
        /// The requests it took, the probe included.
        requests: usize,
        /// The memberships found: pairs of a group and a user in it.
        memberships: usize,
    },
    /// They could not be read: why, in the server's terms.
    Unreadable(String),
}

impl HiddenMembers {
    /// What the server does, in a sentence.
    pub const BEHAVIOUR: &'static str = concat!(
        shows_no_group_members!(),
        " (as AWS IAM Identity Center does)"
    );

    /// Why members could not be read, when they could not.
    #[must_use]
    pub fn unreadable(&self) -> Option<&str> {
        match self {
            HiddenMembers::Filtered { .. } => None,
            HiddenMembers::Unreadable(reason) => Some(reason),
        }
    }
}

/// Proves the members of the groups in `live` that `wanted` needs, reading them another way
/// when the server does not show them. Returns how, when it had to.
///
/// `hidden` is the member filter of a service documented to hide members (its profile): the
/// groups are then not read by id, nor the filter probed, since the documentation says what
/// both would find.
pub(super) async fn read(
    client: &ScimClient,
    capabilities: &Capabilities,
    wanted: &Wanted<'_>,
    hidden: Option<&'static str>,
    live: &mut LiveState,
) -> Result<Option<HiddenMembers>, ReadError> {
    let groups = &mut live.groups;
    // 1. The listing shows members.
    if groups.iter().any(|g| !g.members.is_empty()) {
        for group in groups.iter_mut() {
            group.members_listed = true;
        }
        return Ok(None);
    }
    let matter: Vec<usize> = if wanted.all_members {
        (0..groups.len()).collect()
    } else {
        matching(groups, &wanted.member_groups)
    };
    if matter.is_empty() {
        return Ok(None);
    }
    // 2. The groups that matter, read by id.
    let keep = Keep::for_server(capabilities);
    if hidden.is_none() && read_by_id(client, &mut live.groups, &matter, keep).await? {
        return Ok(None);
    }
    // 3. One filtered listing per user.
    let page = capabilities.max_results;
    if let Some(reason) = all_users(client, page, keep, live).await? {
        return Ok(Some(HiddenMembers::Unreadable(reason)));
    }
    let (attribute, probes) = match hidden {
        Some(attribute) => (attribute, 0),
        None => match member_filter(client, page).await? {
            Ok(attribute) => {
                let probes = 1 + MEMBER_FILTERS
                    .iter()
                    .position(|a| *a == attribute)
                    .unwrap_or(0);
                (attribute, probes)
            }
            Err(reason) => return Ok(Some(HiddenMembers::Unreadable(reason))),
        },
    };
    Ok(Some(
        read_per_user(client, page, attribute, live, probes).await?,
    ))
}

/// Reads the groups at `matter` by id, a few at a time, and says whether that shows members:
/// if none of the first few shows one, the rest are not read. When it does, a group that still
/// shows none has none.
async fn read_by_id(
    client: &ScimClient,
    groups: &mut [LiveGroup],
    matter: &[usize],
    keep: Keep,
) -> Result<bool, ReadError> {
    let mut shown = false;
    for (batch, at) in matter.chunks(CONCURRENT_LOOKUPS).enumerate() {
        if batch > 0 && !shown {
            break;
        }
        let mut tasks = JoinSet::new();
        for &i in at {
            let client = client.clone();
            let id = groups[i].id.clone();
            let span = crate::client::object_span(ResourceKind::Group, &groups[i].display_name);
            tasks.spawn(
                async move { (i, client.get(ResourceKind::Group, &id).await) }.instrument(span),
            );
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, response) = joined.expect("a group read does not panic");
            if let Some(full) = response?
                .and_then(|r| r.body)
                .as_ref()
                .and_then(|body| LiveGroup::from_value(body, keep))
            {
                shown |= !full.members.is_empty();
                groups[i] = full;
            }
        }
    }
    if shown {
        for &i in matter {
            groups[i].members_listed = true;
        }
    }
    Ok(shown)
}

/// Reads every group's members with one `filter=<attribute> eq "<user id>"` listing of
/// `/Groups` per user of `live`, which holds them all. `probes` is the requests the filter was
/// found with.
async fn read_per_user(
    client: &ScimClient,
    page: Option<usize>,
    attribute: &'static str,
    live: &mut LiveState,
    probes: usize,
) -> Result<HiddenMembers, ReadError> {
    let mut requests = probes;
    let mut members: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut pending = live
        .users
        .iter()
        .map(|u| (u.id.clone(), u.user_name.clone()));
    loop {
        while tasks.len() < CONCURRENT_LOOKUPS {
            let Some((id, name)) = pending.next() else {
                break;
            };
            let client = client.clone();
            let span = crate::client::object_span(ResourceKind::User, &name);
            tasks.spawn(
                async move {
                    let groups = groups_of(&client, page, attribute, &id).await;
                    (id, name, groups)
                }
                .instrument(span),
            );
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (user, name, groups) = joined.expect("a member lookup does not panic");
        let (found, sent) = match groups? {
            Ok(found) => found,
            Err(reason) => {
                return Ok(HiddenMembers::Unreadable(format!(
                    "the groups of user `{name}` could not be listed: {reason}"
                )));
            }
        };
        requests += sent;
        for group in found {
            members.entry(group).or_default().insert(user.clone());
        }
    }
    let memberships = members.values().map(BTreeSet::len).sum();
    for group in &mut live.groups {
        group.members = members.remove(&group.id).unwrap_or_default();
        group.members_listed = true;
    }
    Ok(HiddenMembers::Filtered {
        attribute,
        users: live.users.len(),
        requests,
        memberships,
    })
}

/// The indices of the groups that `keys` name, by displayName or externalId.
fn matching(groups: &[LiveGroup], keys: &[Key<'_>]) -> Vec<usize> {
    let names: HashSet<String> = keys.iter().map(|k| k.name.to_lowercase()).collect();
    let external_ids: HashSet<&str> = keys.iter().filter_map(|k| k.external_id).collect();
    (0..groups.len())
        .filter(|&i| {
            names.contains(&groups[i].display_name.to_lowercase())
                || groups[i]
                    .external_id
                    .as_deref()
                    .is_some_and(|e| external_ids.contains(e))
        })
        .collect()
}

/// Makes `live.users` every user of the server, proven by a listing that passed its checks;
/// `Some(reason)` when that cannot be.
async fn all_users(
    client: &ScimClient,
    page: Option<usize>,
    keep: Keep,
    live: &mut LiveState,
) -> Result<Option<String>, ReadError> {
    let untrusted =
        |check| format!("the user listing {check}, so not every user's groups can be asked for");
    if live.users_complete {
        return Ok(None);
    }
    if let Some(check) = &live.users_untrusted {
        return Ok(Some(untrusted(check)));
    }
    // A targeted read found the declared users only: list them all.
    let listing = client
        .list_all::<LiveUser>(ResourceKind::User, page, &["groups"], keep)
        .await?;
    if let Some(check) = &listing.untrusted {
        return Ok(Some(untrusted(check)));
    }
    live.total_users = listing.total_results;
    live.users = listing.resources;
    live.users_complete = true;
    Ok(None)
}

/// The member filter the server applies: the first of [`MEMBER_FILTERS`] that it answers, and
/// answers with no group for a member id no user has. `Err` says why none will do.
pub async fn member_filter(
    client: &ScimClient,
    page: Option<usize>,
) -> Result<Result<&'static str, String>, ClientError> {
    let mut refused = Vec::new();
    for attribute in MEMBER_FILTERS {
        let filter = filter(attribute, PROBE_ID);
        match client
            .list_matching::<Value>(ResourceKind::Group, page, &filter, Keep::Managed)
            .await
        {
            Ok(listing) if listing.resources.is_empty() => return Ok(Ok(attribute)),
            Ok(_) => {
                return Ok(Err(format!(
                    "GET /Groups?filter={filter} answered groups for a member that does not \
                     exist: the server does not apply the filter"
                )));
            }
            // AWS IAM Identity Center answers 404 for a member that does not exist.
            Err(ClientError::Status { status: 404, .. }) => return Ok(Ok(attribute)),
            Err(ClientError::Status { status, .. })
                if (400..500).contains(&status) || status == 501 =>
            {
                refused.push(format!("`{attribute} eq` ({status})"));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Err(format!(
        "{}, and answers no member filter: {}",
        HiddenMembers::BEHAVIOUR,
        refused.join(", ")
    )))
}

/// `attribute eq "value"`, the value written as a JSON string.
/// Whether a member filter on `attribute` finds a group for one of `users` (ids), asked one
/// at a time until one does: the proof that groups hold members they do not show.
pub async fn a_member_is_found(
    client: &ScimClient,
    page: Option<usize>,
    attribute: &str,
    users: &[&str],
) -> Result<bool, ClientError> {
    for user in users {
        match client
            .list_matching::<Value>(
                ResourceKind::Group,
                page,
                &filter(attribute, user),
                Keep::Managed,
            )
            .await
        {
            Ok(listing) if !listing.resources.is_empty() => return Ok(true),
            Ok(_) | Err(ClientError::Status { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

fn filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq {}", Value::String(value.to_owned()))
}

/// The ids of the groups `user` is in, and the requests that took; `Err` with the check the
/// listing failed.
async fn groups_of(
    client: &ScimClient,
    page: Option<usize>,
    attribute: &str,
    user: &str,
) -> Result<Result<(Vec<String>, usize), String>, ReadError> {
    let listing = match client
        .list_matching::<Value>(
            ResourceKind::Group,
            page,
            &filter(attribute, user),
            Keep::Managed,
        )
        .await
    {
        Ok(listing) => listing,
        Err(ClientError::Status { status: 404, .. }) => return Ok(Ok((Vec::new(), 1))),
        Err(e) => return Err(e.into()),
    };
    if let Some(check) = &listing.untrusted {
        return Ok(Err(check.to_string()));
    }
    let ids = listing
        .resources
        .iter()
        .filter_map(|g| scim::attribute::get_ci(g, "id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Ok(Ok((ids, listing.pages)))
}
