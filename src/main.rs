use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = enroll::cli::Cli::parse();
    match enroll::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, naming the setting or step that failed.
            eprintln!("enroll: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
