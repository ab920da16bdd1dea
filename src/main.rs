//! The `enroll` command: its command line (`cli`) over the library.

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = cli::run(cli).await;
    // Logs are written by a thread of their own: what still waits goes out before exit.
    enroll::telemetry::flush_logs();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, naming the setting or step that failed.
            eprintln!("enroll: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
