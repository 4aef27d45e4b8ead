//! Command-line arguments and dispatch. Arguments are parsed raw by clap and handed to the
//! library modules; this is the one place that turns errors into output and exit codes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, LoadOptions, Style};

/// A Terraform-style reconciler for SCIM 2.0 directories.
#[derive(Debug, Parser)]
#[command(name = "scimform", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a config offline: syntax, types, names, roles. Needs no secrets and no network.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the config format.
    Schema,
}

/// Where the config is read from.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A config file, or a folder whose *.yaml and *.yml files are merged.
    ///
    /// The default is a single file so that other YAML in the working directory (CI
    /// workflows, compose files) is never mistaken for config; pass a folder explicitly.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        default_value = "scimform.yaml"
    )]
    pub file: PathBuf,
    /// Accept plain http:// provider URLs to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
}

impl ConfigArgs {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            allow_insecure_http: self.allow_insecure_http,
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Parses the process arguments, runs the command and returns its exit code.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Schema => print_stdout(&config::json_schema()),
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    match config::load(&args.config.file, &args.config.load_options()) {
        Ok(config) => {
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            print_stdout(&format!(
                "{} is valid: {}, {}, {}, {}\n",
                args.config.file.display(),
                count(config.providers().len(), "provider"),
                count(config.users().len(), "user"),
                count(config.groups().len(), "group"),
                count(config.roles().len(), "role assignment"),
            ))
        }
        Err(errors) => {
            report(&errors.0);
            ExitCode::FAILURE
        }
    }
}

/// Writes diagnostics to stderr, coloured only on a terminal without `NO_COLOR`.
fn report(diagnostics: &[config::Diagnostic]) {
    let mut stderr = std::io::stderr().lock();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let style = if color { Style::Color } else { Style::Plain };
    let mut text = config::render(diagnostics, style);
    let n = diagnostics.len();
    let plural = if n == 1 { "" } else { "s" };
    text = format!("{text}scimform: {n} error{plural} found\n");
    let _ = stderr.write_all(text.as_bytes());
}

/// Writes to stdout; a closed pipe is not an error (§2).
fn print_stdout(text: &str) -> ExitCode {
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
