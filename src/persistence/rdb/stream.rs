//! Streams in RDB (`RDB_TYPE_STREAM_LISTPACKS*`, Redis's `rdbSaveObject` /
//! `rdbLoadObject` for `OBJ_STREAM`).
//!
//! Layout: the number of nodes, then per node its master ID (16 bytes, big-endian ms
//! and seq) and a listpack in Redis's stream-node format (a master entry: live count,
//! deleted count, the master field names and a 0; then per entry: flags, ms and seq
//! deltas from the master ID, either the values only (`SAMEFIELDS`) or a field count
//! and the pairs, and the entry's element count); then length, last ID, and for
//! version 2 the first ID, the max deleted ID and entries-added; then the consumer
//! groups with their pending-entry lists and consumers.
//!
//! Ferrodis keeps its own node encoding in memory, so the writer re-cuts the live
//! entries into nodes of at most [`NODE_ENTRIES`] entries (tombstones are not
//! written: Redis loads any valid node layout). The reader appends every live entry.

use std::sync::Arc;

use super::decode::Reader;
use super::encode::{write_len, write_millis, write_string};
use super::{RdbError, Result};
use crate::persistence::listpack;
use crate::types::stream::{
    Consumer, ConsumerGroup, Elem, Nack, NodeLimits, StreamId, StreamValue,
};

/// Entries per written node (Redis's default `stream-node-max-entries`).
const NODE_ENTRIES: usize = 100;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

fn id_from(b: &[u8]) -> Result<StreamId> {
    let b: [u8; 16] = b
        .try_into()
        .map_err(|_| RdbError::new("Stream ID of the wrong size"))?;
    let (ms, seq) = b.split_at(8);
    let word = |h: &[u8]| u64::from_be_bytes(h.try_into().unwrap_or_default());
    Ok(StreamId::new(word(ms), word(seq)))
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

/// Writes a stream value as `RDB_TYPE_STREAM_LISTPACKS_2` (what Redis 7.0 writes).
pub fn write_stream(out: &mut Vec<u8>, s: &StreamValue, compress: bool) {
    let entries = s.range(StreamId::MIN, StreamId::MAX, false, usize::MAX);
    write_len(out, entries.len().div_ceil(NODE_ENTRIES) as u64);
    let mut num = itoa::Buffer::new();
    for chunk in entries.chunks(NODE_ENTRIES) {
        let Some(first) = chunk.first() else { continue };
        let master = first.id;
        let master_fields: Vec<Vec<u8>> = s.fields(first).iter().map(|(f, _)| f.to_vec()).collect();
        let mut w = listpack::Writer::new();
        w.push_int(chunk.len() as i64);
        w.push_int(0);
        w.push_int(master_fields.len() as i64);
        for f in &master_fields {
            w.push(f);
        }
        w.push_int(0);
        for pos in chunk {
            let pairs = s.fields(pos);
            let same = pairs.len() == master_fields.len()
                && pairs
                    .iter()
                    .zip(&master_fields)
                    .all(|((f, _), m)| f.as_bytes(&mut num) == m.as_slice());
            w.push_int(if same { FLAG_SAMEFIELDS } else { 0 });
            w.push_int(pos.id.ms.wrapping_sub(master.ms) as i64);
            w.push_int(pos.id.seq.wrapping_sub(master.seq) as i64);
            let n = pairs.len() as i64;
            if same {
                for (_, v) in &pairs {
                    push_elem(&mut w, v);
                }
            } else {
                w.push_int(n);
                for (f, v) in &pairs {
                    push_elem(&mut w, f);
                    push_elem(&mut w, v);
                }
            }
            w.push_int(if same { n + 3 } else { n + 3 + n + 1 });
        }
        write_string(out, &id_bytes(master), compress);
        write_string(out, &w.finish(), compress);
    }
    write_len(out, s.length);
    write_id(out, s.last_id);
    write_id(out, s.first_id);
    write_id(out, s.max_deleted_id);
    write_len(out, s.entries_added);
    let Some(groups) = s.groups.as_deref() else {
        write_len(out, 0);
        return;
    };
    write_len(out, groups.len() as u64);
    for (name, g) in groups {
        write_string(out, name, compress);
        write_id(out, g.last_id);
        // `entries_read` is a signed counter written as a length (-1 wraps, as in C).
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, nack) in g.pel.iter() {
            out.extend_from_slice(&id_bytes(*id));
            write_millis(out, nack.delivery_time);
            write_len(out, nack.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, compress);
            write_millis(out, c.seen_time);
            write_len(out, c.pel.len() as u64);
            for id in c.pel.keys() {
                out.extend_from_slice(&id_bytes(*id));
            }
        }
    }
}

fn push_elem(w: &mut listpack::Writer, e: &Elem) {
    match e {
        Elem::Int(v) => w.push_int(*v),
        Elem::Bytes(b) => w.push(b),
    }
}

fn int_of(e: Option<&Vec<u8>>) -> Result<i64> {
    let e = e.ok_or_else(|| RdbError::new("Stream listpack ends early"))?;
    std::str::from_utf8(e)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| RdbError::new("Stream listpack integer expected"))
}

/// Reads a stream value of type `typ` (`RDB_TYPE_STREAM_LISTPACKS`, `_2` or `_3`).
pub fn read_stream(r: &mut Reader, typ: u8, limits: NodeLimits) -> Result<StreamValue> {
    use super::{TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3};
    let mut s = StreamValue::new();
    let nodes = r.length()?;
    let mut prev: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = id_from(&key)?;
        let lp = r.string()?;
        let elems = listpack::to_vecs(&lp)
            .map_err(|_| RdbError::new("Stream node listpack is not valid"))?;
        if elems.is_empty() {
            return Err(RdbError::new("Empty listpack inside stream"));
        }
        let nf = usize::try_from(int_of(elems.get(2))?)
            .map_err(|_| RdbError::new("Stream master field count is negative"))?;
        let fields_end = 3usize
            .checked_add(nf)
            .filter(|&e| e < elems.len())
            .ok_or_else(|| RdbError::new("Stream master entry ends early"))?;
        let master_fields = &elems[3..fields_end];
        if int_of(elems.get(fields_end))? != 0 {
            return Err(RdbError::new("Stream master entry is not terminated"));
        }
        let mut i = fields_end + 1;
        while i < elems.len() {
            let flags = int_of(elems.get(i))?;
            let ms = master.ms.wrapping_add(int_of(elems.get(i + 1))? as u64);
            let seq = master.seq.wrapping_add(int_of(elems.get(i + 2))? as u64);
            i += 3;
            let mut pairs: Vec<&[u8]> = Vec::new();
            if flags & FLAG_SAMEFIELDS != 0 {
                let values = elems
                    .get(i..i + nf)
                    .ok_or_else(|| RdbError::new("Stream entry ends early"))?;
                for (f, v) in master_fields.iter().zip(values) {
                    pairs.push(f);
                    pairs.push(v);
                }
                i += nf;
            } else {
                let n = usize::try_from(int_of(elems.get(i))?)
                    .map_err(|_| RdbError::new("Stream entry field count is negative"))?;
                i += 1;
                let end = n
                    .checked_mul(2)
                    .and_then(|m| m.checked_add(i))
                    .ok_or_else(|| RdbError::new("Stream entry ends early"))?;
                let items = elems
                    .get(i..end)
                    .ok_or_else(|| RdbError::new("Stream entry ends early"))?;
                pairs.extend(items.iter().map(|v| v.as_slice()));
                i = end;
            }
            int_of(elems.get(i))?; // lp-count
            i += 1;
            if flags & FLAG_DELETED != 0 {
                continue;
            }
            if pairs.is_empty() {
                return Err(RdbError::new("Stream entry without fields"));
            }
            let id = StreamId::new(ms, seq);
            if prev.is_some_and(|p| id <= p) {
                return Err(RdbError::new("Stream entry IDs are not in order"));
            }
            prev = Some(id);
            s.append(id, &pairs, limits);
        }
    }
    let length = r.length()?;
    if length != s.length {
        return Err(RdbError::new("Stream length does not match its entries"));
    }
    let last_id = StreamId::new(r.length()?, r.length()?);
    if prev.is_some_and(|p| p > last_id) {
        return Err(RdbError::new("Stream last ID is below its last entry"));
    }
    s.last_id = last_id;
    if typ == TYPE_STREAM_LISTPACKS_2 || typ == TYPE_STREAM_LISTPACKS_3 {
        s.first_id = StreamId::new(r.length()?, r.length()?);
        s.max_deleted_id = StreamId::new(r.length()?, r.length()?);
        s.entries_added = r.length()?;
    } else {
        // Version 1 did not keep these: as Redis's loader, assume nothing deleted.
        s.first_id = s.edge_id(true).unwrap_or_default();
        s.max_deleted_id = StreamId::MIN;
        s.entries_added = s.length;
    }
    let groups = r.length()?;
    for _ in 0..groups {
        let name = r.string()?.into_owned();
        let last = StreamId::new(r.length()?, r.length()?);
        let entries_read = if typ == TYPE_STREAM_LISTPACKS_2 || typ == TYPE_STREAM_LISTPACKS_3 {
            r.length()? as i64
        } else {
            s.estimate_distance(last)
        };
        let mut g = ConsumerGroup::new(last, entries_read);
        let unowned: Arc<[u8]> = Arc::from(&b""[..]);
        let pel = r.length()?;
        for _ in 0..pel {
            let id = id_from(r.take(16)?)?;
            let delivery_time = r.millis()? as u64;
            let delivery_count = r.length()?;
            let nack = Nack {
                delivery_time,
                delivery_count,
                consumer: unowned.clone(),
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(RdbError::new(
                    "Duplicated global PEL entry loading stream consumer group",
                ));
            }
        }
        let consumers = r.length()?;
        for _ in 0..consumers {
            let cname = r.string()?.into_owned();
            let seen = r.millis()? as u64;
            let active = if typ == TYPE_STREAM_LISTPACKS_3 {
                r.millis()?
            } else {
                seen as i64
            };
            let mut c = Consumer::new(&cname, seen);
            c.active_time = active;
            let n = r.length()?;
            for _ in 0..n {
                let id = id_from(r.take(16)?)?;
                let Some(nack) = g.pel.get_mut(&id) else {
                    return Err(RdbError::new(
                        "Consumer entry not found in group global PEL",
                    ));
                };
                nack.consumer = c.name.clone();
                c.pel.insert(id, ());
            }
            if g.consumers.insert(cname.into_boxed_slice(), c).is_some() {
                return Err(RdbError::new(
                    "Duplicated consumer name loading stream consumer group",
                ));
            }
        }
        if g.pel
            .iter()
            .any(|(_, n)| Arc::ptr_eq(&n.consumer, &unowned))
        {
            return Err(RdbError::new("Stream PEL NACK missing consumer"));
        }
        if s.groups_mut().insert(name.into_boxed_slice(), g).is_some() {
            return Err(RdbError::new(
                "Duplicated consumer group name loading stream",
            ));
        }
    }
    Ok(s)
}
