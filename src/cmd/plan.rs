//! `scimform plan`: read each provider's server, diff, print the plan (SPEC §3).

use std::process::ExitCode;

use super::{fail, keep_until_exit, load_config, print_stdout, report_diagnostics};
use crate::cli::PlanArgs;
use crate::config::{Config, Provider};
use crate::connect::{self, Target};
use crate::diff::Options;
use crate::plan::Plan;
use crate::planner::{self, PlanError};
use crate::render;

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
    let plan = match compute(
        config,
        &targets,
        args.config.allow_insecure_http,
        options,
        args.bulk,
    ) {
        Ok(plan) => keep_until_exit(plan),
        Err(error) => return fail(error),
    };
    if let Some(out) = &args.out
        && let Err(e) = std::fs::write(out, crate::scrub::scrub(&render::to_json(plan)).as_bytes())
    {
        return fail(format!("cannot write the plan to {}: {e}", out.display()));
    }
    let color = render::color_for_stdout();
    let code = print_stdout(&render::render(plan, args.format, color));
    if code != ExitCode::SUCCESS {
        return code;
    }
    if args.detailed_exitcode && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
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

/// Plans every target, one after the other, closing each session when done.
pub fn compute(
    config: &Config,
    targets: &[(&Provider, Target)],
    allow_insecure_http: bool,
    options: Options,
    bulk: bool,
) -> Result<Plan, Box<PlanError>> {
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
        for (n, (provider, target)) in targets.iter().enumerate() {
            let planned =
                planner::plan_provider(config, provider, target, allow_insecure_http, options)
                    .await
                    .map_err(Box::new)?
                    .with_bulk(bulk);
            planned.session.close().await;
            plans.push(planned.plan);
            // Only rendering follows the last provider: its server state is freed by the exit.
            if n + 1 == targets.len() {
                keep_until_exit(planned.live);
            }
        }
        Ok(planner::assemble(config, plans))
    })
}
