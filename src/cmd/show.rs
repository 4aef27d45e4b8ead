//! `scimform show PLAN`: a saved plan printed again, as `plan` printed it, so that what is
//! about to be applied (or what was) can be read in any format (SPEC §3.7, §3.8).

use std::process::ExitCode;

use super::{print_stdout, read_saved_plan};
use crate::cli::ShowArgs;
use crate::render;

pub fn run(args: &ShowArgs) -> ExitCode {
    match read_saved_plan(&args.plan) {
        Ok(plan) => print_stdout(&render::render(
            &plan,
            args.format,
            render::color_for_stdout(),
        )),
        Err(code) => code,
    }
}
