//! A small MaxMind DB writer (format spec 2.0), so that the tests generate
//! their GeoIP fixture instead of committing a binary.
//!
//! It writes an IPv6 tree with IPv4 networks at `::a.b.c.d/(96+n)` and
//! `::ffff:0:0/96` aliased to the IPv4 subtree, as MaxMind's own writer does.
//! Each distinct country gets one data record; strings that repeat (map keys)
//! are written once and referred to by data-section pointers.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;

/// The record layout to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// GeoIP2/GeoLite2 Country: `{"country": {"iso_code": "GB"}}`.
    GeoIp2Country,
    /// ip-location-db: `{"country_code": "GB"}`.
    IpLocationDb,
}

/// The networks the integration tests use. Each agrees with the committed
/// `data/geo-whois-asn-country.mmdb` (a unit test in `src/geo` checks that).
pub const FIXTURE_NETWORKS: &[(&str, &str)] = &[
    ("81.2.69.0/24", "GB"),
    ("145.100.0.0/16", "NL"),
    ("130.59.0.0/16", "CH"),
    ("193.190.0.0/15", "BE"),
    ("142.150.0.0/16", "CA"),
    ("133.11.0.0/16", "JP"),
    ("200.130.0.0/16", "BR"),
    ("141.20.0.0/16", "DE"),
    ("2a02:8100::/32", "DE"),
];

/// Writes a MaxMind DB mapping each `(cidr, country)` of `networks` to a
/// record of `schema`. Where networks overlap, the more specific one wins.
pub fn write_mmdb(path: &Path, schema: Schema, networks: &[(&str, &str)]) -> io::Result<()> {
    std::fs::write(path, build(schema, networks, None)?)
}

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
const SEPARATOR_LEN: usize = 16;

/// A search-tree record while the tree is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds the file; `record_size` `None` picks the smallest that fits.
fn build(
    schema: Schema,
    networks: &[(&str, &str)],
    record_size: Option<u16>,
) -> io::Result<Vec<u8>> {
    let mut parsed = networks
        .iter()
        .map(|&(cidr, country)| Ok((parse_cidr(cidr)?, country)))
        .collect::<io::Result<Vec<_>>>()?;
    parsed.sort_by_key(|&((_, len), _)| len);

    let mut data = DataWriter::default();
    let mut record_of: HashMap<&str, usize> = HashMap::new();
    let mut nodes = vec![[Link::Empty; 2]];
    for ((bits, len), country) in parsed {
        let offset = match record_of.get(country) {
            Some(&offset) => offset,
            None => {
                let offset = data.record(schema, country);
                record_of.insert(country, offset);
                offset
            }
        };
        insert(&mut nodes, bits, len, Link::Data(offset));
    }
    if let Some(ipv4_root) = follow(&nodes, 0, 96) {
        insert(&mut nodes, 0xffff << 32, 96, Link::Node(ipv4_root));
    }

    // Number the reachable nodes breadth-first; the root must be node 0.
    let mut number = vec![None; nodes.len()];
    let mut order = vec![0];
    number[0] = Some(0);
    let mut next = 0;
    while let Some(&node) = order.get(next) {
        for link in nodes[node] {
            let Link::Node(child) = link else { continue };
            if number[child].is_none() {
                number[child] = Some(order.len());
                order.push(child);
            }
        }
        next += 1;
    }
    let node_count = order.len();
    let max_value = node_count + SEPARATOR_LEN + data.out.len();
    let record_size = match record_size {
        Some(size) => size,
        None if max_value < 1 << 24 => 24,
        None if max_value < 1 << 28 => 28,
        None => 32,
    };
    if max_value >= 1_usize << record_size {
        return Err(invalid(format!(
            "{max_value} does not fit a {record_size}-bit record"
        )));
    }

    let mut out = Vec::new();
    for &node in &order {
        let value = |link: Link| match link {
            Link::Empty => Ok(node_count),
            Link::Node(n) => number[n].ok_or_else(|| invalid("unnumbered node".to_owned())),
            Link::Data(offset) => Ok(node_count + SEPARATOR_LEN + offset),
        };
        let [left, right] = nodes[node];
        write_node(&mut out, record_size, value(left)?, value(right)?)?;
    }
    out.extend([0; SEPARATOR_LEN]);
    out.extend(&data.out);
    out.extend(METADATA_MARKER);
    write_metadata(&mut out, schema, node_count, record_size);
    Ok(out)
}

/// `cidr` as the top `len` bits of a 128-bit IPv6 address (IPv4 under ::/96).
fn parse_cidr(cidr: &str) -> io::Result<(u128, u32)> {
    let bad = || invalid(format!("bad CIDR {cidr:?}"));
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (bits, len) = match addr {
        IpAddr::V4(v4) if len <= 32 => (u128::from(u32::from(v4)), len + 96),
        IpAddr::V6(v6) if len <= 128 => (u128::from(v6), len),
        _ => return Err(bad()),
    };
    if len == 0 || bits & (u128::MAX >> len) != 0 {
        return Err(invalid(format!("{cidr:?} is empty or has host bits set")));
    }
    Ok((bits, len))
}

fn bit(bits: u128, depth: u32) -> usize {
    usize::from((bits >> (127 - depth)) & 1 == 1)
}

/// Points the record for the `len`-bit prefix `bits` at `link`, splitting
/// any shorter network on the way so that its other half keeps its data.
fn insert(nodes: &mut Vec<[Link; 2]>, bits: u128, len: u32, link: Link) {
    let mut node = 0;
    for depth in 0..len - 1 {
        let side = bit(bits, depth);
        node = match nodes[node][side] {
            Link::Node(child) => child,
            inherited => {
                nodes.push([inherited; 2]);
                let child = nodes.len() - 1;
                nodes[node][side] = Link::Node(child);
                child
            }
        };
    }
    nodes[node][bit(bits, len - 1)] = link;
}

/// The node reached from `node` by `zeros` left turns, if the tree has one.
fn follow(nodes: &[[Link; 2]], mut node: usize, zeros: u32) -> Option<usize> {
    for _ in 0..zeros {
        match nodes[node][0] {
            Link::Node(child) => node = child,
            _ => return None,
        }
    }
    Some(node)
}

fn write_node(out: &mut Vec<u8>, record_size: u16, left: usize, right: usize) -> io::Result<()> {
    let be = |value: usize, len: usize| value.to_be_bytes()[size_of::<usize>() - len..].to_vec();
    match record_size {
        24 => {
            out.extend(be(left, 3));
            out.extend(be(right, 3));
        }
        28 => {
            out.extend(be(left & 0xff_ffff, 3));
            out.push((((left >> 24) as u8) << 4) | (right >> 24) as u8);
            out.extend(be(right & 0xff_ffff, 3));
        }
        32 => {
            out.extend(be(left, 4));
            out.extend(be(right, 4));
        }
        other => return Err(invalid(format!("record size {other} is not 24, 28 or 32"))),
    }
    Ok(())
}

// Data types of the spec's data section.
const POINTER: u8 = 1;
const STRING: u8 = 2;
const UINT16: u8 = 5;
const UINT32: u8 = 6;
const MAP: u8 = 7;
const UINT64: u8 = 9;
const ARRAY: u8 = 11;

/// The data section; `strings` remembers where each string was written.
#[derive(Default)]
struct DataWriter {
    out: Vec<u8>,
    strings: HashMap<String, usize>,
}

impl DataWriter {
    /// Writes one country record and returns its offset.
    fn record(&mut self, schema: Schema, country: &str) -> usize {
        let offset = self.out.len();
        match schema {
            Schema::GeoIp2Country => {
                control(&mut self.out, MAP, 1);
                self.string("country");
                control(&mut self.out, MAP, 1);
                self.string("iso_code");
                self.string(country);
            }
            Schema::IpLocationDb => {
                control(&mut self.out, MAP, 1);
                self.string("country_code");
                self.string(country);
            }
        }
        offset
    }

    fn string(&mut self, s: &str) {
        match self.strings.get(s) {
            Some(&offset) => pointer(&mut self.out, offset),
            None => {
                self.strings.insert(s.to_owned(), self.out.len());
                string(&mut self.out, s);
            }
        }
    }
}

/// A control byte (plus extended-type and size bytes) for `size` items.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (low, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, vec![]),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push(kind << 5 | low);
    } else {
        out.push(low);
        out.push(kind - 7);
    }
    out.extend(extra);
}

fn pointer(out: &mut Vec<u8>, offset: usize) {
    let (tag, value, len) = match offset {
        0..2_048 => (0, offset, 1),
        2_048..526_336 => (1, offset - 2_048, 2),
        526_336..134_744_064 => (2, offset - 526_336, 3),
        _ => (3, offset, 4),
    };
    let high = if len == 4 {
        0
    } else {
        (value >> (8 * len)) as u8
    };
    out.push(POINTER << 5 | tag << 3 | high);
    out.extend(&value.to_be_bytes()[size_of::<usize>() - len..]);
}

fn string(out: &mut Vec<u8>, s: &str) {
    control(out, STRING, s.len());
    out.extend(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, kind: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, kind, bytes.len() - skip);
    out.extend(&bytes[skip..]);
}

fn write_metadata(out: &mut Vec<u8>, schema: Schema, node_count: usize, record_size: u16) {
    let database_type = match schema {
        Schema::GeoIp2Country => "Enroll-Test-GeoIP2-Country",
        Schema::IpLocationDb => "Enroll-Test-ip-location-db",
    };
    control(out, MAP, 9);
    string(out, "binary_format_major_version");
    uint(out, UINT16, 2);
    string(out, "binary_format_minor_version");
    uint(out, UINT16, 0);
    string(out, "build_epoch");
    uint(out, UINT64, 1_700_000_000);
    string(out, "database_type");
    string(out, database_type);
    string(out, "description");
    control(out, MAP, 1);
    string(out, "en");
    string(out, "Enroll test fixture");
    string(out, "ip_version");
    uint(out, UINT16, 6);
    string(out, "languages");
    control(out, ARRAY, 1);
    string(out, "en");
    string(out, "node_count");
    uint(out, UINT32, node_count as u64);
    string(out, "record_size");
    uint(out, UINT16, u64::from(record_size));
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::net::IpAddr;

    use serde::Deserialize;

    use super::{FIXTURE_NETWORKS, Schema, build, write_mmdb};

    #[derive(Deserialize)]
    struct Record {
        country: Option<Country>,
        country_code: Option<String>,
    }

    #[derive(Deserialize)]
    struct Country {
        iso_code: String,
    }

    type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

    fn lookup(db: &[u8], ip: &str) -> Result<Option<String>> {
        let reader = maxminddb::Reader::from_source(db)?;
        let record: Option<Record> = reader.lookup(ip.parse::<IpAddr>()?)?;
        Ok(record.and_then(|r| r.country.map(|c| c.iso_code).or(r.country_code)))
    }

    const CASES: &[(&str, Option<&str>)] = &[
        ("81.2.69.142", Some("GB")),
        ("81.2.69.0", Some("GB")),
        ("81.2.70.1", None),
        ("193.191.255.255", Some("BE")),
        ("::ffff:81.2.69.142", Some("GB")),
        ("2a02:8100:1::1", Some("DE")),
        ("2a02:8101::1", None),
        ("8.8.8.8", None),
        ("::1", None),
    ];

    #[test]
    fn both_schemas_read_back_with_maxminddb() -> Result {
        let dir = tempfile::tempdir()?;
        for schema in [Schema::GeoIp2Country, Schema::IpLocationDb] {
            let path = dir.path().join("fixture.mmdb");
            write_mmdb(&path, schema, FIXTURE_NETWORKS)?;
            let db = std::fs::read(&path)?;
            let reader = maxminddb::Reader::from_source(db.as_slice())?;
            assert_eq!(reader.metadata.record_size, 24);
            assert_eq!(reader.metadata.ip_version, 6);
            for &(ip, want) in CASES {
                assert_eq!(lookup(&db, ip)?.as_deref(), want, "{schema:?} {ip}");
            }
        }
        Ok(())
    }

    #[test]
    fn wider_records_read_back() -> Result {
        for record_size in [28, 32] {
            let db = build(Schema::IpLocationDb, FIXTURE_NETWORKS, Some(record_size))?;
            assert_eq!(
                maxminddb::Reader::from_source(db.as_slice())?
                    .metadata
                    .record_size,
                record_size
            );
            for &(ip, want) in CASES {
                assert_eq!(lookup(&db, ip)?.as_deref(), want, "{record_size} {ip}");
            }
        }
        Ok(())
    }

    #[test]
    fn more_specific_network_wins_in_any_order() -> Result {
        let nets = [
            ("10.1.2.0/24", "DE"),
            ("10.0.0.0/8", "NL"),
            ("10.1.2.128/25", "CH"),
        ];
        let db = build(Schema::GeoIp2Country, &nets, None)?;
        assert_eq!(lookup(&db, "10.200.0.1")?.as_deref(), Some("NL"));
        assert_eq!(lookup(&db, "10.1.2.1")?.as_deref(), Some("DE"));
        assert_eq!(lookup(&db, "10.1.2.200")?.as_deref(), Some("CH"));
        assert_eq!(lookup(&db, "11.0.0.1")?, None);
        Ok(())
    }

    #[test]
    fn bad_networks_are_rejected() {
        for cidr in [
            "81.2.69.1/24",
            "81.2.69.0",
            "81.2.69.0/33",
            "::/0",
            "nonsense/8",
        ] {
            assert!(
                build(Schema::IpLocationDb, &[(cidr, "GB")], None).is_err(),
                "{cidr}"
            );
        }
    }
}
