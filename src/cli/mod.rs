//! The command line: `serve`, `migrate`, `healthcheck`, and one module per command family
//! (`publisher`, `consent`, `key`, `webhook`, `import`), each calling the service layer.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use enroll::app::{Application, command_services, shutdown_signal};
use enroll::config::{DEFAULT_CONFIG, Settings};
use enroll::domain::PublisherId;
use enroll::domain::problem::Reason;
use enroll::error::ApiError;
use enroll::service::admin_keys::AdminAuth;
use enroll::service::{self, Services};

mod consent;
mod import;
mod key;
mod publisher;
mod webhook;

use consent::ConsentCommand;
use import::ImportCommand;
use key::KeyCommand;
use publisher::PublisherCommand;
use webhook::WebhookCommand;

/// Enroll: customer registration for publishers.
#[derive(Debug, Parser)]
#[command(name = "enroll", version, about)]
pub struct Cli {
    /// Config file (environment variables ENROLL_SECTION__KEY override it).
    #[arg(long, global = true, env = "ENROLL_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (runs pending migrations first unless database.migrate = false).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage publishers (tenants).
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Manage consents.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Manage admin API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage a publisher's webhook endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
    /// Bring existing customers in.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Runs the command; errors are printed by `main` as one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.config).map_err(anyhow::Error::msg)?;
    enroll::telemetry::init_logs(&settings.log);
    let ignored = Settings::ignored_env();
    if !ignored.is_empty() {
        tracing::debug!(names = ?ignored, "ignored ENROLL_ variables without `__` (not settings)");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(addr = %app.local_addr(), "enroll is listening");
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            enroll::app::migrate(&settings.database).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Publisher(cmd) => publisher::run(&command_services(settings).await?, cmd).await,
        Command::Consent(ConsentCommand::Set(args)) => {
            consent::set(&command_services(settings).await?, args).await
        }
        Command::Consent(ConsentCommand::Verify(args)) => {
            consent::verify(&command_services(settings).await?, args).await
        }
        Command::Key(cmd) => key::run(&command_services(settings).await?, cmd).await,
        Command::Webhook(cmd) => webhook::run(&command_services(settings).await?, cmd).await,
        Command::Healthcheck => healthcheck(settings.server.addr).await,
        Command::Import(cmd) => import::run(&command_services(settings).await?, cmd).await,
    }
}

/// GET /healthz on the configured address with a bare HTTP/1.1 request (no client library).
async fn healthcheck(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        anyhow::Ok(head)
    };
    let head = tokio::time::timeout(std::time::Duration::from_secs(3), check)
        .await
        .context("healthcheck timed out")??;
    anyhow::ensure!(
        head.ends_with(b" 200"),
        "healthz answered {:?}",
        String::from_utf8_lossy(&head)
    );
    Ok(())
}

/// An operation's refusal as one line: its message and what was wrong with which field.
fn refused(e: ApiError) -> anyhow::Error {
    let why: Vec<String> = e
        .details()
        .iter()
        .map(|d| {
            let reason = match d.reason {
                Reason::AlreadyExists => "already exists",
                Reason::NotFound => "not found",
                Reason::Missing => "missing",
                Reason::TooShort => "too short",
                Reason::TooLong => "too long",
                _ => "invalid",
            };
            format!("{} {reason}", d.field)
        })
        .collect();
    if why.is_empty() {
        anyhow::anyhow!("{}", e.message())
    } else {
        anyhow::anyhow!("{} ({})", e.message(), why.join(", "))
    }
}

/// The publisher `id`, or "no publisher {id}".
async fn existing(sv: &Services, id: PublisherId) -> anyhow::Result<enroll::store::Publisher> {
    service::publishers::in_scope(sv, &AdminAuth::cli(), id)
        .await
        .map_err(|e| match e.status().as_u16() {
            404 => anyhow::anyhow!("no publisher {id}"),
            _ => refused(e),
        })
}
