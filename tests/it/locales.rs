//! `GET /locales`: GeoIP, the CLDR tables, defaults, client address and trusted proxies.

use crate::support::{Backend, TestApp, assert_error, geo_fixture, json, mmdb};

async fn place(app: &TestApp, ip: &str) -> (String, String, String) {
    let (status, body) = json(app.locales(ip).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], serde_json::json!([]));
    let d = &body["responseData"];
    let s = |k: &str| d[k].as_str().unwrap().to_owned();
    (s("country"), s("currency"), s("locale"))
}

fn triple(c: &str, cur: &str, l: &str) -> (String, String, String) {
    (c.into(), cur.into(), l.into())
}

#[tokio::test]
async fn country_currency_and_likely_locale() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = json(app.locales("81.2.69.142").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["responseData"],
        serde_json::json!({"country":"GB","currency":"GBP","locale":"en_GB","ipAddress":"81.2.69.142"})
    );
    assert_eq!(
        place(&app, "145.100.1.1").await,
        triple("NL", "EUR", "nl_NL")
    );
    assert_eq!(
        place(&app, "130.59.1.1").await,
        triple("CH", "CHF", "de_CH")
    );
    assert_eq!(
        place(&app, "193.190.1.1").await,
        triple("BE", "EUR", "nl_BE")
    );
    assert_eq!(
        place(&app, "142.150.1.1").await,
        triple("CA", "CAD", "en_CA")
    );
    assert_eq!(
        place(&app, "133.11.1.1").await,
        triple("JP", "JPY", "ja_JP")
    );
    assert_eq!(
        place(&app, "200.130.1.1").await,
        triple("BR", "BRL", "pt_BR")
    );
    assert_eq!(
        place(&app, "2a02:8100::1").await,
        triple("DE", "EUR", "de_DE")
    );
    // An IPv4-mapped IPv6 address is the IPv4 address.
    assert_eq!(
        place(&app, "::ffff:81.2.69.142").await,
        triple("GB", "GBP", "en_GB")
    );
}

#[tokio::test]
async fn private_loopback_and_unknown_addresses_get_the_default() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for ip in [
        "10.1.2.3",
        "192.168.0.1",
        "127.0.0.1",
        "::1",
        "100.64.0.1",
        "8.8.8.8",
        "fe80::1",
    ] {
        assert_eq!(place(&app, ip).await, triple("US", "USD", "en_US"), "{ip}");
    }
}

#[tokio::test]
async fn defaults_come_from_config() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("geoip.default_country", "NL"))
            .merge(("geoip.default_currency", "EUR"))
            .merge(("geoip.default_locale", "nl_NL"))
    })
    .await;
    assert_eq!(place(&app, "10.0.0.1").await, triple("NL", "EUR", "nl_NL"));
}

#[tokio::test]
async fn a_malformed_customer_ip_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for bad in ["nonsense", "1.2.3", "1.2.3.4.5", "%00", "81.2.69.142%00"] {
        let body = assert_error(app.locales(bad).await, 400, "REQ0002").await;
        assert_eq!(body["message"], "Invalid query param customerIP");
        assert_eq!(body["details"][0]["field"], "customerIP");
    }
}

#[tokio::test]
async fn without_customer_ip_the_client_address_is_used() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/locales", "/locales?customerIP=", "/locales?other=1"] {
        let (status, body) = json(app.get(path).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["responseData"]["ipAddress"], "127.0.0.1", "{path}");
        assert_eq!(body["responseData"]["country"], "US");
    }
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let untrusted = TestApp::spawn(Backend::Sqlite).await;
    let r = untrusted
        .client
        .get(untrusted.url("/locales"))
        .header("x-forwarded-for", "81.2.69.142")
        .send()
        .await
        .unwrap();
    let (_, body) = json(r).await;
    assert_eq!(
        body["responseData"]["ipAddress"], "127.0.0.1",
        "a client cannot spoof its address"
    );

    let trusted = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("server.trusted_proxies", "127.0.0.1/32, 10.0.0.0/8"))
    })
    .await;
    let ask = |header: &'static str, value: &'static str| {
        let req = trusted
            .client
            .get(trusted.url("/locales"))
            .header(header, value);
        async move { json(req.send().await.unwrap()).await.1["responseData"]["ipAddress"].clone() }
    };
    // Walked from the right: the spoofed left-most entry is ignored.
    assert_eq!(
        ask("x-forwarded-for", "6.6.6.6, 81.2.69.142, 10.0.0.2").await,
        "81.2.69.142"
    );
    assert_eq!(
        ask("forwarded", "for=133.11.1.1;proto=https").await,
        "133.11.1.1"
    );
    assert_eq!(
        ask("forwarded", "for=\"[2a02:8100::5]:443\"").await,
        "2a02:8100::5"
    );
    let (_, body) = json(
        trusted
            .client
            .get(trusted.url("/locales"))
            .header("x-forwarded-for", "130.59.1.1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["responseData"]["country"], "CH");
}

#[tokio::test]
async fn reads_the_ip_location_db_schema_and_the_bundled_database() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("geoip.database", geo_fixture(mmdb::Schema::IpLocationDb)))
    })
    .await;
    assert_eq!(
        place(&app, "81.2.69.142").await,
        triple("GB", "GBP", "en_GB")
    );
    assert_eq!(place(&app, "10.0.0.1").await, triple("US", "USD", "en_US"));

    let bundled = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge((
            "geoip.database",
            crate::support::repo().join("data/geo-whois-asn-country.mmdb"),
        ))
    })
    .await;
    assert_eq!(
        place(&bundled, "81.2.69.142").await,
        triple("GB", "GBP", "en_GB")
    );
}
