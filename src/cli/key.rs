//! `enroll key create|list|revoke`: admin API keys.

use clap::Subcommand;

use enroll::domain::PublisherId;
use enroll::service::admin_keys::AdminAuth;
use enroll::service::{self, Services};

use super::refused;

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

pub(super) async fn run(sv: &Services, cmd: KeyCommand) -> anyhow::Result<()> {
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
