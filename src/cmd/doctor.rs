//! `scimform doctor`.

use std::process::ExitCode;

use crate::cli::DoctorArgs;

pub fn run(_args: &DoctorArgs) -> ExitCode {
    ExitCode::FAILURE
}
