//! What the config does not declare, named (README, What the plan names): the unmanaged users and
//! groups a plan leaves alone, the roles unmanaged users still hold, and declared objects that look
//! like renames of undeclared ones.
//!
//! A rename is recognised by the diff only through a declared externalId (README, Plans). Without
//! one, a new userName or displayName is a new object: the plan creates it, and the old one stays
//! as it is (`prune: false`) or is deprovisioned (`prune: true`). Neither is what whoever renamed
//! it meant, and the old account may keep its roles, so the plan says so, naming both. Likeness is
//! what survives a rename: for users, an email, the given and family name, or the displayName; for
//! groups, most of their members.
//!
//! Everything here reads the live state already in memory and builds its indexes only over
//! the objects the plan creates, which are few unless the server is empty (and then nothing is
//! undeclared): a plan of 100,000 users pays one pass over the undeclared objects.

use std::collections::BTreeSet;

use hashbrown::HashMap;
use scim::ResourceKind;

use crate::config::model::key_text;
use crate::config::{Group, RoleDefinition, User};
use crate::plan::{RenameOutcome, Warning};
use crate::state::{LiveGroup, LiveUser, role_values};

/// The keys of `objects`, sorted case-insensitively (then as written, for a stable order).
pub(super) fn sorted_names<'a>(objects: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<&str> = objects.collect();
    names.sort_by_cached_key(|name| (key_text(name), *name));
    names.into_iter().map(str::to_owned).collect()
}

/// A warning for each of `users` (unmanaged, left alone) that holds roles where the provider
/// keeps them.
pub(super) fn role_holders<'a>(
    users: impl Iterator<Item = &'a LiveUser>,
    roles: &RoleDefinition,
) -> Vec<Warning> {
    let mut warnings: Vec<Warning> = users
        .filter_map(|user| {
            let held = role_values(user.attributes.extension(&roles.schema, &roles.attribute));
            let held: BTreeSet<&str> = held.collect();
            (!held.is_empty()).then(|| Warning::UnmanagedRoles {
                user: user.user_name.clone(),
                roles: held.into_iter().map(str::to_owned).collect(),
                active: user.attributes.active,
            })
        })
        .collect();
    warnings.sort_by_cached_key(|warning| match warning {
        Warning::UnmanagedRoles { user, .. } => key_text(user).into_owned(),
        Warning::LikelyRename { key, .. } => key_text(key).into_owned(),
    });
    warnings
}

/// What a declared user and a server user may have in common after a rename, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Likeness {
    Email,
    Name,
    DisplayName,
}

impl Likeness {
    /// The index key of a value: the kind, then the value in lower case.
    fn key(self, buffer: &mut String, parts: &[&str]) {
        buffer.clear();
        buffer.push(match self {
            Likeness::Email => 'e',
            Likeness::Name => 'n',
            Likeness::DisplayName => 'd',
        });
        for part in parts {
            buffer.push('\0');
            buffer.push_str(&key_text(part.trim()));
        }
    }

    fn describe(self, parts: &[&str]) -> String {
        match self {
            Likeness::Email => format!("same email {}", parts.join(" ")),
            Likeness::Name => format!("same name {}", parts.join(" ")),
            Likeness::DisplayName => format!("same displayName {}", parts.join(" ")),
        }
    }
}

/// Calls `f` with each likeness `user` declares and its parts.
fn declared_likeness(user: &User, mut f: impl FnMut(Likeness, &[&str])) {
    for email in user.emails.as_set().into_iter().flatten() {
        f(Likeness::Email, &[&email.value]);
    }
    if let Some(name) = user.name.as_set()
        && let (Some(given), Some(family)) = (name.given_name.as_set(), name.family_name.as_set())
    {
        f(Likeness::Name, &[given, family]);
    }
    if let Some(display_name) = user.display_name.as_set() {
        f(Likeness::DisplayName, &[display_name]);
    }
}

/// Calls `f` with each likeness a server user holds and its parts.
fn live_likeness(user: &LiveUser, mut f: impl FnMut(Likeness, &[&str])) {
    let attributes = &user.attributes;
    for email in &attributes.emails {
        if let Some(value) = &email.value {
            f(Likeness::Email, &[value]);
        }
    }
    if let (Some(given), Some(family)) = (&attributes.name.given_name, &attributes.name.family_name)
    {
        f(Likeness::Name, &[given, family]);
    }
    if let Some(display_name) = &attributes.display_name {
        f(Likeness::DisplayName, &[display_name]);
    }
}

/// For each of `created` (declared users the plan creates, declaring no externalId), the
/// undeclared server user it looks most like, if any: a warning naming both.
pub(super) fn user_renames<'a>(
    created: &[&User],
    undeclared: impl Iterator<Item = &'a LiveUser>,
    then: RenameOutcome,
) -> Vec<Warning> {
    if created.is_empty() {
        return Vec::new();
    }
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    let mut buffer = String::new();
    for (i, user) in created.iter().enumerate() {
        declared_likeness(user, |likeness, parts| {
            if parts.iter().all(|part| !part.trim().is_empty()) {
                likeness.key(&mut buffer, parts);
                let entry = index.entry(buffer.clone()).or_default();
                if entry.last() != Some(&i) {
                    entry.push(i);
                }
            }
        });
    }
    // For each created user: the strongest likeness found, and the server user, the one with
    // the smallest userName among equals so that the result does not depend on server order.
    let mut best: Vec<Option<(Likeness, &LiveUser, String)>> = vec![None; created.len()];
    for live in undeclared {
        live_likeness(live, |likeness, parts| {
            likeness.key(&mut buffer, parts);
            let Some(found) = index.get(buffer.as_str()) else {
                return;
            };
            for &i in found {
                let better = match &best[i] {
                    None => true,
                    Some((held, other, _)) => {
                        (likeness, key_text(&live.user_name)) < (*held, key_text(&other.user_name))
                    }
                };
                if better {
                    best[i] = Some((likeness, live, likeness.describe(parts)));
                }
            }
        });
    }
    created
        .iter()
        .zip(best)
        .filter_map(|(user, best)| {
            let (_, live, because) = best?;
            Some(Warning::LikelyRename {
                resource: ResourceKind::User,
                key: user.user_name.clone(),
                of: live.user_name.clone(),
                because,
                then,
                external_id: live.external_id.clone().filter(|id| !id.is_empty()),
            })
        })
        .collect()
}

/// A declared group the plan creates, declaring no externalId, with the ids of its members
/// that the server holds already.
pub(super) struct CreatedGroup<'a> {
    pub group: &'a Group,
    pub members: Vec<String>,
}

/// For each of `created`, the undeclared server group (with its members shown) that shares
/// more than half of the larger member list with it, the one sharing most if several do: a
/// warning naming both.
pub(super) fn group_renames<'a>(
    created: &[CreatedGroup<'_>],
    undeclared: impl Iterator<Item = &'a LiveGroup>,
    then: RenameOutcome,
) -> Vec<Warning> {
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, group) in created.iter().enumerate() {
        for member in &group.members {
            index.entry(member.as_str()).or_default().push(i);
        }
    }
    if index.is_empty() {
        return Vec::new();
    }
    // Members each created group shares with the server group at hand; reset after each.
    let mut shared = vec![0usize; created.len()];
    let mut touched = Vec::new();
    let mut best: Vec<Option<(usize, &LiveGroup)>> = vec![None; created.len()];
    for live in undeclared.filter(|group| group.members_listed) {
        for member in &live.members {
            for &i in index.get(member.as_str()).into_iter().flatten() {
                if shared[i] == 0 {
                    touched.push(i);
                }
                shared[i] += 1;
            }
        }
        for &i in &touched {
            let count = shared[i];
            shared[i] = 0;
            let larger = created[i].members.len().max(live.members.len());
            if count * 2 <= larger {
                continue;
            }
            let better = match best[i] {
                None => true,
                Some((held, other)) => {
                    (std::cmp::Reverse(count), key_text(&live.display_name))
                        < (std::cmp::Reverse(held), key_text(&other.display_name))
                }
            };
            if better {
                best[i] = Some((count, live));
            }
        }
        touched.clear();
    }
    created
        .iter()
        .zip(best)
        .filter_map(|(created, best)| {
            let (count, live) = best?;
            let because = if count == created.members.len() && count == live.members.len() {
                if count == 1 {
                    "the same member".to_owned()
                } else {
                    format!("the same {count} members")
                }
            } else {
                format!(
                    "{count} of {} members in common",
                    created.members.len().max(live.members.len())
                )
            };
            Some(Warning::LikelyRename {
                resource: ResourceKind::Group,
                key: created.group.display_name.clone(),
                of: live.display_name.clone(),
                because,
                then,
                external_id: live.external_id.clone().filter(|id| !id.is_empty()),
            })
        })
        .collect()
}
