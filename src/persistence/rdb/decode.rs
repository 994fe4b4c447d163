//! Reading values in the RDB format, every version from 1 to 12 and every encoding
//! Redis has used (`rdbLoadObject`). The input is untrusted (RESTORE payloads, files):
//! nothing here panics, every length is checked against the bytes that remain, and
//! preallocation is capped.

use std::borrow::Cow;

use super::*;
use crate::config::Config;
use crate::persistence::{legacy, listpack, lzf};
use crate::types::list::Fill;
use crate::types::zset::Limits as ZLimits;
use crate::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};

/// The encoding thresholds of the configuration, applied to loaded values as Redis
/// does (a listpack with too many entries becomes a hashtable, and so on).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset: usize,
    pub zset: ZLimits,
    pub list_fill: Fill,
    pub stream_node: crate::types::stream::NodeLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash_entries: 128,
            hash_value: 64,
            set_intset: 512,
            zset: ZLimits {
                max_entries: 128,
                max_value: 64,
            },
            list_fill: Fill::default(),
            stream_node: crate::types::stream::NodeLimits {
                max_entries: 100,
                max_bytes: 4096,
            },
        }
    }
}

impl Limits {
    pub fn from_config(c: &Config) -> Limits {
        let u = |n: &str| c.int(n).max(0) as usize;
        Limits {
            hash_entries: u("hash-max-listpack-entries"),
            hash_value: u("hash-max-listpack-value"),
            set_intset: u("set-max-intset-entries").min(crate::types::set::INTSET_HARD_MAX),
            zset: ZLimits {
                max_entries: u("zset-max-listpack-entries"),
                max_value: u("zset-max-listpack-value"),
            },
            list_fill: Fill::from_config(c.int("list-max-listpack-size")),
            stream_node: crate::types::stream::NodeLimits {
                max_entries: c.int("stream-node-max-entries").max(0) as u64,
                max_bytes: c.int("stream-node-max-bytes").max(0) as u64,
            },
        }
    }
}

/// A cursor over untrusted RDB bytes.
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

fn corrupt<T>(what: &str) -> Result<T> {
    Err(RdbError::new(what))
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| RdbError::short("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(RdbError::short("unexpected end of data"));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// `rdbLoadLenByRef`: (value, whether it is a special string encoding).
    pub fn len_enc(&mut self) -> Result<(u64, bool)> {
        let b = self.byte()?;
        match b >> 6 {
            0 => Ok(((b & 0x3f) as u64, false)),
            1 => {
                let b2 = self.byte()?;
                Ok(((((b & 0x3f) as u64) << 8) | b2 as u64, false))
            }
            3 => Ok(((b & 0x3f) as u64, true)),
            _ => match b {
                0x80 => Ok((u32::from_be_bytes(self.array()?) as u64, false)),
                0x81 => Ok((u64::from_be_bytes(self.array()?), false)),
                _ => corrupt(&format!("Unknown length encoding {b} in rdbLoadLen()")),
            },
        }
    }

    /// A plain length.
    pub fn length(&mut self) -> Result<u64> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            (_, true) => corrupt("unexpected encoded length"),
        }
    }

    /// A count of items each taking at least `min_bytes`: larger than what remains
    /// is an error (so that no huge count drives allocation or long loops).
    pub fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.length()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(RdbError::short("length larger than the remaining input"));
        }
        Ok(n as usize)
    }

    /// `rdbGenericLoadStringObject`: a length-prefixed, integer-encoded or
    /// LZF-compressed string.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>> {
        let (n, enc) = self.len_enc()?;
        if !enc {
            return Ok(Cow::Borrowed(self.take(n)?));
        }
        let v: i64 = match n as u8 {
            ENC_INT8 => i8::from_le_bytes(self.array()?) as i64,
            ENC_INT16 => i16::from_le_bytes(self.array()?) as i64,
            ENC_INT32 => i32::from_le_bytes(self.array()?) as i64,
            ENC_LZF => {
                let clen = self.length()?;
                let len = self.length()?;
                let c = self.take(clen)?;
                let len = usize::try_from(len)
                    .map_err(|_| RdbError::new("Invalid LZF compressed string"))?;
                return lzf::decompress(c, len)
                    .map(Cow::Owned)
                    .map_err(|_| RdbError::new("Invalid LZF compressed string"));
            }
            e => return corrupt(&format!("Unknown RDB string encoding type {e}")),
        };
        Ok(Cow::Owned(
            itoa::Buffer::new().format(v).as_bytes().to_vec(),
        ))
    }

    pub fn millis(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn seconds(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    /// `rdbLoadDoubleValue`: the old string form (length byte; 253 nan, 254 inf,
    /// 255 -inf).
    pub fn double_str(&mut self) -> Result<f64> {
        let l = self.byte()?;
        match l {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.take(l as u64)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .ok_or_else(|| RdbError::new("Invalid double value"))
            }
        }
    }

    /// `rdbLoadBinaryDoubleValue`.
    pub fn double_bin(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

/// Reads one value of type `typ` (the type byte already consumed). `Ok(None)` is an
/// empty collection, which Redis skips rather than storing. `now` drops hash fields
/// whose TTL already passed.
pub fn read_object(r: &mut Reader, typ: u8, lim: &Limits, now: u64) -> Result<Option<Value>> {
    let v = match typ {
        TYPE_STRING => {
            let s = r.string()?;
            Value::Str(StrValue::from_bytes(&s))
        }
        TYPE_LIST => {
            let n = r.count(1)?;
            let mut l = ListValue::new();
            for _ in 0..n {
                l.push_back(&r.string()?, lim.list_fill);
            }
            Value::List(Box::new(l))
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string()?;
            let mut l = ListValue::new();
            legacy::ziplist_for_each(&blob, |e| l.push_back(&e, lim.list_fill))
                .map_err(|_| RdbError::new("List ziplist integrity check failed."))?;
            Value::List(Box::new(l))
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count(1)?;
            let mut l = ListValue::new();
            for _ in 0..nodes {
                let container = if typ == TYPE_LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    QUICKLIST_NODE_PACKED
                };
                let blob = r.string()?;
                match container {
                    QUICKLIST_NODE_PLAIN => l.push_back(&blob, lim.list_fill),
                    QUICKLIST_NODE_PACKED if typ == TYPE_LIST_QUICKLIST => {
                        legacy::ziplist_for_each(&blob, |e| l.push_back(&e, lim.list_fill))
                            .map_err(|_| RdbError::new("Ziplist integrity check failed."))?
                    }
                    QUICKLIST_NODE_PACKED => listpack::for_each(&blob, |e| match e {
                        listpack::Ele::Str(s) => l.push_back(s, lim.list_fill),
                        listpack::Ele::Int(n) => {
                            l.push_back(itoa::Buffer::new().format(n).as_bytes(), lim.list_fill)
                        }
                    })
                    .map_err(|_| RdbError::new("Listpack integrity check failed."))?,
                    c => {
                        return corrupt(&format!(
                            "Quicklist integrity check failed: bad container {c}"
                        ))
                    }
                }
            }
            Value::List(Box::new(l))
        }
        TYPE_SET => {
            let n = r.count(1)?;
            let mut s = if n > lim.set_intset {
                SetValue::new_hashtable()
            } else {
                SetValue::new_intset()
            };
            for _ in 0..n {
                if !s.add(&r.string()?, lim.set_intset) {
                    return corrupt("Duplicate set members detected");
                }
            }
            Value::Set(s)
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let members = legacy::intset_members(&blob)
                .map_err(|_| RdbError::new("Intset integrity check failed."))?;
            let mut s = SetValue::new_intset();
            let mut b = itoa::Buffer::new();
            for m in members {
                s.add(b.format(m).as_bytes(), lim.set_intset);
            }
            Value::Set(s)
        }
        TYPE_SET_LISTPACK => {
            let blob = r.string()?;
            let items = listpack::to_vecs(&blob)
                .map_err(|_| RdbError::new("Set listpack integrity check failed."))?;
            let mut s = SetValue::new_intset();
            for m in &items {
                if !s.add(m, lim.set_intset) {
                    return corrupt("Set listpack integrity check failed.");
                }
            }
            Value::Set(s)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            let mut z = ZSetValue::with_hint(n, 0, lim.zset);
            for _ in 0..n {
                let m = r.string()?;
                let score = if typ == TYPE_ZSET_2 {
                    r.double_bin()?
                } else {
                    r.double_str()?
                };
                zset_add(&mut z, &m, score, lim)?;
            }
            Value::ZSet(z)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let items = if typ == TYPE_ZSET_ZIPLIST {
                legacy::ziplist_to_vecs(&blob).ok()
            } else {
                listpack::to_vecs(&blob).ok()
            }
            .ok_or_else(|| RdbError::new("Zset ziplist integrity check failed."))?;
            if items.len() % 2 != 0 {
                return corrupt("Zset ziplist integrity check failed.");
            }
            let mut z = ZSetValue::with_hint(items.len() / 2, 0, lim.zset);
            for p in items.chunks_exact(2) {
                let score = crate::util::num::parse_f64(&p[1])
                    .or_else(|| std::str::from_utf8(&p[1]).ok()?.parse::<f64>().ok())
                    .ok_or_else(|| RdbError::new("Zset ziplist integrity check failed."))?;
                zset_add(&mut z, &p[0], score, lim)?;
            }
            Value::ZSet(z)
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            let mut h = new_hash(n, lim);
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                hash_add(&mut h, &f, &v, lim)?;
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.string()?;
            let pairs = legacy::zipmap_pairs(&blob)
                .map_err(|_| RdbError::new("Zipmap integrity check failed."))?;
            let mut h = new_hash(pairs.len(), lim);
            for (f, v) in &pairs {
                hash_add(&mut h, f, v, lim)?;
            }
            Value::Hash(h)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let items = if typ == TYPE_HASH_ZIPLIST {
                legacy::ziplist_to_vecs(&blob).ok()
            } else {
                listpack::to_vecs(&blob).ok()
            }
            .ok_or_else(|| RdbError::new("Hash ziplist integrity check failed."))?;
            if items.len() % 2 != 0 {
                return corrupt("Hash ziplist integrity check failed.");
            }
            let mut h = new_hash(items.len() / 2, lim);
            for p in items.chunks_exact(2) {
                hash_add(&mut h, &p[0], &p[1], lim)?;
            }
            Value::Hash(h)
        }
        TYPE_HASH_LISTPACK_EX | TYPE_HASH_LISTPACK_EX_PRE_GA => {
            if typ == TYPE_HASH_LISTPACK_EX {
                r.millis()?; // the next expiry, informative
            }
            let blob = r.string()?;
            let items = listpack::to_vecs(&blob)
                .map_err(|_| RdbError::new("Hash listpackex integrity check failed."))?;
            if items.len() % 3 != 0 {
                return corrupt("Hash listpackex integrity check failed.");
            }
            let mut h = new_hash(items.len() / 3, lim);
            h.enable_field_ttls();
            for t in items.chunks_exact(3) {
                let ttl = listpack::canonical_int(&t[2])
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| RdbError::new("Hash listpackex integrity check failed."))?
                    as u64;
                hash_add_ttl(&mut h, &t[0], &t[1], ttl, now, lim)?;
            }
            Value::Hash(h)
        }
        TYPE_HASH_METADATA | TYPE_HASH_METADATA_PRE_GA => {
            let min = if typ == TYPE_HASH_METADATA {
                r.millis()?.max(0) as u64
            } else {
                0
            };
            let n = r.count(3)?;
            let mut h = new_hash(n, lim);
            h.enable_field_ttls();
            for _ in 0..n {
                let t = r.length()?;
                let at = if typ == TYPE_HASH_METADATA_PRE_GA || t == 0 {
                    t
                } else {
                    (t - 1).saturating_add(min)
                };
                let f = r.string()?;
                let v = r.string()?;
                hash_add_ttl(&mut h, &f, &v, at, now, lim)?;
            }
            Value::Hash(h)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => Value::Stream(
            Box::new(super::stream::read_stream(r, typ, lim.stream_node)?),
        ),
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            let id = r.length()?;
            return corrupt(&format!(
                "module value (module type id {id:#x}) found, but modules are not supported"
            ));
        }
        t => return corrupt(&format!("Unknown RDB encoding type {t}")),
    };
    let empty = match &v {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
        // An empty stream is a valid value (XADD ... MAXLEN 0, XGROUP CREATE MKSTREAM).
        Value::Stream(_) => false,
    };
    Ok(if empty { None } else { Some(v) })
}

fn zset_add(z: &mut ZSetValue, m: &[u8], score: f64, lim: &Limits) -> Result<()> {
    if score.is_nan() {
        return corrupt("Zset with NAN score detected");
    }
    if z.score(m).is_some() {
        return corrupt("Duplicate zset fields detected");
    }
    z.insert_new(m, score, lim.zset);
    Ok(())
}

fn new_hash(n: usize, lim: &Limits) -> HashValue {
    let mut h = HashValue::new();
    if n > lim.hash_entries {
        h.convert_to_table();
    }
    h
}

fn hash_add(h: &mut HashValue, f: &[u8], v: &[u8], lim: &Limits) -> Result<()> {
    h.try_conversion(f.len().max(v.len()), lim.hash_value);
    if !h.set(f, v, false, lim.hash_entries, lim.hash_value) {
        return corrupt("Duplicate hash fields detected");
    }
    Ok(())
}

fn hash_add_ttl(
    h: &mut HashValue,
    f: &[u8],
    v: &[u8],
    at: u64,
    now: u64,
    lim: &Limits,
) -> Result<()> {
    if at != 0 && at <= now {
        // Already expired: skipped, as Redis 7.4 does when loading.
        if h.contains(f) {
            return corrupt("Duplicate hash fields detected");
        }
        return Ok(());
    }
    hash_add(h, f, v, lim)?;
    if at != 0 {
        h.set_field_expire(f, at);
    }
    Ok(())
}

/// Parses a whole DUMP payload (its footer already checked with [`verify_payload`]):
/// the type byte and the value. As Redis's RESTORE, the value is read from the whole
/// payload and what follows it is not examined (so a value may run into the footer
/// bytes, and trailing bytes are ignored: the reference server accepts both).
pub fn read_payload(payload: &[u8], lim: &Limits, now: u64) -> Result<Option<Value>> {
    let mut r = Reader::new(payload);
    let typ = r.byte()?;
    if !is_object_type(typ) {
        return corrupt("Bad data format");
    }
    read_object(&mut r, typ, lim, now)
}
