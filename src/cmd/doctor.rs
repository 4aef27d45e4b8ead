//! `scimform doctor`: check that a provider's server answers, accepts the token and offers
//! what plan needs; a one-screen report on stdout, exit 1 when a check fails.

use super::{Error, Threads, block_on, load_config, pick_provider, print_stdout};
use crate::cli::DoctorArgs;
use crate::connect;
use crate::doctor;
use crate::render;

pub fn run(args: &DoctorArgs) -> Result<(), Error> {
    args.log.init();
    let config = load_config(&args.config)?;
    let provider = pick_provider(&config, args.provider.as_deref(), "doctor")?;
    let target = connect::resolve(provider, args.config.allow_insecure_http)?;
    let report = block_on(Threads::PerCore, async {
        Ok(doctor::diagnose(provider, &target, args.config.allow_insecure_http).await)
    })?;
    print_stdout(&report.render(render::color_for_stdout()))?;
    if report.passed() {
        Ok(())
    } else {
        Err(Error::Reported)
    }
}
