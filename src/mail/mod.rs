//! Email: the outbox worker and its transports (SMTP through lettre; `.eml` files for
//! development). Rows are written in the transaction of the change that causes them; the
//! worker marks one sent only after the server accepted it, so a restart loses nothing.

pub mod templates;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::Notify;

use crate::config::{MailSettings, MailTransport, SmtpTls};
use crate::store::{OutboxMail, Store};
use templates::Message;

/// How long a claimed email is reserved for the replica sending it.
const LEASE: Duration = Duration::from_secs(120);
/// How often expired counters and idempotency records are dropped.
const PURGE_EVERY: Duration = Duration::from_secs(60);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, String),
}

/// Sends rendered messages through the configured transport.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport of `mail.transport`; the error names the setting.
    pub fn new(settings: &MailSettings) -> Result<Mailer, String> {
        let from: Mailbox = settings.from.parse().map_err(|e| {
            format!(
                "mail.from: {:?} is not an address such as \"Enroll <no-reply@example.com>\" ({e})",
                settings.from
            )
        })?;
        let transport = match settings.transport {
            MailTransport::File => {
                std::fs::create_dir_all(&settings.dir).map_err(|e| {
                    format!("mail.dir: cannot create {}: {e}", settings.dir.display())
                })?;
                Transport::File(
                    AsyncFileTransport::new(&settings.dir),
                    settings.dir.display().to_string(),
                )
            }
            MailTransport::Smtp => {
                let smtp = &settings.smtp;
                if smtp.host.is_empty() {
                    return Err("mail.smtp.host: must be set when mail.transport = \"smtp\"".into());
                }
                let builder = match smtp.tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                            .map_err(|e| format!("mail.smtp.host: {e}"))?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                        .map_err(|e| format!("mail.smtp.host: {e}"))?,
                };
                let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
                if !smtp.username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        smtp.username.clone(),
                        smtp.password.expose_secret().to_owned(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Mailer { transport, from })
    }

    /// Hands one message to the transport; Ok only once the server (or file) accepted it.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| format!("recipient address: {e}"))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| format!("building the message: {e}"))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| format!("smtp: {e}")),
            Transport::File(file, dir) => {
                let id = file
                    .send(email)
                    .await
                    .map_err(|e| format!("writing the message: {e}"))?;
                tracing::info!(file = %format!("{dir}/{id}.eml"), "email written");
                Ok(())
            }
        }
    }
}

/// Sends due outbox rows until the store is dropped, waking on `notify` or every poll interval.
pub fn spawn_outbox(
    store: Weak<dyn Store>,
    mailer: Mailer,
    notify: Arc<Notify>,
    settings: MailSettings,
) {
    tokio::spawn(async move {
        let mut purged = Instant::now();
        loop {
            let Some(store) = store.upgrade() else { break };
            let max = i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
            match store.claim_mail(LEASE, max).await {
                Ok(Some(mail)) => {
                    deliver(store.as_ref(), &mailer, &settings, mail).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: cannot claim mail; will retry"),
            }
            if purged.elapsed() >= PURGE_EVERY {
                purged = Instant::now();
                let hour = chrono::Utc::now().timestamp() / 3600;
                if let Err(e) = store.purge(hour, Duration::from_secs(24 * 3600)).await {
                    tracing::warn!(error = %e, "purging expired records failed");
                }
                if let Err(e) = store.purge_admin_sessions().await {
                    tracing::warn!(error = %e, "purging expired admin sessions failed");
                }
            }
            drop(store);
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    });
}

async fn deliver(store: &dyn Store, mailer: &Mailer, settings: &MailSettings, mail: OutboxMail) {
    let customer = mail.customer.map(|c| c.to_string()).unwrap_or_default();
    match mailer.send(&mail.message).await {
        Ok(()) => {
            metrics::counter!("mail_sent_total", "kind" => mail.kind.clone()).increment(1);
            tracing::info!(kind = %mail.kind, customer_id = %customer, attempt = mail.attempts, "email sent");
            if let Err(e) = store.mail_sent(mail.id).await {
                // Sent but not marked: it may go out once more after the lease.
                tracing::error!(error = %e, id = mail.id, "outbox: sent but could not mark it sent");
            }
        }
        Err(error) => {
            metrics::counter!("mail_failed_total", "kind" => mail.kind.clone()).increment(1);
            let exponent = u32::try_from(mail.attempts.saturating_sub(1))
                .unwrap_or(0)
                .min(16);
            let retry_in = settings
                .retry_base
                .saturating_mul(2u32.saturating_pow(exponent))
                .min(Duration::from_secs(3600));
            tracing::warn!(kind = %mail.kind, customer_id = %customer, attempt = mail.attempts, ?retry_in, %error, "email not sent; will retry");
            if let Err(e) = store.mail_failed(mail.id, &error, retry_in).await {
                tracing::error!(error = %e, id = mail.id, "outbox: could not record a failed try");
            }
        }
    }
}
