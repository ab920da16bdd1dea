//! `enroll consent set|verify`: publishing a consent version, checking consent history chains.

use clap::{Args, Subcommand};

use enroll::domain::{ConsentDraft, ConsentName, ConsentOwner, CustomerId, PublisherId};
use enroll::service::admin_keys::AdminAuth;
use enroll::service::{self, Services};
use enroll::store::Published;

use super::refused;

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

fn parse_owner(s: &str) -> Result<ConsentOwner, String> {
    if s == "platform" || s == "0" {
        Ok(ConsentOwner::Platform)
    } else {
        PublisherId::parse(s).map(ConsentOwner::Publisher)
    }
}

pub(super) async fn verify(sv: &Services, args: ConsentVerify) -> anyhow::Result<()> {
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

pub(super) async fn set(sv: &Services, args: ConsentSet) -> anyhow::Result<()> {
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
