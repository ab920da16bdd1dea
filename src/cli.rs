//! The command line: `serve`, `migrate`, `publisher create|list|show|update`, `consent set`,
//! `key create|list|revoke`, `import customers`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use enroll::app::{Application, command_services, shutdown_signal};
use enroll::auth::firebase::FirebaseParams;
use enroll::auth::legacy::MAX_MEMORY_KIB;
use enroll::config::{DEFAULT_CONFIG, Settings};
use enroll::domain::import::ImportMode;
use enroll::domain::problem::Reason;
use enroll::domain::{
    ConsentDraft, ConsentName, ConsentOwner, CustomerId, OfferId, PublisherId, PublisherSettings,
};
use enroll::error::ApiError;
use enroll::service::admin_keys::AdminAuth;
use enroll::service::import::Format;
use enroll::service::{self, Services};
use enroll::store::Published;

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

/// `enroll import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import customers from a JSON Lines or CSV file (`-`: standard input); prints the report.
    Customers {
        /// Into this publisher.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// An existing email (or externalId): a row error, update the customer, or leave it.
        #[arg(long, default_value = "insert", value_parser = ImportMode::parse)]
        mode: ImportMode,
        /// `jsonl` or `csv` (default: by the file's extension; JSON Lines for `-`).
        #[arg(long)]
        format: Option<String>,
        /// Firebase scrypt hashes: the project's base64 signer key (rows give `passwordHash`
        /// and `passwordSalt` as Firebase exports them).
        #[arg(long, requires_all = ["firebase_salt_separator", "firebase_rounds", "firebase_mem_cost"])]
        firebase_signer_key: Option<String>,
        /// Firebase scrypt: the project's base64 salt separator.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_salt_separator: Option<String>,
        /// Firebase scrypt: the project's rounds.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_rounds: Option<u32>,
        /// Firebase scrypt: the project's memory cost.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_mem_cost: Option<u32>,
        /// The file, or `-` for standard input.
        file: PathBuf,
    },
}

/// `enroll publisher …`
#[derive(Debug, Subcommand)]
pub enum PublisherCommand {
    /// Create a publisher (visible to running servers within the cache TTL).
    Create {
        /// Nine digits.
        #[arg(long, value_parser = PublisherId::parse)]
        id: PublisherId,
        /// Display name.
        #[arg(long)]
        name: String,
        /// An offer id such as S123456789_US (repeatable).
        #[arg(long = "offer", value_parser = OfferId::parse)]
        offers: Vec<OfferId>,
    },
    /// List publishers with their offers.
    List,
    /// Show one publisher's settings as JSON (secrets blanked).
    Show {
        /// Nine digits.
        #[arg(long, value_parser = PublisherId::parse)]
        id: PublisherId,
    },
    /// Change a publisher's name or settings (visible to running servers within the cache TTL).
    /// Settings keys are those of `[publishers.settings]` in the config file.
    Update {
        /// Nine digits.
        #[arg(long, value_parser = PublisherId::parse)]
        id: PublisherId,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// `key=value`, the value as JSON or else as text; dots reach into sections:
        /// `--set email_verification=required --set capture.birth_date=required
        /// --set capture.min_age=18 --set 'cors_origins=["https://app.example.com"]'`.
        /// `key=null` resets a key to its default. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// A JSON merge patch (RFC 7386) of the settings from a file (`-` reads stdin).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
    },
}

/// `a.b=v` as the merge patch `{"a": {"b": v}}`; `v` is JSON if it parses, else text.
fn set_patch(assignment: &str) -> anyhow::Result<serde_json::Value> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--set {assignment:?}: expected KEY=VALUE"))?;
    let mut value =
        serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()));
    for key in path.rsplit('.') {
        if key.is_empty() {
            anyhow::bail!("--set {assignment:?}: empty key");
        }
        value = serde_json::json!({ key: value });
    }
    Ok(value)
}

/// `enroll consent …`
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Publish a new version of a consent (nothing happens when it already says the same).
    Set(ConsentSet),
    /// Verify the consent-history hash chains of a publisher's customers (or one customer);
    /// exits non-zero and names the first broken link when one does not hold.
    Verify(ConsentVerify),
}

/// Arguments of `consent verify`.
#[derive(Debug, Args)]
pub struct ConsentVerify {
    /// The publisher.
    #[arg(long, value_parser = PublisherId::parse)]
    pub publisher: PublisherId,
    /// Only this customer.
    #[arg(long, value_parser = CustomerId::parse)]
    pub customer: Option<CustomerId>,
}

/// Arguments of `consent set`.
#[derive(Debug, Args)]
pub struct ConsentSet {
    /// A publisher id, or `platform` for the platform's own consents.
    #[arg(long, value_parser = parse_owner)]
    pub publisher: ConsentOwner,
    /// The consent's name.
    #[arg(long, value_parser = ConsentName::parse)]
    pub name: ConsentName,
    /// The text shown.
    #[arg(long)]
    pub label: String,
    /// The document's URL.
    #[arg(long, default_value = "")]
    pub value: String,
    /// Must be accepted to register.
    #[arg(long)]
    pub required: bool,
    /// The checkbox starts ticked.
    #[arg(long)]
    pub enabled_by_default: bool,
    /// Placeholder text.
    #[arg(long, default_value = "")]
    pub placeholder: String,
    /// The document consented to: its SHA-256 becomes part of the version's text hash.
    #[arg(long, conflicts_with = "fetch_document")]
    pub document: Option<std::path::PathBuf>,
    /// Fetch the document at `--value` now (through `server.outbound_allow`) and hash it.
    #[arg(long)]
    pub fetch_document: bool,
}

/// `enroll key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key and print it (the only time it is shown; only its hash is stored).
    Create {
        /// A key that reaches every publisher.
        #[arg(
            long,
            conflicts_with = "publisher",
            required_unless_present = "publisher"
        )]
        operator: bool,
        /// A key that reaches this publisher only.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: Option<PublisherId>,
        /// A name for people (shown in lists and the audit trail).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (never the keys themselves).
    List {
        /// Only this publisher's keys.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: Option<PublisherId>,
    },
    /// Revoke a key by its id; it stops working at once on every server.
    Revoke {
        /// The id `key list` shows.
        #[arg(value_parser = enroll::domain::AdminKeyId::parse)]
        id: enroll::domain::AdminKeyId,
    },
}

/// `enroll webhook …`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create an endpoint and print its secret (the only time it is shown).
    Create {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// Where deliveries go.
        #[arg(long)]
        url: String,
        /// Event types wanted (repeat, or separate with commas).
        #[arg(long = "event", required = true, value_delimiter = ',')]
        events: Vec<String>,
        /// A note.
        #[arg(long)]
        description: Option<String>,
    },
    /// List a publisher's endpoints (never their secrets).
    List {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
    },
    /// Stop deliveries to an endpoint (they wait until it is enabled).
    Disable {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
    },
    /// Enable an endpoint again; what waited is delivered.
    Enable {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
    },
    /// Print a new secret; the old one still signs for `events.rotation_overlap`.
    RotateSecret {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
    },
    /// Delete an endpoint and its undelivered deliveries.
    Delete {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
    },
    /// An endpoint's recent deliveries, newest first.
    Deliveries {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
        /// How many (at most 200).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Send one delivery again, or every event since a time (also those the endpoint never got).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["delivery", "since"])))]
    Replay {
        /// Whose.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// The id `webhook list` shows.
        id: i64,
        /// The delivery id `webhook deliveries` shows.
        #[arg(long)]
        delivery: Option<i64>,
        /// RFC 3339, e.g. 2026-11-30T12:00:00Z.
        #[arg(long, value_parser = service::deliveries::parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_owner(s: &str) -> Result<ConsentOwner, String> {
    if s == "platform" || s == "0" {
        Ok(ConsentOwner::Platform)
    } else {
        PublisherId::parse(s).map(ConsentOwner::Publisher)
    }
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
        Command::Publisher(cmd) => publisher(&command_services(settings).await?, cmd).await,
        Command::Consent(ConsentCommand::Set(args)) => {
            consent_set(&command_services(settings).await?, args).await
        }
        Command::Consent(ConsentCommand::Verify(args)) => {
            consent_verify(&command_services(settings).await?, args).await
        }
        Command::Key(cmd) => key(&command_services(settings).await?, cmd).await,
        Command::Webhook(cmd) => webhook(&command_services(settings).await?, cmd).await,
        Command::Healthcheck => healthcheck(settings.server.addr).await,
        Command::Import(cmd) => import(&command_services(settings).await?, cmd).await,
    }
}

async fn import(sv: &Services, cmd: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Customers {
        publisher,
        mode,
        format,
        firebase_signer_key,
        firebase_salt_separator,
        firebase_rounds,
        firebase_mem_cost,
        file,
    } = cmd;
    let firebase = match (
        firebase_signer_key,
        firebase_salt_separator,
        firebase_rounds,
        firebase_mem_cost,
    ) {
        (Some(signer_key), Some(salt_separator), Some(rounds), Some(mem_cost)) => {
            let params = FirebaseParams {
                signer_key,
                salt_separator,
                rounds,
                mem_cost,
            };
            params
                .check(MAX_MEMORY_KIB)
                .map_err(|e| anyhow::anyhow!("--firebase-*: {e}"))?;
            Some(params)
        }
        _ => None,
    };
    let csv = match format.as_deref() {
        Some("csv") => true,
        Some("jsonl" | "ndjson" | "json") => false,
        Some(other) => anyhow::bail!("--format {other}: use jsonl or csv"),
        None => file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let format = if csv { Format::Csv } else { Format::JsonLines };
    let source: Box<dyn std::io::Read + Send> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&file).with_context(|| format!("{}", file.display()))?)
    };
    let id = service::import::new_id();
    let file = service::import::ImportFile {
        format,
        source,
        firebase,
    };
    let info = service::import::run(sv, &AdminAuth::cli(), publisher, mode, file, &id)
        .await
        .map_err(|e| match e.status().as_u16() {
            404 => anyhow::anyhow!("no publisher {publisher}"),
            _ => refused(e),
        })?;
    let (_, errors, ids) =
        service::import::report(sv, &AdminAuth::cli(), publisher, &id, 0, i64::MAX)
            .await
            .map_err(refused)?;
    println!(
        "import {id}: {} rows read, {} inserted, {} updated, {} skipped, {} with errors",
        info.rows_read, info.inserted, info.updated, info.skipped, info.failed
    );
    for m in ids {
        println!("line {}: id {} -> {}", m.line, m.old_id, m.customer_id);
    }
    for e in &errors {
        println!("line {}: {}: {}", e.line, e.field, e.message);
    }
    if let Some(why) = info.message {
        anyhow::bail!("import {id} stopped: {why}");
    }
    Ok(())
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

async fn publisher(sv: &Services, cmd: PublisherCommand) -> anyhow::Result<()> {
    let cli = AdminAuth::cli();
    match cmd {
        PublisherCommand::Create { id, name, offers } => {
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let settings = PublisherSettings::default();
            service::publishers::create(sv, &cli, id, &name, &settings, &offers)
                .await
                .map_err(refused)?;
            println!("created publisher {id} ({name})");
        }
        PublisherCommand::List => {
            println!("{:<10} {:<30} offers", "id", "name");
            for p in service::publishers::list(sv, &cli).await.map_err(refused)? {
                let offers: Vec<String> = service::publishers::offers(sv, p.id)
                    .await
                    .map_err(refused)?
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("{:<10} {:<30} {}", p.id, p.name, offers.join(","));
            }
        }
        PublisherCommand::Show { id } => {
            let p = existing(sv, id).await?;
            let shown = serde_json::json!({
                "id": p.id.to_string(),
                "name": p.name,
                "settings": service::publishers::redacted(&p.settings),
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        PublisherCommand::Update {
            id,
            name,
            set,
            settings,
        } => {
            let p = existing(sv, id).await?;
            let name = name.unwrap_or_else(|| p.name.clone());
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            // One change made of the file and every --set, checked together (a new captcha
            // siteverify_url and its secret may come in separate --sets).
            let mut patches = Vec::new();
            if let Some(file) = settings {
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?
                };
                let patch: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", file.display()))?;
                patches.push(patch);
            }
            for assignment in &set {
                patches.push(set_patch(assignment)?);
            }
            let change = service::publishers::SettingsChange::MergePatches(&patches);
            let patched = service::publishers::settings_after(&cli, &p.settings, change)
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            service::publishers::update(sv, &cli, p, name.clone(), patched)
                .await
                .map_err(refused)?;
            println!("updated publisher {id} ({name})");
        }
    }
    Ok(())
}

async fn key(sv: &Services, cmd: KeyCommand) -> anyhow::Result<()> {
    let cli = AdminAuth::cli();
    match cmd {
        KeyCommand::Create {
            publisher, label, ..
        } => {
            let label = label.trim().to_owned();
            if label.chars().count() > 100 || label.contains('\0') {
                anyhow::bail!("--label must be at most 100 characters");
            }
            let (secret, stored) = service::admin_keys::create(sv, &cli, publisher, label)
                .await
                .map_err(|e| match (e.status().as_u16(), publisher) {
                    (404, Some(p)) => anyhow::anyhow!("publisher {p} not found"),
                    _ => refused(e),
                })?;
            match publisher {
                Some(p) => println!("created key {} for publisher {p}", stored.id),
                None => println!("created operator key {}", stored.id),
            }
            println!("{secret}");
            eprintln!("keep it now: it is not stored and cannot be shown again");
        }
        KeyCommand::List { publisher } => {
            println!(
                "{:<6} {:<10} {:<10} {:<21} {:<21} label",
                "id", "scope", "publisher", "created", "revoked"
            );
            let keys = service::admin_keys::list(sv, &cli, publisher)
                .await
                .map_err(refused)?;
            for k in keys {
                let when =
                    |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
                println!(
                    "{:<6} {:<10} {:<10} {:<21} {:<21} {}",
                    k.id,
                    if k.publisher.is_some() {
                        "publisher"
                    } else {
                        "operator"
                    },
                    k.publisher
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "-".into()),
                    when(k.created_at),
                    k.revoked_at.map(when).unwrap_or_else(|| "-".into()),
                    k.label
                );
            }
        }
        KeyCommand::Revoke { id } => match service::admin_keys::revoke(sv, &cli, id).await {
            Ok(_) => println!("revoked key {id}"),
            Err(e) if e.status().as_u16() == 404 => {
                anyhow::bail!("key {id} not found (see `enroll key list`)")
            }
            Err(e) => return Err(refused(e)),
        },
    }
    Ok(())
}

async fn webhook(sv: &Services, cmd: WebhookCommand) -> anyhow::Result<()> {
    use service::webhooks::{self as hooks, WebhookInput};
    let cli = AdminAuth::cli();
    let enabled = |publisher, id, on: bool| {
        let input = WebhookInput {
            enabled: Some(on),
            ..WebhookInput::default()
        };
        hooks::update(sv, &cli, publisher, id, input)
    };
    let (publisher, id, done) = match cmd {
        WebhookCommand::Create {
            publisher,
            url,
            events,
            description,
        } => {
            let input = WebhookInput {
                url: Some(url),
                event_types: Some(events),
                description: Some(description),
                ..WebhookInput::default()
            };
            let (w, secret) = hooks::create(sv, &cli, publisher, input)
                .await
                .map_err(refused)?;
            println!("created webhook {} for publisher {publisher}", w.id);
            println!("{secret}");
            eprintln!("keep it now: it cannot be shown again");
            return Ok(());
        }
        WebhookCommand::List { publisher } => {
            println!(
                "{:<6} {:<9} {:<8} {:<40} events",
                "id", "enabled", "pending", "url"
            );
            for w in hooks::list(sv, &cli, publisher).await.map_err(refused)? {
                let state = match (w.enabled, w.disabled_reason) {
                    (true, _) => "yes".to_owned(),
                    (false, reason) => format!("no:{}", reason.unwrap_or_default()),
                };
                let events = w.event_types.join(",");
                println!(
                    "{:<6} {:<9} {:<8} {:<40} {events}",
                    w.id, state, w.pending, w.url
                );
            }
            return Ok(());
        }
        WebhookCommand::RotateSecret { publisher, id } => {
            let (_, secret) = hooks::rotate_secret(sv, &cli, publisher, id)
                .await
                .map_err(refused)?;
            println!("{secret}");
            eprintln!(
                "keep it now: it cannot be shown again (the old one still signs for a while)"
            );
            return Ok(());
        }
        WebhookCommand::Disable { publisher, id } => (
            publisher,
            id,
            enabled(publisher, id, false).await.map(|_| "disabled"),
        ),
        WebhookCommand::Enable { publisher, id } => (
            publisher,
            id,
            enabled(publisher, id, true).await.map(|_| "enabled"),
        ),
        WebhookCommand::Delete { publisher, id } => (
            publisher,
            id,
            hooks::delete(sv, &cli, publisher, id)
                .await
                .map(|_| "deleted"),
        ),
        WebhookCommand::Deliveries {
            publisher,
            id,
            limit,
        } => {
            let page = service::deliveries::list(sv, &cli, publisher, id, None, limit)
                .await
                .map_err(refused)?;
            println!(
                "{:<8} {:<26} {:<10} {:<6} {:<8} {:<21} event",
                "id", "type", "state", "tries", "status", "occurred"
            );
            for d in page {
                let status = d.last_status.map(|s| s.to_string()).unwrap_or_default();
                println!(
                    "{:<8} {:<26} {:<10} {:<6} {:<8} {:<21} {}",
                    d.id,
                    d.event_type,
                    d.state,
                    d.attempts,
                    status,
                    d.occurred_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    d.event_id
                );
            }
            return Ok(());
        }
        WebhookCommand::Replay {
            publisher,
            id,
            delivery,
            since,
        } => {
            let n = match (delivery, since) {
                (Some(d), _) => service::deliveries::replay_one(sv, &cli, publisher, id, d).await,
                (None, Some(t)) => {
                    service::deliveries::replay_since(sv, &cli, publisher, id, t).await
                }
                (None, None) => anyhow::bail!("give --delivery ID or --since TIME"),
            }
            .map_err(refused)?;
            println!("replaying {n} deliveries of webhook {id} of publisher {publisher}");
            return Ok(());
        }
    };
    match done {
        Ok(what) => println!("{what} webhook {id} of publisher {publisher}"),
        Err(e) if e.status().as_u16() == 404 => {
            anyhow::bail!(
                "webhook {id} of publisher {publisher} not found (see `enroll webhook list`)"
            )
        }
        Err(e) => return Err(refused(e)),
    }
    Ok(())
}

async fn consent_verify(sv: &Services, args: ConsentVerify) -> anyhow::Result<()> {
    let report = service::proof::verify(sv, args.publisher, args.customer)
        .await
        .map_err(refused)?;
    let Some(b) = report.broken else {
        println!(
            "consent history verified: {} customers, {} entries, every chain holds",
            report.customers, report.entries
        );
        return Ok(());
    };
    let whose = match (&b.customer, b.entry, &b.consent) {
        (Some(c), Some(e), _) => format!("customer {c}, history entry {e}"),
        (_, _, Some(v)) => format!("consent version {v}"),
        (Some(c), None, None) => format!("customer {c}"),
        _ => "unknown".to_owned(),
    };
    println!(
        "BROKEN: {whose}: {} expected {:?}, found {:?} (after {} entries of {} customers)",
        b.field, b.expected, b.found, report.entries, report.customers
    );
    anyhow::bail!(
        "consent history of publisher {} does not verify",
        args.publisher
    )
}

async fn consent_set(sv: &Services, args: ConsentSet) -> anyhow::Result<()> {
    let document = match (&args.document, args.fetch_document) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--document {}: {e}", path.display()))?;
            Some(enroll::domain::proof::document_sha256(&bytes))
        }
        (None, true) if args.value.is_empty() => {
            anyhow::bail!("--fetch-document needs the document's URL in --value")
        }
        (None, true) => Some(
            service::proof::fetch_document_sha256(sv, &args.value)
                .await
                .map_err(refused)?,
        ),
        (None, false) => None,
    };
    let draft = ConsentDraft {
        name: args.name,
        label: args.label,
        value: args.value,
        required: args.required,
        enabled_by_default: args.enabled_by_default,
        placeholder: args.placeholder,
        document_sha256: document,
    };
    draft.check().map_err(anyhow::Error::msg)?;
    let published = service::consents::publish(sv, &AdminAuth::cli(), args.publisher, &draft)
        .await
        .map_err(refused)?;
    match published {
        Published::New(v) => {
            println!(
                "published {} version {v} for {}",
                draft.name, args.publisher
            )
        }
        Published::Unchanged(v) => println!(
            "{} version {v} of {} already says this; nothing published",
            draft.name, args.publisher
        ),
    }
    Ok(())
}
