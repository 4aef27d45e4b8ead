//! `scimform completions SHELL` and `scimform man`: generated from the command line's own clap
//! definition, so they list exactly the commands and flags the binary accepts.

use clap::CommandFactory;

use super::{Error, print_stdout};
use crate::cli::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "scimform", &mut script);
    print_stdout(&String::from_utf8_lossy(&script))
}

/// Prints the man page, `scimform(1)`, with a section per command.
pub fn man() -> Result<(), Error> {
    let command = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page).map_err(Error::Output)?;
    man.render_name_section(&mut page).map_err(Error::Output)?;
    man.render_synopsis_section(&mut page)
        .map_err(Error::Output)?;
    man.render_description_section(&mut page)
        .map_err(Error::Output)?;
    man.render_subcommands_section(&mut page)
        .map_err(Error::Output)?;
    man.render_version_section(&mut page)
        .map_err(Error::Output)?;
    // Each command's own options, under its name.
    for sub in command.get_subcommands() {
        let name = format!("scimform {}", sub.get_name());
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let sub = sub.clone().bin_name(name);
        let sub_man = clap_mangen::Man::new(sub);
        sub_man
            .render_synopsis_section(&mut page)
            .map_err(Error::Output)?;
        sub_man
            .render_options_section(&mut page)
            .map_err(Error::Output)?;
    }
    print_stdout(&String::from_utf8_lossy(&page))
}
