//! `enroll webhook …`: a publisher's webhook endpoints, their deliveries and replays.

use clap::Subcommand;

use enroll::domain::PublisherId;
use enroll::service::admin_keys::AdminAuth;
use enroll::service::{self, Services};

use super::refused;

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

pub(super) async fn run(sv: &Services, cmd: WebhookCommand) -> anyhow::Result<()> {
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
