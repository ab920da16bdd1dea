//! The test harness: a fresh database per test (a SQLite file, or a new Postgres database),
//! the real server on 127.0.0.1:0, and one helper method per endpoint.

pub mod browser;
pub mod mmdb;
pub mod siteverify;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use enroll::store::{self, Store};
use enroll::{Application, Settings};
use figment::Figment;
use figment::providers::{Format, Toml};
use sqlx::Connection;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Writes `backend_tests!(a, b)`: `sqlite::a`, `postgres::a`, … each calling `a(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )+
        }
    };
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Postgres server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(admin: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A fresh, empty database, dropped (Postgres) or deleted (SQLite) with the value.
pub struct TestDb {
    pub url: String,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("enroll.db").display());
                TestDb {
                    url,
                    name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("enroll_it_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "Postgres is required for this test and is not reachable at {admin} ({e}). \
                         Run the tests with scripts/test, which starts one, or set TEST_DATABASE_URL."
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = with_database(&admin, &name);
                TestDb {
                    url,
                    name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// The Postgres database name (None on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// One integer from a SQL query (counts, checks on stored rows).
    pub async fn scalar(&self, sql: &str) -> i64 {
        if self.name.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }

    /// One text from a SQL query.
    pub async fn text(&self, sql: &str) -> String {
        if self.name.is_some() {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar::<_, String>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar::<_, String>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }

    /// A store on this database, migrated.
    pub async fn store(&self) -> Arc<dyn Store> {
        let settings = enroll::config::DatabaseSettings {
            url: self.url.clone(),
            ..Default::default()
        };
        let store = store::connect(&settings).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        let admin = postgres_admin_url();
        // Drop runs outside async; a short thread with its own runtime does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A directory for this test process's files (fixtures, mail).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// The GeoIP fixture of the given schema, generated once per test process.
pub fn geo_fixture(schema: mmdb::Schema) -> PathBuf {
    let dir = scratch();
    let (file, tag) = match schema {
        mmdb::Schema::GeoIp2Country => ("geoip2-country.mmdb", 0),
        mmdb::Schema::IpLocationDb => ("ip-location-db.mmdb", 1),
    };
    let path = dir.join(file);
    static WRITTEN: OnceLock<std::sync::Mutex<[bool; 2]>> = OnceLock::new();
    let mut written = WRITTEN.get_or_init(Default::default).lock().unwrap();
    if !written[tag] {
        mmdb::write_mmdb(&path, schema, mmdb::FIXTURE_NETWORKS).expect("write GeoIP fixture");
        written[tag] = true;
    }
    path
}

/// The settings a test server starts with: the repository's config file (the demo publisher),
/// a fresh database, the GeoIP fixture, port 0, a short cache TTL.
pub fn base_figment(db: &TestDb) -> Figment {
    Figment::new()
        .merge(Toml::file(repo().join("config/enroll.toml")))
        .merge(("server.addr", "127.0.0.1:0"))
        .merge(("database.url", db.url.as_str()))
        .merge(("geoip.database", geo_fixture(mmdb::Schema::GeoIp2Country)))
        .merge(("cache.ttl", "200ms"))
        // Test doubles (siteverify, webhook receivers) listen on loopback.
        .merge(("server.outbound_allow", "127.0.0.0/8"))
        .merge(("log.level", "warn"))
        .merge(("mail.dir", scratch().join("mail")))
        .merge(("mail.poll_interval", "50ms"))
        .merge(("mail.retry_base", "100ms"))
        // Limits are tested on their own (tests/it/limits.rs); elsewhere they would only add noise.
        .merge(("limits.enabled", false))
        // Tests that stop a server do not wait for a load balancer.
        .merge(("server.drain_delay", "0s"))
}

/// How long a change takes to reach a server at most (the cache TTL above, with margin).
pub const CACHE_WAIT: std::time::Duration = std::time::Duration::from_millis(450);

/// A running server and what tests need to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub db: Arc<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |f| f).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(Figment) -> Figment) -> TestApp {
        let db = Arc::new(TestDb::new(backend).await);
        Self::spawn_on(db, tweak).await
    }

    /// Another server on an existing database (a restart, or a second replica).
    pub async fn spawn_on(db: Arc<TestDb>, tweak: impl FnOnce(Figment) -> Figment) -> TestApp {
        let settings = Settings::from_figment(tweak(base_figment(&db))).expect("test settings");
        let app = Application::build(settings)
            .await
            .expect("build the application");
        let port = app.port();
        let store = app.state().store.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            store,
            db,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn locales(&self, customer_ip: &str) -> reqwest::Response {
        self.get(&format!("/locales?customerIP={customer_ip}"))
            .await
    }

    pub async fn consents(&self, publisher: &str) -> reqwest::Response {
        self.get(&format!("/publishers/{publisher}/consents")).await
    }

    pub async fn register(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/customers"))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Registers and returns (customerId, jwt, refreshToken); panics unless 200.
    pub async fn signed_up(&self, email: &str) -> Customer {
        let (status, body) = json(self.register(&registration(email)).await).await;
        assert_eq!(status, 200, "{body}");
        Customer::from_session(&body["responseData"])
    }

    /// [`TestApp::signed_up`] for an owned email (futures that outlive the caller's strings).
    pub async fn signed_up_owned(&self, email: String) -> Customer {
        self.signed_up(&email).await
    }

    /// `GET /customers/{id}` with the customer's own token: its `responseData`.
    pub async fn me(&self, c: &Customer) -> serde_json::Value {
        let r = self
            .authed(
                reqwest::Method::GET,
                &format!("/customers/{}", c.id),
                &c.jwt,
            )
            .send()
            .await
            .unwrap();
        let (status, body) = json(r).await;
        assert_eq!(status, 200, "{body}");
        body["responseData"].clone()
    }

    /// A request with the customer's bearer token.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        jwt: &str,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(jwt)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The Redis tests share rates through (never skipped: scripts/test starts one).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into())
}

/// `enroll serve` as a separate process, killed when dropped.
pub struct ServerProcess {
    pub address: String,
    pub child: tokio::process::Child,
    /// Every line of its log (stderr) so far.
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the binary with the repository's config and these `ENROLL_…` variables, and
    /// waits until it says where it listens.
    pub async fn start(env: &[(&str, String)]) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_enroll"));
        cmd.arg("--config")
            .arg(repo().join("config/enroll.toml"))
            .arg("serve")
            .env_remove("RUST_LOG")
            .env("ENROLL_SERVER__ADDR", "127.0.0.1:0")
            .env("ENROLL_LOG__FORMAT", "json")
            .env("ENROLL_LOG__LEVEL", "info")
            .env(
                "ENROLL_GEOIP__DATABASE",
                geo_fixture(mmdb::Schema::GeoIp2Country),
            )
            .env("ENROLL_MAIL__DIR", scratch().join("mail"))
            .env("ENROLL_SERVER__DRAIN_DELAY", "0s")
            .current_dir(repo())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start enroll");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                log.lock().unwrap().push(line.clone());
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["message"] == "enroll is listening" {
                    return v["addr"].as_str().unwrap().to_owned();
                }
            }
            panic!("the server never said it was listening");
        })
        .await
        .expect("the server starts");
        // Keep draining its log so it never blocks on a full pipe.
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        ServerProcess {
            address: format!("http://{addr}"),
            child,
            log,
        }
    }
}

/// A registered customer as the tests use it.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub jwt: String,
    pub refresh: String,
}

impl Customer {
    pub fn from_session(data: &serde_json::Value) -> Customer {
        Customer {
            id: data["customerId"]
                .as_i64()
                .expect("customerId is a number")
                .to_string(),
            jwt: data["jwt"].as_str().unwrap().to_owned(),
            refresh: data["refreshToken"].as_str().unwrap().to_owned(),
        }
    }
}

/// A valid registration body for the demo publisher.
pub fn registration(email: &str) -> serde_json::Value {
    serde_json::json!({
        "email": email, "password": "secret123", "offerId": "S100000001_US",
        "locale": "en_GB", "country": "GB", "currency": "GBP"
    })
}

/// Status and JSON body of a response.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// Asserts the error envelope of API.md and returns the body.
pub async fn assert_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert!(
        response.headers().contains_key("x-request-id"),
        "X-Request-Id on every response"
    );
    let content_type = response.headers().get("content-type").cloned();
    let (got, body) = json(response).await;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(content_type.unwrap(), "application/json");
    assert_eq!(body["responseData"], serde_json::json!({}));
    assert_eq!(
        body["message"], body["errors"][0],
        "message equals errors[0]"
    );
    assert!(body["details"].is_array());
    body
}
