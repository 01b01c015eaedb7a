//! `tessera`: allocator tunables ([`tessera_server::memory`]) → CLI → config → telemetry → application → run until stopped.

use std::process::ExitCode;

fn main() -> ExitCode {
    tessera_server::memory::return_large_blocks_to_the_system();
    match tessera_server::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
