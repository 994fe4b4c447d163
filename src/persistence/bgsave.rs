//! Background snapshots without fork: BGSAVE, save points, and the point-in-time
//! writer the AOF rewrite (and, later, replication's full sync) reuse.
//!
//! A snapshot begins under the exclusive gate (no command is half-way): the function
//! libraries and the header are captured, the keyspace's copy-on-write marks are
//! flipped (`keyspace::snapshot`), and a thread takes over. It walks every shard with
//! the SCAN cursor, a short step at a time (at most [`STEP_KEYS`] entries or
//! [`STEP_BYTES`] under one shard lock, so no client waits long), writing the entries
//! the snapshot has not written yet, and between steps it writes what writers set
//! aside (the values they were about to change, as they were at the snapshot's
//! instant). The file therefore holds exactly the dataset of that instant, while
//! clients keep reading and writing; the extra memory is what they changed meanwhile.
//!
//! Records come in runs per database, each run preceded by `SELECTDB` (Redis's loader
//! accepts a database selected several times).
//!
//! One background snapshot runs at a time, like Redis's one child process: BGSAVE
//! during an AOF rewrite is refused, or scheduled with `BGSAVE SCHEDULE`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::rdb::encode::EncodeOpts;
use super::rdb::OPCODE_SELECTDB;
use super::snapshot::{self, CrcWriter};
use crate::keyspace::snapshot::{Encoder, Snapshot};
use crate::keyspace::{Txn, SHARDS};
use crate::server::{log, Server};
use crate::util::time::now_ms;

/// Entries written per step under one shard lock.
const STEP_KEYS: usize = 256;
/// Bytes written per step under one shard lock (a step ends after the entry that
/// crosses it).
const STEP_BYTES: usize = 128 * 1024;

/// What a background snapshot is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    None = 0,
    Rdb = 1,
    AofRewrite = 2,
}

/// Background snapshot state for INFO and the commands.
#[derive(Default)]
pub struct BgState {
    kind: AtomicU8,
    /// Unix ms when the running snapshot began.
    started_ms: AtomicU64,
    /// Set to make the running snapshot stop (SHUTDOWN, FLUSHALL).
    abort: AtomicBool,
    /// Keys written by the running snapshot / keys at its instant.
    pub keys_processed: AtomicU64,
    pub keys_total: AtomicU64,
    /// BGSAVE SCHEDULE (or BGSAVE inside MULTI): start one as soon as possible.
    pub bgsave_scheduled: AtomicBool,
    /// Duration of the last BGSAVE in seconds (-1: none yet).
    pub last_bgsave_secs: AtomicI64,
    /// Bytes set aside by writers during the last snapshot (rdb_last_cow_size).
    pub last_cow: AtomicU64,
    /// Unix seconds of the last BGSAVE attempt (failed saves are retried after 5 s).
    pub last_try: AtomicU64,
    /// Changes when the running BGSAVE began (subtracted from the dirty counter on
    /// success).
    dirty_at_start: AtomicU64,
}

impl BgState {
    pub fn new() -> BgState {
        BgState {
            last_bgsave_secs: AtomicI64::new(-1),
            ..Default::default()
        }
    }

    pub fn kind(&self) -> Kind {
        match self.kind.load(Ordering::Acquire) {
            1 => Kind::Rdb,
            2 => Kind::AofRewrite,
            _ => Kind::None,
        }
    }

    /// Seconds the running snapshot has taken so far (-1 when none runs).
    pub fn current_secs(&self, kind: Kind) -> i64 {
        if self.kind() != kind {
            return -1;
        }
        let start = self.started_ms.load(Ordering::Relaxed);
        (now_ms().saturating_sub(start) / 1000) as i64
    }

    /// Asks the running snapshot to stop (its output is discarded).
    pub fn abort(&self) {
        if self.kind() != Kind::None {
            self.abort.store(true, Ordering::SeqCst);
        }
    }

    /// Waits until no snapshot runs (after [`BgState::abort`], at shutdown).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.kind() != Kind::None {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Why a snapshot could not start.
#[derive(Debug)]
pub enum StartError {
    /// Another background snapshot (of this kind) runs.
    Busy(Kind),
    /// The thread could not be started.
    Io(io::Error),
}

/// Starts a background snapshot of the dataset as it is now, written to `sink` by a
/// thread. `txn` must be exclusive (the caller holds the gate exclusively). `at_start`
/// runs at the snapshot's instant, still under the gate (the AOF rewrite opens its new
/// incremental file there). `done` gets the sink back (flushed, after `EOF` and the
/// checksum) or the error, on the snapshot thread, after the copy-on-write state is
/// cleared and before the snapshot stops counting as running.
pub fn start<W, S, D>(
    srv: &Server,
    txn: &mut Txn,
    kind: Kind,
    sink: W,
    at_start: S,
    done: D,
) -> Result<(), StartError>
where
    W: Write + Send + 'static,
    S: FnOnce(&Server),
    D: FnOnce(&Server, io::Result<W>) + Send + 'static,
{
    debug_assert!(txn.is_exclusive());
    let bg = &srv.persistence.bg;
    let running = bg.kind();
    if running != Kind::None {
        return Err(StartError::Busy(running));
    }
    let Some(arc) = srv.arc() else {
        return Err(StartError::Io(io::Error::other("server is going away")));
    };
    let (opts, checksum, delay_us) = {
        let c = srv.config.read();
        (
            EncodeOpts::from_config(&c),
            c.bool("rdbchecksum"),
            c.int("rdb-key-save-delay"),
        )
    };
    let dbs = srv.databases();
    let version = snapshot::version_needed(txn, dbs);
    let header = snapshot::header(srv, version, &opts);
    // Keys and volatile keys per database at this instant (RESIZEDB hints, INFO).
    let mut sizes = Vec::with_capacity(dbs);
    let mut total = 0u64;
    for db in 0..dbs {
        let (mut keys, mut volatile) = (0usize, 0usize);
        for s in 0..SHARDS {
            let shard = txn.shard_at(db, s);
            keys += shard.dict.len();
            volatile += shard.volatile;
        }
        total += keys as u64;
        sizes.push((keys, volatile));
    }
    // Shard locks are not needed any more: the gate keeps everyone out until we return.
    txn.unlock_all();
    let enc_opts = opts;
    let encoder: Encoder = Arc::new(move |buf: &mut Vec<u8>, key: &[u8], v, expire| {
        snapshot::write_record(buf, key, v, expire, &enc_opts)
    });
    bg.abort.store(false, Ordering::SeqCst);
    bg.keys_processed.store(0, Ordering::Relaxed);
    bg.keys_total.store(total, Ordering::Relaxed);
    bg.started_ms.store(now_ms(), Ordering::Relaxed);
    bg.dirty_at_start
        .store(srv.stats.dirty.load(Ordering::Relaxed), Ordering::Relaxed);
    let parity = srv.ks.snap.begin(encoder.clone());
    bg.kind.store(kind as u8, Ordering::Release);
    at_start(srv);
    let job = Job {
        parity,
        encoder,
        sizes,
        delay_us,
    };
    let spawned = std::thread::Builder::new()
        .name(match kind {
            Kind::AofRewrite => "ferrodis-aofrw".into(),
            _ => "ferrodis-bgsave".into(),
        })
        .spawn(move || {
            let srv = arc;
            let result = job.run(&srv, sink, header, checksum);
            let bg = &srv.persistence.bg;
            let cow = srv.ks.snap.cow_total.load(Ordering::Relaxed);
            srv.ks.snap.end();
            bg.last_cow.store(cow, Ordering::Relaxed);
            // Still "in progress" until its outcome is recorded (INFO readers wait
            // for rdb_bgsave_in_progress:0 and then read the status).
            done(&srv, result);
            bg.kind.store(Kind::None as u8, Ordering::Release);
        });
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => {
            srv.ks.snap.end();
            bg.kind.store(Kind::None as u8, Ordering::Release);
            Err(StartError::Io(e))
        }
    }
}

/// The snapshot thread's work.
struct Job {
    parity: u8,
    encoder: Encoder,
    sizes: Vec<(usize, usize)>,
    delay_us: i64,
}

/// Where the output stands: which database the last record belongs to.
struct Out<W: Write> {
    w: CrcWriter<W>,
    db: Option<usize>,
}

impl<W: Write> Out<W> {
    /// Writes records of database `db`, selecting it first if needed.
    fn records(&mut self, db: usize, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.db != Some(db) {
            let mut sel = vec![OPCODE_SELECTDB];
            super::rdb::encode::write_len(&mut sel, db as u64);
            self.w.write_all(&sel)?;
            self.db = Some(db);
        }
        self.w.write_all(bytes)
    }
}

impl Job {
    fn run<W: Write>(
        &self,
        srv: &Server,
        sink: W,
        header: Vec<u8>,
        checksum: bool,
    ) -> io::Result<W> {
        let ks = &srv.ks;
        let bg = &srv.persistence.bg;
        let mut out = Out {
            w: CrcWriter::new(sink, checksum),
            db: None,
        };
        out.w.write_all(&header)?;
        let mut buf: Vec<u8> = Vec::with_capacity(STEP_BYTES + 4096);
        for (db, &(keys, volatile)) in self.sizes.iter().enumerate() {
            if keys == 0 {
                continue;
            }
            let mut start = Vec::new();
            snapshot::write_db_start(&mut start, db, keys, volatile);
            out.w.write_all(&start)?;
            out.db = Some(db);
            for s in 0..SHARDS {
                let mut cursor = 0u64;
                loop {
                    if bg.abort.load(Ordering::Relaxed) {
                        return Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "background snapshot aborted",
                        ));
                    }
                    let mut n = 0usize;
                    {
                        let _gate = ks.gate.read();
                        let mut shard = ks.dbs[db].shards[s].lock();
                        let limit = if self.delay_us > 0 { 1 } else { STEP_KEYS };
                        // A big value is serialized after the shard lock is released
                        // (checked out: see `Snapshot::check_out`), so the other keys
                        // of the shard are not held up for the time it takes.
                        let mut big = None;
                        loop {
                            cursor = shard.dict.scan_slots(cursor, |s| {
                                if big.is_none() && s.snap() != self.parity && is_big(&s.entry()) {
                                    ks.snap.check_out(s.node());
                                    big = Some((s.node(), s.key().to_vec(), s.expire()));
                                } else if Snapshot::visit(self.parity, &self.encoder, &mut buf, s) {
                                    n += 1;
                                }
                            });
                            if big.is_some() || cursor == 0 || n >= limit || buf.len() >= STEP_BYTES
                            {
                                break;
                            }
                        }
                        drop(shard);
                        if let Some((node, key, expire)) = big {
                            // SAFETY: checked out under the shard lock with the gate
                            // held (still held): nobody changes, moves or frees it
                            // before `done_reading`.
                            let value = unsafe { node.value() };
                            if let Some(v) = value {
                                (self.encoder)(&mut buf, &key, v, expire);
                            }
                            ks.snap.done_reading();
                            if value.is_none() {
                                // Packed nodes hold strings of at most 4 KB, never
                                // "big": refuse rather than write a file without it.
                                return Err(io::Error::other("big value in a packed node"));
                            }
                            n += 1;
                            let _shard = ks.dbs[db].shards[s].lock();
                            ks.snap.settle(node, self.parity);
                        }
                    }
                    out.records(db, &buf)?;
                    buf.clear();
                    bg.keys_processed.fetch_add(n as u64, Ordering::Relaxed);
                    self.set_aside(srv, &mut out, &mut buf)?;
                    if self.delay_us > 0 && n > 0 {
                        // rdb-key-save-delay (tests): microseconds per key written.
                        std::thread::sleep(Duration::from_micros(
                            (self.delay_us as u64).saturating_mul(n as u64),
                        ));
                    }
                    if cursor == 0 {
                        break;
                    }
                }
            }
        }
        // Every live entry is written or newer than the snapshot; what writers set
        // aside until now is the rest.
        self.set_aside(srv, &mut out, &mut buf)?;
        let (w, _) = out.w.finish()?;
        Ok(w)
    }

    /// Writes what writers set aside since the last call, and the unwritten entries of
    /// tables flushed meanwhile (freed here, off the clients' path).
    fn set_aside<W: Write>(
        &self,
        srv: &Server,
        out: &mut Out<W>,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        let cow = srv.ks.snap.drain();
        let bg = &srv.persistence.bg;
        bg.keys_processed.fetch_add(cow.keys, Ordering::Relaxed);
        for (db, bytes) in &cow.runs {
            out.records(*db, bytes)?;
        }
        drop(cow.runs);
        for (db, mut table) in cow.adopted {
            let mut n = 0u64;
            table.for_each_slot(|s| {
                if Snapshot::visit(self.parity, &self.encoder, buf, s) {
                    n += 1;
                }
            });
            out.records(db, buf)?;
            buf.clear();
            bg.keys_processed.fetch_add(n, Ordering::Relaxed);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- BGSAVE

/// The temporary file a background save writes before renaming it over the target.
fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!("temp-bgsave-{}.rdb", std::process::id()))
}

fn target_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Starts a BGSAVE to `dir`/`dbfilename`. `txn` must be exclusive. A temporary file
/// that cannot be created counts as a started save that failed (Redis's child fails
/// the same way after BGSAVE replied).
pub fn bgsave(srv: &Server, txn: &mut Txn) -> Result<(), StartError> {
    let target = snapshot::rdb_path(srv);
    let dir = target_dir(&target);
    let tmp = temp_path(&dir);
    srv.persistence
        .bg
        .last_try
        .store(now_ms() / 1000, Ordering::Relaxed);
    let file = match File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            log::warning(&format!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                tmp.display(),
                dir.display()
            ));
            log::warning("Background saving error");
            srv.persistence
                .last_save_failed
                .store(true, Ordering::Relaxed);
            srv.persistence
                .bg
                .last_bgsave_secs
                .store(0, Ordering::Relaxed);
            super::refresh_deny(srv);
            return Ok(());
        }
    };
    let sink = BufWriter::with_capacity(256 * 1024, file);
    let started = Instant::now();
    let cleanup = tmp.clone();
    let r = start(
        srv,
        txn,
        Kind::Rdb,
        sink,
        |_| log::notice("Background saving started"),
        move |srv, result| {
            let result = result.and_then(|bw| {
                let f = bw.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                drop(f);
                std::fs::rename(&tmp, &target)?;
                if let Ok(d) = File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            });
            finish(srv, result, started, &tmp);
        },
    );
    if r.is_err() {
        let _ = std::fs::remove_file(&cleanup);
    }
    r
}

/// Bookkeeping at the end of a BGSAVE (Redis's backgroundSaveDoneHandler).
fn finish(srv: &Server, result: io::Result<()>, started: Instant, tmp: &Path) {
    let p = &srv.persistence;
    p.bg.last_bgsave_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    match result {
        Ok(()) => {
            log::notice("DB saved on disk");
            let at_start = p.bg.dirty_at_start.load(Ordering::Relaxed);
            // Changes made during the save are still unsaved.
            let _ = srv
                .stats
                .dirty
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                    Some(d.saturating_sub(at_start))
                });
            srv.lastsave.store(now_ms() / 1000, Ordering::Relaxed);
            p.saves.fetch_add(1, Ordering::Relaxed);
            p.last_save_failed.store(false, Ordering::Relaxed);
            log::notice("Background saving terminated with success");
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            let _ = std::fs::remove_file(tmp);
            log::warning("Background saving terminated by signal 10");
            // Redis counts a killed save as failed only when it was not asked to stop.
        }
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            log::warning(&format!("Write error saving DB on disk: {e}"));
            log::warning("Background saving error");
            p.last_save_failed.store(true, Ordering::Relaxed);
        }
    }
    super::refresh_deny(srv);
}

/// Called by the cron: a scheduled BGSAVE, or a save point reached (Redis's
/// serverCron): `save <seconds> <changes>` fires when at least `changes` changes were
/// made and `seconds` passed since the last save; after a failed BGSAVE, retries wait
/// 5 seconds.
pub fn cron(srv: &Server) {
    let bg = &srv.persistence.bg;
    if bg.kind() != Kind::None || srv.shutting_down.load(Ordering::Relaxed) {
        return;
    }
    let now_s = now_ms() / 1000;
    let mut reason = None;
    if bg.bgsave_scheduled.load(Ordering::Relaxed) {
        reason = Some(String::new());
    } else {
        let dirty = srv.stats.dirty.load(Ordering::Relaxed);
        let last = srv.lastsave.load(Ordering::Relaxed);
        let retry_ok = now_s.saturating_sub(bg.last_try.load(Ordering::Relaxed)) > 5
            || !srv.persistence.last_save_failed.load(Ordering::Relaxed);
        let points = srv.config.read().save_points();
        for (secs, changes) in points {
            if dirty >= changes && now_s.saturating_sub(last) > secs && retry_ok {
                reason = Some(format!("{changes} changes in {secs} seconds. Saving..."));
                break;
            }
        }
    }
    let Some(reason) = reason else {
        return;
    };
    let _gate = srv.ks.gate.write();
    if bg.kind() != Kind::None {
        return;
    }
    if !reason.is_empty() {
        log::notice(&reason);
    }
    let mut txn = Txn::exclusive(&srv.ks, now_ms());
    if bgsave(srv, &mut txn).is_ok() {
        bg.bgsave_scheduled.store(false, Ordering::Relaxed);
    }
}

/// Writes the INFO fields of the background snapshot state that Redis reports in the
/// RDB part of the persistence section.
pub fn info_fields(srv: &Server) -> (u64, u64, u64, u64) {
    let bg = &srv.persistence.bg;
    let running = bg.kind() != Kind::None;
    let snap = &srv.ks.snap;
    let (cow_size, cow_peak) = if running {
        (
            snap.cow_total.load(Ordering::Relaxed),
            snap.cow_peak.load(Ordering::Relaxed),
        )
    } else {
        (0, 0)
    };
    let (processed, total) = if running {
        (
            bg.keys_processed.load(Ordering::Relaxed),
            bg.keys_total.load(Ordering::Relaxed),
        )
    } else {
        (0, 0)
    };
    (cow_peak, cow_size, processed, total)
}

/// Whether the saver serializes `e` outside its shard lock: collections of more than
/// [`BIG_ELEMENTS`] elements, strings of more than [`BIG_STRING`] bytes (their
/// serialization takes long enough to delay other keys of the shard).
fn is_big(e: &crate::keyspace::Entry) -> bool {
    match &e.value {
        crate::types::Value::Str(s) => s.len() > BIG_STRING,
        v => v.free_effort() > BIG_ELEMENTS,
    }
}

/// See [`is_big`].
const BIG_ELEMENTS: usize = 2048;
/// See [`is_big`].
const BIG_STRING: usize = 256 * 1024;
