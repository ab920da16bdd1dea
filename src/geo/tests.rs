use std::error::Error;
use std::net::IpAddr;
use std::path::Path;

use super::reader::{IsoCode, Record, canonical_country, is_public};
use super::{GeoError, GeoIp};

// The integration tests' fixture writer, shared so these tests can build
// databases too.
#[path = "../../tests/it/support/mmdb.rs"]
mod mmdb;

use mmdb::{FIXTURE_NETWORKS, Schema, write_mmdb};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const COMMITTED_DB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/geo-whois-asn-country.mmdb"
);

fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn fixture(schema: Schema, networks: &[(&str, &str)]) -> Result<(tempfile::TempDir, GeoIp)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("geo.mmdb");
    write_mmdb(&path, schema, networks)?;
    let geo = GeoIp::open(&path)?;
    Ok((dir, geo))
}

#[test]
fn public_and_special_addresses() {
    let special = [
        "0.0.0.0",
        "0.1.2.3",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "169.254.1.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::10.0.0.1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "3fff::1",
        "3fff:fff::1",
        "100::1",
        "64:ff9b:1::1",
    ];
    for s in special {
        assert!(!is_public(ip(s)), "{s}");
    }
    let public = [
        "1.1.1.1",
        "8.8.8.8",
        "81.2.69.142",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "192.0.1.1",
        "198.20.0.1",
        "223.255.255.255",
        "2a02:8100::1",
        "2001:4860::8888",
        "3fff:1000::1",
        "64:ff9b::808:808",
    ];
    for s in public {
        assert!(is_public(ip(s)), "{s}");
    }
}

#[test]
fn country_codes_are_normalised() {
    assert_eq!(canonical_country("GB"), Some("GB"));
    assert_eq!(canonical_country("gb"), Some("GB"));
    assert_eq!(canonical_country("XK"), Some("XK"));
    for code in ["EU", "AP", "UK", "ZZ", "--", "GBR", "G", "", "ğ"] {
        assert_eq!(canonical_country(code), None, "{code}");
    }
}

#[test]
fn record_fields_in_order_of_preference() {
    let iso = |code| {
        Some(IsoCode {
            iso_code: Some(code),
        })
    };
    let record = |country, registered_country, country_code| Record {
        country,
        registered_country,
        country_code,
    };
    assert_eq!(record(iso("CH"), iso("DE"), None).country(), Some("CH"));
    assert_eq!(record(iso("EU"), iso("DE"), None).country(), Some("DE"));
    assert_eq!(record(None, iso("DE"), None).country(), Some("DE"));
    assert_eq!(record(None, None, Some("nl")).country(), Some("NL"));
    assert_eq!(record(iso("EU"), None, Some("EU")).country(), None);
    assert_eq!(Record::default().country(), None);
}

#[test]
fn reads_both_schemas() -> Result {
    for schema in [Schema::GeoIp2Country, Schema::IpLocationDb] {
        let (_dir, geo) = fixture(schema, FIXTURE_NETWORKS)?;
        let cases = [
            ("81.2.69.142", Some("GB")),
            ("::ffff:81.2.69.142", Some("GB")),
            ("145.100.1.1", Some("NL")),
            ("130.59.31.80", Some("CH")),
            ("193.191.0.1", Some("BE")),
            ("142.150.1.1", Some("CA")),
            ("133.11.0.1", Some("JP")),
            ("200.130.1.1", Some("BR")),
            ("141.20.5.5", Some("DE")),
            ("2a02:8100:1234::1", Some("DE")),
            ("8.8.8.8", None),
            ("2a03::1", None),
            ("10.0.0.1", None),
        ];
        for (addr, want) in cases {
            assert_eq!(geo.country(ip(addr)), want, "{schema:?} {addr}");
        }
        assert!(geo.database_type().starts_with("Enroll-Test-"));
        assert_eq!(geo.build_epoch(), 1_700_000_000);
    }
    Ok(())
}

#[test]
fn private_ranges_are_not_looked_up() -> Result {
    let (_dir, geo) = fixture(
        Schema::IpLocationDb,
        &[("10.0.0.0/8", "GB"), ("fc00::/7", "GB")],
    )?;
    assert_eq!(geo.country(ip("10.1.2.3")), None);
    assert_eq!(geo.country(ip("fd00::1")), None);
    Ok(())
}

#[test]
fn codes_that_are_not_countries_are_dropped() -> Result {
    let nets = [
        ("1.0.0.0/8", "EU"),
        ("2.0.0.0/8", "gb"),
        ("3.0.0.0/8", "DE"),
    ];
    let (_dir, geo) = fixture(Schema::GeoIp2Country, &nets)?;
    assert_eq!(geo.country(ip("1.2.3.4")), None);
    assert_eq!(geo.country(ip("2.2.3.4")), Some("GB"));
    Ok(())
}

fn open_error(bytes: &[u8]) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.mmdb");
    std::fs::write(&path, bytes)?;
    match GeoIp::open(&path) {
        Ok(_) => Err("opened a bad database".into()),
        Err(e @ GeoError::Invalid { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            Ok(message)
        }
        Err(e) => Err(e.into()),
    }
}

#[test]
fn open_names_the_path_and_the_problem() -> Result {
    let missing = Path::new("/nonexistent/geo.mmdb");
    let message = GeoIp::open(missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("/nonexistent/geo.mmdb"), "{message}");
    assert!(message.contains("No such file"), "{message}");

    assert!(open_error(b"not a database")?.contains("metadata"));

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("geo.mmdb");
    write_mmdb(&path, Schema::IpLocationDb, FIXTURE_NETWORKS)?;
    let good = std::fs::read(&path)?;

    let mut outside = good.clone();
    outside[..3].copy_from_slice(&[0xff; 3]);
    assert!(open_error(&outside)?.contains("points outside the file"));

    let marker = good
        .windows(14)
        .rposition(|w| w == b"\xAB\xCD\xEFMaxMind.com")
        .ok_or("no metadata marker")?;
    let truncated = [&good[..64], &good[marker..]].concat();
    assert!(open_error(&truncated)?.contains("too short"));

    // Node 0 pointing past the end of the buffer makes maxminddb itself panic.
    let panicking = [&[0, 0, 200, 0, 0, 0][..], &good[marker..]].concat();
    assert!(open_error(&panicking)?.contains("corrupt"));

    write_mmdb(&path, Schema::IpLocationDb, &[("1.0.0.0/8", "EU")])?;
    let no_country = std::fs::read(&path)?;
    assert!(open_error(&no_country)?.contains("no record names a country"));
    Ok(())
}

#[test]
fn committed_database() -> Result {
    let geo = GeoIp::open(Path::new(COMMITTED_DB))?;
    assert_eq!(geo.database_type(), "country ipvAll");
    assert_eq!(geo.country(ip("81.2.69.142")), Some("GB"));
    assert_eq!(geo.country(ip("::ffff:81.2.69.142")), Some("GB"));
    assert_eq!(geo.country(ip("192.168.0.1")), None);
    // The fixture must tell the same story as the real data.
    for &(cidr, country) in FIXTURE_NETWORKS {
        let network = cidr.split('/').next().unwrap_or_default();
        assert_eq!(geo.country(ip(network)), Some(country), "{cidr}");
    }
    Ok(())
}
