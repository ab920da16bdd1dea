//! Settings: `config/enroll.toml` (or `--config PATH`), then `ENROLL_` environment variables
//! with `__` for nesting. A bad setting stops start-up with one line naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use crate::domain::{
    ConsentDraft, Country, Currency, Declaration, Locale, OfferId, PublisherDeclaration,
    PublisherId, PublisherSettings,
};

/// The config file used when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "config/enroll.toml";

/// Every setting. Defaults live in `config/enroll.toml`; a missing file means these defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP listener.
    #[serde(default)]
    pub server: ServerSettings,
    /// The database.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// GeoIP and the answer for unknown places.
    #[serde(default)]
    pub geoip: GeoIpSettings,
    /// Logging.
    #[serde(default)]
    pub log: LogSettings,
    /// In-memory caches.
    #[serde(default)]
    pub cache: CacheSettings,
    /// Password hashing and tokens.
    #[serde(default)]
    pub auth: AuthSettings,
    /// Customer JWTs.
    #[serde(default)]
    pub jwt: JwtSettings,
    /// Outgoing email.
    #[serde(default)]
    pub mail: MailSettings,
    /// Per-route rate and concurrency limits.
    #[serde(default)]
    pub limits: LimitSettings,
    /// Event webhooks.
    #[serde(default)]
    pub events: EventSettings,
    /// The admin API and dashboard.
    #[serde(default)]
    pub admin: AdminSettings,
    /// The platform's own consents.
    #[serde(default)]
    pub platform: PlatformSettings,
    /// Publishers declared in the file.
    #[serde(default)]
    pub publishers: Vec<PublisherConfig>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed.
    #[serde(deserialize_with = "nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// Non-public networks outbound HTTP may reach (captcha siteverify, …); none by default.
    #[serde(deserialize_with = "nets")]
    pub outbound_allow: Vec<IpNet>,
    /// Requests running longer are answered 503 S0003.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// How long in-flight requests may finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Serve `/metrics` on its own listener instead of the main one.
    #[serde(deserialize_with = "optional")]
    pub metrics_addr: Option<SocketAddr>,
    /// After SIGTERM, `/readyz` answers 503 while connections are still accepted this long.
    #[serde(with = "humantime_serde")]
    pub drain_delay: Duration,
    /// A request head (or the next one on a kept-alive connection) must arrive within this.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Keep connections open between requests.
    pub keep_alive: bool,
    /// Open connections at most (then accepting pauses).
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            outbound_allow: Vec::new(),
            request_timeout: Duration::from_secs(30),
            body_limit: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
            metrics_addr: None,
            drain_delay: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            keep_alive: true,
            max_connections: 4096,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://data/enroll.db` or `postgres://user@host/db`.
    pub url: String,
    /// Run pending migrations when serving.
    pub migrate: bool,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a connection before 503 S0002.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/enroll.db".into(),
            migrate: true,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
        }
    }
}

/// `[geoip]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpSettings {
    /// A MaxMind DB file: the bundled country database, or GeoIP2/GeoLite2 Country or City.
    pub database: PathBuf,
    /// Country for private, loopback and unknown addresses.
    pub default_country: Country,
    /// Currency for those.
    pub default_currency: Currency,
    /// Locale for those.
    pub default_locale: Locale,
}

impl Default for GeoIpSettings {
    fn default() -> Self {
        GeoIpSettings {
            database: PathBuf::from("data/geo-whois-asn-country.mmdb"),
            default_country: Country::parse("US").unwrap_or_else(|_| unreachable!()),
            default_currency: Currency::parse("USD").unwrap_or_else(|_| unreachable!()),
            default_locale: Locale::parse("en_US").unwrap_or_else(|_| unreachable!()),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `json` (production) or `pretty` (a terminal).
    pub format: LogFormat,
    /// A tracing filter such as `info` or `enroll=debug,info`.
    pub level: String,
    /// Log client IP addresses (for security); off where policy forbids.
    pub client_ip: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Pretty,
            level: "info".into(),
            client_ip: true,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// Human-readable.
    Pretty,
}

/// `[cache]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// How long publishers and their consents are served from memory.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(5),
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Threads that hash passwords; 0 means one per core.
    pub hash_threads: usize,
    /// argon2id memory (m) in KiB.
    pub argon2_memory_kib: u32,
    /// argon2id iterations (t).
    pub argon2_iterations: u32,
    /// argon2id lanes (p).
    pub argon2_parallelism: u32,
    /// How long a refresh token lives from issue.
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// How long a family of rotated refresh tokens lives at most.
    #[serde(with = "humantime_serde")]
    pub refresh_family_ttl: Duration,
    /// A used refresh token presented again within this is only refused; later, its family is revoked.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_grace: Duration,
    /// How long a password-reset link works.
    #[serde(with = "humantime_serde")]
    pub reset_token_ttl: Duration,
    /// Reset emails per address and hour.
    pub resets_per_hour: u32,
    /// Failed logins per (publisher, email) and hour before that email gets 429.
    pub login_failures_per_hour: u32,
    /// How long an email verification code works.
    #[serde(with = "humantime_serde")]
    pub verification_code_ttl: Duration,
    /// Wrong tries before a verification code is dead.
    pub verification_code_tries: u32,
    /// Digits in a verification code (6 to 8).
    pub verification_code_length: usize,
    /// Verification codes per address and hour.
    pub verification_codes_per_hour: u32,
    /// How long an email confirmation link works.
    #[serde(with = "humantime_serde")]
    pub confirmation_ttl: Duration,
    /// Confirmation emails per customer and hour.
    pub confirmations_per_hour: u32,
    /// Key of the HMAC that fingerprints idempotent request bodies (which hold passwords);
    /// the same on every replica. Empty: one is generated and kept in the database.
    pub idempotency_secret: secrecy::SecretString,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            hash_threads: 0,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            refresh_token_ttl: Duration::from_secs(100 * 86400),
            refresh_family_ttl: Duration::from_secs(365 * 86400),
            refresh_reuse_grace: Duration::from_secs(10),
            reset_token_ttl: Duration::from_secs(3600),
            resets_per_hour: 3,
            login_failures_per_hour: 100,
            verification_code_ttl: Duration::from_secs(600),
            verification_code_tries: 5,
            verification_code_length: 6,
            verification_codes_per_hour: 5,
            confirmation_ttl: Duration::from_secs(24 * 3600),
            confirmations_per_hour: 3,
            idempotency_secret: secrecy::SecretString::from(String::new()),
        }
    }
}

impl AuthSettings {
    /// The hashing threads to start.
    pub fn threads(&self) -> usize {
        if self.hash_threads > 0 {
            self.hash_threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

/// `[jwt]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// The `iss` claim.
    pub issuer: String,
    /// Token lifetime.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Ed25519 PEM files: the first signs, all verify. None: a key generated once and kept in
    /// the database (development only).
    #[serde(deserialize_with = "paths")]
    pub keys: Vec<PathBuf>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            issuer: "enroll".into(),
            ttl: Duration::from_secs(900),
            keys: Vec::new(),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Limits on (off only for benchmarks and trusted setups).
    pub enabled: bool,
    /// Share rates across replicas through this Redis (`redis://host:6379`); empty: per process.
    pub redis_url: String,
    /// Prefix of the Redis keys (several deployments may share one Redis).
    pub redis_prefix: String,
    /// Longest wait for Redis before deciding in-process instead.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// A publisher's ceiling over all its clients, as a multiple of the class numbers.
    pub publisher_factor: u32,
    /// Every other customer-facing route.
    pub default: ClassLimit,
    /// `POST /auths`.
    pub login: ClassLimit,
    /// `POST /customers`.
    pub registration: ClassLimit,
    /// `PUT` and `PATCH /customers/passwords`.
    pub password_reset: ClassLimit,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            enabled: true,
            redis_url: String::new(),
            redis_prefix: "enroll".into(),
            redis_timeout: Duration::from_millis(50),
            publisher_factor: 10,
            default: ClassLimit::default(),
            login: ClassLimit::default(),
            registration: ClassLimit::default(),
            password_reset: ClassLimit::default(),
        }
    }
}

/// One route class's numbers; unset ones take the defaults of API.md.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassLimit {
    /// Requests per second per (publisher, client IP); the burst is one second's worth.
    pub rps: Option<u32>,
    /// Requests in flight per (publisher, client IP).
    pub concurrent: Option<u32>,
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// A key that opens every publisher (never logged). Empty: only keys made with
    /// `enroll key create` (stored hashed) open the admin API.
    pub operator_key: secrecy::SecretString,
    /// Dashboard session cookies only over HTTPS (`Secure`); off only for local HTTP.
    pub cookie_secure: bool,
    /// How long a dashboard session lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Largest upload to `POST /admin/api/publishers/{id}/imports`, in bytes (every other
    /// route keeps `server.body_limit`).
    pub import_body_limit: usize,
    /// An import whose progress (a heartbeat every quarter of this) has not moved for this
    /// long is marked `interrupted` — its server stopped midway (start-up and reading its
    /// report check).
    #[serde(with = "humantime_serde")]
    pub import_stale_after: Duration,
    /// Connections an import writes its batches on at once (Postgres; SQLite has one
    /// writer). Rows of one email key always share one.
    pub import_writers: usize,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            operator_key: secrecy::SecretString::from(String::new()),
            cookie_secure: true,
            session_ttl: Duration::from_secs(8 * 3600),
            import_body_limit: 1 << 30,
            import_stale_after: Duration::from_secs(60),
            import_writers: 2,
        }
    }
}

/// The shortest `admin.operator_key` accepted: it is a password that opens everything.
pub const MIN_OPERATOR_KEY: usize = 24;

/// `[events]`: webhook deliveries of the event outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Run the delivery worker in this process (every replica may; they share the work).
    pub worker: bool,
    /// How often the worker looks for due deliveries.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a receiver has to answer one delivery.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// First retry delay; doubles per failed try (with jitter), at most `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest delay between two tries.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// How long an event is retried before its endpoint is disabled as failing.
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
    /// How long the previous secret still signs after a rotation.
    #[serde(with = "humantime_serde")]
    pub rotation_overlap: Duration,
    /// Deliveries claimed (and sent concurrently) at once.
    pub batch: u32,
    /// Delivered deliveries and events with nothing left to deliver are kept this long.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            worker: true,
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(15),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retry_for: Duration::from_secs(3 * 24 * 3600),
            rotation_overlap: Duration::from_secs(24 * 3600),
            batch: 32,
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `[mail]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// `file` (development: .eml files in `dir`) or `smtp`.
    pub transport: MailTransport,
    /// Where the file transport writes.
    pub dir: PathBuf,
    /// The sender, e.g. `Enroll <no-reply@example.com>`.
    pub from: String,
    /// How often the outbox is checked (new mail also wakes it at once).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// First retry delay; doubles per failed try, at most an hour.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Tries before an email is given up (it stays in the outbox with its last error).
    pub max_attempts: u32,
    /// `[mail.smtp]`
    pub smtp: SmtpSettings,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            transport: MailTransport::File,
            dir: PathBuf::from("data/mail"),
            from: "Enroll <no-reply@enroll.example>".into(),
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(2),
            max_attempts: 12,
            smtp: SmtpSettings::default(),
        }
    }
}

/// How email leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// `.eml` files in `mail.dir`.
    File,
    /// An SMTP server.
    Smtp,
}

/// `[mail.smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Server name.
    pub host: String,
    /// Port (25, 587 for starttls, 465 for tls).
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// Login, if the server wants one.
    pub username: String,
    /// Password (never logged).
    pub password: secrecy::SecretString,
    /// Per-command timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: String::new(),
            port: 25,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: secrecy::SecretString::from(String::new()),
            timeout: Duration::from_secs(10),
        }
    }
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (loopback relays only).
    None,
    /// Upgrade with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// `[platform]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformSettings {
    /// `[[platform.consents]]`: the platform's consents, broadcasterId 0.
    pub consents: Vec<ConsentDraft>,
}

/// `[[publishers]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherConfig {
    /// Nine digits.
    pub id: PublisherId,
    /// Display name.
    pub name: String,
    /// `[publishers.settings]` (an unknown key is an error, not silently ignored).
    #[serde(default, deserialize_with = "strict_settings")]
    pub settings: PublisherSettings,
    /// Offer ids that resolve to this publisher.
    #[serde(default)]
    pub offers: Vec<OfferId>,
    /// `[[publishers.consents]]`
    #[serde(default)]
    pub consents: Vec<ConsentDraft>,
}

impl Settings {
    /// The layered sources: the file (if it exists), then `ENROLL_<SECTION>__<KEY>` variables.
    /// Other `ENROLL_` names (`ENROLL_CONFIG`, Kubernetes service links such as
    /// `ENROLL_PORT=tcp://…`) are not settings: see [`Settings::ignored_env`].
    pub fn figment(path: &Path) -> Figment {
        Figment::new().merge(Toml::file(path)).merge(
            Env::prefixed("ENROLL_")
                .split("__")
                .filter(|key| key.as_str().contains('.')),
        )
    }

    /// The `ENROLL_` variables that are not settings (no `__`), for one debug line at start.
    pub fn ignored_env() -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| {
                k.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("ENROLL_"))
                    && !k.contains("__")
                    && !k.eq_ignore_ascii_case("ENROLL_CONFIG")
            })
            .collect()
    }

    /// Loads and checks the settings; the error is one line naming the key.
    pub fn load(path: &Path) -> Result<Settings, String> {
        if !path.exists() && path != Path::new(DEFAULT_CONFIG) {
            return Err(format!("config file {} does not exist", path.display()));
        }
        Self::from_figment(Self::figment(path))
    }

    /// Extracts and checks settings from any figment (tests add their own layers).
    pub fn from_figment(figment: Figment) -> Result<Settings, String> {
        let settings: Settings = figment.extract().map_err(|e| describe(&e))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        let url = self.database.url.as_str();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(format!(
                "database.url: unsupported scheme in {:?} (use sqlite:// or postgres://)",
                redact_url(url)
            ));
        }
        if self.database.max_connections == 0 {
            return Err("database.max_connections: must be at least 1".into());
        }
        if self.server.header_timeout.is_zero() || self.server.max_connections == 0 {
            return Err(
                "server.header_timeout and server.max_connections: must be more than 0".into(),
            );
        }
        if self.server.body_limit == 0 {
            return Err("server.body_limit: must be at least 1 byte".into());
        }
        if self.auth.argon2_memory_kib < 8 * self.auth.argon2_parallelism.max(1)
            || self.auth.argon2_iterations == 0
            || self.auth.argon2_parallelism == 0
        {
            return Err("auth.argon2_*: memory must be at least 8 KiB per lane, iterations and parallelism at least 1".into());
        }
        if !(6..=8).contains(&self.auth.verification_code_length) {
            return Err("auth.verification_code_length: must be 6, 7 or 8".into());
        }
        if self.auth.verification_code_tries == 0 {
            return Err("auth.verification_code_tries: must be at least 1".into());
        }
        for (name, class) in [
            ("default", &self.limits.default),
            ("login", &self.limits.login),
            ("registration", &self.limits.registration),
            ("password_reset", &self.limits.password_reset),
        ] {
            if class.rps == Some(0) || class.concurrent == Some(0) {
                return Err(format!(
                    "limits.{name}: rps and concurrent must be at least 1"
                ));
            }
        }
        if self.limits.publisher_factor == 0 {
            return Err("limits.publisher_factor: must be at least 1".into());
        }
        if !self.limits.redis_url.is_empty()
            && redis::Client::open(self.limits.redis_url.as_str()).is_err()
        {
            return Err(format!(
                "limits.redis_url: {:?} is not a redis:// URL",
                redact_url(&self.limits.redis_url)
            ));
        }
        if self.jwt.issuer.is_empty() {
            return Err("jwt.issuer: must not be empty".into());
        }
        if self.jwt.ttl.is_zero() {
            return Err("jwt.ttl: must be more than 0 (e.g. \"15m\")".into());
        }
        {
            use secrecy::ExposeSecret;
            let key = self.admin.operator_key.expose_secret();
            if !key.is_empty() && key.trim().chars().count() < MIN_OPERATOR_KEY {
                return Err(format!(
                    "admin.operator_key: must be at least {MIN_OPERATOR_KEY} characters \
                     (e.g. `openssl rand -base64 32`), or empty for none"
                ));
            }
        }
        if self.admin.session_ttl.is_zero() {
            return Err("admin.session_ttl: must be more than 0 (e.g. \"8h\")".into());
        }
        if self.admin.import_stale_after < Duration::from_millis(400) {
            return Err("admin.import_stale_after: must be at least 400ms (e.g. \"60s\")".into());
        }
        if !(1..=16).contains(&self.admin.import_writers) {
            return Err("admin.import_writers: must be from 1 to 16".into());
        }
        if self.cache.ttl.is_zero() {
            return Err("cache.ttl: must be more than 0 (e.g. \"5s\")".into());
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            format!(
                "log.level: {:?} is not a filter such as \"info\" ({e})",
                self.log.level
            )
        })?;
        self.declaration().check()
    }

    /// The publishers and consents the file declares.
    pub fn declaration(&self) -> Declaration {
        Declaration {
            platform_consents: self.platform.consents.clone(),
            publishers: self
                .publishers
                .iter()
                .map(|p| PublisherDeclaration {
                    id: p.id,
                    name: p.name.clone(),
                    settings: p.settings.clone(),
                    offers: p.offers.clone(),
                    consents: p.consents.clone(),
                })
                .collect(),
        }
    }
}

/// One line: the key, what is wrong, and where the value came from.
fn describe(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let source = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => format!(" (from {} {src})", m.name),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    if key.is_empty() {
        format!("{}{source}", e.kind)
    } else {
        format!("{key}: {}{source}", e.kind)
    }
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A list, or one comma-separated string (environment variables).
fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let items = match Raw::deserialize(d)? {
        Raw::List(l) => l,
        Raw::Text(t) => t.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

fn paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    Ok(text_list(d)?.into_iter().map(PathBuf::from).collect())
}

/// Publisher settings where a misspelt key (`cors_origin`) is refused with the known ones named.
/// (Stored settings stay lenient, so a replica reads rows a newer one wrote.)
fn strict_settings<'de, D: Deserializer<'de>>(d: D) -> Result<PublisherSettings, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    PublisherSettings::default()
        .patched(&value)
        .map_err(serde::de::Error::custom)
}

/// CIDRs (or single addresses) as a list or one comma-separated string.
fn nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    text_list(d)?
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{s:?} is not a CIDR such as 10.0.0.0/8 or an IP address"
                    ))
                })
        })
        .collect()
}

/// An optional value where `""` means none (env variables cannot be unset in every tool).
fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw = Option::<String>::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Settings, String> {
        Settings::from_figment(Figment::new().merge(Toml::string(toml)))
    }

    #[test]
    fn empty_file_means_defaults() {
        let s = load("").unwrap();
        assert_eq!(s.server.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://data/enroll.db");
        assert_eq!(s.geoip.default_locale.as_str(), "en_US");
        assert_eq!(s.log.format, LogFormat::Pretty);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = load("[log]\nformat = \"xml\"").unwrap_err();
        assert!(e.starts_with("log.format: "), "{e}");
        assert!(e.contains("json") && e.contains("pretty"), "{e}");
        let e = load("[database]\nurl = \"mysql://x\"").unwrap_err();
        assert!(e.starts_with("database.url: unsupported scheme"), "{e}");
        let e = load("[server]\naddr = \"nowhere\"").unwrap_err();
        assert!(e.starts_with("server.addr: "), "{e}");
        let e = load("[server]\nadr = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.contains("adr"), "{e}");
        let e = load("[geoip]\ndefault_country = \"UK\"").unwrap_err();
        assert!(e.starts_with("geoip.default_country: "), "{e}");
        let e = load(
            "[[publishers]]\nid = 100000009\nname = \"P\"\n[publishers.settings]\ncors_origin = [\"https://a.example\"]",
        )
        .unwrap_err();
        assert!(
            e.contains("cors_origin") && e.contains("cors_origins"),
            "{e}"
        );
        let e = load(
            "[[publishers]]\nid = 100000009\nname = \"P\"\n[publishers.settings.capture]\nbirth_date = \"sometimes\"",
        )
        .unwrap_err();
        assert!(e.contains("sometimes"), "{e}");
    }

    #[test]
    fn trusted_proxies_from_comma_separated_text() {
        let s = load("[server]\ntrusted_proxies = \"10.0.0.0/8, 192.168.1.1\"").unwrap();
        assert_eq!(s.server.trusted_proxies.len(), 2);
        let e = load("[server]\ntrusted_proxies = \"10.0.0.0/33\"").unwrap_err();
        assert!(e.starts_with("server.trusted_proxies: "), "{e}");
        let s = load("[server]\noutbound_allow = \"127.0.0.0/8, fd00::/8\"").unwrap();
        assert_eq!(s.server.outbound_allow.len(), 2);
        assert!(load("").unwrap().server.outbound_allow.is_empty());
    }

    #[test]
    fn admin_settings() {
        let s = load("").unwrap();
        assert!(s.admin.cookie_secure);
        assert_eq!(s.admin.session_ttl, Duration::from_secs(8 * 3600));
        let e = load("[admin]\noperator_key = \"short\"").unwrap_err();
        assert!(e.starts_with("admin.operator_key: "), "{e}");
        assert!(!e.contains("short"), "the key is never shown: {e}");
        let s = load("[admin]\noperator_key = \"0123456789abcdef0123456789\"").unwrap();
        assert!(
            !format!("{s:?}").contains("0123456789abcdef"),
            "Debug hides the key"
        );
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
