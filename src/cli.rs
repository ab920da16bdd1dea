//! The command line: `serve`, `migrate`, `publisher create|list|show|update`, `consent set`,
//! `key create|list|revoke`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{Application, shutdown_signal};
use crate::config::{DEFAULT_CONFIG, Settings};
use crate::domain::{
    ConsentDraft, ConsentName, ConsentOwner, OfferId, PublisherId, PublisherSettings,
};
use crate::store::{self, NewAdminKey, NewAudit, Published, Store};

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
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
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
        id: i64,
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
    crate::telemetry::init_logs(&settings.log);
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
            let store = store::connect(&settings.database).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Publisher(cmd) => publisher(&*open(&settings).await?, cmd).await,
        Command::Consent(ConsentCommand::Set(args)) => {
            consent_set(&*open(&settings).await?, args).await
        }
        Command::Key(cmd) => key(&*open(&settings).await?, cmd).await,
        Command::Healthcheck => healthcheck(settings.server.addr).await,
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

async fn open(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let store = store::connect(&settings.database).await?;
    if settings.database.migrate {
        store.migrate().await.context("database migrations")?;
    }
    Ok(store)
}

async fn publisher(store: &dyn Store, cmd: PublisherCommand) -> anyhow::Result<()> {
    match cmd {
        PublisherCommand::Create { id, name, offers } => {
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            store
                .create_publisher(id, &name, &PublisherSettings::default(), &offers)
                .await?;
            println!("created publisher {id} ({name})");
        }
        PublisherCommand::List => {
            println!("{:<10} {:<30} offers", "id", "name");
            for p in store.publishers().await? {
                let offers: Vec<String> = store
                    .offers(p.id)
                    .await?
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("{:<10} {:<30} {}", p.id, p.name, offers.join(","));
            }
        }
        PublisherCommand::Show { id } => {
            let p = store
                .publisher(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no publisher {id}"))?;
            let shown = serde_json::json!({
                "id": p.id.to_string(),
                "name": p.name,
                "settings": crate::http::admin::settings::redacted(&p.settings),
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        PublisherCommand::Update {
            id,
            name,
            set,
            settings,
        } => {
            let p = store
                .publisher(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no publisher {id}"))?;
            let name = name.unwrap_or(p.name);
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
            let patched = p
                .settings
                .patched_all(&patches)
                .map_err(anyhow::Error::msg)?;
            store.update_publisher(id, &name, &patched).await?;
            println!("updated publisher {id} ({name})");
        }
    }
    Ok(())
}

/// The audit trail's actor for changes made on the command line.
const CLI_ACTOR: &str = "cli";

fn cli_audit(publisher: Option<PublisherId>, action: &str, detail: serde_json::Value) -> NewAudit {
    NewAudit {
        key_id: None,
        actor: CLI_ACTOR.to_owned(),
        publisher,
        action: action.to_owned(),
        detail,
    }
}

async fn key(store: &dyn Store, cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Create {
            publisher, label, ..
        } => {
            let label = label.trim().to_owned();
            if label.chars().count() > 100 || label.contains('\0') {
                anyhow::bail!("--label must be at most 100 characters");
            }
            let (secret, hash) = crate::auth::admin_key::new_admin_key();
            let scope = if publisher.is_some() {
                "publisher"
            } else {
                "operator"
            };
            let audit = cli_audit(
                publisher,
                "key.create",
                serde_json::json!({"scope": scope, "label": label}),
            );
            let stored = store
                .create_admin_key(
                    &NewAdminKey {
                        hash,
                        publisher,
                        label,
                    },
                    &audit,
                )
                .await?;
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
            for k in store.admin_keys(publisher).await? {
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
        KeyCommand::Revoke { id } => {
            let audit = cli_audit(None, "key.revoke", serde_json::json!({"keyId": id}));
            match store.revoke_admin_key(id, &audit).await? {
                Some(_) => println!("revoked key {id}"),
                None => anyhow::bail!("key {id} not found (see `enroll key list`)"),
            }
        }
    }
    Ok(())
}

async fn consent_set(store: &dyn Store, args: ConsentSet) -> anyhow::Result<()> {
    let draft = ConsentDraft {
        name: args.name,
        label: args.label,
        value: args.value,
        required: args.required,
        enabled_by_default: args.enabled_by_default,
        placeholder: args.placeholder,
    };
    draft.check().map_err(anyhow::Error::msg)?;
    match store.publish_consent(args.publisher, &draft).await? {
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
