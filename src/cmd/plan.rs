//! `scimform plan`: read each provider's server, diff, print the plan (README, Plans).
//!
//! A plan a guard refuses (README, Plans) is still printed, in text or markdown, so that what the
//! guard refuses is named, and then refused: exit 1, nothing saved.

use std::path::{Component, Path, PathBuf};

use super::{Error, Outcome, Threads, block_on, keep_until_exit, load_config, print_stdout};
use crate::cli::PlanArgs;
use crate::config::{Config, Provider};
use crate::connect::{self, Target};
use crate::diff::{Options, Refusal};
use crate::make_plan::{self, OnRefusal, PlanAll, Planned, Planning};
use crate::plan::Plan;
use crate::render;

pub fn run(args: &PlanArgs) -> Result<Outcome, Error> {
    args.log.init();
    let config = keep_until_exit(load_config(&args.config)?);
    let targets = resolve_targets(
        config,
        args.provider.as_deref(),
        args.config.allow_insecure_http,
    )?;
    let options = Options {
        allow_mass_delete: args.allow_mass_delete,
    };
    // A plan to be saved records what identifies each server, for `apply PLAN` to check.
    let identify = args.out.is_some();
    let threads = Threads::to_read(targets.iter().any(|(_, target)| target.is_embedded()));
    let how = Compute {
        bulk: args.bulk,
        identify,
    };
    let (mut plan, refusals) = block_on(
        threads,
        compute(
            config,
            &targets,
            args.config.allow_insecure_http,
            options,
            how,
        ),
    )?;
    if !refusals.is_empty() {
        let (plan, refusals) = keep_until_exit((plan, refusals));
        return Err(refuse(plan, refusals, args));
    }
    if let Some(out) = &args.out {
        // Not covered by the plan's digest: set after it is computed, nothing to recompute.
        plan.config_path = config_path_from(out, args.config.path());
        let text = render::to_json(&plan);
        std::fs::write(out, crate::scrub::scrub(&text).as_bytes())
            .map_err(|e| Error::msg(format!("cannot write the plan to {}: {e}", out.display())))?;
    }
    let plan = keep_until_exit(plan);
    let color = render::color_for_stdout();
    print_stdout(&render::render(plan, args.format, color))?;
    Ok(outcome(plan, args))
}

/// Success, or what `--detailed-exitcode` and `--fail-on-unmanaged` ask to hear about:
/// changes pending first, then unmanaged objects.
fn outcome(plan: &Plan, args: &PlanArgs) -> Outcome {
    let summary = plan.summary();
    if args.detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else if args.fail_on_unmanaged && summary.unmanaged_users + summary.unmanaged_groups > 0 {
        Outcome::UnmanagedFound
    } else {
        Outcome::Success
    }
}

/// Prints a plan a guard refuses, and refuses it with the reasons. JSON prints nothing: a
/// JSON plan can be applied, and this one must not be.
fn refuse(plan: &Plan, refusals: &[Refusal], args: &PlanArgs) -> Error {
    let mut reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    if let Some(text) =
        render::render_refused(plan, &reasons, args.format, render::color_for_stdout())
        && let Err(error) = print_stdout(&text)
    {
        return error;
    }
    if args.out.is_some() {
        reasons.push("the plan was not saved: a refused plan cannot be applied".to_owned());
    }
    Error::Messages(reasons)
}

/// The providers to plan, their URLs and tokens resolved; every problem reported at once.
pub fn resolve_targets<'a>(
    config: &'a Config,
    only: Option<&str>,
    allow_insecure_http: bool,
) -> Result<Vec<(&'a Provider, Target)>, Error> {
    let providers: Vec<&Provider> = if let Some(name) = only {
        let Some(provider) = config.provider(name) else {
            let known: Vec<&str> = config.providers().iter().map(Provider::name).collect();
            return Err(Error::msg(format!(
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
        Err(errors.into())
    }
}

/// Where the config is, as a saved plan records it: relative to the folder of the plan file
/// `plan_file`, so that the plan and the config can move together (a CI job's checkout), or
/// absolute when no relative path leads there. `None` when the path is not UTF-8.
fn config_path_from(plan_file: &Path, config: &Path) -> Option<String> {
    let absolute = |path: &Path| {
        std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .ok()
    };
    let config = absolute(config)?;
    let plan_dir = plan_file
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let relative = absolute(plan_dir).and_then(|dir| relative_path(&dir, &config));
    relative.unwrap_or(config).to_str().map(str::to_owned)
}

/// The path from the folder `from` to `to`, both absolute, or `None` when they share no root.
fn relative_path(from: &Path, to: &Path) -> Option<PathBuf> {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = to.components().collect();
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    path.extend(&to[common..]);
    if path.as_os_str().is_empty() {
        path.push(".");
    }
    Some(path)
}

/// What [`compute`] does besides planning.
#[derive(Debug, Clone, Copy, Default)]
pub struct Compute {
    /// Plan `/Bulk` batching where the server offers it (`--bulk`).
    pub bulk: bool,
    /// Record what identifies each server (`plan --out`).
    pub identify: bool,
}

/// Plans every target, one after the other, and closes their sessions. A provider plan a
/// guard refuses is kept with the others, and the refusal returned beside the plan: the plan
/// is shown whole, and then refused. A refused plan is never saved, so its server needs no
/// identifying.
pub async fn compute(
    config: &Config,
    targets: &[(&Provider, Target)],
    allow_insecure_http: bool,
    options: Options,
    how: Compute,
) -> Result<(Plan, Vec<Refusal>), Error> {
    let plan_all = PlanAll {
        allow_insecure_http,
        options,
        on_refusal: OnRefusal::PlanTheRest,
    };
    let last = targets.len().saturating_sub(1);
    let planning = connect::with_sessions(async |sessions| {
        make_plan::plan_all(
            config,
            targets,
            plan_all,
            sessions,
            async |n, planned: &mut Planned| {
                if how.identify {
                    planned.identify().await?;
                }
                // Only rendering follows the last provider: its server state is freed by the
                // exit.
                if n == last {
                    keep_until_exit(std::mem::take(&mut planned.live));
                }
                Ok::<(), Error>(())
            },
        )
        .await
    })
    .await?;
    let Planning {
        mut plans,
        refusals,
    } = planning;
    for plan in &mut plans {
        make_plan::plan_bulk(plan, how.bulk);
    }
    Ok((make_plan::assemble(config, plans), refusals))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::relative_path;

    #[test]
    fn a_config_is_recorded_relative_to_the_plan() {
        let rel = |from: &str, to: &str| relative_path(Path::new(from), Path::new(to));
        assert_eq!(
            rel("/repo", "/repo/scimform.yaml"),
            Some(PathBuf::from("scimform.yaml"))
        );
        assert_eq!(
            rel("/tmp/plans", "/repo/directory"),
            Some(PathBuf::from("../../repo/directory"))
        );
        assert_eq!(
            rel("/repo/directory", "/repo/directory"),
            Some(PathBuf::from("."))
        );
    }
}
