use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;

use super::verify;
use crate::domain::tables::static_country;

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read.
    #[error("cannot read GeoIP database {}: {source}", path.display())]
    Read {
        /// The database path as given.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a usable MaxMind DB.
    #[error("GeoIP database {} is not usable: {reason}", path.display())]
    Invalid {
        /// The database path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// An IP-address-to-country database, loaded into memory.
///
/// Cheap to share (`Arc<GeoIp>`): lookups take `&self` and do not allocate.
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
}

impl GeoIp {
    /// Opens a MaxMind DB file; error message names the path and what is wrong.
    ///
    /// The whole file is checked here (every search-tree record and every data
    /// record), so a truncated or corrupt file fails now rather than later in a
    /// request, and a database without country data (e.g. an ASN database) is
    /// rejected.
    ///
    /// # Errors
    ///
    /// [`GeoError::Read`] if the file cannot be read, [`GeoError::Invalid`] if
    /// it is not a MaxMind DB, is damaged, or names no country.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(bytes).map_err(|reason| GeoError::Invalid {
            path: path.to_owned(),
            reason,
        })
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        // maxminddb 0.26 indexes the buffer without bounds checks, so a damaged
        // file can make it panic; turn that into an error at start-up.
        catch_unwind(AssertUnwindSafe(|| {
            let reader = Reader::from_source(bytes.as_slice()).map_err(|e| e.to_string())?;
            let mut countries = 0_usize;
            for ip in verify::data_record_addresses(&bytes, &reader.metadata)? {
                let record = reader
                    .lookup::<Record>(ip)
                    .map_err(|e| format!("the record for {ip} cannot be decoded: {e}"))?;
                countries += usize::from(record.and_then(|r| r.country()).is_some());
            }
            if countries == 0 {
                let kind = &reader.metadata.database_type;
                return Err(format!(
                    "no record names a country (database type {kind:?})"
                ));
            }
            Ok(())
        }))
        .map_err(|_| "the file is corrupt (the MaxMind DB reader panicked)".to_owned())??;
        let reader = Reader::from_source(bytes).map_err(|e| e.to_string())?;
        Ok(Self { reader })
    }

    /// ISO 3166-1 alpha-2 country (uppercase) of a public address, or None for private,
    /// loopback, link-local, unspecified, documentation, CGNAT, multicast, unique-local addresses
    /// and addresses not in the database. Reads both schemas: GeoIP2/GeoLite2 Country/City
    /// (`country.iso_code`, falling back to `registered_country.iso_code`) and the
    /// ip-location-db schema (top-level `country_code`). Returns only codes
    /// [`is_country`](super::is_country) accepts.
    ///
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are looked up as IPv4.
    pub fn country(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = ip.to_canonical();
        if !is_public(ip) || (ip.is_ipv6() && self.reader.metadata.ip_version == 4) {
            return None;
        }
        // `open` decoded every record, so an error here cannot happen.
        let record: Record = self.reader.lookup(ip).ok()??;
        record.country()
    }

    /// The database type from metadata, for the start-up log line.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata.database_type
    }

    /// When the database was built, in seconds since the Unix epoch (metadata
    /// `build_epoch`), to spot a stale file.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata.build_epoch
    }
}

impl fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = &self.reader.metadata;
        f.debug_struct("GeoIp")
            .field("database_type", &metadata.database_type)
            .field("build_epoch", &metadata.build_epoch)
            .field("ip_version", &metadata.ip_version)
            .field("node_count", &metadata.node_count)
            .finish_non_exhaustive()
    }
}

/// The fields of either schema that name a country; everything else in a
/// record is skipped without being copied.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Record<'a> {
    #[serde(borrow)]
    pub(super) country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    pub(super) registered_country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    pub(super) country_code: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct IsoCode<'a> {
    #[serde(borrow)]
    pub(super) iso_code: Option<&'a str>,
}

impl<'a> Record<'a> {
    /// The first code that is a real country, so that a GeoIP2 `country` of
    /// e.g. "EU" falls back to `registered_country`.
    pub(super) fn country(&self) -> Option<&'static str> {
        let iso = |c: &Option<IsoCode<'a>>| c.as_ref().and_then(|c| c.iso_code);
        [
            iso(&self.country),
            iso(&self.registered_country),
            self.country_code,
        ]
        .into_iter()
        .flatten()
        .find_map(canonical_country)
    }
}

/// `code` as the country table spells it (uppercase), if it is a country.
pub(super) fn canonical_country(code: &str) -> Option<&'static str> {
    let &[a, b] = code.as_bytes() else {
        return None;
    };
    let upper = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    static_country(std::str::from_utf8(&upper).ok()?)
}

/// Whether `ip` can be a client on the public internet, i.e. is worth
/// looking up. `Ipv4Addr::is_global` is still unstable, hence the ranges.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", includes unspecified
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240; // reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = s[..6] == [0; 6] // ::/96: unspecified, loopback, IPv4-compatible
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only 100::/64
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1); // local-use NAT64 64:ff9b:1::/48
    !special
}
