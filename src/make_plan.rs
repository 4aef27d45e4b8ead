//! Making a [`Plan`]: for each provider, connect, read what the server holds, diff it
//! against the config. The reads are the only I/O; the diff itself is pure ([`crate::diff`]).
//!
//! Three things share the word "plan": [`crate::plan`] is the plan as a value, this module
//! makes one, and [`crate::cmd::plan`] is the command that prints it. The name says the verb:
//! not `refresh`, since it diffs as well as reads, and not `reconcile`, since it writes
//! nothing; writing is [`crate::apply`].

use reqwest::Method;
use scim::ResourceKind;
use serde_json::Value;

use crate::client::{Capabilities, ClientError, ScimClient};
use crate::config::{Config, Managed, Provider};
use crate::connect::{self, ConnectError, Session, Target};
use crate::diff::{self, Options, Refusal};
use crate::plan::{
    MemberLookups, Plan, ProviderPlan, Reading, Server, ServerIdentity, UntrustedListing,
};
use crate::state::{self, HiddenMembers, Key, LiveState, ReadError, Wanted};

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("provider `{provider}`: {source}")]
    Read {
        provider: String,
        #[source]
        source: ReadError,
    },
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The plan was made, and a guard refuses it (README, Plans): the plan is kept so that it can
    /// be shown, naming what the guard refuses, but never applied.
    #[error("{refusal}")]
    Guarded {
        plan: Box<ProviderPlan>,
        refusal: Refusal,
    },
    #[error(
        "provider `{provider}`: cannot read {path}, which a saved plan records to tell this \
         server from another: {source}"
    )]
    Identify {
        provider: String,
        path: &'static str,
        #[source]
        source: ClientError,
    },
}

/// What the plan needs to know about one provider.
pub struct Planned {
    pub plan: ProviderPlan,
    /// The open connection, so `apply` can go on with the same session (and embedded server).
    pub session: Session,
    /// What the server held. `apply` drops it before writing; `plan` may keep it until the
    /// process exits instead of freeing 100,000 resources one by one.
    pub live: LiveState,
    /// The server's `/ServiceProviderConfig` as it answered, for [`Planned::identify`].
    service_provider_config: Option<Value>,
}

/// Reads what `wanted` needs from `provider`'s server, given the capabilities its
/// `/ServiceProviderConfig` advertises. They are narrowed to what the provider's profile
/// documents, when the config names one, and returned as the read used them.
pub async fn read_live(
    client: &ScimClient,
    provider: &Provider,
    advertised: Capabilities,
    wanted: &Wanted<'_>,
) -> Result<(LiveState, Capabilities), ReadError> {
    let profile = provider.profile();
    let capabilities = advertised.within(profile);
    let live = state::read(client, &capabilities, wanted, profile).await?;
    Ok((live, capabilities))
}

/// What one provider's server holds and what the config asks of it, read concurrently.
pub async fn plan_provider(
    config: &Config,
    provider: &Provider,
    target: &Target,
    allow_insecure_http: bool,
    options: Options,
) -> Result<Planned, PlanError> {
    let session = connect::open(target, allow_insecure_http).await?;
    let read_error = |source: ReadError| PlanError::Read {
        provider: provider.name().to_owned(),
        source,
    };
    let service_provider_config =
        (session.client.service_provider_config().await).map_err(|e| read_error(e.into()))?;
    let advertised = Capabilities::from_json(service_provider_config.as_ref());
    let wanted = wanted(config, provider);
    let (live, capabilities) = read_live(&session.client, provider, advertised, &wanted)
        .await
        .map_err(read_error)?;
    let reads = session.client.requests_sent();
    // A listing's pages are read: the diff has better use for their buffers' memory.
    session.client.release_buffers();
    let diff = diff::compute(config, provider, &live, &capabilities)?;
    let plan = ProviderPlan {
        provider: provider.name().to_owned(),
        url: provider.url_template().to_owned(),
        server: Some(Server {
            url: target.server_url(),
            identity: None,
        }),
        capabilities,
        reads,
        existing_users: live.total_users,
        unmanaged: diff.unmanaged,
        warnings: diff.warnings,
        bulk: false,
        notes: Vec::new(),
        reading: reading(&live),
        ops: diff.ops,
    };
    if let Err(refusal) = diff::guard_mass_delete(provider, live.total_users, &plan.ops, options) {
        session.close().await;
        return Err(PlanError::Guarded {
            plan: Box::new(plan),
            refusal,
        });
    }
    Ok(Planned {
        plan,
        session,
        live,
        service_provider_config,
    })
}

/// What [`plan_all`] does when a guard refuses a provider's plan (README, Plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRefusal {
    /// Plan the other providers too: the whole plan is shown, and then refused (`plan`).
    PlanTheRest,
    /// Plan no further provider: nothing is to be applied (`apply`).
    Stop,
}

/// How [`plan_all`] plans each provider.
#[derive(Debug, Clone, Copy)]
pub struct PlanAll {
    pub allow_insecure_http: bool,
    pub options: Options,
    pub on_refusal: OnRefusal,
}

/// Every selected provider planned, by [`plan_all`].
#[derive(Debug, Default)]
pub struct Planning {
    /// Each provider's plan, in the order of the targets, the refused ones included; after
    /// [`OnRefusal::Stop`], the refused plan is the last.
    pub plans: Vec<ProviderPlan>,
    /// Why a guard refuses plans among `plans`, in their order.
    pub refusals: Vec<Refusal>,
}

/// Plans every target, one after the other: connects, reads what its server holds, diffs. A
/// plan a guard refuses is kept, with the refusal, and `how.on_refusal` says whether to go on.
/// Every other plan is handed to `each` with its index among the targets, which may read more
/// of the server (identify it, check it against a saved plan) or fail; its session goes to
/// `sessions` either way, for the caller to close once, however planning ends
/// ([`connect::with_sessions`]). A refused plan's session is closed already: nothing will be
/// sent over it.
pub async fn plan_all<E: From<PlanError>>(
    config: &Config,
    targets: &[(&Provider, Target)],
    how: PlanAll,
    sessions: &mut Vec<Session>,
    mut each: impl AsyncFnMut(usize, &mut Planned) -> Result<(), E>,
) -> Result<Planning, E> {
    let mut planning = Planning::default();
    for (n, (provider, target)) in targets.iter().enumerate() {
        let planned = plan_provider(
            config,
            provider,
            target,
            how.allow_insecure_http,
            how.options,
        )
        .await;
        match planned {
            Ok(mut planned) => {
                let checked = each(n, &mut planned).await;
                planning.plans.push(planned.plan);
                sessions.push(planned.session);
                checked?;
            }
            Err(PlanError::Guarded { plan, refusal }) => {
                planning.plans.push(*plan);
                planning.refusals.push(refusal);
                if how.on_refusal == OnRefusal::Stop {
                    break;
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(planning)
}

/// Group members read one user at a time, as the plan records them; `None` when they were
/// not read that way.
#[must_use]
pub fn member_lookups(hidden: &HiddenMembers) -> Option<MemberLookups> {
    match hidden {
        HiddenMembers::Filtered {
            attribute,
            users,
            requests,
            memberships,
        } => Some(MemberLookups {
            filter: (*attribute).to_owned(),
            users: *users,
            requests: *requests,
            memberships: *memberships,
        }),
        HiddenMembers::Unreadable(_) => None,
    }
}

/// What reading `live` took beyond listing it, for the plan to say.
fn reading(live: &LiveState) -> Reading {
    let untrusted_listings = [
        (ResourceKind::User, &live.users_untrusted),
        (ResourceKind::Group, &live.groups_untrusted),
    ]
    .into_iter()
    .filter_map(|(resource, untrusted)| {
        let untrusted = untrusted.as_ref()?;
        Some(UntrustedListing {
            resource,
            check: untrusted.check,
            detail: untrusted.detail.clone(),
        })
    })
    .collect();
    let hidden_members = live.hidden_members.as_ref().and_then(member_lookups);
    Reading {
        untrusted_listings,
        hidden_members,
    }
}

/// What the reader must find on `provider`'s server.
pub fn wanted<'a>(config: &'a Config, provider: &'a Provider) -> Wanted<'a> {
    let name = provider.name();
    let key = |g: &'a crate::config::Group| Key {
        name: &g.display_name,
        external_id: g.external_id.as_set().map(String::as_str),
    };
    Wanted {
        users: config
            .users_for(name)
            .map(|u| Key {
                name: &u.user_name,
                external_id: u.external_id.as_set().map(String::as_str),
            })
            .collect(),
        groups: config.groups_for(name).map(key).collect(),
        member_groups: config
            .groups_for(name)
            .filter(|g| !g.absent && !matches!(g.members, Managed::Unmanaged))
            .map(key)
            .collect(),
        everything: provider.prune(),
        all_members: false,
    }
}

impl Planned {
    /// Records what identifies the server beyond its URL, for a saved plan to be applied to
    /// it and no other (README, Saved plans): digests of its `/ServiceProviderConfig`, read
    /// already, and of its `/ResourceTypes`, read now. A server that does not serve
    /// `/ResourceTypes` (4xx but 408 and 429, or 501) is identified by the first alone.
    pub async fn identify(&mut self) -> Result<(), PlanError> {
        const RESOURCE_TYPES: &str = "/ResourceTypes";
        let client = &self.session.client;
        let before = client.requests_sent();
        let resource_types = match client
            .send(Method::GET, RESOURCE_TYPES, &[], None, None)
            .await
        {
            Ok(response) => Some(identity_digest(response.body)),
            // Not served, as opposed to not answered: 408 and 429 say nothing of the resource.
            Err(ClientError::Status { status, .. })
                if ((400..500).contains(&status) && status != 408 && status != 429)
                    || status == 501 =>
            {
                None
            }
            Err(source) => {
                return Err(PlanError::Identify {
                    provider: self.plan.provider.clone(),
                    path: RESOURCE_TYPES,
                    source,
                });
            }
        };
        self.plan.reads += client.requests_sent() - before;
        let identity = ServerIdentity {
            service_provider_config: identity_digest(self.service_provider_config.clone()),
            resource_types,
        };
        if let Some(server) = &mut self.plan.server {
            server.identity = Some(identity);
        }
        Ok(())
    }
}

/// `sha256:<hex>` of what a server says about itself, in a form that does not change unless
/// what it says does: object keys sorted, every `meta` left out (it holds the server's own
/// URL, which may be an ephemeral port, and timestamps), and `Resources` in a set order.
fn identity_digest(body: Option<Value>) -> String {
    fn normalize(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("meta");
                map.values_mut().for_each(normalize);
                if let Some(Value::Array(resources)) = map.get_mut("Resources") {
                    resources.sort_by_cached_key(Value::to_string);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(normalize),
            _ => {}
        }
    }
    let mut body = body.unwrap_or(Value::Null);
    normalize(&mut body);
    // serde_json's maps are sorted by key, so the text is the same whatever the server's order.
    crate::digest::sha256_hex(body.to_string().as_bytes())
}

/// Plans `/Bulk` batching (`--bulk`) where the server offers it, and says so where it does not.
pub fn plan_bulk(plan: &mut ProviderPlan, bulk: bool) {
    plan.bulk = bulk && plan.capabilities.bulk.is_some();
    if bulk && !plan.bulk {
        plan.notes.push(BULK_NOT_OFFERED.to_owned());
    }
}

/// The note of a plan asked for `--bulk` on a server without `/Bulk`.
pub const BULK_NOT_OFFERED: &str = "Bulk not offered: one request per write";

/// Assembles provider plans into one plan for `config`.
#[must_use]
pub fn assemble(config: &Config, providers: Vec<ProviderPlan>) -> Plan {
    Plan::new(config.file_digests().clone(), providers)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::identity_digest;

    #[test]
    fn an_identity_ignores_key_order_meta_and_the_order_of_resources() {
        let one = json!({
            "Resources": [
                {"id": "User", "endpoint": "/Users", "meta": {"location": "http://127.0.0.1:1/scim/v2/ResourceTypes/User"}},
                {"id": "Group", "endpoint": "/Groups"},
            ],
            "totalResults": 2,
        });
        let other = json!({
            "totalResults": 2,
            "Resources": [
                {"endpoint": "/Groups", "id": "Group", "meta": {"lastModified": "2026-12-07T06:36:46Z"}},
                {"endpoint": "/Users", "id": "User", "meta": {"location": "http://127.0.0.1:2/scim/v2/ResourceTypes/User"}},
            ],
        });
        assert_eq!(
            identity_digest(Some(one.clone())),
            identity_digest(Some(other))
        );
        let changed = json!({
            "Resources": [{"id": "User", "endpoint": "/Users"}],
            "totalResults": 1,
        });
        assert_ne!(identity_digest(Some(one)), identity_digest(Some(changed)));
    }
}
