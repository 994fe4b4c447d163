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
//! Loading streams the file through a window that holds at least the item being
//! parsed (memory bounded by the largest key, not the file), verifies the checksum,
//! skips keys whose TTL already passed (Redis's behaviour for a master) and refuses
//! the whole file on any error, naming it and the offset.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::crc64::crc64;
use super::rdb::decode::{self, Limits, Reader};
use super::rdb::encode::{self, EncodeOpts};
use super::rdb::*;
use crate::keyspace::{Entry, Txn, SHARDS};
use crate::server::{log, Server};
use crate::types::Value;

/// Persistence counters for INFO.
pub struct State {
    /// Successful saves since startup (`rdb_saves`).
    pub saves: AtomicU64,
    /// Whether the last save failed (`rdb_last_bgsave_status:err`).
    pub last_save_failed: AtomicBool,
    /// Keys loaded and keys skipped as expired by the last load.
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// The background snapshot (BGSAVE, AOF rewrite).
    pub bg: super::bgsave::BgState,
    /// Whether write commands are refused (`super::DENY_*`, see `deny_writes`).
    pub deny: std::sync::atomic::AtomicU8,
    /// The dataset is being loaded at startup: commands get -LOADING.
    pub loading: AtomicBool,
    /// Unix seconds the load began; file size; bytes read so far.
    pub loading_start: AtomicU64,
    pub loading_total: AtomicU64,
    pub loading_loaded: AtomicU64,
}

impl Default for State {
    fn default() -> State {
        State {
            saves: AtomicU64::new(0),
            last_save_failed: AtomicBool::new(false),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            bg: super::bgsave::BgState::new(),
            deny: Default::default(),
            loading: AtomicBool::new(false),
            loading_start: AtomicU64::new(0),
            loading_total: AtomicU64::new(0),
            loading_loaded: AtomicU64::new(0),
        }
    }
}

/// Computes the CRC-64 of everything written through it.
pub struct CrcWriter<W: Write> {
    inner: W,
    crc: u64,
    checksum: bool,
}

impl<W: Write> CrcWriter<W> {
    pub fn new(inner: W, checksum: bool) -> CrcWriter<W> {
        CrcWriter {
            inner,
            crc: 0,
            checksum,
        }
    }

    /// Writes `EOF` and the checksum (0 without `rdbchecksum`), flushes, and returns
    /// the writer and the checksum.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.write_all(&[OPCODE_EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.flush()?;
        Ok((self.inner, crc))
    }
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

/// The RDB version a snapshot of the current dataset needs (12 if any hash has field
/// TTLs). `txn` must be exclusive.
pub fn version_needed(txn: &mut Txn, dbs: usize) -> u16 {
    if needs_hfe(txn, dbs) {
        log::notice("Hashes with field TTLs: writing RDB version 12 (Redis 7.4's format)");
        RDB_VERSION_HFE
    } else {
        RDB_VERSION
    }
}

/// What comes before the keys: magic and version, the aux fields Redis 7.0 writes,
/// and the function libraries as they are now.
pub fn header(srv: &Server, version: u16, opts: &EncodeOpts) -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
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
    let lib = srv.functions.lib.lock();
    let mut libs: Vec<_> = lib.libraries.values().collect();
    libs.sort_by(|a, b| a.name.cmp(&b.name));
    for l in libs {
        buf.push(OPCODE_FUNCTION2);
        encode::write_string(&mut buf, &l.code, opts.compress);
    }
    buf
}

/// One key's record: `EXPIRETIME_MS` if it has a TTL, the type, the key, the value.
pub fn write_entry(buf: &mut Vec<u8>, key: &[u8], e: &Entry, opts: &EncodeOpts) {
    write_record(buf, key, &e.value, e.expire(), opts)
}

/// [`write_entry`] from a value and its TTL (0: none).
pub fn write_record(buf: &mut Vec<u8>, key: &[u8], value: &Value, expire: u64, opts: &EncodeOpts) {
    if expire != 0 {
        buf.push(OPCODE_EXPIRETIME_MS);
        encode::write_millis(buf, expire);
    }
    buf.push(encode::object_type(value));
    encode::write_string(buf, key, opts.compress);
    encode::write_value(buf, value, opts);
}

/// `SELECTDB db` + `RESIZEDB keys volatile`.
pub fn write_db_start(buf: &mut Vec<u8>, db: usize, keys: usize, volatile: usize) {
    buf.push(OPCODE_SELECTDB);
    encode::write_len(buf, db as u64);
    buf.push(OPCODE_RESIZEDB);
    encode::write_len(buf, keys as u64);
    encode::write_len(buf, volatile as u64);
}

/// Writes the whole dataset (and the function libraries) in RDB format to `w`.
/// `txn` must be exclusive. Returns the checksum written.
pub fn write_rdb<W: Write>(srv: &Server, txn: &mut Txn, w: W) -> io::Result<u64> {
    let (opts, checksum) = {
        let c = srv.config.read();
        (EncodeOpts::from_config(&c), c.bool("rdbchecksum"))
    };
    let dbs = srv.databases();
    let version = version_needed(txn, dbs);
    let mut w = CrcWriter::new(w, checksum);
    let mut buf = header(srv, version, &opts);
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
        write_db_start(&mut buf, db, keys, volatile);
        for s in 0..SHARDS {
            let shard = txn.shard_at(db, s);
            for (k, e) in shard.dict.iter() {
                write_entry(&mut buf, k, &e, &opts);
                if buf.len() >= 64 * 1024 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
    }
    w.write_all(&buf)?;
    w.finish().map(|(_, crc)| crc)
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
        }
    }
    super::refresh_deny(srv);
    result
}

/// SAVE from outside a command (the final save at shutdown): takes the exclusive gate
/// itself.
pub fn save_exclusive(srv: &Server) -> io::Result<()> {
    let _gate = srv.ks.gate.write();
    let mut txn = Txn::exclusive(&srv.ks, crate::util::time::now_ms());
    save(srv, &mut txn)
}

/// A reader that adds the bytes it reads to a counter (INFO loading_loaded_bytes).
pub struct Counting<'a, R> {
    inner: R,
    n: &'a AtomicU64,
}

impl<'a, R> Counting<'a, R> {
    pub fn new(inner: R, n: &'a AtomicU64) -> Counting<'a, R> {
        Counting { inner, n }
    }
}

impl<R: io::Read> io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a load found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub version: u16,
    pub keys: u64,
    pub expired: u64,
    /// Function library code, in file order (loaded by the caller).
    pub functions: Vec<Vec<u8>>,
    /// Bytes the RDB image took (an AOF's RDB preamble is followed by commands).
    pub bytes: u64,
}

/// Options for [`load_rdb`].
pub struct LoadOpts {
    pub limits: Limits,
    /// `rdbchecksum`: verify the trailing CRC-64 (a stored 0 means "not computed").
    pub checksum: bool,
    pub now: u64,
    /// `key-load-delay` (tests): microseconds to sleep after each key.
    pub key_delay_us: u64,
}

impl LoadOpts {
    /// Options for loading at startup, from the configuration; "now" is the present.
    pub fn from_config(c: &crate::config::Config) -> LoadOpts {
        LoadOpts {
            limits: Limits::from_config(c),
            checksum: c.bool("rdbchecksum"),
            now: crate::util::time::now_ms(),
            key_delay_us: c.int("key-load-delay").max(0) as u64,
        }
    }
}

/// One top-level item of an RDB file.
enum Item {
    Aux(Vec<u8>, Vec<u8>),
    Select(u64),
    Function(Vec<u8>),
    Key {
        key: Vec<u8>,
        /// `None`: an empty collection (skipped, as Redis does).
        value: Option<crate::types::Value>,
        /// Unix ms, -1 for none.
        expire: i64,
        idle: Option<u64>,
    },
    Eof,
}

/// Reads the next item (opcodes that only qualify the next key are folded into it).
fn read_item(r: &mut Reader, opts: &LoadOpts) -> Result<Item> {
    let mut expire: i64 = -1;
    let mut idle = None;
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
            OPCODE_EOF => return Ok(Item::Eof),
            OPCODE_SELECTDB => return Ok(Item::Select(r.length()?)),
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
                let k = r.string()?.into_owned();
                let v = r.string()?.into_owned();
                return Ok(Item::Aux(k, v));
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
            OPCODE_FUNCTION2 => return Ok(Item::Function(r.string()?.into_owned())),
            _ => {}
        }
        if !is_object_type(t) {
            return Err(RdbError::new(format!("Unknown RDB encoding type {t}")));
        }
        let key = r.string()?.into_owned();
        let value = decode::read_object(r, t, &opts.limits, opts.now)
            .map_err(|e| e.context(&format!("(key '{}')", String::from_utf8_lossy(&key))))?;
        return Ok(Item::Key {
            key,
            value,
            expire,
            idle,
        });
    }
}

/// A sliding window over the file: items are parsed from it in place, and when one
/// runs past its end the window is refilled (grown if needed) and the item parsed
/// again. Memory is bounded by the largest item, not the file.
struct Window<R: io::Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    offset: u64,
}

impl<R: io::Read> Window<R> {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads more: at least as much again as is buffered (256 KB minimum).
    fn refill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        let want = old.max(256 << 10);
        self.buf.resize(old + want, 0);
        let mut filled = old;
        while filled < self.buf.len() {
            match self.src.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(filled);
                    return Err(e);
                }
            }
        }
        self.buf.truncate(filled);
        Ok(())
    }

    /// Ensures `n` bytes are buffered (fewer only at the end of the file).
    fn want(&mut self, n: usize) -> io::Result<()> {
        while self.data().len() < n && !self.eof {
            self.refill()?;
        }
        Ok(())
    }
}

/// Parses an RDB file image into the keyspace behind `txn` (exclusive view).
pub fn load_rdb(data: &[u8], txn: &mut Txn, opts: &LoadOpts) -> Result<Loaded> {
    load_stream(data, txn, opts)
}

/// Parses an RDB stream into the keyspace behind `txn` (exclusive view), reading it
/// piecewise. Any error means the caller must not serve a partially loaded dataset.
pub fn load_stream<R: io::Read>(src: R, txn: &mut Txn, opts: &LoadOpts) -> Result<Loaded> {
    let mut w = Window {
        src,
        buf: Vec::new(),
        start: 0,
        eof: false,
        offset: 0,
    };
    let io_err = |e: io::Error| RdbError::new(format!("Read error loading the DB: {e}"));
    w.want(9).map_err(io_err)?;
    let Some(magic) = w.data().get(..9) else {
        return Err(RdbError::new(
            "Short read or OOM loading DB. Unrecoverable error, aborting now.",
        ));
    };
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
    let mut crc = if opts.checksum { crc64(0, magic) } else { 0 };
    w.consume(9);
    let dbs = txn.ks.num_dbs();
    let mut out = Loaded {
        version,
        ..Default::default()
    };
    let mut db = 0usize;
    loop {
        let (res, used) = {
            let mut r = Reader::new(w.data());
            let res = read_item(&mut r, opts);
            (res, r.pos)
        };
        let item = match res {
            Ok(item) => item,
            Err(e) if e.short && !w.eof => {
                w.refill().map_err(io_err)?;
                continue;
            }
            Err(e) => {
                return Err(e.context(&format!("(reading offset {})", w.offset + used as u64)))
            }
        };
        if opts.checksum {
            crc = crc64(crc, &w.data()[..used]);
        }
        w.consume(used);
        match item {
            Item::Eof => break,
            Item::Select(id) => {
                if id >= dbs as u64 {
                    return Err(RdbError::new(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
                    )));
                }
                db = id as usize;
            }
            Item::Aux(k, v) => log_aux(&k, &v, opts.now),
            Item::Function(code) => out.functions.push(code),
            Item::Key {
                key,
                value,
                expire,
                idle,
            } => {
                let Some(value) = value else {
                    continue; // empty collection: skipped, as Redis does
                };
                if expire != -1 && (expire as u64) <= opts.now {
                    out.expired += 1;
                    continue;
                }
                if txn.peek(db, &key).is_some() {
                    return Err(RdbError::new(format!(
                        "RDB has duplicated key '{}' in DB {db}",
                        String::from_utf8_lossy(&key)
                    )));
                }
                let lru = match idle {
                    Some(s) => crate::keyspace::lru_for_idle(opts.now, s),
                    None => txn.ks.access.fresh(opts.now),
                };
                let exp = if expire <= 0 { 0 } else { expire as u64 };
                txn.insert_entry(db, &key, value, exp, lru);
                // One shard lock at a time: INFO and friends may look meanwhile.
                txn.unlock_all();
                if opts.key_delay_us > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(opts.key_delay_us));
                }
                // Nobody publishes events raised while loading: don't let them pile up.
                txn.events.clear();
                out.keys += 1;
            }
        }
    }
    if version >= 5 {
        w.want(8).map_err(io_err)?;
        let stored = w
            .data()
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| RdbError::new("Short read loading the RDB checksum"))?;
        if opts.checksum {
            if stored == 0 {
                log::warning("RDB file was saved with checksum disabled: no check performed.");
            } else if crc != stored {
                return Err(RdbError::new(format!(
                    "Wrong RDB checksum expected: ({crc:x}) got ({stored:x}). Aborting now."
                )));
            }
        }
        w.consume(8);
    }
    out.bytes = w.offset;
    Ok(out)
}

fn log_aux(k: &[u8], v: &[u8], now: u64) {
    let num = || {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    };
    match k {
        b"redis-ver" => log::notice(&format!(
            "Loading RDB produced by version {}",
            String::from_utf8_lossy(v)
        )),
        b"ctime" => {
            if let Some(c) = num() {
                let age = (now / 1000) as i64 - c;
                log::notice(&format!("RDB age {} seconds", age.max(0)));
            }
        }
        b"used-mem" => {
            if let Some(m) = num() {
                log::notice(&format!(
                    "RDB memory usage when created {:.2} Mb",
                    m as f64 / (1024.0 * 1024.0)
                ));
            }
        }
        _ => {}
    }
}

/// Startup: loads `dir`/`dbfilename` if it exists. An error (unreadable, corrupt,
/// truncated, bad checksum, function library failing to load) is returned with the
/// reason and the caller refuses to start.
pub fn load_at_startup(srv: &Server) -> std::result::Result<(), String> {
    let path = rdb_path(srv);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Fatal error loading the DB ({}): {e}. Exiting.",
                path.display()
            ))
        }
    };
    let started = std::time::Instant::now();
    let opts = LoadOpts::from_config(&srv.config.read());
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let p = &srv.persistence;
    p.loading_total.store(total, Ordering::Relaxed);
    p.loading_loaded.store(0, Ordering::Relaxed);
    // The gate is not taken: while `loading` is set, the dispatcher refuses every
    // command that touches the keyspace (-LOADING), so the loader is alone with it.
    let mut txn = Txn::exclusive(&srv.ks, opts.now);
    let src = Counting::new(file, &p.loading_loaded);
    let loaded = load_stream(src, &mut txn, &opts).map_err(|e| {
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
        use crate::types::stream::{
            Consumer, ConsumerGroup, Nack, NodeLimits, StreamId, StreamValue,
        };
        let mut st = StreamValue::new();
        let nl = NodeLimits {
            max_entries: 4,
            max_bytes: 4096,
        };
        for i in 1..=10u64 {
            let v = i.to_string();
            let pairs: Vec<&[u8]> = if i % 3 == 0 {
                vec![b"other", v.as_bytes()]
            } else {
                vec![b"f", v.as_bytes(), b"g", b"-42"]
            };
            st.append(StreamId::new(i, 1), &pairs, nl);
            st.last_id = StreamId::new(i, 1);
            st.entries_added += 1;
        }
        st.first_id = StreamId::new(1, 1);
        let mut g = ConsumerGroup::new(StreamId::new(2, 1), 2);
        let mut c = Consumer::new(b"alice", NOW);
        for i in 1..=2u64 {
            let id = StreamId::new(i, 1);
            g.pel.insert(
                id,
                Nack {
                    delivery_time: NOW,
                    delivery_count: i,
                    consumer: c.name.clone(),
                },
            );
            c.pel.insert(id, ());
        }
        c.active_time = NOW as i64;
        g.consumers.insert(Box::from(&b"alice"[..]), c);
        st.groups_mut().insert(Box::from(&b"grp"[..]), g);
        vec![
            ("x", Value::Stream(Box::new(st)), 0),
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
            key_delay_us: 0,
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
        assert_eq!(loaded.keys, 10);
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

    /// Items larger than the window and items cut by its edge are re-read whole.
    #[test]
    fn streams_across_window_refills() {
        let opts = EncodeOpts {
            compress: false,
            ..EncodeOpts::default()
        };
        let mut f = b"REDIS0010".to_vec();
        f.push(OPCODE_SELECTDB);
        encode::write_len(&mut f, 0);
        let noise = |seed: u32, n: usize| -> Vec<u8> {
            (0..n as u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
                .collect()
        };
        for i in 0..3000u32 {
            f.push(0);
            encode::write_string(&mut f, format!("k{i}").as_bytes(), false);
            encode::write_string(&mut f, &noise(i, 1000), false);
        }
        let big = noise(7, 2_500_000);
        f.push(0);
        encode::write_string(&mut f, b"big", false);
        let v = Value::Str(StrValue::from_bytes(&big));
        encode::write_value(&mut f, &v, &opts);
        f.push(OPCODE_EOF);
        let crc = crc64(0, &f);
        f.extend_from_slice(&crc.to_le_bytes());
        assert!(f.len() > 5 << 20);
        let (ks, r) = load(&f, true);
        assert_eq!(r.expect("loads").keys, 3001);
        let mut txn = Txn::exclusive(&ks, NOW);
        let e = txn.peek(0, b"big").expect("big");
        assert!(matches!(&e.value, Value::Str(s) if s.to_vec() == big));
        let e = txn.peek(0, b"k2999").expect("last small key");
        assert!(matches!(&e.value, Value::Str(s) if s.to_vec() == noise(2999, 1000)));
        // A file cut inside the big value is refused at the end of the data.
        let (_, r) = load(&f[..f.len() - 1000], true);
        let e = r.expect_err("truncated");
        assert!(e.msg.contains("unexpected end of data"), "{e}");
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
