//! One module per command: each turns parsed arguments into library calls and its result into
//! output, and returns what [`crate::cli::run`] maps to the exit code. Output rules
//! (README, Commands): plans on stdout, logs and errors on stderr, colour only on a terminal and
//! never with `NO_COLOR`, a closed pipe exits quietly.

pub mod apply;
pub mod doctor;
pub mod fmt;
pub mod generate;
pub mod import;
pub mod plan;
pub mod serve;
pub mod show;
pub mod validate;

use std::io::{IsTerminal, Write};

use crate::config::{self, Style};

/// How a command that did what it was asked ends: in success, or, for `plan`, with what
/// `--detailed-exitcode` and `--fail-on-unmanaged` ask to hear about. [`crate::cli::run`]
/// maps it to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The plan holds changes (`--detailed-exitcode`).
    ChangesPending,
    /// A server holds objects the config does not declare (`--fail-on-unmanaged`).
    UnmanagedFound,
}

/// Why a command failed. It is written to stderr once, by [`Error::report`], when the command
/// has returned; every failure exits 1.
#[derive(Debug)]
pub enum Error {
    /// One problem: `error: …`.
    Message(String),
    /// Several problems, one `error: …` line each, in order.
    Messages(Vec<String>),
    /// Every error of a config, each pointing into its file, with their count; then, if any,
    /// what they stopped.
    Config {
        diagnostics: Vec<config::Diagnostic>,
        then: Option<String>,
    },
    /// stdout could not be written, for a reason other than a closed pipe.
    Output(std::io::Error),
    /// What failed was said already, on stdout: an apply's report, doctor's checks.
    Reported,
}

impl Error {
    /// One problem, from anything that can say what it is.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Error::Message(message.to_string())
    }

    /// Writes the error to stderr, secrets scrubbed.
    pub fn report(&self) {
        let line = |message: &str| {
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: {}",
                crate::scrub::scrub(message)
            );
        };
        match self {
            Error::Message(message) => line(message),
            Error::Messages(messages) => messages.iter().for_each(|m| line(m)),
            Error::Config { diagnostics, then } => {
                report_diagnostics(diagnostics);
                if in_github_actions() {
                    let _ = print_stdout(&github_annotations(diagnostics));
                }
                if let Some(then) = then {
                    line(then);
                }
            }
            Error::Output(e) => {
                let _ = writeln!(std::io::stderr(), "scimform: cannot write output: {e}");
            }
            Error::Reported => {}
        }
    }
}

/// Whether this runs as a step of a GitHub Actions workflow, where config errors are also
/// written as workflow commands, so that GitHub shows each on its line of the pull request's diff.
fn in_github_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// Config errors as GitHub Actions workflow commands, one line each.
pub fn github_annotations(diagnostics: &[config::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_github_annotation() + "\n")
        .collect()
}

impl From<Vec<config::Diagnostic>> for Error {
    fn from(diagnostics: Vec<config::Diagnostic>) -> Self {
        Error::Config {
            diagnostics,
            then: None,
        }
    }
}

impl From<crate::make_plan::PlanError> for Error {
    fn from(error: crate::make_plan::PlanError) -> Self {
        Error::msg(error)
    }
}

/// How many threads the runtime of [`block_on`] runs tasks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread alone: reading a remote server is waiting on it, which one thread
    /// does at the least cost.
    One,
    /// A thread per core, for work done in this process: the embedded server, `serve`.
    PerCore,
}

impl Threads {
    /// The threads for reading servers, `embedded` when one of them runs in this process.
    /// Reading a remote server is waiting on it: one thread does that at the least cost, and
    /// what it reads reuses the memory the config's loading freed (a second thread would get
    /// an allocator arena of its own: docs/benchmarks.md). The embedded server does its share
    /// of the work in this process, so it gets the threads to do it in parallel.
    #[must_use]
    pub fn to_read(embedded: bool) -> Self {
        if embedded {
            Threads::PerCore
        } else {
            Threads::One
        }
    }
}

/// Runs a command's asynchronous part to its end, on the process's tokio runtime. This is the
/// one place a runtime is built; a command calls it once, after its synchronous part (loading
/// the config) has told it how many threads it needs.
pub fn block_on<T>(
    threads: Threads,
    body: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let runtime = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Threads::PerCore => tokio::runtime::Runtime::new(),
    }
    .map_err(|e| Error::msg(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(body)
}

/// Loads the config the arguments name; on failure, with every error.
pub fn load_config(args: &crate::cli::ConfigArgs) -> Result<config::Config, Error> {
    load_config_at(args.path(), args)
}

/// Loads the config at `path` with the arguments' options; on failure, with every error.
pub fn load_config_at(
    path: &std::path::Path,
    args: &crate::cli::ConfigArgs,
) -> Result<config::Config, Error> {
    config::load(path, &args.load_options()).map_err(|errors| errors.0.into())
}

/// Reads a plan saved by `plan --out` and checks that it is one: of this format version, and
/// not edited since it was saved (its `digest`). On failure, says why.
pub fn read_saved_plan(path: &std::path::Path) -> Result<crate::plan::Plan, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::msg(format!("cannot read the plan {}: {e}", path.display())))?;
    let plan = crate::render::parse_json(&text)
        .map_err(|e| Error::msg(format!("{} is not a scimform plan: {e}", path.display())))?;
    if plan.digest.is_empty() {
        return Err(Error::msg(
            "the plan has no digest of its operations (it was saved by an older scimform, or \
             edited); run `scimform plan --out` again",
        ));
    }
    if plan.config_digest != crate::digest::of_config_files(&plan.config_files) {
        return Err(Error::msg(
            "the plan was changed after it was saved: its config_files do not match its \
             config_digest; run `scimform plan --out` again",
        ));
    }
    if plan.digest != plan.computed_digest() {
        return Err(Error::msg(
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

/// Writes to stdout; a closed pipe is not an error.
pub fn print_stdout(text: &str) -> Result<(), Error> {
    let text = crate::scrub::scrub(text);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Output(e)),
    }
}

/// Whether stderr may be coloured.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes config diagnostics to stderr, with a count.
fn report_diagnostics(diagnostics: &[config::Diagnostic]) {
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

/// The provider a single-provider command (`import`, `doctor`) works on: the one named, or the
/// only one the config declares.
pub fn pick_provider<'a>(
    config: &'a config::Config,
    name: Option<&str>,
    command: &str,
) -> Result<&'a config::Provider, Error> {
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
            Error::msg(format!(
                "--provider {name}: no such provider; the config declares: {}",
                known()
            ))
        }),
        None => match config.providers() {
            [only] => Ok(only),
            _ => Err(Error::msg(format!(
                "{command} works on one provider: pass --provider NAME (the config declares: {})",
                known()
            ))),
        },
    }
}
