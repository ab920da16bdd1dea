//! Structural check of a MaxMind DB search tree, run once when it is opened.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use maxminddb::Metadata;

const SEPARATOR_LEN: usize = 16;

/// Walks the whole search tree of `db` and checks that every record is a
/// node, the "no data" marker or a pointer into the data section, and that
/// the tree is no deeper than the address width. Returns, for each distinct
/// data record, one address whose lookup reaches it.
pub(super) fn data_record_addresses(db: &[u8], metadata: &Metadata) -> Result<Vec<IpAddr>, String> {
    let node_count = usize::try_from(metadata.node_count).map_err(|e| e.to_string())?;
    let record_size = metadata.record_size;
    let node_len = match record_size {
        24 => 6,
        28 => 7,
        32 => 8,
        other => return Err(format!("unsupported record size {other}")),
    };
    let width: u32 = match metadata.ip_version {
        4 => 32,
        6 => 128,
        other => return Err(format!("unsupported IP version {other}")),
    };
    let tree_len = node_count
        .checked_mul(node_len)
        .filter(|&len| len.saturating_add(SEPARATOR_LEN) <= db.len())
        .ok_or_else(|| format!("the file is too short for its {node_count} search-tree nodes"))?;
    if db[tree_len..tree_len + SEPARATOR_LEN]
        .iter()
        .any(|&b| b != 0)
    {
        return Err("no data-section separator after the search tree".to_owned());
    }
    let data_len = db.len() - tree_len - SEPARATOR_LEN;

    let mut seen = vec![false; node_count];
    let mut stack = Vec::new();
    if node_count > 0 {
        seen[0] = true;
        stack.push((0_usize, 0_u32, 0_u128));
    }
    let mut records = HashMap::new();
    while let Some((node, depth, bits)) = stack.pop() {
        if depth >= width {
            return Err(format!("the search tree is deeper than {width} bits"));
        }
        let base = node * node_len;
        for side in 0..2 {
            let value = read_record(&db[base..base + node_len], record_size, side);
            let bits = bits | (u128::from(side == 1) << (127 - depth));
            if value < node_count {
                if !seen[value] {
                    seen[value] = true;
                    stack.push((value, depth + 1, bits));
                }
            } else if value > node_count {
                let offset = value
                    .checked_sub(node_count + SEPARATOR_LEN)
                    .filter(|&offset| offset < data_len)
                    .ok_or_else(|| format!("search-tree node {node} points outside the file"))?;
                records.entry(offset).or_insert(bits);
            }
        }
    }
    let mut records: Vec<_> = records.into_iter().collect();
    records.sort_unstable();
    Ok(records
        .into_iter()
        .map(|(_, bits)| match width {
            32 => IpAddr::V4(Ipv4Addr::from((bits >> 96) as u32)),
            _ => IpAddr::V6(Ipv6Addr::from(bits)),
        })
        .collect())
}

/// Record `side` (0 = left, 1 = right) of one node, as laid out in spec 2.0.
fn read_record(node: &[u8], record_size: u16, side: usize) -> usize {
    let be = |bytes: &[u8]| bytes.iter().fold(0, |acc, &b| (acc << 8) | usize::from(b));
    match (record_size, side) {
        (24, 0) => be(&node[0..3]),
        (24, _) => be(&node[3..6]),
        (28, 0) => (usize::from(node[3] >> 4) << 24) | be(&node[0..3]),
        (28, _) => (usize::from(node[3] & 0x0f) << 24) | be(&node[4..7]),
        (_, 0) => be(&node[0..4]),
        _ => be(&node[4..8]),
    }
}
