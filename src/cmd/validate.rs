//! `scimform validate`: every §1.4 check, offline.

use std::process::ExitCode;

use super::{keep_until_exit, print_stdout, report_diagnostics};
use crate::cli::ValidateArgs;
use crate::config;

pub fn run(args: &ValidateArgs) -> ExitCode {
    match config::load(args.config.path(), &args.config.load_options()) {
        Ok(config) => {
            let config = keep_until_exit(config);
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            print_stdout(&format!(
                "{} is valid: {}, {}, {}, {}\n",
                args.config.path().display(),
                count(config.providers().len(), "provider"),
                count(config.users().len(), "user"),
                count(config.groups().len(), "group"),
                count(config.roles().len(), "role assignment"),
            ))
        }
        Err(errors) => {
            report_diagnostics(&errors.0);
            ExitCode::FAILURE
        }
    }
}
