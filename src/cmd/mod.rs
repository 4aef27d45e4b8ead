//! One module per command: each turns parsed arguments into library calls and its result into
//! output and an exit code. Output rules (SPEC §2): plans on stdout, logs and errors on stderr,
//! colour only on a terminal and never with `NO_COLOR`, a closed pipe exits quietly.

pub mod apply;
pub mod doctor;
pub mod import;
pub mod plan;
pub mod serve;
pub mod show;
pub mod validate;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::config::{self, Style};

/// Loads the config the arguments name; on failure, reports every error and returns the exit
/// code.
pub fn load_config(args: &crate::cli::ConfigArgs) -> Result<config::Config, ExitCode> {
    load_config_at(args.path(), args)
}

/// Loads the config at `path` with the arguments' options; on failure, reports every error
/// and returns the exit code.
pub fn load_config_at(
    path: &std::path::Path,
    args: &crate::cli::ConfigArgs,
) -> Result<config::Config, ExitCode> {
    config::load(path, &args.load_options()).map_err(|errors| {
        report_diagnostics(&errors.0);
        ExitCode::FAILURE
    })
}

/// Reads a plan saved by `plan --out` and checks that it is one: of this format version, and
/// not edited since it was saved (its `digest`). On failure, says why and returns the exit code.
pub fn read_saved_plan(path: &std::path::Path) -> Result<crate::plan::Plan, ExitCode> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read the plan {}: {e}", path.display())))?;
    let plan = crate::render::parse_json(&text)
        .map_err(|e| fail(format!("{} is not a scimform plan: {e}", path.display())))?;
    if plan.digest.is_empty() {
        return Err(fail(
            "the plan has no digest of its operations (it was saved by an older scimform, or \
             edited); run `scimform plan --out` again",
        ));
    }
    if plan.config_digest != crate::digest::of_config_files(&plan.config_files) {
        return Err(fail(
            "the plan was changed after it was saved: its config_files do not match its \
             config_digest; run `scimform plan --out` again",
        ));
    }
    if plan.digest != plan.computed_digest() {
        return Err(fail(
            "the plan was changed after it was saved: its operations do not match its digest; \
             run `scimform plan --out` again",
        ));
    }
    Ok(plan)
}

/// Keeps `value` until the process exits, never freeing it. A command runs once per process,
/// and freeing a config or a server's state of 100,000 users item by item takes tens of
/// milliseconds that the exit does at once; a command that holds such a value to its end (or
/// has only output left to write) has no use for the drop.
fn keep_until_exit<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// Writes to stdout; a closed pipe is not an error (§2).
pub fn print_stdout(text: &str) -> ExitCode {
    let text = crate::scrub::scrub(text);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "scimform: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether stderr may be coloured.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes config diagnostics to stderr, with a count.
pub fn report_diagnostics(diagnostics: &[config::Diagnostic]) {
    let style = if stderr_color() {
        Style::Color
    } else {
        Style::Plain
    };
    let mut text = config::render(diagnostics, style);
    let n = diagnostics.len();
    let plural = if n == 1 { "" } else { "s" };
    text = format!("{text}scimform: {n} error{plural} found\n");
    let _ = std::io::stderr()
        .lock()
        .write_all(crate::scrub::scrub(&text).as_bytes());
}

/// Writes one error line to stderr and returns the failure code.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    let message = message.to_string();
    let _ = writeln!(
        std::io::stderr().lock(),
        "error: {}",
        crate::scrub::scrub(&message)
    );
    ExitCode::FAILURE
}

/// The provider a single-provider command (`import`, `doctor`) works on: the one named, or the
/// only one the config declares.
pub fn pick_provider<'a>(
    config: &'a config::Config,
    name: Option<&str>,
    command: &str,
) -> Result<&'a config::Provider, ExitCode> {
    let known = || {
        config
            .providers()
            .iter()
            .map(config::Provider::name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => config.provider(name).ok_or_else(|| {
            fail(format!(
                "--provider {name}: no such provider; the config declares: {}",
                known()
            ))
        }),
        None => match config.providers() {
            [only] => Ok(only),
            _ => Err(fail(format!(
                "{command} works on one provider: pass --provider NAME (the config declares: {})",
                known()
            ))),
        },
    }
}
