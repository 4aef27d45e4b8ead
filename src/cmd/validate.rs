//! `scimform validate`: every §1.4 check, offline.

use super::{Error, keep_until_exit, load_config, print_stdout};
use crate::cli::ValidateArgs;

pub fn run(args: &ValidateArgs) -> Result<(), Error> {
    let config = keep_until_exit(load_config(&args.config)?);
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    print_stdout(&format!(
        "{} is valid: {}, {}, {}, {}\n",
        args.config.path().display(),
        count(config.providers().len(), "provider"),
        count(config.users().len(), "user"),
        count(config.groups().len(), "group"),
        count(config.roles().len(), "role assignment"),
    ))
}
