//! `scimform doctor`: check that a provider's server answers, accepts the token and offers
//! what plan needs; a one-screen report on stdout, exit 1 when a check fails.

use std::process::ExitCode;

use super::{load_config, pick_provider, print_stdout, report_diagnostics};
use crate::cli::DoctorArgs;
use crate::connect;
use crate::doctor;
use crate::render;

pub fn run(args: &DoctorArgs) -> ExitCode {
    args.log.init();
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let provider = match pick_provider(&config, args.provider.as_deref(), "doctor") {
        Ok(provider) => provider,
        Err(code) => return code,
    };
    let target = match connect::resolve(provider, args.config.allow_insecure_http) {
        Ok(target) => target,
        Err(errors) => {
            report_diagnostics(&errors);
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let report = runtime.block_on(doctor::diagnose(
        provider,
        &target,
        args.config.allow_insecure_http,
    ));
    let code = print_stdout(&report.render(render::color_for_stdout()));
    if code != ExitCode::SUCCESS || !report.passed() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
