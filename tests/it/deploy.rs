//! Running as ops deploy it: slow clients (slowloris), the connection cap, Kubernetes
//! service-link variables, the drain on SIGTERM, a database that refuses connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use crate::cli::{enroll, run};
use crate::support::{
    Backend, ServerProcess, TestApp, TestDb, assert_error, base_figment, json, registration,
};

/// Reads until the server closes the socket (EOF or reset); false if still open at `deadline`.
async fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before closing is fine.
            Ok(Ok(_)) => continue,
        }
    }
}

/// A client sending a request head one byte every `every` (a slowloris), closed when the
/// server closes it. Returns when the socket was closed, measured from the connect.
async fn slowloris(addr: String, every: Duration, give_up: Duration) -> Option<Duration> {
    let head =
        b"GET /locales HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.ok()?;
    let mut buf = [0u8; 256];
    for b in head.iter().cycle() {
        if started.elapsed() > give_up {
            return None;
        }
        if s.write_all(&[*b]).await.is_err() {
            return Some(started.elapsed());
        }
        // Anything read back (EOF, reset, a 408) means the server is done with us.
        if let Ok(r) = tokio::time::timeout(every, s.read(&mut buf)).await {
            let _ = r;
            return Some(started.elapsed());
        }
    }
    None
}

#[tokio::test]
async fn slow_request_heads_are_dropped_after_the_header_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("server.header_timeout", "1s"))
            .merge(("server.max_connections", 2000))
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // 300 slow heads (a byte every 200 ms) and 50 that never send a byte.
    let slow: Vec<_> = (0..300)
        .map(|_| {
            tokio::spawn(slowloris(
                addr.clone(),
                Duration::from_millis(200),
                Duration::from_secs(10),
            ))
        })
        .collect();
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let opened = Instant::now();
    // While they hang on, real clients and /healthz are answered, at once.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..5 {
        let t = Instant::now();
        let (status, _) = json(app.get("/healthz").await).await;
        assert_eq!(status, 200);
        let (status, body) = json(app.locales("81.2.69.142").await).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }
    for s in &mut silent {
        assert!(
            closed_by(s, opened + Duration::from_secs(3)).await,
            "a connection that never sends a head is closed"
        );
    }
    let mut lifetimes = Vec::new();
    for h in slow {
        let life = h
            .await
            .unwrap()
            .expect("a slow request head is cut off after the header timeout");
        lifetimes.push(life);
    }
    lifetimes.sort();
    let (first, last) = (lifetimes[0], lifetimes[lifetimes.len() - 1]);
    assert!(
        first >= Duration::from_millis(900),
        "not before the timeout: {first:?}"
    );
    assert!(
        last <= Duration::from_millis(2500),
        "all gone soon after it: {last:?}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("server.header_timeout", "1s"))
    })
    .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "answered and kept alive"
    );
    let answered = Instant::now();
    // A second request on the same connection within the timeout still works.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let again = Instant::now();
    assert!(closed_by(&mut s, again + Duration::from_secs(3)).await);
    let idle = again.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && answered.elapsed() >= Duration::from_millis(1400),
        "closed by the idle timeout, not before: {idle:?}"
    );

    // keep_alive = false: closed right after the response.
    let app = TestApp::spawn_with(Backend::Sqlite, |f| f.merge(("server.keep_alive", false))).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_by(&mut s, Instant::now() + Duration::from_millis(500)).await);
}

#[tokio::test]
async fn at_the_connection_cap_accepting_pauses_and_probes_use_the_ops_listener() {
    let db = Arc::new(TestDb::new(Backend::Sqlite).await);
    let settings = enroll::Settings::from_figment(
        base_figment(&db)
            .merge(("server.max_connections", 20))
            .merge(("server.header_timeout", "30s"))
            .merge(("server.metrics_addr", "127.0.0.1:0")),
    )
    .unwrap();
    let app = enroll::Application::build(settings).await.unwrap();
    let main = format!("http://{}", app.local_addr());
    let ops = format!("http://{}", app.metrics_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    // No pooled connections: each request needs a slot of its own.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert_eq!(
        client
            .get(format!("{main}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Twenty sockets that say nothing take every slot.
    let mut hogs = Vec::new();
    for _ in 0..20 {
        hogs.push(
            TcpStream::connect(main.trim_start_matches("http://"))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = client.get(format!("{main}/healthz")).send().await;
    assert!(
        refused.is_err(),
        "the 21st connection waits in the backlog: {refused:?}"
    );
    // Probes pointed at the ops listener still get answers.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = client.get(format!("{ops}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // A slot freed is a client served.
    hogs.truncate(15);
    let r = reqwest::Client::new()
        .get(format!("{main}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(hogs);
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
}

const SERVICE_LINKS: [(&str, &str); 8] = [
    ("ENROLL_PORT", "tcp://10.96.0.12:8080"),
    ("ENROLL_PORT_8080_TCP", "tcp://10.96.0.12:8080"),
    ("ENROLL_PORT_8080_TCP_ADDR", "10.96.0.12"),
    ("ENROLL_PORT_8080_TCP_PORT", "8080"),
    ("ENROLL_PORT_8080_TCP_PROTO", "tcp"),
    ("ENROLL_SERVICE_HOST", "10.96.0.12"),
    ("ENROLL_SERVICE_PORT", "8080"),
    ("ENROLL_SERVICE_PORT_HTTP", "8080"),
];

#[tokio::test]
async fn kubernetes_service_links_do_not_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let mut env: Vec<(&str, String)> = SERVICE_LINKS
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect();
    env.push(("ENROLL_DATABASE__URL", url.clone()));
    let server = ServerProcess::start(&env).await;
    let r = reqwest::get(format!("{}/healthz", server.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Settings still come from ENROLL_<SECTION>__<KEY> beside them.
    let body = reqwest::get(format!("{}/metrics", server.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("http_requests_total"), "{body}");

    // A misspelt setting among them still stops start-up, with one line naming it.
    for (key, value) in [
        ("ENROLL_DATABSE__URL", url.as_str()),
        ("ENROLL_SERVER__ADRR", "127.0.0.1:0"),
    ] {
        let mut cmd = enroll(&url);
        for (k, v) in SERVICE_LINKS {
            cmd.env(k, v);
        }
        let (ok, _, err) = run(cmd
            .env("ENROLL_SERVER__ADDR", "127.0.0.1:0")
            .env(key, value)
            .arg("serve"))
        .await;
        assert!(!ok, "{key} must stop start-up");
        let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        let wrong = key.trim_start_matches("ENROLL_").to_lowercase();
        let wrong = wrong
            .split("__")
            .find(|p| p.contains("databse") || p.contains("adrr"));
        assert!(
            lines[0].starts_with("enroll: ") && lines[0].contains(wrong.unwrap()),
            "{key}: {err}"
        );
    }
}

async fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn on_sigterm_readyz_fails_at_once_then_accepting_stops_after_the_drain_delay() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let mut server = ServerProcess::start(&[
        ("ENROLL_DATABASE__URL", url),
        ("ENROLL_SERVER__DRAIN_DELAY", "2s".into()),
        ("ENROLL_SERVER__SHUTDOWN_GRACE", "10s".into()),
        // A registration takes a while: one is still running when accepting stops.
        ("ENROLL_AUTH__ARGON2_ITERATIONS", "150".into()),
        ("ENROLL_AUTH__ARGON2_MEMORY_KIB", "8192".into()),
    ])
    .await;
    let base = server.address.clone();
    let client = reqwest::Client::new();
    let (status, _) = json(client.get(format!("{base}/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let t = Instant::now();
    client
        .post(format!("{base}/customers"))
        .json(&registration("warmup@example.com"))
        .send()
        .await
        .unwrap();
    let hash_time = t.elapsed();

    sigterm(&server.child).await;
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 503, "S0002").await;
    // Still serving new connections (a load balancer has not noticed yet), and telling
    // keep-alive clients to go.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let fresh = reqwest::Client::new();
    let r = fresh.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = fresh
        .get(format!("{base}/locales?customerIP=81.2.69.142"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["connection"], "close");
    assert_eq!(r.status(), 200);
    // A registration sent just before the delay ends is answered although its answer comes
    // after accepting stopped.
    let until = Duration::from_secs(2).saturating_sub(hash_time / 2);
    tokio::time::sleep(until.saturating_sub(signalled.elapsed())).await;
    let in_flight = tokio::spawn({
        let base = base.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/customers"))
                .json(&registration("late@example.com"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(signalled.elapsed())).await;
    let refused = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(refused.is_err(), "no new connections after the drain delay");
    let (status, done) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight finished");
    assert!(
        done.duration_since(signalled) > Duration::from_secs(2),
        "it finished after accepting stopped (hashing took {hash_time:?})"
    );
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

/// A TCP proxy in front of Postgres that can refuse connections (port closed) and come back.
struct Cuttable {
    addr: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    upstream: String,
}

impl Cuttable {
    async fn start(upstream: String, addr: Option<std::net::SocketAddr>) -> Cuttable {
        let listener = TcpListener::bind(addr.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let up = upstream.clone();
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut down, _)) = listener.accept().await {
                let up = up.clone();
                pipes.spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(up).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut upstream).await;
                    }
                });
            }
        });
        Cuttable {
            addr,
            task: Some(task),
            upstream,
        }
    }

    /// Closes the port and every connection through it (the JoinSet aborts its pipes).
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) {
        *self = Cuttable::start(self.upstream.clone(), Some(self.addr)).await;
    }
}

#[tokio::test]
async fn database_refusing_connections_is_503_within_a_second_and_recovers() {
    let db = Arc::new(TestDb::new(Backend::Postgres).await);
    let real = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    let mut proxy = Cuttable::start(upstream, None).await;
    let mut via = real.clone();
    via.set_host(Some("127.0.0.1")).unwrap();
    via.set_port(Some(proxy.addr.port())).unwrap();
    let via = via.to_string();
    let app = TestApp::spawn_on(db.clone(), move |f| f.merge(("database.url", via))).await;
    let c = app.signed_up("before@example.com").await;

    proxy.cut();
    let mut checks = 0;
    for round in 0..3 {
        let started = Instant::now();
        let r = app.get("/readyz").await;
        let readyz = started.elapsed();
        assert!(r.headers().contains_key("retry-after"));
        assert_error(r, 503, "S0002").await;
        let started = Instant::now();
        let r = app
            .register(&registration(&format!("during{round}@example.com")))
            .await;
        let register = started.elapsed();
        assert!(r.headers().contains_key("retry-after"));
        assert_error(r, 503, "S0002").await;
        let started = Instant::now();
        let r = app
            .authed(
                reqwest::Method::GET,
                &format!("/customers/{}", c.id),
                &c.jwt,
            )
            .send()
            .await
            .unwrap();
        let read = started.elapsed();
        assert_error(r, 503, "S0002").await;
        for took in [readyz, register, read] {
            assert!(took < Duration::from_secs(1), "round {round}: {took:?}");
            checks += 1;
        }
    }
    assert_eq!(checks, 9);
    let (status, _) = json(app.get("/healthz").await).await;
    assert_eq!(status, 200, "liveness does not depend on the database");

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/readyz").await.status() != 200 {
        assert!(Instant::now() < deadline, "service resumes by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.signed_up("after@example.com").await;
    assert_eq!(app.me(&c).await["email"], "before@example.com");
    let stored = db.scalar("SELECT COUNT(*) FROM customers").await;
    assert_eq!(stored, 2, "nothing stored while the database was away");
}

/// What is wrong with a Postgres migration under the rule for index builds: an index on a
/// table the migration did not create is built `CONCURRENTLY`, in a `-- no-transaction` file
/// holding that one statement (Postgres refuses CONCURRENTLY in a transaction, and runs a
/// multi-statement file as one).
fn index_rule_violations(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let statements: Vec<String> = code
        .split(';')
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let created: Vec<&str> = statements
        .iter()
        .filter_map(|s| s.strip_prefix("create table "))
        .filter_map(|s| {
            s.trim_start_matches("if not exists ")
                .split([' ', '('])
                .next()
        })
        .collect();
    let mut wrong = Vec::new();
    for s in &statements {
        let Some(rest) = s
            .strip_prefix("create index ")
            .or_else(|| s.strip_prefix("create unique index "))
        else {
            continue;
        };
        let table = rest
            .split(" on ")
            .nth(1)
            .map(|t| {
                t.trim_start_matches("only ")
                    .split([' ', '('])
                    .next()
                    .unwrap_or("")
            })
            .unwrap_or("")
            .trim_matches('"');
        if created.contains(&table) {
            continue;
        }
        if !rest.starts_with("concurrently ") {
            wrong.push(format!("{table}: not CONCURRENTLY: {s}"));
        } else if !sql.starts_with("-- no-transaction") {
            wrong.push(format!(
                "{table}: the file must start with `-- no-transaction`"
            ));
        } else if statements.len() > 1 {
            wrong.push(format!(
                "{table}: CONCURRENTLY must be the file's only statement"
            ));
        }
    }
    wrong
}

#[test]
fn new_postgres_migrations_build_indexes_without_blocking_writes() {
    // The rule itself, on the cases it must tell apart.
    assert!(
        index_rule_violations("CREATE TABLE t (id BIGINT);\nCREATE INDEX t_id ON t (id);")
            .is_empty()
    );
    assert!(index_rule_violations(
        "-- no-transaction\n-- why\nCREATE INDEX CONCURRENTLY IF NOT EXISTS c_x ON customers (x);\n"
    )
    .is_empty());
    assert_eq!(
        index_rule_violations("CREATE INDEX c_x ON customers (publisher_id, x);").len(),
        1
    );
    assert_eq!(
        index_rule_violations("CREATE INDEX CONCURRENTLY c_x ON customers (x);").len(),
        1,
        "inside a transaction it fails"
    );
    assert_eq!(
        index_rule_violations(
            "-- no-transaction\nALTER TABLE customers ADD x TEXT;\nCREATE UNIQUE INDEX CONCURRENTLY c_x ON customers (x);"
        )
        .len(),
        1,
        "Postgres runs a multi-statement file as one transaction"
    );
    // Every Postgres migration after 0008 (0001–0008 were written before the rule).
    let dir = crate::support::repo().join("migrations/postgres");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let number: u32 = name.split('_').next().unwrap().parse().unwrap();
        if number <= 8 {
            continue;
        }
        let wrong = index_rule_violations(&std::fs::read_to_string(&path).unwrap());
        assert!(wrong.is_empty(), "{name}: {wrong:?} (README: Upgrades)");
    }
}
