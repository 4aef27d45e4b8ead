//! Command-line arguments and dispatch. Arguments are parsed raw by clap and handed to the
//! library modules; this is the one place that turns errors into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Terraform-style reconciler for SCIM 2.0 directories.
#[derive(Debug, Parser)]
#[command(name = "scimform", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

/// Parses the process arguments, runs the command and returns its exit code.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
