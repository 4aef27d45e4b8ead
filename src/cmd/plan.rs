//! `scimform plan`: read each provider's server, diff, print the plan (SPEC §3).
//!
//! A plan a guard refuses (SPEC §3.6) is still printed, in text or markdown, so that what the
//! guard refuses is named, and then refused: exit 1, nothing saved.

use std::process::ExitCode;

use super::{fail, keep_until_exit, load_config, print_stdout, report_diagnostics};
use crate::cli::PlanArgs;
use crate::config::{Config, Provider};
use crate::connect::{self, Target};
use crate::diff::{Options, Refusal};
use crate::plan::Plan;
use crate::planner::{self, PlanError};
use crate::render;

/// The exit code of `--detailed-exitcode` when the plan holds changes.
pub const CHANGES_PENDING: u8 = 2;
/// The exit code of `--fail-on-unmanaged` when a server holds objects the config does not
/// declare (and `--detailed-exitcode` has no changes to report).
pub const UNMANAGED_FOUND: u8 = 3;

pub fn run(args: &PlanArgs) -> ExitCode {
    let config = match load_config(&args.config) {
        Ok(config) => keep_until_exit(config),
        Err(code) => return code,
    };
    let targets = match resolve_targets(
        config,
        args.provider.as_deref(),
        args.config.allow_insecure_http,
    ) {
        Ok(targets) => targets,
        Err(code) => return code,
    };
    let options = Options {
        allow_mass_delete: args.allow_mass_delete,
    };
    let (plan, refusals) = match compute(
        config,
        &targets,
        args.config.allow_insecure_http,
        options,
        args.bulk,
    ) {
        Ok(computed) => {
            let computed = keep_until_exit(computed);
            (&computed.0, &computed.1)
        }
        Err(error) => return fail(error),
    };
    if !refusals.is_empty() {
        return refuse(plan, refusals, args);
    }
    if let Some(out) = &args.out
        && let Err(e) = std::fs::write(out, render::to_json(plan))
    {
        return fail(format!("cannot write the plan to {}: {e}", out.display()));
    }
    let color = render::color_for_stdout();
    let code = print_stdout(&render::render(plan, args.format, color));
    if code != ExitCode::SUCCESS {
        return code;
    }
    exit_code(plan, args)
}

/// 0, or what `--detailed-exitcode` and `--fail-on-unmanaged` ask to hear about: changes
/// pending first, then unmanaged objects.
fn exit_code(plan: &Plan, args: &PlanArgs) -> ExitCode {
    let summary = plan.summary();
    if args.detailed_exitcode && !plan.is_empty() {
        ExitCode::from(CHANGES_PENDING)
    } else if args.fail_on_unmanaged && summary.unmanaged_users + summary.unmanaged_groups > 0 {
        ExitCode::from(UNMANAGED_FOUND)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints a plan a guard refuses, with the reasons, and refuses it. JSON prints nothing: a
/// JSON plan can be applied, and this one must not be.
fn refuse(plan: &Plan, refusals: &[Refusal], args: &PlanArgs) -> ExitCode {
    let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    if let Some(text) =
        render::render_refused(plan, &reasons, args.format, render::color_for_stdout())
    {
        let code = print_stdout(&text);
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    for reason in &reasons {
        fail(reason);
    }
    if args.out.is_some() {
        fail("the plan was not saved: a refused plan cannot be applied");
    }
    ExitCode::FAILURE
}

/// The providers to plan, their URLs and tokens resolved; every problem reported at once.
pub fn resolve_targets<'a>(
    config: &'a Config,
    only: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Vec<(&'a Provider, Target)>, ExitCode> {
    let providers: Vec<&Provider> = if let Some(name) = only {
        let Some(provider) = config.provider(name) else {
            let known: Vec<&str> = config.providers().iter().map(Provider::name).collect();
            return Err(fail(format!(
                "--provider {name}: no such provider; the config declares: {}",
                known.join(", ")
            )));
        };
        vec![provider]
    } else {
        config.providers().iter().collect()
    };
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for provider in providers {
        match connect::resolve(provider, allow_insecure_http) {
            Ok(target) => targets.push((provider, target)),
            Err(mut diagnostics) => errors.append(&mut diagnostics),
        }
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        report_diagnostics(&errors);
        Err(ExitCode::FAILURE)
    }
}

/// Plans every target, one after the other, closing each session when done. A provider plan
/// a guard refuses is kept with the others, and the refusal returned beside the plan: the
/// plan is shown whole, and then refused.
pub fn compute(
    config: &Config,
    targets: &[(&Provider, Target)],
    allow_insecure_http: bool,
    options: Options,
    bulk: bool,
) -> Result<(Plan, Vec<Refusal>), Box<PlanError>> {
    // Reading a remote server is waiting on it: one thread does that at the least cost, and
    // what it reads reuses the memory the config's loading freed (a second thread would get an
    // allocator arena of its own, about 30 MB more at 100,000 users). The embedded server does
    // its share of the work in this process, so it gets the threads to do it in parallel.
    let runtime = if targets.iter().any(|(_, target)| target.is_embedded()) {
        tokio::runtime::Runtime::new()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("a tokio runtime starts");
    runtime.block_on(async {
        let mut plans = Vec::new();
        let mut refusals = Vec::new();
        for (n, (provider, target)) in targets.iter().enumerate() {
            let planned =
                planner::plan_provider(config, provider, target, allow_insecure_http, options)
                    .await;
            let planned = match planned {
                Ok(planned) => planned.with_bulk(bulk),
                Err(PlanError::Guarded { mut plan, refusal }) => {
                    planner::plan_bulk(&mut plan, bulk);
                    plans.push(*plan);
                    refusals.push(refusal);
                    continue;
                }
                Err(error) => return Err(Box::new(error)),
            };
            planned.session.close().await;
            plans.push(planned.plan);
            // Only rendering follows the last provider: its server state is freed by the exit.
            if n + 1 == targets.len() {
                keep_until_exit(planned.live);
            }
        }
        Ok((planner::assemble(config, plans), refusals))
    })
}
