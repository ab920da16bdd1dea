//! Per-route-class limits over HTTP: bursts, independence of publishers and clients, the
//! publisher ceiling, concurrency, and rates shared by two server processes through Redis.
//! Assertions use tolerances (admitted ≤ rps × (1 + t)), never exact counts.

use std::time::Instant;

use serde_json::json;

use crate::backend_tests;
use crate::support::{
    Backend, Customer, ServerProcess, TestApp, TestDb, assert_error, json, redis_url,
};

backend_tests!(
    a_token_or_a_repeated_key_does_not_choose_the_login_bucket,
    repeated_keys_are_refused_at_any_depth,
);

/// A registration body that stops at validation (no hashing): cheap to send by the dozen.
fn cheap(offer: &str) -> serde_json::Value {
    json!({"email": "x@example.com", "offerId": offer, "locale": "en_GB", "country": "GB", "currency": "GBP"})
}

async fn fire(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    forwarded_for: Option<&str>,
) -> (u16, Option<u64>) {
    let mut req = client.post(url).json(body);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let r = req.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let status = r.status().as_u16();
    if status == 429 {
        let (_, body) = json(r).await;
        assert_eq!(body["code"], "RATE0001");
        assert_eq!(body["message"], "Too many requests");
    }
    (status, retry)
}

fn limited(f: figment::Figment) -> figment::Figment {
    f.merge(("limits.enabled", true))
        .merge(("server.trusted_proxies", "127.0.0.1/32"))
}

#[tokio::test]
async fn a_burst_past_the_registration_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        limited(f).merge(("limits.registration.rps", 5))
    })
    .await;
    let url = app.url("/customers");
    let started = Instant::now();
    let mut admitted = 0;
    let mut refused = 0;
    for _ in 0..30 {
        let (status, retry) = fire(&app.client, &url, &cheap("S100000001_US"), None).await;
        if status == 429 {
            refused += 1;
            assert!(
                retry.is_some_and(|s| s >= 1),
                "Retry-After in whole seconds"
            );
        } else {
            assert_eq!(status, 400, "validation answers once admitted");
            admitted += 1;
        }
    }
    let t = started.elapsed().as_secs_f64();
    assert!(admitted >= 5, "the burst is one second's worth: {admitted}");
    assert!(
        f64::from(admitted) <= 5.0 * (1.0 + t) + 1.0,
        "{admitted} admitted in {t:.2}s"
    );
    assert!(refused > 0);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("rate_limit_total{")
            && l.contains("class=\"registration\"")
            && l.contains("reason=\"rate\"")),
        "{text}"
    );
}

#[tokio::test]
async fn publishers_and_clients_are_throttled_independently() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        limited(f)
            .merge(("limits.registration.rps", 3))
            .merge(("limits.publisher_factor", 2))
    })
    .await;
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    let offer = enroll::domain::OfferId::parse("S200000002_US").unwrap();
    app.store
        .create_publisher(other, "Other", &Default::default(), &[offer])
        .await
        .unwrap();
    let url = app.url("/customers");
    let statuses = |n: usize, offer: &'static str, ip: &'static str| {
        let (client, url) = (app.client.clone(), url.clone());
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(fire(&client, &url, &cheap(offer), Some(ip)).await.0);
            }
            out
        }
    };
    // One abusive client of publisher 1 is stopped…
    assert!(
        statuses(10, "S100000001_US", "81.2.69.1")
            .await
            .contains(&429)
    );
    // …while another client of the same publisher, and the same client at publisher 2, pass.
    assert_eq!(statuses(1, "S100000001_US", "81.2.69.2").await, [400]);
    assert_eq!(statuses(1, "S200000002_US", "81.2.69.1").await, [400]);
    // Many clients of one publisher meet its ceiling (3 × 2 per second), not the others.
    let mut ceiling_hit = false;
    for i in 3..20 {
        let ip: &'static str = Box::leak(format!("81.2.69.{i}").into_boxed_str());
        ceiling_hit |= statuses(1, "S100000001_US", ip).await == [429];
    }
    assert!(ceiling_hit, "the publisher ceiling");
    assert_eq!(
        statuses(1, "S200000002_US", "81.2.69.99").await,
        [400],
        "another publisher is not starved"
    );
}

#[tokio::test]
async fn eleven_slow_registrations_meet_the_concurrency_limit() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        limited(f)
            .merge(("limits.registration.rps", 100))
            .merge(("auth.argon2_iterations", 40))
            .merge(("auth.hash_threads", 1))
    })
    .await;
    let tries = (0..11).map(|i| {
        let body = crate::support::registration(&format!("slow{i}@example.com"));
        let (client, url) = (app.client.clone(), app.url("/customers"));
        async move { fire(&client, &url, &body, None).await }
    });
    let results = futures_util::future::join_all(tries).await;
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!refused.is_empty(), "{results:?}");
    assert!(refused.iter().all(|(_, retry)| retry.is_some()));
    assert!(results.iter().any(|(s, _)| *s == 200));
}

#[tokio::test]
async fn two_processes_sharing_redis_admit_the_global_rate() {
    let redis = redis_url();
    assert!(
        redis::Client::open(redis.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok(),
        "Redis is required at {redis}; scripts/test starts one"
    );
    let db = TestDb::new(Backend::Sqlite).await;
    let prefix = format!("enroll-test-{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("ENROLL_DATABASE__URL", db.url.clone()),
        ("ENROLL_LIMITS__REDIS_URL", redis.clone()),
        ("ENROLL_LIMITS__REDIS_PREFIX", prefix),
        ("ENROLL_LIMITS__REDIS_TIMEOUT", "500ms".to_owned()),
        ("ENROLL_LIMITS__REGISTRATION__RPS", "5".to_owned()),
    ];
    let a = ServerProcess::start(&env).await;
    let b = ServerProcess::start(&env).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut admitted = 0;
    for i in 0..40 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (status, _) = fire(
            &client,
            &format!("{}/customers", server.address),
            &cheap("S100000001_US"),
            None,
        )
        .await;
        admitted += u32::from(status != 429);
    }
    let t = started.elapsed().as_secs_f64();
    assert!(admitted >= 5);
    assert!(
        f64::from(admitted) <= 5.0 * (1.0 + t) + 1.0,
        "{admitted} admitted by two replicas in {t:.2}s: not the global rate"
    );
}

#[tokio::test]
async fn without_redis_each_process_limits_on_its_own() {
    // A closed port: no Redis there.
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        limited(f)
            .merge(("limits.redis_url", "redis://127.0.0.1:1"))
            .merge(("limits.registration.rps", 5))
    })
    .await;
    let url = app.url("/customers");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            fire(&app.client, &url, &cheap("S100000001_US"), None)
                .await
                .0,
        );
    }
    assert!(
        statuses.contains(&400),
        "the service keeps answering: {statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "with per-process limits: {statuses:?}"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("rate_limit_redis_fallback_total"),
        "counted in metrics"
    );
}

/// A TCP proxy to Redis that can be cut (every connection dropped, new ones refused) and restored.
struct CuttableProxy {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = watch.clone();
                if !*state.borrow() {
                    continue; // dropped: the client sees the connection close
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        CuttableProxy { port, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

fn fallbacks(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with("rate_limit_redis_fallback_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn limits_go_back_to_redis_when_it_returns() {
    let redis = redis_url();
    let hostport = redis
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = CuttableProxy::start(hostport).await;
    let prefix = format!("enroll-test-{}", uuid::Uuid::new_v4().simple());
    let key = format!("{prefix}:rl:registration:100000001:127.0.0.1");
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let app = TestApp::spawn_with(Backend::Sqlite, move |f| {
        limited(f)
            .merge(("limits.redis_url", url))
            .merge(("limits.redis_prefix", prefix))
            .merge(("limits.redis_timeout", "200ms"))
            .merge(("limits.registration.rps", 2))
    })
    .await;
    let mut direct = redis::Client::open(redis.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let url = app.url("/customers");
    let once = || {
        let (client, url) = (app.client.clone(), url.clone());
        async move { fire(&client, &url, &cheap("S100000001_US"), None).await.0 }
    };
    // Decided in Redis: the client's GCRA key is there (it lives about half a second).
    assert_eq!(once().await, 400);
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(exists, "the rate is kept in Redis");

    proxy.set(false);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let before = fallbacks(&app.get("/metrics").await.text().await.unwrap());
    assert_eq!(
        once().await,
        400,
        "Redis away: answered at once, decided in process"
    );
    assert!(
        fallbacks(&app.get("/metrics").await.text().await.unwrap()) > before,
        "counted"
    );
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut direct)
        .await
        .unwrap();

    proxy.set(true);
    // Redis is tried again a second after the last failure.
    let mut back = false;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        once().await;
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut direct)
            .await
            .unwrap();
        if exists {
            back = true;
            break;
        }
    }
    assert!(back, "decisions went back to Redis when it returned");
}

/// A login sent as raw text (bodies with repeated keys cannot be built as `Value`s), from
/// `ip` through the trusted proxy, with an optional bearer token.
async fn raw_login(app: &TestApp, body: &str, ip: &str, jwt: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/auths"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(body.to_owned());
    if let Some(jwt) = jwt {
        req = req.bearer_auth(jwt);
    }
    req.send().await.unwrap()
}

/// Sends cheap logins for the demo publisher from `ip` until one is refused (429).
async fn exhaust_login_bucket(app: &TestApp, ip: &str) {
    for _ in 0..20 {
        let r = raw_login(
            app,
            r#"{"email":"x@example.com","publisherId":"100000001"}"#,
            ip,
            None,
        )
        .await;
        if r.status() == 429 {
            return;
        }
        assert_eq!(
            r.status(),
            400,
            "a login without password stops at validation"
        );
    }
    panic!("the login bucket of {ip} never filled");
}

async fn a_token_or_a_repeated_key_does_not_choose_the_login_bucket(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        limited(f)
            .merge(("limits.login.rps", 1))
            .merge(("limits.publisher_factor", 100))
    })
    .await;
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    let offer = enroll::domain::OfferId::parse("S200000002_US").unwrap();
    app.store
        .create_publisher(other, "Other", &Default::default(), &[offer])
        .await
        .unwrap();
    let mut at_b = crate::support::registration("b@example.com");
    at_b["offerId"] = json!("S200000002_US");
    let (status, body) = json(app.register(&at_b).await).await;
    assert_eq!(status, 200, "{body}");
    let b = Customer::from_session(&body["responseData"]);
    app.signed_up("victim@example.com").await;

    let ip = "81.2.69.50";
    exhaust_login_bucket(&app, ip).await;
    // Publisher B's customer token on a login for publisher A: still A's bucket.
    let guess =
        r#"{"email":"victim@example.com","password":"guess1234","publisherId":"100000001"}"#;
    assert_error(
        raw_login(&app, guess, ip, Some(&b.jwt)).await,
        429,
        "RATE0001",
    )
    .await;
    // The same with offerId and publisherId both naming A.
    let both = r#"{"email":"victim@example.com","password":"guess1234","publisherId":"100000001","offerId":"S100000001_US"}"#;
    assert_error(
        raw_login(&app, both, ip, Some(&b.jwt)).await,
        429,
        "RATE0001",
    )
    .await;
    // A body repeating publisherId is refused without a password check, whatever its values
    // (counted against no publisher: this client's bucket without one, which fills too).
    let mut refused = 0;
    for body in [
        r#"{"email":"victim@example.com","password":"guess1234","publisherId":"100000001","publisherId":"100000001"}"#,
        r#"{"email":"victim@example.com","password":"guess1234","publisherId":"200000002","publisherId":"100000001"}"#,
        r#"{"email":"victim@example.com","password":"guess1234","offerId":"S100000001_US","offerId":"S100000001_US"}"#,
    ] {
        let (status, body) = json(raw_login(&app, body, ip, Some(&b.jwt)).await).await;
        match status {
            400 => {
                assert_eq!(body["code"], "REQ0001");
                assert!(
                    body["message"].as_str().unwrap().contains("appears twice"),
                    "{body}"
                );
                refused += 1;
            }
            _ => assert_eq!((status, &body["code"]), (429, &json!("RATE0001"))),
        }
    }
    assert!(refused >= 1);
    // publisherId and offerId of different publishers: refused, counted against neither.
    let contradiction = r#"{"email":"b@example.com","password":"secret123","publisherId":"100000001","offerId":"S200000002_US"}"#;
    let r = raw_login(&app, contradiction, "81.2.69.52", None).await;
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(body["details"][0]["field"], "offerId");
    // Publisher B's own bucket for this client is untouched by all of the above…
    let at_b_login =
        r#"{"email":"b@example.com","password":"secret123","offerId":"S200000002_US"}"#;
    assert_eq!(raw_login(&app, at_b_login, ip, None).await.status(), 200);
    // …and the token still counts where it authenticates: B's default class, not A's login.
    let r = app
        .client
        .get(app.url(&format!("/customers/{}", b.id)))
        .header("x-forwarded-for", ip)
        .bearer_auth(&b.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another client of A is not affected by this one.
    let r = raw_login(&app, guess, "81.2.69.51", Some(&b.jwt)).await;
    assert_error(r, 401, "USER0001").await;
}

async fn repeated_keys_are_refused_at_any_depth(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("keys@example.com").await;
    let nested = r#"{"email":"dup@example.com","password":"secret123","offerId":"S100000001_US",
        "locale":"en_GB","country":"GB","currency":"GBP",
        "consents":[{"name":"terms","version":"1","state":"accepted"},
                    {"name":"broadcaster_terms","version":"1","state":"declined","state":"accepted"}]}"#;
    let r = app
        .client
        .post(app.url("/customers"))
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(
        body["message"],
        "Invalid JSON body: the key \"state\" appears twice in one object"
    );
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE email_key = 'dup@example.com'")
            .await,
        0
    );
    let answers = r#"{"consents":[{"name":"broadcaster_marketing","version":"1","state":"declined","name":"broadcaster_terms"}]}"#;
    let r = app
        .authed(
            reqwest::Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .header("content-type", "application/json")
        .body(answers)
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("\"name\" appears twice")
    );
    // The same keys in sibling objects are fine (the neighbour that must keep working).
    let fine = r#"{"consents":[{"name":"broadcaster_marketing","version":"1","state":"declined"},
                               {"name":"broadcaster_terms","version":"1","state":"accepted"}]}"#;
    let r = app
        .authed(
            reqwest::Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .header("content-type", "application/json")
        .body(fine)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .authed(
            reqwest::Method::PATCH,
            &format!("/customers/{}", c.id),
            &c.jwt,
        )
        .header("content-type", "application/json")
        .body(r#"{"externalData":{"a":1,"a":2}}"#)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "REQ0001").await;
}
