//! `tessera`: CLI → config → telemetry → application → run until stopped.

use std::process::ExitCode;

fn main() -> ExitCode {
    match tessera_server::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
