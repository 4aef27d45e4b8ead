//! The diff: a declared config against a server's live state, into the ordered ops of a plan
//! (README, Plans). Pure: no I/O, so every rule here is unit-testable and a plan can be
//! computed twice with the same result.

pub(crate) mod group;
pub(crate) mod patch;
mod undeclared;
mod user;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

// A faster hash than std's for the maps keyed by every user's name and id, still seeded per
// process.
use hashbrown::HashMap;
use scim::ResourceKind;
use serde_json::Value;

use crate::client::{Capabilities, ListingCheck, Untrusted};
use crate::config::model::key_text;
use crate::config::{Config, Deprovision, Group, Managed, Provider, RoleDefinition, User};
use crate::plan::{
    Action, Change, Method, Observed, Op, Phase, Reason, RenameOutcome, Request, Unmanaged, Warning,
};
use crate::state::{HiddenMembers, LiveGroup, LiveState, LiveUser};
use group::Member;
use patch::Operation;

pub use patch::split_urn;

/// The most members one PATCH request adds or removes: large membership changes are split
/// into several requests so no server's payload limit is met
/// (docs/apply.md, Order and concurrency).
pub const MEMBERS_PER_REQUEST: usize = 1000;

/// Mass-deletion guard applies from this many existing users on (README, Plans).
const MASS_DELETE_MIN_USERS: usize = 10;

/// How many of the users a mass deprovisioning would reach its refusal names; the plan
/// printed with it names them all.
const MASS_DELETE_NAMED: usize = 10;

/// What the caller allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--allow-mass-delete`.
    pub allow_mass_delete: bool,
}

/// A plan that must not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "provider `{provider}`: the plan would deprovision {count} of its {existing} users \
         ({percent}%), more than max_changes.delete_percent ({limit}%) allows: {}; check the \
         config, or pass --allow-mass-delete if this is intended",
        named(users, *count)
    )]
    MassDelete {
        provider: String,
        count: usize,
        existing: usize,
        percent: usize,
        limit: u8,
        /// The userNames of the first users it would deprovision, in plan order.
        users: Vec<String>,
    },
    #[error(
        "provider `{provider}`: the {kind} listing {check}; refusing to prune from a listing \
         that cannot be trusted (run the plan again; if it persists, the server's pagination \
         is unreliable: set prune: false)"
    )]
    UntrustedListing {
        provider: String,
        kind: &'static str,
        check: Untrusted,
    },
    #[error(
        "provider `{provider}`: the members of group `{group}` are not known: {reason}; \
         refusing to plan its members, since members the server does not show are not \
         members it does not have"
    )]
    MembersUnseen {
        provider: String,
        group: String,
        reason: String,
    },
    #[error(
        "provider `{provider}`: group `{group}` would be updated with PUT (the server has no \
         PATCH), which replaces its members, but the server does not show them; refusing, \
         since a PUT without them could empty the group (declare the group's members to \
         manage them)"
    )]
    PutWithoutMembers { provider: String, group: String },
}

/// `names`, then how many of `count` they leave out: `a, b and 3 more`.
fn named(names: &[String], count: usize) -> String {
    let mut text = names.join(", ");
    if count > names.len() {
        let _ = write!(text, " and {} more", count - names.len());
    }
    text
}

/// One provider's diff.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// The ops that make the server match the config, in execution order.
    pub ops: Vec<Op>,
    /// The server objects left alone.
    pub unmanaged: Unmanaged,
    /// What a reviewer should look at: unmanaged users holding roles, likely renames.
    pub warnings: Vec<Warning>,
}

/// The ops that make `live` match what `config` declares for `provider`, in execution order,
/// and the server objects left alone; refused as [`compute`] and [`guard_mass_delete`] refuse.
pub fn diff(
    config: &Config,
    provider: &Provider,
    live: &LiveState,
    capabilities: &Capabilities,
    options: Options,
) -> Result<(Vec<Op>, Unmanaged), Refusal> {
    let diff = compute(config, provider, live, capabilities)?;
    guard_mass_delete(provider, live.total_users, &diff.ops, options)?;
    Ok((diff.ops, diff.unmanaged))
}

/// The diff of what `config` declares for `provider` against `live`, before the guard against
/// mass deprovisioning, which the caller applies ([`guard_mass_delete`]) once it has what it
/// needs to show the plan it refuses.
pub fn compute(
    config: &Config,
    provider: &Provider,
    live: &LiveState,
    capabilities: &Capabilities,
) -> Result<Diff, Refusal> {
    let mut differ = Differ {
        config,
        provider,
        live,
        capabilities,
        dialect: group::Dialect::of(provider.profile()),
        ops: Vec::new(),
        references: vec![None; config.users().len()],
        next_bulk_id: 0,
        unmanaged: Unmanaged::default(),
        warnings: Vec::new(),
        created_users: Vec::new(),
        created_groups: Vec::new(),
    };
    differ.users()?;
    differ.groups()?;
    let Differ {
        mut ops,
        unmanaged,
        mut warnings,
        ..
    } = differ;
    ops.sort_by_cached_key(|op| (op.phase, op.key.to_lowercase()));
    // Likely renames first, users then groups; then the roles unmanaged users hold.
    warnings.sort_by_key(|warning| matches!(warning, Warning::UnmanagedRoles { .. }));
    Ok(Diff {
        ops,
        unmanaged,
        warnings,
    })
}

/// The state of one provider's diff while it is computed.
struct Differ<'a> {
    config: &'a Config,
    provider: &'a Provider,
    live: &'a LiveState,
    capabilities: &'a Capabilities,
    /// How group PATCH requests are written for this server.
    dialect: group::Dialect,
    ops: Vec<Op>,
    /// Where each declared user is (or will be), by its index in the config: a server id or
    /// `bulkId:…`; `None` for users not on the provider, or absent from it.
    references: Vec<Option<Cow<'a, str>>>,
    next_bulk_id: usize,
    unmanaged: Unmanaged,
    warnings: Vec<Warning>,
    /// Users the plan creates that declare no externalId: any of them may be a rename (see
    /// [`undeclared`]).
    created_users: Vec<&'a User>,
    /// Likewise for groups, with their members the server holds.
    created_groups: Vec<undeclared::CreatedGroup<'a>>,
}

impl<'a> Differ<'a> {
    fn bulk_id(&mut self, prefix: char) -> String {
        self.next_bulk_id += 1;
        format!("{prefix}{}", self.next_bulk_id)
    }

    fn users(&mut self) -> Result<(), Refusal> {
        let (config, provider, live, capabilities) =
            (self.config, self.provider, self.live, self.capabilities);
        let name = provider.name();
        let roles = provider.role_definition();

        // Each user on the provider, with its index in the config.
        let declared: Vec<(usize, &User)> = config
            .users()
            .iter()
            .enumerate()
            .filter(|(_, user)| user.is_on(name))
            .collect();
        let external_ids: Vec<(usize, Option<&str>)> = (declared.iter())
            .map(|(i, user)| (*i, user.external_id.as_set().map(String::as_str)))
            .collect();
        let user_matches = match_objects(
            &external_ids,
            config.users().len(),
            |key| config.user_index.get(key).copied(),
            &live.users,
            |u| &u.user_name,
            |u| u.external_id.as_deref(),
        );
        let mut claimed_users = vec![false; live.users.len()];
        let role_path = roles.map(RoleDefinition::path).unwrap_or_default();
        for ((index_in_config, user), matched) in declared.into_iter().zip(&user_matches) {
            let user_roles = roles
                .zip(user.roles(name))
                .map(|(definition, values)| user::Roles {
                    definition,
                    path: &role_path,
                    values,
                });
            let Some(index) = *matched else {
                if !user.absent {
                    self.create_user(index_in_config, user, user_roles);
                }
                continue;
            };
            claimed_users[index] = true;
            let current = &live.users[index];
            if user.absent {
                self.ops.extend(deprovision(
                    provider,
                    current,
                    &user.user_name,
                    Reason::Tombstone,
                    capabilities,
                ));
                continue;
            }
            self.references[index_in_config] = Some(Cow::Borrowed(&current.id));
            self.ops
                .extend(update_user(user, current, user_roles, capabilities));
        }
        let matched_users = claimed_users.iter().filter(|c| **c).count();
        self.undeclared_users(&claimed_users, matched_users);
        if provider.prune() {
            require_complete(
                name,
                "user",
                live.users_complete,
                live.users_untrusted.as_ref(),
                live.total_users,
                live.users.len(),
            )?;
            for (current, claimed) in live.users.iter().zip(&claimed_users) {
                if !claimed {
                    self.ops.extend(deprovision(
                        provider,
                        current,
                        &current.user_name,
                        Reason::Pruned,
                        capabilities,
                    ));
                }
            }
        }

        Ok(())
    }

    /// What the plan says of the server users the config does not declare: the ones that
    /// look like `created` users renamed, and, when they are left alone, how many there are,
    /// who, and which of them hold roles.
    fn undeclared_users(&mut self, claimed: &[bool], matched: usize) {
        let (live, provider) = (self.live, self.provider);
        let undeclared = || {
            (live.users.iter().zip(claimed))
                .filter(|(_, claimed)| !**claimed)
                .map(|(user, _)| user)
        };
        let then = if provider.prune() {
            RenameOutcome::Replaced
        } else {
            RenameOutcome::LeftAlone
        };
        self.warnings.extend(undeclared::user_renames(
            &self.created_users,
            undeclared(),
            then,
        ));
        if provider.prune() {
            return;
        }
        self.unmanaged.users = live.total_users.saturating_sub(matched);
        self.unmanaged.user_names =
            undeclared::sorted_names(undeclared().map(|u| u.user_name.as_str()));
        if let Some(roles) = provider.role_definition() {
            self.warnings
                .extend(undeclared::role_holders(undeclared(), roles));
        }
    }

    fn groups(&mut self) -> Result<(), Refusal> {
        let (config, provider, live) = (self.config, self.provider, self.live);
        let name = provider.name();
        // Names to show for server member ids, made when a group's members change.
        let mut user_names: Option<HashMap<&str, &str>> = None;
        let group_matches = self.match_groups();
        let mut claimed_groups = vec![false; live.groups.len()];
        for (group, matched) in config.groups_for(name).zip(&group_matches) {
            self.require_members_known(group, *matched)?;
            // A group that holds exactly its declared members needs no member sets at all.
            let members_unchanged = match (&group.members, *matched) {
                (Managed::Set(members), Some(index)) if !group.absent => {
                    self.same_members(members, &live.groups[index].members)
                }
                _ => false,
            };
            let desired = match &group.members {
                _ if members_unchanged => None,
                Managed::Unmanaged => None,
                Managed::Remove => Some(BTreeSet::new()),
                Managed::Set(members) => Some(
                    members
                        .iter()
                        .filter_map(|&i| {
                            let reference = self.references[i].as_ref()?;
                            let user_name = config.users()[i].user_name.clone();
                            Some(Member {
                                reference: reference.clone().into_owned(),
                                user_name,
                            })
                        })
                        .collect::<BTreeSet<Member>>(),
                ),
            };
            let Some(index) = *matched else {
                if group.absent {
                    continue;
                }
                self.create_group(group, &desired.unwrap_or_default());
                continue;
            };
            claimed_groups[index] = true;
            let current = &live.groups[index];
            if group.absent {
                self.ops.push(delete_group(
                    current,
                    &group.display_name,
                    Reason::Tombstone,
                ));
                continue;
            }
            let live_members: BTreeSet<Member> = if desired.is_some() {
                let user_names = user_names.get_or_insert_with(|| {
                    live.users
                        .iter()
                        .map(|u| (u.id.as_str(), u.user_name.as_str()))
                        .collect()
                });
                current
                    .members
                    .iter()
                    .map(|id| Member {
                        reference: id.clone(),
                        user_name: user_names
                            .get(id.as_str())
                            .map_or_else(|| id.clone(), |n| (*n).to_owned()),
                    })
                    .collect()
            } else {
                BTreeSet::new()
            };
            let diff = group::diff(group, current, desired.as_ref(), &live_members);
            if !diff.is_empty() {
                // A PUT replaces the whole group: without its members when the server did not
                // show them, it could drop them all (RFC 7644 §3.5.1).
                if !self.capabilities.patch && desired.is_none() && !current.members_listed {
                    return Err(Refusal::PutWithoutMembers {
                        provider: name.to_owned(),
                        group: group.display_name.clone(),
                    });
                }
                self.update_group(group, current, &diff, desired.as_ref());
            }
        }
        let matched_groups = claimed_groups.iter().filter(|c| **c).count();
        self.undeclared_groups(&claimed_groups, matched_groups);
        if provider.prune() {
            require_complete(
                name,
                "group",
                live.groups_complete,
                live.groups_untrusted.as_ref(),
                live.total_groups,
                live.groups.len(),
            )?;
            for (current, claimed) in live.groups.iter().zip(&claimed_groups) {
                if !claimed {
                    self.ops
                        .push(delete_group(current, &current.display_name, Reason::Pruned));
                }
            }
        }

        Ok(())
    }

    /// What the plan says of the server groups the config does not declare: the ones that
    /// look like `created` groups renamed, and, when they are left alone, how many and which.
    fn undeclared_groups(&mut self, claimed: &[bool], matched: usize) {
        let (live, provider) = (self.live, self.provider);
        let undeclared = || {
            (live.groups.iter().zip(claimed))
                .filter(|(_, claimed)| !**claimed)
                .map(|(group, _)| group)
        };
        let then = if provider.prune() {
            RenameOutcome::Replaced
        } else {
            RenameOutcome::LeftAlone
        };
        self.warnings.extend(undeclared::group_renames(
            &self.created_groups,
            undeclared(),
            then,
        ));
        if !provider.prune() {
            self.unmanaged.groups = live.total_groups.saturating_sub(matched);
            self.unmanaged.group_names =
                undeclared::sorted_names(undeclared().map(|g| g.display_name.as_str()));
        }
    }

    /// A declared member list is compared with the members the server holds, never with
    /// members it did not show (see `state::members`).
    fn require_members_known(&self, group: &Group, matched: Option<usize>) -> Result<(), Refusal> {
        let live = self.live;
        let Some(index) = matched else {
            return Ok(());
        };
        if group.absent
            || matches!(group.members, Managed::Unmanaged)
            || live.groups[index].members_listed
        {
            return Ok(());
        }
        let reason = live
            .hidden_members
            .as_ref()
            .and_then(HiddenMembers::unreadable);
        Err(Refusal::MembersUnseen {
            provider: self.provider.name().to_owned(),
            group: group.display_name.clone(),
            reason: reason.unwrap_or(HiddenMembers::BEHAVIOUR).to_owned(),
        })
    }

    /// The server group each group on the provider matches, in declared order: by
    /// displayName, case-insensitively, then by externalId for a rename.
    fn match_groups(&self) -> Vec<Option<usize>> {
        let (config, name) = (self.config, self.provider.name());
        let external_ids: Vec<(usize, Option<&str>)> = (config.groups().iter().enumerate())
            .filter(|(_, group)| group.is_on(name))
            .map(|(i, group)| (i, group.external_id.as_set().map(String::as_str)))
            .collect();
        match_objects(
            &external_ids,
            config.groups().len(),
            |key| config.group_index.get(key).copied(),
            &self.live.groups,
            |g| &g.display_name,
            |g| g.external_id.as_deref(),
        )
    }

    /// Whether the declared `members`, as the provider holds or will hold them, are exactly
    /// the server's `live` member ids.
    ///
    /// The references are distinct (a group lists each user once, each server user is matched
    /// to one declared user, and bulkIds are new), so as many of them as live members, each a
    /// live member, are the same set.
    fn same_members(&self, members: &[usize], live: &BTreeSet<String>) -> bool {
        let mut count = 0;
        for reference in members
            .iter()
            .filter_map(|&i| self.references[i].as_deref())
        {
            if !live.contains(reference) {
                return false;
            }
            count += 1;
        }
        count == live.len()
    }

    /// The op that creates a declared user, which later ops refer to by its bulkId.
    fn create_user(
        &mut self,
        index_in_config: usize,
        user: &'a User,
        roles: Option<user::Roles<'_>>,
    ) {
        if user.external_id.as_set().is_none() {
            self.created_users.push(user);
        }
        let bulk_id = self.bulk_id('u');
        self.references[index_in_config] = Some(Cow::Owned(format!("bulkId:{bulk_id}")));
        let (body, changes) = user::create(user, roles);
        self.ops.push(Op {
            phase: Phase::Users,
            action: Action::Create,
            resource: ResourceKind::User,
            key: user.user_name.clone(),
            reason: None,
            bulk_id: Some(bulk_id),
            changes,
            request: Request {
                method: Method::Post,
                path: "/Users".into(),
                body: Some(body),
            },
            observed: Observed::Absent,
            depends_on: Vec::new(),
        });
    }

    /// The op that creates a declared group, with as many of its members as the server takes
    /// in `POST /Groups`; the rest are added by PATCH once the group exists
    /// ([`Phase::AddMembers`]).
    fn create_group(&mut self, group: &'a Group, members: &BTreeSet<Member>) {
        if group.external_id.as_set().is_none() {
            let members = (members.iter())
                .filter(|m| !m.reference.starts_with(crate::plan::BULK_ID_PREFIX))
                .map(|m| m.reference.clone())
                .collect();
            self.created_groups
                .push(undeclared::CreatedGroup { group, members });
        }
        // A server without PATCH takes every member on create, as there is no other way.
        let on_create = if self.capabilities.patch {
            self.dialect.members_per_create
        } else {
            usize::MAX
        };
        // The members are shown once, all of them, on the create; only those past what it
        // takes are copied, for the PATCH requests that add them.
        let (body, changes) = group::create(group, members, on_create);
        let later: Vec<Member> = members.iter().skip(on_create).cloned().collect();
        let bulk_id = self.bulk_id('g');
        self.ops.push(Op {
            phase: Phase::Groups,
            action: Action::Create,
            resource: ResourceKind::Group,
            key: group.display_name.clone(),
            reason: None,
            bulk_id: Some(bulk_id.clone()),
            changes,
            request: Request {
                method: Method::Post,
                path: "/Groups".into(),
                body: Some(body),
            },
            observed: Observed::Absent,
            depends_on: bulk_references(members.iter().take(on_create)),
        });
        let added = group::GroupDiff {
            added: later,
            ..group::GroupDiff::default()
        };
        let chunks = patch::chunk(added.operations(&self.dialect), self.dialect.per_request);
        for chunk in chunks {
            let mut depends_on = vec![bulk_id.clone()];
            depends_on.extend(bulk_references_in(&chunk));
            self.ops.push(Op {
                phase: Phase::AddMembers,
                action: Action::Update,
                resource: ResourceKind::Group,
                key: group.display_name.clone(),
                reason: None,
                bulk_id: None,
                changes: Vec::new(),
                request: Request {
                    method: Method::Patch,
                    path: format!("/Groups/{}{bulk_id}", crate::plan::BULK_ID_PREFIX),
                    body: Some(patch::patch_body(&chunk)),
                },
                observed: Observed::Absent,
                depends_on,
            });
        }
    }

    /// The requests that update one group: one PATCH, split when its membership change is
    /// large, or one PUT on servers without PATCH.
    fn update_group(
        &mut self,
        group: &Group,
        current: &LiveGroup,
        diff: &group::GroupDiff,
        desired: Option<&BTreeSet<Member>>,
    ) {
        let capabilities = self.capabilities;
        let phase = if diff.attributes.is_empty() && diff.added.is_empty() {
            Phase::RemoveMembers
        } else {
            Phase::Groups
        };
        if capabilities.patch {
            let dialect = &self.dialect;
            let chunks = patch::chunk(diff.operations(dialect), dialect.per_request);
            let count = chunks.len();
            for (i, chunk) in chunks.into_iter().enumerate() {
                // The changes are shown once, on the first request.
                let changes = if i == 0 {
                    diff.changes.clone()
                } else {
                    Vec::new()
                };
                let mut op = update(
                    Current::Group(current),
                    &group.display_name,
                    changes,
                    &chunk,
                    capabilities,
                    phase,
                );
                op.depends_on = bulk_references_in(&chunk);
                if count > 1 {
                    op.key = format!("{} ({}/{count})", group.display_name, i + 1);
                }
                self.ops.push(op);
            }
        } else {
            let body = group::put_body(&current.whole_resource(), diff, desired);
            self.ops.push(Op {
                phase,
                action: Action::Update,
                resource: ResourceKind::Group,
                key: group.display_name.clone(),
                reason: None,
                bulk_id: None,
                changes: diff.changes.clone(),
                request: Request {
                    method: Method::Put,
                    path: format!("/Groups/{}", current.id),
                    body: Some(body),
                },
                observed: Current::Group(current).observed(),
                depends_on: desired.map(bulk_references).unwrap_or_default(),
            });
        }
    }
}

/// Nothing is pruned from a listing that is not proven complete (README, Plans); the refusal names
/// the check the listing failed.
fn require_complete(
    provider: &str,
    kind: &'static str,
    complete: bool,
    untrusted: Option<&Untrusted>,
    total: usize,
    read: usize,
) -> Result<(), Refusal> {
    if complete {
        return Ok(());
    }
    let check = untrusted.cloned().unwrap_or_else(|| Untrusted {
        check: ListingCheck::Complete,
        detail: format!("the server reported {total} {kind}s but listed {read} distinct ones"),
    });
    Err(Refusal::UntrustedListing {
        provider: provider.to_owned(),
        kind,
        check,
    })
}

/// Matches declared objects to server objects (README, Plans): first by key (case-insensitively),
/// then, for the ones left, by externalId (a rename). Each server object is matched at most once; a
/// key or externalId that several server objects hold matches the first of them. Returns, for each
/// declared object in order, the index of its server object.
///
/// `declared` holds each declared object's index among the `count` the config declares of its
/// kind, and its externalId; `config_index` finds the config's object a key (in lower case)
/// names, through the index the config holds already. So matching builds no map of the
/// server's objects, only one of the externalIds of the declared objects left unmatched, which
/// are few.
fn match_objects<'a, T>(
    declared: &[(usize, Option<&str>)],
    count: usize,
    config_index: impl Fn(&str) -> Option<usize>,
    live: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
    external_id: impl Fn(&'a T) -> Option<&'a str>,
) -> Vec<Option<usize>> {
    // Where each of the config's objects is among the declared ones, if it is.
    let mut declared_at = vec![None; count];
    for (at, (index, _)) in declared.iter().enumerate() {
        declared_at[*index] = Some(at);
    }
    let mut matches: Vec<Option<usize>> = vec![None; declared.len()];
    let mut taken = vec![false; live.len()];
    for (i, object) in live.iter().enumerate() {
        if let Some(at) = config_index(&key_text(key(object))).and_then(|index| declared_at[index])
            && matches[at].is_none()
        {
            matches[at] = Some(i);
            taken[i] = true;
        }
    }
    // Each externalId wanted for a rename, with the first server object that holds it.
    let mut first_holder: HashMap<&str, Option<usize>> = declared
        .iter()
        .zip(&matches)
        .filter(|(_, matched)| matched.is_none())
        .filter_map(|((_, external), _)| Some(((*external)?, None)))
        .collect();
    if first_holder.is_empty() {
        return matches;
    }
    for (i, object) in live.iter().enumerate() {
        if let Some(holder @ None) = external_id(object).and_then(|e| first_holder.get_mut(e)) {
            *holder = Some(i);
        }
    }
    for ((_, external), matched) in declared.iter().zip(&mut matches) {
        if matched.is_none()
            && let Some(i) = external.and_then(|e| first_holder.get(e).copied().flatten())
            && !taken[i]
        {
            taken[i] = true;
            *matched = Some(i);
        }
    }
    matches
}

/// The live object an op writes.
#[derive(Clone, Copy)]
enum Current<'a> {
    User(&'a LiveUser),
    Group(&'a LiveGroup),
}

impl<'a> Current<'a> {
    fn kind(self) -> ResourceKind {
        match self {
            Current::User(_) => ResourceKind::User,
            Current::Group(_) => ResourceKind::Group,
        }
    }

    fn id(self) -> &'a str {
        match self {
            Current::User(user) => &user.id,
            Current::Group(group) => &group.id,
        }
    }

    /// What an op on the object was computed from: its id, its version, and a hash of what
    /// was read of it, so a saved plan can tell whether it moved (README, Saved plans).
    fn observed(self) -> Observed {
        let (version, hash) = match self {
            Current::User(user) => (&user.version, user.hash()),
            Current::Group(group) => (&group.version, group.hash()),
        };
        Observed::Present {
            id: self.id().to_owned(),
            version: version.clone(),
            hash,
        }
    }

    /// The whole resource, for a PUT to send back.
    fn whole_resource(self) -> Value {
        match self {
            Current::User(user) => user.whole_resource(),
            Current::Group(group) => group.whole_resource(),
        }
    }
}

fn update(
    current: Current<'_>,
    key: &str,
    changes: Vec<Change>,
    operations: &[Operation],
    capabilities: &Capabilities,
    phase: Phase,
) -> Op {
    let resource = current.kind();
    let path = format!("{}/{}", resource.endpoint(), current.id());
    let request = if capabilities.patch {
        Request {
            method: Method::Patch,
            path,
            body: Some(patch::patch_body(operations)),
        }
    } else {
        Request {
            method: Method::Put,
            path,
            body: Some(patch::put_body(&current.whole_resource(), operations)),
        }
    };
    Op {
        phase,
        action: Action::Update,
        resource,
        key: key.to_owned(),
        reason: None,
        bulk_id: None,
        changes,
        request,
        observed: current.observed(),
        depends_on: Vec::new(),
    }
}

/// The op that makes a matched user's attributes and roles what the file declares, if any.
fn update_user(
    user: &User,
    current: &LiveUser,
    roles: Option<user::Roles<'_>>,
    capabilities: &Capabilities,
) -> Option<Op> {
    let diff = user::diff(user, current, roles);
    if diff.is_empty() {
        return None;
    }
    Some(update(
        Current::User(current),
        &user.user_name,
        diff.changes,
        &diff.operations,
        capabilities,
        Phase::Users,
    ))
}

/// Deactivates or deletes a user, per the provider's `deprovision` (README, Providers). A user who
/// is already inactive needs no deactivation.
fn deprovision(
    provider: &Provider,
    current: &LiveUser,
    key: &str,
    reason: Reason,
    capabilities: &Capabilities,
) -> Option<Op> {
    match provider.deprovision() {
        Deprovision::Delete => Some(delete(
            Current::User(current),
            Phase::DeprovisionUsers,
            key,
            reason,
        )),
        Deprovision::Deactivate => {
            let active = current.attributes.active;
            if active == Some(false) {
                return None;
            }
            let operation = Operation::Replace {
                path: "active".into(),
                value: Value::Bool(false),
            };
            let change = Change {
                attribute: "active".into(),
                old: active.map(Value::Bool),
                new: Some(Value::Bool(false)),
            };
            let mut op = update(
                Current::User(current),
                key,
                vec![change],
                &[operation],
                capabilities,
                Phase::DeprovisionUsers,
            );
            op.action = Action::Deactivate;
            op.reason = Some(reason);
            Some(op)
        }
    }
}

fn delete_group(current: &LiveGroup, key: &str, reason: Reason) -> Op {
    delete(Current::Group(current), Phase::DeleteGroups, key, reason)
}

/// The op that deletes a live object.
fn delete(current: Current<'_>, phase: Phase, key: &str, reason: Reason) -> Op {
    let kind = current.kind();
    Op {
        phase,
        action: Action::Delete,
        resource: kind,
        key: key.to_owned(),
        reason: Some(reason),
        bulk_id: None,
        changes: Vec::new(),
        request: Request {
            method: Method::Delete,
            path: format!("{}/{}", kind.endpoint(), current.id()),
            body: None,
        },
        observed: current.observed(),
        depends_on: Vec::new(),
    }
}

/// The mass-delete guard (README, Plans): refuse to deprovision more than `delete_percent` of the
/// `existing` users of a provider. The refusal names the first users the ops would deprovision.
pub fn guard_mass_delete(
    provider: &Provider,
    existing: usize,
    ops: &[Op],
    options: Options,
) -> Result<(), Refusal> {
    let deprovisioned = || {
        ops.iter().filter(|op| {
            op.resource == ResourceKind::User
                && matches!(op.action, Action::Deactivate | Action::Delete)
        })
    };
    let count = deprovisioned().count();
    let limit = provider.max_changes().delete_percent;
    if options.allow_mass_delete || existing < MASS_DELETE_MIN_USERS || count == 0 {
        return Ok(());
    }
    // A server may claim any number of users: the product must not overflow.
    if count.saturating_mul(100) > usize::from(limit).saturating_mul(existing) {
        return Err(Refusal::MassDelete {
            provider: provider.name().to_owned(),
            count,
            existing,
            percent: count.saturating_mul(100).div_ceil(existing),
            limit,
            users: deprovisioned()
                .take(MASS_DELETE_NAMED)
                .map(|op| op.key.clone())
                .collect(),
        });
    }
    Ok(())
}

fn bulk_references<'m>(members: impl IntoIterator<Item = &'m Member>) -> Vec<String> {
    members
        .into_iter()
        .filter_map(|m| m.reference.strip_prefix("bulkId:").map(str::to_owned))
        .collect()
}

fn bulk_references_in(operations: &[Operation]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for operation in operations {
        if let Operation::Add { value, .. } = operation {
            for item in value.as_array().into_iter().flatten() {
                if let Some(id) = item
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(|v| v.strip_prefix("bulkId:"))
                {
                    found.insert(id.to_owned());
                }
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests;
