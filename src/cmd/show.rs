//! `scimform show PLAN`: a saved plan printed again, as `plan` printed it, so that what is
//! about to be applied (or what was) can be read in any format (README, Saved plans).

use super::{Error, print_stdout, read_saved_plan};
use crate::cli::ShowArgs;
use crate::render;

pub fn run(args: &ShowArgs) -> Result<(), Error> {
    let plan = read_saved_plan(&args.plan)?;
    print_stdout(&render::render(
        &plan,
        args.format,
        render::color_for_stdout(),
    ))
}
