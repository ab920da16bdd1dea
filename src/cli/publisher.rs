//! `enroll publisher create|list|show|update|set`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use enroll::domain::{OfferId, PublisherId, PublisherSettings};
use enroll::service::admin_keys::AdminAuth;
use enroll::service::{self, Services};

use super::{existing, refused};

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

pub(super) async fn run(sv: &Services, cmd: PublisherCommand) -> anyhow::Result<()> {
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
