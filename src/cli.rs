//! Command-line arguments and dispatch. Arguments are parsed raw by clap and handed to the
//! command modules in [`crate::cmd`]; each returns how it ended, and [`run`] is the one place
//! that maps that to the process's status.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::cmd::{self, Outcome};
use crate::config::LoadOptions;
use crate::log::LogFormat;
use crate::render::Format;

/// A Terraform-style reconciler for SCIM 2.0 directories.
#[derive(Debug, Parser)]
#[command(
    name = "scimform",
    version = env!("SCIMFORM_VERSION_LONG"),
    about,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a config offline: syntax, types, names, roles. Needs no secrets and no network.
    Validate(ValidateArgs),
    /// Read each provider's SCIM server and show the calls that would make it match the config.
    Plan(PlanArgs),
    /// Make each provider's server match the config, or execute a saved plan.
    Apply(ApplyArgs),
    /// Print a plan saved by `plan --out` again, after checking that it was not edited.
    Show(ShowArgs),
    /// Read a provider's server and write it as config, such that `plan` on it shows no changes.
    Import(ImportArgs),
    /// Check that a provider's server answers, accepts the token and supports what plan needs.
    Doctor(DoctorArgs),
    /// Run the local SCIM 2.0 server and print its base URL.
    Serve(ServeArgs),
    /// Print the JSON Schema of the config format.
    Schema,
    /// Lay out config files one way, keeping comments and key order; `--check` only reports.
    Fmt(FmtArgs),
    /// Print a shell completion script: `scimform completions bash > /etc/bash_completion.d/scimform`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `scimform man > scimform.1`.
    Man,
}

/// `scimform fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// A config file, or a folder whose *.yaml and *.yml files are formatted [default:
    /// scimform.yaml].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Write nothing: list the files that are not laid out, and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

/// `scimform completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where the config is read from.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A config file, or a folder whose *.yaml and *.yml files are merged [default:
    /// scimform.yaml; for `apply PLAN`, the config the plan was made from].
    ///
    /// The default is a single file so that other YAML in the working directory (CI
    /// workflows, compose files) is never mistaken for config; pass a folder explicitly.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Accept plain http:// provider URLs to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
}

/// The config read when `-f` is not given.
pub const DEFAULT_CONFIG: &str = "scimform.yaml";

impl ConfigArgs {
    /// The config to read: `-f`, or `scimform.yaml` in the working directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.file
            .as_deref()
            .unwrap_or_else(|| Path::new(DEFAULT_CONFIG))
    }

    #[must_use]
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            allow_insecure_http: self.allow_insecure_http,
        }
    }
}

/// The request log, on stderr: `-v` and `--log-format`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log every request to stderr: time, provider, method, path, the object it is about,
    /// status and latency.
    #[arg(short, long)]
    pub verbose: bool,
    /// How the log is written: `text` for people, or `json`, one object per line, which logs
    /// every request as -v does.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Whether every request is logged.
    #[must_use]
    pub fn requests(&self) -> bool {
        crate::log::enabled(self.verbose, self.log_format)
    }

    /// Installs the log these arguments ask for.
    pub fn init(&self) {
        crate::log::init(self.verbose, self.log_format, cmd::stderr_color());
    }
}

/// `scimform validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to report: `text` (errors drawn into the YAML, on stderr), `json` (one object on
    /// stdout: `valid`, `errors` with file, line, column, message and help, and the counts), or
    /// `github` (workflow commands that GitHub shows on the lines of a pull request's diff, on
    /// stdout, and the text on stderr).
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

/// The formats of `scimform validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Github,
}

/// `scimform plan`.
// Flags are independent switches of the command line, as clap parses them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also save the plan to this file, for `scimform apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there is nothing to do, 2 when changes are pending, 1 on error.
    ///
    /// Unmanaged objects (on the server, not in the config, left alone with `prune: false`)
    /// are not changes: see --fail-on-unmanaged.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 3 when a server holds users or groups the config does not declare (unmanaged),
    /// unless --detailed-exitcode has changes to report (2) or the plan fails (1).
    #[arg(long)]
    pub fail_on_unmanaged: bool,
    /// Plan only this provider.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Allow a plan that deprovisions more users than `max_changes.delete_percent`.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Plan to batch each phase's independent writes into `/Bulk` requests where the server
    /// offers it; `apply PLAN` then sends them so.
    #[arg(long)]
    pub bulk: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `scimform apply`.
// Flags are independent switches of the command line, as clap parses them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A plan saved by `plan --out`: apply exactly it, to the server it was made against, if
    /// nothing it touches has moved. Without `-f`, the config is the one the plan was made from.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// The most requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Apply only this provider.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Allow a plan that deprovisions more users than `max_changes.delete_percent`.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Batch each phase's independent writes into `/Bulk` requests where the server offers it
    /// (a saved plan says for itself).
    #[arg(long)]
    pub bulk: bool,
    #[command(flatten)]
    pub log: LogArgs,
    /// Print only failures and the final counts: no plan, and no line per object as it
    /// finishes.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// `scimform show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved by `plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `scimform import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The provider to import; may be left out when the config declares only one.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Where to write: a file, or a folder (an existing one, or a path ending in `/`) that
    /// gets providers.yaml, users.yaml, groups.yaml and roles.yaml. Default: stdout.
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Overwrite the files import writes when the target already holds config: the file, or
    /// the folder's providers.yaml, users.yaml, groups.yaml and roles.yaml. Other config in the
    /// folder is kept, and the folder as a whole must then load and plan empty.
    #[arg(long)]
    pub force: bool,
    /// What the `# yaml-language-server: $schema=` comment of the written files points at.
    #[arg(long, value_name = "REF", default_value = "scimform.schema.json")]
    pub schema_ref: String,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `scimform doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The provider to check; may be left out when the config declares only one.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `scimform serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The SQLite file holding the directory; created if missing.
    #[arg(long, default_value = ".scimform/serve.db")]
    pub store: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A file holding the token clients must send (at least 16 characters). Without it, a
    /// fresh token is written to `<store>.token` (mode 0600) and that path is printed.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// How long a connection may take to send a request's headers, counted from when it
    /// opened or got its previous response; a connection idle that long is closed (`5s`, `1m`).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = positive_duration)]
    pub header_timeout: std::time::Duration,
    /// Answer as this hosted service's SCIM API does, with the deviations from RFC 7644 its
    /// provider profile documents (page size, filters, hidden group members, the group PATCH
    /// it accepts, /Bulk, emails and roles), over the same store.
    #[arg(long, value_name = "PROFILE", value_parser = emulated_profile())]
    pub emulate: Option<&'static scim::profile::Profile>,
}

/// `--emulate`'s values: the name of every provider profile, its service's name as its help.
fn emulated_profile()
-> impl clap::builder::TypedValueParser<Value = &'static scim::profile::Profile> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(
        scim::profile::PROFILES.map(|profile| PossibleValue::new(profile.name).help(profile.title)),
    )
    .map(|name| scim::profile::find(&name).expect("only the profiles' names are accepted"))
}

fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses the process arguments, runs the command, and maps how it ended to the exit code:
/// the one place that does (README, "What the exit code reports"). A failure is written to
/// stderr here, once.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let done = |result: Result<(), cmd::Error>| result.map(|()| Outcome::Success);
    let result = match cli.command {
        Command::Validate(args) => done(cmd::validate::run(&args)),
        Command::Plan(args) => cmd::plan::run(&args),
        Command::Apply(args) => done(cmd::apply::run(&args)),
        Command::Show(args) => done(cmd::show::run(&args)),
        Command::Import(args) => done(cmd::import::run(&args)),
        Command::Doctor(args) => done(cmd::doctor::run(&args)),
        Command::Serve(args) => done(cmd::serve::run(&args)),
        Command::Schema => done(cmd::print_stdout(&crate::config::json_schema())),
        Command::Fmt(args) => done(cmd::fmt::run(&args)),
        Command::Completions(args) => done(cmd::generate::completions(args.shell)),
        Command::Man => done(cmd::generate::man()),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPending) => ExitCode::from(CHANGES_PENDING),
        Ok(Outcome::UnmanagedFound) => ExitCode::from(UNMANAGED_FOUND),
        Err(error) => {
            error.report();
            ExitCode::FAILURE
        }
    }
}

/// The exit code of `plan --detailed-exitcode` when the plan holds changes.
pub const CHANGES_PENDING: u8 = 2;
/// The exit code of `plan --fail-on-unmanaged` when a server holds objects the config does not
/// declare (and `--detailed-exitcode` has no changes to report).
pub const UNMANAGED_FOUND: u8 = 3;
