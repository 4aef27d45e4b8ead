//! `scimform apply`: plan, confirm, execute (README, Commands); or execute a saved plan after
//! checking that nothing it touches has moved (README, Saved plans).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::plan::resolve_targets;
use super::{Error, Threads, block_on, load_config, load_config_at, print_stdout, read_saved_plan};
use crate::apply::{self, ExecOptions, PreconditionError, Progress};
use crate::cli::ApplyArgs;
use crate::config::{Config, Provider};
use crate::connect::{self, Session, Target};
use crate::diff::Options;
use crate::make_plan::{self, OnRefusal, PlanAll, Planned, Planning};
use crate::plan::{Op, Plan, ProviderPlan};
use crate::render::{self, Format};
use crate::report::{AuditLine, Entry, Report};

pub fn run(args: &ApplyArgs) -> Result<(), Error> {
    args.log.init();
    let Some(path) = &args.plan else {
        let config = load_config(&args.config)?;
        return block_on(Threads::PerCore, plan_and_apply(args, &config));
    };
    let plan = read_saved_plan(path)?;
    let config_path = saved_config_path(args, path, &plan)?;
    let config = load_config_at(&config_path, &args.config)?;
    block_on(
        Threads::PerCore,
        apply_saved(args, &config, &config_path, &plan),
    )
}

/// The config a saved plan is checked against and applied with: `-f`, or else the one the plan
/// was made from, which it records relative to its own folder.
fn saved_config_path(args: &ApplyArgs, plan_path: &Path, plan: &Plan) -> Result<PathBuf, Error> {
    if let Some(file) = &args.config.file {
        return Ok(file.clone());
    }
    let Some(recorded) = &plan.config_path else {
        return Err(Error::msg(format!(
            "{} does not record the config it was made from (it was not saved by `plan --out`); \
             pass the config with -f PATH",
            plan_path.display()
        )));
    };
    let path = plan_path.parent().unwrap_or(Path::new("")).join(recorded);
    // Canonical, so that messages name the config plainly rather than `plans/../repo`.
    std::fs::canonicalize(&path).map_err(|e| {
        Error::msg(format!(
            "the plan was made from the config at {}, which is not there ({e}); pass the \
             config with -f PATH",
            path.display()
        ))
    })
}

/// `apply -f CONFIG`: plan, print, confirm, execute.
async fn plan_and_apply(args: &ApplyArgs, config: &Config) -> Result<(), Error> {
    let targets = resolve_targets(
        config,
        args.provider.as_deref(),
        args.config.allow_insecure_http,
    )?;
    let how = PlanAll {
        allow_insecure_http: args.config.allow_insecure_http,
        options: Options {
            allow_mass_delete: args.allow_mass_delete,
        },
        on_refusal: OnRefusal::Stop,
    };
    connect::with_sessions(async |sessions| {
        let no_check = async |_: usize, _: &mut Planned| Ok::<(), Error>(());
        let Planning {
            mut plans,
            mut refusals,
        } = make_plan::plan_all(config, &targets, how, sessions, no_check).await?;
        // A guard refuses the plan: shown, naming what it would deprovision, as `plan` shows
        // it; nothing is sent.
        if let Some(refusal) = refusals.pop() {
            let refused = Plan::new(
                config.file_digests().clone(),
                plans.split_off(plans.len() - 1),
            );
            let reason = refusal.to_string();
            if !args.quiet
                && let Some(text) = render::render_refused(
                    &refused,
                    std::slice::from_ref(&reason),
                    Format::Text,
                    render::color_for_stdout(),
                )
            {
                let _ = print_stdout(&text);
            }
            return Err(Error::Message(reason));
        }
        for plan in &mut plans {
            make_plan::plan_bulk(plan, args.bulk);
        }
        let plan = make_plan::assemble(config, plans);
        if !args.quiet {
            print_stdout(&render::render(
                &plan,
                Format::Text,
                render::color_for_stdout(),
            ))?;
        }
        if plan.is_empty() {
            return Ok(());
        }
        if !args.auto_approve && !confirm().map_err(Error::Message)? {
            return Err(Error::msg("apply cancelled: nothing was changed"));
        }
        execute_all(args, &plan, sessions, false).await
    })
    .await
}

/// What changed in the config at `path` since the plan whose files' digests are `saved` was
/// made, `now` being its files' digests now: `users.yaml changed`, `extra.yaml was added`,
/// each file named by its path (a folder's files under the folder).
fn config_changes(
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    path: &Path,
) -> String {
    let shown = |name: &str| {
        if path.is_dir() {
            path.join(name).display().to_string()
        } else {
            path.with_file_name(name).display().to_string()
        }
    };
    let mut changed = Vec::new();
    let mut added = Vec::new();
    for (name, digest) in now {
        match saved.get(name) {
            Some(before) if before == digest => {}
            Some(_) => changed.push(shown(name)),
            None => added.push(shown(name)),
        }
    }
    let removed: Vec<String> = saved
        .keys()
        .filter(|name| !now.contains_key(*name))
        .map(|name| shown(name))
        .collect();
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!("{} changed", and(&changed)));
    }
    let was = |files: &[String]| if files.len() == 1 { "was" } else { "were" };
    if !added.is_empty() {
        parts.push(format!("{} {} added", and(&added), was(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("{} {} removed", and(&removed), was(&removed)));
    }
    if parts.is_empty() {
        // The digests of the files agree and the config's does not: the plan was saved by a
        // release that digested the config otherwise.
        return format!("the config {} changed", path.display());
    }
    and(&parts)
}

/// `a`, `a and b`, `a, b and c`.
fn and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `apply PLAN`: refuse a plan made from another config, for another server, whose objects
/// moved, or whose operations are not the ones the config calls for on the server as it is
/// (one edited since it was saved is refused when it is read); otherwise execute it as it is,
/// without asking.
///
/// The server is checked by its URL before anything is sent to it, and by what it says of
/// itself once it answers. The last check plans again, reading the server as `plan` does, and
/// compares: a plan edited by hand is refused even when its digest was made to match.
async fn apply_saved(
    args: &ApplyArgs,
    config: &Config,
    config_path: &Path,
    plan: &Plan,
) -> Result<(), Error> {
    if plan.config_digest != config.digest() {
        return Err(Error::msg(format!(
            "stale plan: {} since the plan was made; run `scimform plan` again",
            config_changes(&plan.config_files, config.file_digests(), config_path)
        )));
    }
    let mut targets: Vec<(&Provider, Target)> = Vec::new();
    for provider_plan in &plan.providers {
        let Some(provider) = config.provider(&provider_plan.provider) else {
            return Err(Error::msg(format!(
                "stale plan: provider `{}` is not in the config",
                provider_plan.provider
            )));
        };
        let target = connect::resolve(provider, args.config.allow_insecure_http)?;
        check_server_url(provider_plan, &target).map_err(Error::Message)?;
        targets.push((provider, target));
    }
    // The plan of each provider made again, from the config and the server as they are now.
    // The guard against mass deletion was passed when the plan was saved.
    let how = PlanAll {
        allow_insecure_http: args.config.allow_insecure_http,
        options: Options {
            allow_mass_delete: true,
        },
        on_refusal: OnRefusal::Stop,
    };
    connect::with_sessions(async |sessions| {
        let check_identity = async |n: usize, planned: &mut Planned| {
            check_server_identity(&plan.providers[n], planned)
                .await
                .map_err(Error::Message)
        };
        let Planning {
            plans: mut again,
            refusals,
        } = make_plan::plan_all(config, &targets, how, sessions, check_identity).await?;
        // The only refusal is the mass-delete guard's, which `allow_mass_delete` passes.
        debug_assert!(refusals.is_empty(), "{refusals:?}");
        for (again, saved) in again.iter_mut().zip(&plan.providers) {
            make_plan::plan_bulk(again, saved.bulk);
        }
        // Every provider is checked before anything is written anywhere.
        let mut moved = Vec::new();
        for (provider_plan, session) in plan.providers.iter().zip(sessions.iter()) {
            match apply::check_preconditions(&session.client, provider_plan).await {
                Ok(()) => {}
                Err(PreconditionError::Moved(list)) => {
                    moved.extend(
                        list.into_iter()
                            .map(|m| format!("{}: {m}", provider_plan.provider)),
                    );
                }
                Err(error @ PreconditionError::Read(_)) => {
                    return Err(Error::msg(format!(
                        "provider `{}`: {error}",
                        provider_plan.provider
                    )));
                }
            }
        }
        if !moved.is_empty() {
            let mut message = format!(
                "stale plan: {} object{} changed since the plan was made; run `scimform plan` \
                 again:",
                moved.len(),
                if moved.len() == 1 { "" } else { "s" }
            );
            for line in moved {
                message.push_str("\n  ");
                message.push_str(&line);
            }
            return Err(Error::Message(message));
        }
        for (saved, again) in plan.providers.iter().zip(&again) {
            if let Some(difference) = first_difference(saved, again) {
                return Err(Error::msg(format!(
                    "refusing the saved plan: provider `{}`: {difference}; run `scimform plan \
                     --out` again and review it",
                    saved.provider
                )));
            }
        }
        execute_all(args, plan, sessions, true).await
    })
    .await
}

/// Refuses a saved provider plan for a server other than `target`, by URL, before anything is
/// sent to it: the config's `${VAR}` references may resolve differently where the plan is
/// applied.
fn check_server_url(saved: &ProviderPlan, target: &Target) -> Result<(), String> {
    let Some(server) = &saved.server else {
        return Err(format!(
            "refusing the saved plan: provider `{}`: the plan does not record the server it was \
             made against (it was saved by an older scimform); run `scimform plan --out` again",
            saved.provider
        ));
    };
    let now = target.server_url();
    if server.url == now {
        return Ok(());
    }
    Err(format!(
        "refusing the saved plan: provider `{}` was planned against {}, but its url now \
         resolves to {now}; nothing was sent. Apply the plan with the environment it was made \
         in, or run `scimform plan --out` again against {now}",
        saved.provider, server.url
    ))
}

/// Refuses a saved provider plan when the server at its URL is not the one it was made
/// against: what it says of itself (`/ServiceProviderConfig`, `/ResourceTypes`) differs. A
/// plan that records no identity (printed with `--format json`, not saved with `--out`) is
/// bound by its URL alone.
async fn check_server_identity(saved: &ProviderPlan, planned: &mut Planned) -> Result<(), String> {
    let Some(recorded) = saved.server.as_ref().and_then(|s| s.identity.as_ref()) else {
        return Ok(());
    };
    planned.identify().await.map_err(|e| e.to_string())?;
    let Some(now) = planned
        .plan
        .server
        .as_ref()
        .and_then(|s| s.identity.as_ref())
    else {
        return Ok(());
    };
    let shown = |digest: Option<&String>| digest.map_or("not served", String::as_str).to_owned();
    let mut differences = Vec::new();
    if recorded.service_provider_config != now.service_provider_config {
        differences.push(format!(
            "/ServiceProviderConfig ({} when planned, {} now)",
            recorded.service_provider_config, now.service_provider_config
        ));
    }
    if recorded.resource_types != now.resource_types {
        differences.push(format!(
            "/ResourceTypes ({} when planned, {} now)",
            shown(recorded.resource_types.as_ref()),
            shown(now.resource_types.as_ref())
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing the saved plan: provider `{}`: the server at {} is not the one the plan was \
         made against: it describes itself differently, {}; nothing was written. Run `scimform \
         plan --out` again against this server",
        saved.provider,
        saved.server.as_ref().map_or("", |s| s.url.as_str()),
        differences.join(" and ")
    ))
}

/// Where a saved provider plan departs from the plan made again from the config and the
/// server, naming the first operation that differs.
fn first_difference(saved: &ProviderPlan, again: &ProviderPlan) -> Option<String> {
    let describe = |op: &Op| {
        format!(
            "{} {} ({} {})",
            op.request.method.as_str(),
            op.request.path,
            op.action.as_str(),
            match op.resource {
                scim::ResourceKind::User => format!("user {}", op.key),
                scim::ResourceKind::Group => format!("group {}", op.key),
            }
        )
    };
    let position = saved
        .ops
        .iter()
        .zip(&again.ops)
        .position(|(saved, again)| saved != again);
    match position {
        Some(at) => Some(format!(
            "operation {} of the plan, {}, is not the one the config calls for, {}",
            at + 1,
            describe(&saved.ops[at]),
            describe(&again.ops[at])
        )),
        None if saved.ops.len() > again.ops.len() => Some(format!(
            "operation {} of the plan, {}, is not one the config calls for",
            again.ops.len() + 1,
            describe(&saved.ops[again.ops.len()])
        )),
        None if saved.ops.len() < again.ops.len() => Some(format!(
            "the config also calls for {}, which the plan does not hold",
            describe(&again.ops[saved.ops.len()])
        )),
        None => None,
    }
}

/// Executes each provider's plan over its session and prints each report; fails if anything
/// was not done. A saved plan's writes carry `If-Match` where the server
/// keeps versions.
async fn execute_all(
    args: &ApplyArgs,
    plan: &Plan,
    sessions: &[Session],
    saved: bool,
) -> Result<(), Error> {
    let mut success = true;
    for (provider_plan, session) in plan.providers.iter().zip(sessions) {
        let exec = ExecOptions {
            bulk: provider_plan.bulk,
            ..exec_options(args, saved && provider_plan.capabilities.etag)
        };
        let report = execute(args, session, provider_plan, &exec).await;
        success &= report.is_success();
        print_report(args, &report);
    }
    if success {
        Ok(())
    } else {
        Err(Error::Reported)
    }
}

fn exec_options(args: &ApplyArgs, if_match: bool) -> ExecOptions {
    ExecOptions {
        parallelism: usize::from(args.parallelism),
        if_match,
        ..ExecOptions::default()
    }
}

/// Executes one provider's plan, printing a line for each op as it finishes (unless
/// `--quiet`), under a progress bar on a terminal.
async fn execute(
    args: &ApplyArgs,
    session: &Session,
    plan: &ProviderPlan,
    options: &ExecOptions,
) -> Report {
    // Before the bar, which is drawn as soon as it is made.
    if !args.quiet && !plan.ops.is_empty() {
        let n = plan.ops.len();
        let _ = print_stdout(&format!(
            "Applying provider {}: {n} operation{}\n",
            plan.provider,
            if n == 1 { "" } else { "s" }
        ));
    }
    let bar = (!args.quiet && !args.log.requests() && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(plan.ops.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(plan.provider.clone());
        bar
    });
    let trail = Trail {
        bar,
        lines: !args.quiet,
        stdout_terminal: std::io::stdout().is_terminal(),
    };
    apply::execute(&session.client, plan, options, &trail).await
}

/// What the command line shows of an apply as it runs: the audit trail, one line per op as it
/// finishes ([`AuditLine`]) on stdout, and a progress bar on stderr when it is a terminal. On
/// a terminal the bar is cleared for each line and drawn again under it.
struct Trail {
    bar: Option<indicatif::ProgressBar>,
    /// Whether to print a line per op.
    lines: bool,
    stdout_terminal: bool,
}

impl Progress for Trail {
    fn started(&self, ops: usize) {
        if let Some(bar) = &self.bar {
            Progress::started(bar, ops);
        }
    }

    fn op_finished(&self, entry: &Entry) {
        if self.lines {
            let line = format!("{}\n", AuditLine(entry));
            let _ = match &self.bar {
                Some(bar) if self.stdout_terminal => bar.suspend(|| print_stdout(&line)),
                _ => print_stdout(&line),
            };
        }
        if let Some(bar) = &self.bar {
            Progress::op_finished(bar, entry);
        }
    }

    fn finished(&self, report: &Report) {
        if let Some(bar) = &self.bar {
            Progress::finished(bar, report);
        }
    }
}

fn print_report(args: &ApplyArgs, report: &Report) {
    let text = report.to_string();
    if args.quiet && report.is_success() {
        let last = text.lines().last().unwrap_or_default();
        let _ = print_stdout(&format!("{last}\n"));
    } else {
        let _ = print_stdout(&text);
    }
}

/// Asks for `yes` on the terminal; refuses to guess when there is none (README, Commands).
fn confirm() -> Result<bool, String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(
            "refusing to apply without confirmation: stdin is not a terminal; review the plan \
             and pass --auto-approve, or apply a saved plan"
                .to_owned(),
        );
    }
    let mut stdout = std::io::stdout().lock();
    let _ = write!(
        stdout,
        "\nDo you want to perform these actions? Only 'yes' will be accepted: "
    );
    let _ = stdout.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    Ok(answer.trim() == "yes")
}
