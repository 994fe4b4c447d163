//! Writing values in the RDB format, as Redis 7.0's `rdbSaveObject` does.

use super::*;
use crate::persistence::{legacy, listpack, lzf};
use crate::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};

/// What the writer needs from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct EncodeOpts {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it pays.
    pub compress: bool,
    /// `list-max-listpack-size`: how lists are cut into quicklist nodes.
    pub list_fill: i64,
}

impl Default for EncodeOpts {
    fn default() -> Self {
        EncodeOpts {
            compress: true,
            list_fill: -2,
        }
    }
}

impl EncodeOpts {
    pub fn from_config(c: &crate::config::Config) -> EncodeOpts {
        EncodeOpts {
            compress: c.bool("rdbcompression"),
            list_fill: c.int("list-max-listpack-size"),
        }
    }
}

/// `rdbSaveLen`.
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(((len >> 8) as u8) | 0x40);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: the 8/16/32-bit integer string encodings.
fn encode_integer(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.push(0xc0 | ENC_INT8);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xc0 | ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xc0 | ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveRawString`: an integer encoding for short canonical integers, LZF for
/// longer strings when enabled and it saves at least 4 bytes, verbatim otherwise.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = listpack::canonical_int(s) {
            if encode_integer(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xc0 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLongLongAsStringObject`.
pub fn write_int_string(out: &mut Vec<u8>, v: i64) {
    if !encode_integer(out, v) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        write_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// `rdbSaveMillisecondTime`.
pub fn write_millis(out: &mut Vec<u8>, ms: u64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

/// Redis's `d2string` (the score strings stored in sorted-set listpacks).
pub fn d2string(score: f64) -> String {
    crate::util::num::fmt_double(score)
}

/// Whether the hash has live field TTLs (needs Redis 7.4's types, RDB 12).
fn hash_has_ttls(h: &HashValue) -> bool {
    h.min_expire().is_some()
}

/// The RDB version a value needs: 10, or 12 for a hash with field TTLs.
pub fn version_for(v: &Value) -> u16 {
    match v {
        Value::Hash(h) if hash_has_ttls(h) => RDB_VERSION_HFE,
        _ => RDB_VERSION,
    }
}

/// The type byte `rdbSaveObjectType` writes for `v`.
pub fn object_type(v: &Value) -> u8 {
    match v {
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Set(s) => {
            if s.is_intset() {
                TYPE_SET_INTSET
            } else {
                TYPE_SET
            }
        }
        Value::ZSet(z) => match z {
            ZSetValue::Listpack(_) => TYPE_ZSET_LISTPACK,
            ZSetValue::Skiplist(_) => TYPE_ZSET_2,
        },
        Value::Hash(h) => match (h.is_listpack(), hash_has_ttls(h)) {
            (true, false) => TYPE_HASH_LISTPACK,
            (false, false) => TYPE_HASH,
            (true, true) => TYPE_HASH_LISTPACK_EX,
            (false, true) => TYPE_HASH_METADATA,
        },
    }
}

/// Writes the value (without its type byte), as `rdbSaveObject`.
pub fn write_value(out: &mut Vec<u8>, v: &Value, opts: &EncodeOpts) {
    match v {
        Value::Str(s) => match s {
            StrValue::Int(n) => write_int_string(out, *n),
            _ => s.with_bytes(|b| write_string(out, b, opts.compress)),
        },
        Value::List(l) => write_list(out, l, opts),
        Value::Set(s) => write_set(out, s, opts),
        Value::ZSet(z) => write_zset(out, z, opts),
        Value::Hash(h) => write_hash(out, h, opts),
        Value::Stream(st) => super::stream::write_stream(out, st, opts.compress),
    }
}

/// Type byte and value.
pub fn write_object(out: &mut Vec<u8>, v: &Value, opts: &EncodeOpts) {
    out.push(object_type(v));
    write_value(out, v, opts);
}

/// A DUMP payload: type, value, RDB version, CRC-64.
pub fn dump_payload(v: &Value, opts: &EncodeOpts) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, v, opts);
    seal_payload(out, version_for(v))
}

// ---------------------------------------------------------------- lists

/// Redis 7.0's `_quicklistNodeAllowInsert` for a node of `node_bytes` bytes holding
/// `count` entries and an element of `sz` bytes (it over-estimates an entry's
/// overhead as SIZE_ESTIMATE_OVERHEAD = 8 bytes).
fn node_allows(node_bytes: usize, count: usize, sz: usize, fill: i64) -> bool {
    let new_sz = node_bytes + sz + 8;
    if fill < 0 {
        // Levels beyond -5 count as -5 (Redis 7.2's `quicklistNodeLimit`).
        let level = (((-fill) - 1) as usize).min(4);
        const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
        if let Some(&max) = LEVELS.get(level) {
            if new_sz <= max {
                return true;
            }
        }
    }
    if new_sz > 8192 {
        return false;
    }
    (count as i64) < fill
}

/// A list as quicklist 2: its elements cut into listpack nodes as a list built by
/// RPUSH in Redis 7.0 is, so small and RPUSH-built lists dump byte for byte as
/// Redis's.
fn write_list(out: &mut Vec<u8>, l: &ListValue, opts: &EncodeOpts) {
    let mut nodes: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<listpack::Writer> = None;
    for e in l.iter() {
        let fits = cur
            .as_ref()
            .is_some_and(|w| node_allows(w.bytes(), w.count(), e.len(), opts.list_fill));
        if !fits {
            if let Some(w) = cur.take() {
                nodes.push(w.finish());
            }
            cur = Some(listpack::Writer::new());
        }
        if let Some(w) = cur.as_mut() {
            w.push(e);
        }
    }
    if let Some(w) = cur.take() {
        nodes.push(w.finish());
    }
    write_len(out, nodes.len() as u64);
    for n in nodes {
        write_len(out, QUICKLIST_NODE_PACKED);
        write_string(out, &n, opts.compress);
    }
}

// ---------------------------------------------------------------- sets

fn write_set(out: &mut Vec<u8>, s: &SetValue, opts: &EncodeOpts) {
    if s.is_intset() {
        let mut ints = Vec::with_capacity(s.len());
        s.for_each(|m| {
            if let Some(n) = listpack::canonical_int(m) {
                ints.push(n);
            }
        });
        write_string(out, &legacy::intset_encode(&ints), opts.compress);
    } else {
        write_len(out, s.len() as u64);
        s.for_each(|m| write_string(out, m, opts.compress));
    }
}

// ---------------------------------------------------------------- sorted sets

fn write_zset(out: &mut Vec<u8>, z: &ZSetValue, opts: &EncodeOpts) {
    match z {
        ZSetValue::Listpack(_) => {
            let mut w = listpack::Writer::new();
            z.for_each(|m, s| {
                w.push(m);
                w.push(d2string(s).as_bytes());
            });
            write_string(out, &w.finish(), opts.compress);
        }
        ZSetValue::Skiplist(_) => {
            write_len(out, z.len() as u64);
            // Greatest first, as Redis (loading then always inserts at the head).
            z.for_each_in(0, z.len(), true, |m, s| {
                write_string(out, m, opts.compress);
                out.extend_from_slice(&s.to_le_bytes());
            });
        }
    }
}

// ---------------------------------------------------------------- hashes

fn write_hash(out: &mut Vec<u8>, h: &HashValue, opts: &EncodeOpts) {
    let min = h.min_expire();
    match (h.is_listpack(), min) {
        (true, None) => {
            let mut w = listpack::Writer::new();
            h.for_each(|f, v| {
                w.push(f);
                w.push(v);
            });
            write_string(out, &w.finish(), opts.compress);
        }
        (false, None) => {
            write_len(out, h.len() as u64);
            h.for_each(|f, v| {
                write_string(out, f, opts.compress);
                write_string(out, v, opts.compress);
            });
        }
        (true, Some(min)) => {
            // Redis 7.4's listpackex: the next expiry, then field, value, TTL (0 =
            // none) triplets.
            write_millis(out, min);
            let mut w = listpack::Writer::new();
            h.for_each(|f, v| {
                w.push(f);
                w.push(v);
                w.push_int(h.field_expire(f).map_or(0, |t| t as i64));
            });
            write_string(out, &w.finish(), opts.compress);
        }
        (false, Some(min)) => {
            // Redis 7.4's RDB_TYPE_HASH_METADATA: the next expiry, then per field its
            // TTL relative to it (+1; 0 = none), field and value.
            write_millis(out, min);
            write_len(out, h.len() as u64);
            h.for_each(|f, v| {
                let ttl = h.field_expire(f).map_or(0, |t| t.saturating_sub(min) + 1);
                write_len(out, ttl);
                write_string(out, f, opts.compress);
                write_string(out, v, opts.compress);
            });
        }
    }
}
