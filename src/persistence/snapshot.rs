//! Whole-dataset RDB files: SAVE (write `dir`/`dbfilename` atomically) and loading
//! the file at startup.
//!
//! The file is Redis 7.0's: `REDIS0010`, the aux fields Redis writes (`redis-ver`,
//! `redis-bits`, `ctime`, `used-mem`, `aof-base`), the function libraries
//! (`FUNCTION2` opcodes), then per non-empty database `SELECTDB` + `RESIZEDB` and its
//! keys (`EXPIRETIME_MS` before keys with a TTL), `EOF` and the CRC-64 of everything
//! before it (0 with `rdbchecksum no`, as Redis).
//!
//! SAVE runs under the exclusive gate (nothing else runs), writes `temp-<pid>.rdb`
//! in the target's directory, fsyncs it, renames it over the target and fsyncs the
//! directory, so a crash never leaves a half-written file in place of the last good
//! one. A file needing hash field TTLs (see `rdb` module docs) is written as
//! version 12.
//!
//! Loading reads the file whole (a streaming reader is future work for very large
//! files), verifies the checksum, skips keys whose TTL already passed (Redis's
//! behaviour for a master) and refuses the whole file on any error, naming it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::crc64::crc64;
use super::rdb::decode::{self, Limits, Reader};
use super::rdb::encode::{self, EncodeOpts};
use super::rdb::*;
use crate::keyspace::{lru_clock, Txn, SHARDS};
use crate::server::{log, Server};

/// Persistence counters for INFO.
#[derive(Default)]
pub struct State {
    /// Successful saves since startup (`rdb_saves`).
    pub saves: AtomicU64,
    /// Whether the last save failed (`rdb_last_bgsave_status:err`).
    pub last_save_failed: AtomicBool,
    /// Keys loaded and keys skipped as expired by the last load.
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
}

/// Computes the CRC-64 of everything written through it.
struct CrcWriter<W: Write> {
    inner: W,
    crc: u64,
    checksum: bool,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.checksum {
            self.crc = crc64(self.crc, &buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn aux(out: &mut Vec<u8>, key: &str, val: &[u8]) {
    out.push(OPCODE_AUX);
    encode::write_string(out, key.as_bytes(), false);
    encode::write_string(out, val, false);
}

/// The target file: `dir`/`dbfilename`.
pub fn rdb_path(srv: &Server) -> PathBuf {
    let c = srv.config.read();
    Path::new(&c.str("dir")).join(c.str("dbfilename"))
}

/// Whether any key holds a hash with live field TTLs (the file must then be
/// version 12). `txn` must be exclusive.
fn needs_hfe(txn: &mut Txn, dbs: usize) -> bool {
    for db in 0..dbs {
        for s in 0..SHARDS {
            if txn.shard_at(db, s).hfe.is_empty() {
                continue;
            }
            let ks = txn.ks;
            let shard = txn.shard_at(db, s);
            let found = shard.hfe.iter().any(|(k, _)| {
                shard
                    .dict
                    .get(ks.hash(k), k)
                    .is_some_and(|e| encode::version_for(&e.value) > RDB_VERSION)
            });
            if found {
                return true;
            }
        }
    }
    false
}

/// Writes the whole dataset (and the function libraries) in RDB format to `w`.
/// `txn` must be exclusive. Returns the checksum written.
pub fn write_rdb<W: Write>(srv: &Server, txn: &mut Txn, w: W) -> io::Result<u64> {
    let (opts, checksum) = {
        let c = srv.config.read();
        (EncodeOpts::from_config(&c), c.bool("rdbchecksum"))
    };
    let dbs = srv.databases();
    let version = if needs_hfe(txn, dbs) {
        log::notice("Hashes with field TTLs: writing RDB version 12 (Redis 7.4's format)");
        RDB_VERSION_HFE
    } else {
        RDB_VERSION
    };
    let mut w = CrcWriter {
        inner: w,
        crc: 0,
        checksum,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    buf.extend_from_slice(format!("REDIS{version:04}").as_bytes());
    aux(&mut buf, "redis-ver", crate::VERSION_REDIS.as_bytes());
    aux(&mut buf, "redis-bits", b"64");
    let now_s = crate::util::time::now_ms() / 1000;
    aux(&mut buf, "ctime", now_s.to_string().as_bytes());
    aux(
        &mut buf,
        "used-mem",
        crate::memory::used_memory().to_string().as_bytes(),
    );
    aux(&mut buf, "aof-base", b"0");
    {
        let lib = srv.functions.lib.lock();
        let mut libs: Vec<_> = lib.libraries.values().collect();
        libs.sort_by(|a, b| a.name.cmp(&b.name));
        for l in libs {
            buf.push(OPCODE_FUNCTION2);
            encode::write_string(&mut buf, &l.code, opts.compress);
        }
    }
    w.write_all(&buf)?;
    buf.clear();
    for db in 0..dbs {
        let (mut keys, mut volatile) = (0usize, 0usize);
        for s in 0..SHARDS {
            let shard = txn.shard_at(db, s);
            keys += shard.dict.len();
            volatile += shard.volatile;
        }
        if keys == 0 {
            continue;
        }
        buf.push(OPCODE_SELECTDB);
        encode::write_len(&mut buf, db as u64);
        buf.push(OPCODE_RESIZEDB);
        encode::write_len(&mut buf, keys as u64);
        encode::write_len(&mut buf, volatile as u64);
        for s in 0..SHARDS {
            let shard = txn.shard_at(db, s);
            for (k, e) in shard.dict.iter() {
                if e.expire() != 0 {
                    buf.push(OPCODE_EXPIRETIME_MS);
                    encode::write_millis(&mut buf, e.expire());
                }
                buf.push(encode::object_type(&e.value));
                encode::write_string(&mut buf, k, opts.compress);
                encode::write_value(&mut buf, &e.value, &opts);
                if buf.len() >= 64 * 1024 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
    }
    buf.push(OPCODE_EOF);
    w.write_all(&buf)?;
    let crc = if checksum { w.crc } else { 0 };
    w.inner.write_all(&crc.to_le_bytes())?;
    w.flush()?;
    Ok(crc)
}

/// SAVE: writes the snapshot atomically (temp file, fsync, rename, fsync of the
/// directory). `txn` must be exclusive. Updates LASTSAVE and the dirty counter on
/// success; logs and returns the error otherwise.
pub fn save(srv: &Server, txn: &mut Txn) -> io::Result<()> {
    let target = rdb_path(srv);
    let dir = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let dirty_before = srv.stats.dirty.load(Ordering::Relaxed);
    let result = (|| -> io::Result<()> {
        let f = File::create(&tmp).map_err(|e| {
            log::warning(&format!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                tmp.display(),
                dir.display()
            ));
            e
        })?;
        let mut bw = BufWriter::with_capacity(256 * 1024, f);
        write_rdb(srv, txn, &mut bw)?;
        let f = bw.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    match &result {
        Ok(()) => {
            log::notice("DB saved on disk");
            srv.stats.dirty.fetch_sub(
                dirty_before.min(srv.stats.dirty.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            srv.lastsave
                .store(crate::util::time::now_ms() / 1000, Ordering::Relaxed);
            srv.persistence.saves.fetch_add(1, Ordering::Relaxed);
            srv.persistence
                .last_save_failed
                .store(false, Ordering::Relaxed);
        }
        Err(e) => {
            log::warning(&format!("Write error saving DB on disk: {e}"));
            let _ = std::fs::remove_file(&tmp);
            srv.persistence
                .last_save_failed
                .store(true, Ordering::Relaxed);
        }
    }
    result
}

/// SAVE from outside a command (the final save at shutdown): takes the exclusive gate
/// itself.
pub fn save_exclusive(srv: &Server) -> io::Result<()> {
    let _gate = srv.ks.gate.write();
    let mut txn = Txn::exclusive(&srv.ks, crate::util::time::now_ms());
    save(srv, &mut txn)
}

/// What a load found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub version: u16,
    pub keys: u64,
    pub expired: u64,
    /// Function library code, in file order (loaded by the caller).
    pub functions: Vec<Vec<u8>>,
}

/// Options for [`load_rdb`].
pub struct LoadOpts {
    pub limits: Limits,
    /// `rdbchecksum`: verify the trailing CRC-64 (a stored 0 means "not computed").
    pub checksum: bool,
    pub now: u64,
}

/// Parses a whole RDB file image into the keyspace behind `txn` (exclusive view).
/// Any error leaves the process to refuse starting: the caller must not serve a
/// partially loaded dataset.
pub fn load_rdb(data: &[u8], txn: &mut Txn, opts: &LoadOpts) -> Result<Loaded> {
    let mut r = Reader::new(data);
    load_from(&mut r, data, txn, opts)
        .map_err(|e| RdbError::new(format!("{e} (reading offset {})", r.pos)))
}

fn load_from(r: &mut Reader, data: &[u8], txn: &mut Txn, opts: &LoadOpts) -> Result<Loaded> {
    let magic = r.take(9).map_err(|_| {
        RdbError::new("Short read or OOM loading DB. Unrecoverable error, aborting now.")
    })?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::new("Wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|v| (1..=RDB_MAX_VERSION).contains(v))
        .ok_or_else(|| {
            RdbError::new(format!(
                "Can't handle RDB format version {}",
                String::from_utf8_lossy(&magic[5..])
            ))
        })?;
    let dbs = txn.ks.num_dbs();
    let mut out = Loaded {
        version,
        ..Default::default()
    };
    let mut db = 0usize;
    let mut expire: i64 = -1;
    let mut idle: Option<u64> = None;
    let lru_now = lru_clock(opts.now);
    loop {
        let t = r.byte()?;
        match t {
            OPCODE_EXPIRETIME => {
                expire = r.seconds()? as i64 * 1000;
                continue;
            }
            OPCODE_EXPIRETIME_MS => {
                expire = r.millis()?;
                continue;
            }
            OPCODE_FREQ => {
                r.byte()?;
                continue;
            }
            OPCODE_IDLE => {
                idle = Some(r.length()?);
                continue;
            }
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                let id = r.length()?;
                if id >= dbs as u64 {
                    return Err(RdbError::new(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
                    )));
                }
                db = id as usize;
                continue;
            }
            OPCODE_RESIZEDB => {
                r.length()?;
                r.length()?;
                continue;
            }
            OPCODE_SLOT_INFO => {
                r.length()?;
                r.length()?;
                r.length()?;
                continue;
            }
            OPCODE_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                match &*k {
                    b"redis-ver" => log::notice(&format!(
                        "Loading RDB produced by version {}",
                        String::from_utf8_lossy(&v)
                    )),
                    b"ctime" => {
                        if let Some(c) = std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok())
                        {
                            let age = (opts.now / 1000) as i64 - c;
                            log::notice(&format!("RDB age {} seconds", age.max(0)));
                        }
                    }
                    b"used-mem" => {
                        if let Some(m) = std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            log::notice(&format!(
                                "RDB memory usage when created {:.2} Mb",
                                m as f64 / (1024.0 * 1024.0)
                            ));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            OPCODE_MODULE_AUX => {
                let id = r.length()?;
                return Err(RdbError::new(format!(
                    "The RDB file contains AUX module data I can't load: module type id {id:#x} (modules are not supported)"
                )));
            }
            OPCODE_FUNCTION_PRE_GA => {
                return Err(RdbError::new("Pre-release function format not supported."));
            }
            OPCODE_FUNCTION2 => {
                out.functions.push(r.string()?.into_owned());
                continue;
            }
            _ => {}
        }
        if !is_object_type(t) {
            return Err(RdbError::new(format!("Unknown RDB encoding type {t}")));
        }
        let key = r.string()?;
        let value = decode::read_object(r, t, &opts.limits, opts.now)
            .map_err(|e| RdbError::new(format!("{e} (key '{}')", String::from_utf8_lossy(&key))))?;
        let exp = std::mem::replace(&mut expire, -1);
        let lru = match idle.take() {
            Some(s) => lru_now.wrapping_sub(s.min(u32::MAX as u64) as u32),
            None => lru_now,
        };
        let Some(value) = value else {
            continue; // empty collection: skipped, as Redis does
        };
        if exp != -1 && (exp as u64) <= opts.now {
            out.expired += 1;
            continue;
        }
        if txn.peek(db, &key).is_some() {
            return Err(RdbError::new(format!(
                "RDB has duplicated key '{}' in DB {db}",
                String::from_utf8_lossy(&key)
            )));
        }
        let exp = if exp <= 0 { 0 } else { exp as u64 };
        txn.insert_entry(db, &key, value, exp, lru);
        // Nobody publishes events raised while loading: don't let them pile up.
        txn.events.clear();
        out.keys += 1;
    }
    if version >= 5 {
        let body_len = r.pos;
        let stored = u64::from_le_bytes(
            r.take(8)
                .map_err(|_| RdbError::new("Short read loading the RDB checksum"))?
                .try_into()
                .map_err(|_| RdbError::new("Short read loading the RDB checksum"))?,
        );
        if opts.checksum {
            if stored == 0 {
                log::warning("RDB file was saved with checksum disabled: no check performed.");
            } else {
                let expected = crc64(0, &data[..body_len]);
                if expected != stored {
                    return Err(RdbError::new(format!(
                        "Wrong RDB checksum expected: ({expected:x}) got ({stored:x}). Aborting now."
                    )));
                }
            }
        }
    }
    if r.remaining() != 0 {
        log::warning(&format!(
            "{} bytes of trailing data after the RDB checksum ignored",
            r.remaining()
        ));
    }
    Ok(out)
}

/// Startup: loads `dir`/`dbfilename` if it exists. An error (unreadable, corrupt,
/// truncated, bad checksum, function library failing to load) is returned with the
/// reason and the caller refuses to start.
pub fn load_at_startup(srv: &Server) -> std::result::Result<(), String> {
    let path = rdb_path(srv);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB ({}): {e}. Exiting.",
                path.display()
            ))
        }
    };
    let started = std::time::Instant::now();
    let opts = {
        let c = srv.config.read();
        LoadOpts {
            limits: Limits::from_config(&c),
            checksum: c.bool("rdbchecksum"),
            now: crate::util::time::now_ms(),
        }
    };
    let _gate = srv.ks.gate.write();
    let mut txn = Txn::exclusive(&srv.ks, opts.now);
    let loaded = load_rdb(&data, &mut txn, &opts).map_err(|e| {
        format!(
            "Internal error in RDB reading file {}: {e}. Fatal error loading the DB, check server logs. Exiting.",
            path.display()
        )
    })?;
    drop(txn);
    {
        let mut lib = srv.functions.lib.lock();
        for code in &loaded.functions {
            lib.load(code, false)
                .map_err(|e| format!("Failed loading library from the RDB file: {e}. Exiting."))?;
        }
        srv.functions.update_counts(&lib);
    }
    srv.persistence
        .last_load_keys_loaded
        .store(loaded.keys, Ordering::Relaxed);
    srv.persistence
        .last_load_keys_expired
        .store(loaded.expired, Ordering::Relaxed);
    srv.stats.dirty.store(0, Ordering::Relaxed);
    log::notice(&format!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys, loaded.expired
    ));
    log::notice(&format!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// FUNCTION DUMP's payload: every library as `FUNCTION2` + code, then the footer.
pub fn functions_payload(srv: &Server) -> Vec<u8> {
    let compress = srv.config.read().bool("rdbcompression");
    let lib = srv.functions.lib.lock();
    let mut libs: Vec<_> = lib.libraries.values().collect();
    libs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for l in libs {
        out.push(OPCODE_FUNCTION2);
        encode::write_string(&mut out, &l.code, compress);
    }
    seal_payload(out, RDB_VERSION)
}

/// FUNCTION RESTORE: the library codes of a whole payload (footer already verified;
/// read, as Redis, until 10 bytes or fewer remain), or Redis's error text.
pub fn functions_from_payload(payload: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut r = Reader::new(payload);
    let mut out = Vec::new();
    while r.remaining() > 10 {
        let t = r.byte().map_err(|_| "can not read data type".to_string())?;
        match t {
            OPCODE_FUNCTION2 => out.push(
                r.string()
                    .map_err(|_| "failed loading the given functions payload".to_string())?
                    .into_owned(),
            ),
            OPCODE_FUNCTION_PRE_GA => {
                return Err("Pre-GA function format not supported".into());
            }
            _ => return Err("given type is not a function".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;
    use crate::types::list::Fill;
    use crate::types::zset::Limits as ZLimits;
    use crate::types::{HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};

    const NOW: u64 = 1_700_000_000_000;

    fn values() -> Vec<(&'static str, Value, u64)> {
        let mut l = ListValue::new();
        for i in 0..300 {
            l.push_back(format!("e{i}").as_bytes(), Fill::from_config(16));
        }
        let mut h = HashValue::new();
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), b"v", false, 128, 64);
        }
        let lim = ZLimits {
            max_entries: 128,
            max_value: 64,
        };
        let mut zl = ZSetValue::default();
        zl.insert_new(b"a", 1.5, lim);
        zl.insert_new(b"b", f64::NEG_INFINITY, lim);
        let mut zs = ZSetValue::with_hint(200, 0, lim);
        for i in 0..200 {
            zs.insert_new(format!("m{i}").as_bytes(), i as f64, lim);
        }
        vec![
            ("s", Value::Str(StrValue::from_bytes(b"hello")), 0),
            ("n", Value::Str(StrValue::from_bytes(b"-1234567")), 0),
            (
                "long",
                Value::Str(StrValue::from_bytes(&[b'x'; 200])),
                NOW + 5000,
            ),
            ("gone", Value::Str(StrValue::from_bytes(b"old")), NOW - 1),
            ("l", Value::List(Box::new(l)), 0),
            ("h", Value::Hash(h), 0),
            (
                "si",
                Value::Set(SetValue::from_members([&b"1"[..], b"5", b"-7"], 512)),
                0,
            ),
            (
                "ss",
                Value::Set(SetValue::from_members([&b"a"[..], b"b"], 512)),
                0,
            ),
            ("zl", Value::ZSet(zl), 0),
            ("zs", Value::ZSet(zs), 0),
        ]
    }

    fn sample_file() -> Vec<u8> {
        let opts = EncodeOpts::default();
        let mut f = b"REDIS0010".to_vec();
        aux(&mut f, "redis-ver", b"7.0.15");
        f.push(OPCODE_SELECTDB);
        encode::write_len(&mut f, 0);
        for (k, v, exp) in values() {
            if exp != 0 {
                f.push(OPCODE_EXPIRETIME_MS);
                encode::write_millis(&mut f, exp);
            }
            f.push(encode::object_type(&v));
            encode::write_string(&mut f, k.as_bytes(), true);
            encode::write_value(&mut f, &v, &opts);
        }
        f.push(OPCODE_EOF);
        let crc = crc64(0, &f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    fn load(data: &[u8], checksum: bool) -> (Keyspace, Result<Loaded>) {
        let ks = Keyspace::new(1);
        let opts = LoadOpts {
            limits: Limits::default(),
            checksum,
            now: NOW,
        };
        let r = {
            let mut txn = Txn::exclusive(&ks, NOW);
            load_rdb(data, &mut txn, &opts)
        };
        (ks, r)
    }

    #[test]
    fn round_trip_through_a_file_image() {
        let f = sample_file();
        let (ks, r) = load(&f, true);
        let loaded = r.expect("loads");
        assert_eq!(loaded.keys, 9);
        assert_eq!(loaded.expired, 1);
        let mut txn = Txn::exclusive(&ks, NOW);
        let want = values();
        for (k, v, exp) in &want {
            if *k == "gone" {
                assert!(txn.peek(0, k.as_bytes()).is_none());
                continue;
            }
            let e = txn.peek(0, k.as_bytes()).expect("key loaded");
            assert_eq!(e.expire(), *exp, "{k}");
            let opts = EncodeOpts::default();
            assert_eq!(
                encode::dump_payload(&e.value, &opts),
                encode::dump_payload(v, &opts),
                "{k}"
            );
        }
    }

    #[test]
    fn mutated_files_never_panic() {
        let f = sample_file();
        let body = f.len() - 8;
        let mut rejected = 0;
        for i in 0..body {
            for x in [0x01u8, 0xff] {
                let mut m = f.clone();
                m[i] ^= x;
                // with the checksum: always refused
                if i % 16 == 0 {
                    assert!(load(&m, true).1.is_err(), "byte {i} ^ {x:#x} accepted");
                }
                // without it the parser itself must cope
                if load(&m, false).1.is_err() {
                    rejected += 1;
                }
            }
        }
        assert!(rejected > body / 2);
        for cut in (0..f.len()).step_by(3) {
            assert!(
                load(&f[..cut], false).1.is_err(),
                "truncated at {cut} accepted"
            );
        }
    }
}
