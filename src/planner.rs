//! Computing a [`Plan`]: for each provider, connect, read what the server holds, diff it
//! against the config. The reads are the only I/O; the diff itself is pure ([`crate::diff`]).

use crate::client::ResourceKind;
use crate::config::{Config, Managed, Provider};
use crate::connect::{self, ConnectError, Session, Target};
use crate::diff::{self, Options, Refusal};
use crate::plan::{MemberLookups, Plan, ProviderPlan, Reading, UntrustedListing};
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
    /// The plan was made, and a guard refuses it (SPEC §3.6): the plan is kept so that it can
    /// be shown, naming what the guard refuses, but never applied.
    #[error("{refusal}")]
    Guarded {
        plan: Box<ProviderPlan>,
        refusal: Refusal,
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
    let capabilities = (session.client.capabilities().await).map_err(|e| read_error(e.into()))?;
    let wanted = wanted(config, provider);
    let live = state::read(&session.client, &capabilities, &wanted)
        .await
        .map_err(read_error)?;
    let reads = session.client.requests_sent();
    // A listing's pages are read: the diff has better use for their buffers' memory.
    session.client.release_buffers();
    let diff = diff::compute(config, provider, &live, &capabilities)?;
    let plan = ProviderPlan {
        provider: provider.name().to_owned(),
        url: provider.url_template().to_owned(),
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
    })
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
    let hidden_members = match &live.hidden_members {
        Some(HiddenMembers::Filtered {
            attribute,
            users,
            requests,
        }) => Some(MemberLookups {
            filter: (*attribute).to_owned(),
            users: *users,
            requests: *requests,
        }),
        _ => None,
    };
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
    /// Plans `/Bulk` batching (`--bulk`) where the server offers it.
    #[must_use]
    pub fn with_bulk(mut self, bulk: bool) -> Self {
        plan_bulk(&mut self.plan, bulk);
        self
    }
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
    Plan::new(config.digest().to_owned(), providers)
}
