//! The append-only file, Redis 7's multi-part layout.
//!
//! `dir`/`appenddirname`/ holds a base file (`<appendfilename>.<n>.base.rdb`, or
//! `.base.aof` with `aof-use-rdb-preamble no`), incremental files
//! (`<appendfilename>.<n>.incr.aof`, RESP commands) and the manifest listing them
//! (see [`manifest`]).
//!
//! ## Writing
//! Commands reach [`Aof::feed`] through the propagation layer (`server::propagate`),
//! under the shard locks of the command that produced them, which appends their RESP
//! form to an in-memory buffer and returns its logical end offset. Before a
//! connection writes the replies of a batch of commands it calls
//! [`Aof::wait_durable`] with the highest offset its commands produced:
//!
//! * `appendfsync always`: the reply waits until an fsync covers the offset. A
//!   dedicated writer thread performs `write()` + `fsync()` of everything pending at
//!   once (group commit: one fsync for every client's writes queued meanwhile);
//!   connections await a `tokio::sync::watch` of the fsynced offset, never blocking a
//!   worker on the disk.
//! * `everysec` / `no`: the pending buffer is written (`write()`, page cache) before
//!   the replies go out, so no acknowledged write is lost if the process dies; the
//!   writer thread fsyncs once a second (`everysec`).
//!
//! A failing write keeps the data in the buffer (retried), sets
//! `aof_last_write_status:err` and makes write commands fail with `-MISCONF` until a
//! write succeeds again (`persistence::deny_writes`). With `always`, as in Redis, the
//! process exits instead: it cannot acknowledge anything any more.
//!
//! ## Rewriting
//! See [`rewrite`]: a new incremental file is opened at one instant, the new base is
//! the dataset at that instant, then the manifest switches to the new base and the
//! old files become history and are deleted.
//!
//! ## Loading
//! See [`load`].

pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

pub use load::load_at_startup;
use manifest::{AofFile, Manifest};

use crate::server::propagate::Op;
use crate::server::{log, Server};

/// `appendfsync` values.
pub const FSYNC_NO: u8 = 0;
pub const FSYNC_EVERYSEC: u8 = 1;
pub const FSYNC_ALWAYS: u8 = 2;

/// Commands propagated but not yet written.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    /// Database of the last SELECT fed (None: a SELECT goes first).
    db: Option<usize>,
    /// Database in effect where `data` starts (what was written before it selected).
    db_at_start: Option<usize>,
    /// Logical offset of the end of `data` (bytes fed since startup).
    end: u64,
    /// Unix seconds of the last `#TS:` annotation.
    last_ts: u64,
}

/// Buffered bytes taken out during a rewrite.
pub struct Pending {
    data: Vec<u8>,
    start_db: Option<usize>,
    end_db: Option<usize>,
    end: u64,
}

/// The open incremental file and what the INFO fields report.
#[derive(Default)]
pub struct Io {
    pub file: Option<Arc<File>>,
    pub manifest: Manifest,
    /// Size of the incremental files and of the base.
    pub incr_size: u64,
    pub base_size: u64,
}

/// AOF state (one per server).
pub struct Aof {
    /// Whether commands are propagated to the AOF (appendonly on and the file open).
    pub on: AtomicBool,
    buf: Mutex<Buf>,
    pub io: Mutex<Io>,
    /// Logical offsets written and fsynced.
    written: AtomicU64,
    synced: tokio::sync::watch::Sender<u64>,
    /// Wakes the writer thread (an fsync is wanted, or a rewrite).
    wake: Mutex<bool>,
    wake_cv: Condvar,
    policy: AtomicU8,
    timestamps: AtomicBool,
    /// The last write failed (MISCONF) and why (strerror).
    pub write_failed: AtomicBool,
    pub write_error: Mutex<String>,
    pub rewrite_requested: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_started: Mutex<Option<Instant>>,
    pub rewrites: AtomicU64,
    pub rewrite_failures: AtomicU64,
    pub last_rewrite_failed: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    /// Size of the AOF after the last rewrite (auto-aof-rewrite-percentage's base).
    pub rewrite_base_size: AtomicU64,
    pub fsync_in_progress: AtomicBool,
    /// fsync calls made (for measurements).
    pub fsyncs: AtomicU64,
    srv: Mutex<Weak<Server>>,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            on: AtomicBool::new(false),
            buf: Mutex::new(Buf::default()),
            io: Mutex::new(Io::default()),
            written: AtomicU64::new(0),
            synced: tokio::sync::watch::Sender::new(0),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            policy: AtomicU8::new(FSYNC_EVERYSEC),
            timestamps: AtomicBool::new(false),
            write_failed: AtomicBool::new(false),
            write_error: Mutex::new(String::new()),
            rewrite_requested: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_started: Mutex::new(None),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            last_rewrite_failed: AtomicBool::new(false),
            last_rewrite_secs: AtomicI64::new(-1),
            rewrite_base_size: AtomicU64::new(0),
            fsync_in_progress: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            srv: Mutex::new(Weak::new()),
        }
    }
}

/// Appends the RESP encoding of `argv` to `out`.
pub fn encode_command(out: &mut Vec<u8>, argv: &[impl AsRef<[u8]>]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn select_db(out: &mut Vec<u8>, last: &mut Option<usize>, db: usize) {
    if *last != Some(db) {
        let mut n = itoa::Buffer::new();
        encode_command(out, &[&b"SELECT"[..], n.format(db).as_bytes()]);
        *last = Some(db);
    }
}

/// Redis's text for an I/O error (strerror).
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The AOF directory: `dir`/`appenddirname`.
pub fn aof_dir(srv: &Server) -> PathBuf {
    let c = srv.config.read();
    PathBuf::from(c.str("dir")).join(c.str("appenddirname"))
}

/// `appendfilename`.
pub fn aof_name(srv: &Server) -> String {
    srv.config.read().str("appendfilename")
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Aof {
    /// Appends a unit of propagated commands (`wrap`: inside MULTI/EXEC). Returns the
    /// logical offset the unit ends at, or None if the AOF is off.
    pub fn feed(&self, ops: &[Op], wrap: bool) -> Option<u64> {
        let mut b = self.buf.lock();
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        let b = &mut *b;
        let before = b.data.len();
        if self.timestamps.load(Ordering::Relaxed) {
            let now = crate::util::time::now_ms() / 1000;
            if now > b.last_ts {
                b.last_ts = now;
                b.data
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if wrap {
            if let Some((db, _)) = ops.first() {
                select_db(&mut b.data, &mut b.db, *db);
            }
            encode_command(&mut b.data, &[b"MULTI"]);
        }
        for (db, argv) in ops {
            select_db(&mut b.data, &mut b.db, *db);
            encode_command(&mut b.data, argv);
        }
        if wrap {
            encode_command(&mut b.data, &[b"EXEC"]);
        }
        b.end += (b.data.len() - before) as u64;
        Some(b.end)
    }

    /// The logical offset of everything fed so far.
    pub fn end_offset(&self) -> u64 {
        self.buf.lock().end
    }

    /// Bytes waiting to be written (INFO aof_buffer_length).
    pub fn buffer_len(&self) -> usize {
        self.buf.lock().data.len()
    }

    pub fn policy(&self) -> u8 {
        self.policy.load(Ordering::Relaxed)
    }

    /// Writes what is buffered to the open incremental file (`write()`, no fsync).
    /// On failure the data stays buffered and the error state is set.
    pub fn write_pending(&self) -> io::Result<()> {
        let mut io = self.io.lock();
        let (data, end, start_db) = {
            let mut b = self.buf.lock();
            if b.data.is_empty() {
                return Ok(());
            }
            let cur = b.db;
            let start_db = std::mem::replace(&mut b.db_at_start, cur);
            (std::mem::take(&mut b.data), b.end, start_db)
        };
        let Some(file) = io.file.clone() else {
            // Not open (AOF being turned off): nothing to write to.
            return Ok(());
        };
        let mut done = 0usize;
        let write_started = std::time::Instant::now();
        let result = loop {
            if done == data.len() {
                break Ok(());
            }
            match (&*file).write(&data[done..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // Latency monitor events, named as Redis's flushAppendOnlyFile names them.
        let ms = write_started.elapsed().as_millis() as u64;
        let lat = crate::server::latency::global();
        lat.add_if_needed(
            if self.fsync_in_progress.load(Ordering::Relaxed) {
                "aof-write-pending-fsync"
            } else if self.rewrite_in_progress.load(Ordering::Relaxed) {
                "aof-write-active-child"
            } else {
                "aof-write-alone"
            },
            ms,
        );
        lat.add_if_needed("aof-write", ms);
        match result {
            Ok(()) => {
                io.incr_size += data.len() as u64;
                self.written.fetch_max(end, Ordering::SeqCst);
                if self.write_failed.swap(false, Ordering::SeqCst) {
                    log::warning("AOF write error looks solved, Redis can write again.");
                    self.refresh_deny();
                }
                Ok(())
            }
            Err(e) => {
                // Try to remove a partial write, as Redis does, so the file never
                // ends with half a command; if that fails, keep only the rest.
                let mut keep_from = 0;
                if done > 0 && file.set_len(io.incr_size).is_err() {
                    keep_from = done;
                    io.incr_size += done as u64;
                }
                {
                    let mut b = self.buf.lock();
                    let mut rest = data[keep_from..].to_vec();
                    rest.extend_from_slice(&b.data);
                    b.data = rest;
                    if keep_from == 0 {
                        b.db_at_start = start_db;
                    }
                }
                let msg = strerror(&e);
                if !self.write_failed.swap(true, Ordering::SeqCst) {
                    log::warning(&format!("Error writing to the AOF file: {msg}"));
                }
                *self.write_error.lock() = msg;
                if self.policy() == FSYNC_ALWAYS {
                    log::warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                    std::process::exit(1);
                }
                self.refresh_deny();
                Err(e)
            }
        }
    }

    /// Writes the buffer and fsyncs the file, publishing the new fsynced offset.
    pub fn write_and_fsync(&self) -> io::Result<()> {
        self.write_pending()?;
        let target = self.written.load(Ordering::SeqCst);
        if *self.synced.borrow() >= target {
            return Ok(());
        }
        let file = self.io.lock().file.clone();
        if let Some(f) = file {
            self.fsync_in_progress.store(true, Ordering::Relaxed);
            let fsync_started = std::time::Instant::now();
            let r = f.sync_data();
            self.fsync_in_progress.store(false, Ordering::Relaxed);
            if self.policy() == FSYNC_ALWAYS {
                crate::server::latency::global().add_if_needed(
                    "aof-fsync-always",
                    fsync_started.elapsed().as_millis() as u64,
                );
            }
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = r {
                let msg = strerror(&e);
                if self.policy() == FSYNC_ALWAYS {
                    log::warning(&format!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {msg}. Exiting..."));
                    std::process::exit(1);
                }
                log::warning(&format!("Error syncing the AOF file: {msg}"));
                self.write_failed.store(true, Ordering::SeqCst);
                *self.write_error.lock() = msg;
                self.refresh_deny();
                return Err(e);
            }
        }
        self.synced.send_modify(|s| *s = (*s).max(target));
        Ok(())
    }

    fn wake_writer(&self) {
        let mut w = self.wake.lock();
        *w = true;
        self.wake_cv.notify_one();
    }

    /// Waits until the commands fed up to `offset` may be acknowledged: written with
    /// `everysec`/`no`, fsynced with `always` (see module docs).
    pub async fn wait_durable(&self, offset: u64) {
        if self.policy() == FSYNC_ALWAYS {
            let mut rx = self.synced.subscribe();
            if *rx.borrow_and_update() >= offset {
                return;
            }
            self.wake_writer();
            loop {
                if *rx.borrow_and_update() >= offset || !self.on.load(Ordering::Relaxed) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        } else if self.written.load(Ordering::SeqCst) < offset {
            let _ = self.write_pending();
        }
    }

    /// WAITAOF: waits until an fsync covers `offset` whatever the policy (the writer
    /// thread is asked for one). False if the AOF went off or the fsync failed.
    pub async fn wait_fsynced(&self, offset: u64) -> bool {
        let mut rx = self.synced.subscribe();
        loop {
            if *rx.borrow_and_update() >= offset {
                return true;
            }
            if !self.on.load(Ordering::Relaxed) {
                return false;
            }
            self.wake_writer();
            if tokio::time::timeout(Duration::from_millis(100), rx.changed())
                .await
                .is_ok_and(|r| r.is_err())
            {
                return false;
            }
        }
    }

    /// The fsynced offset.
    pub fn synced_offset(&self) -> u64 {
        *self.synced.borrow()
    }

    /// Re-reads `appendfsync` and `aof-timestamp-enabled`.
    pub fn apply_config(&self, c: &crate::config::Config) {
        let p = match c.str("appendfsync").as_str() {
            "always" => FSYNC_ALWAYS,
            "no" => FSYNC_NO,
            _ => FSYNC_EVERYSEC,
        };
        self.policy.store(p, Ordering::Relaxed);
        self.timestamps
            .store(c.bool("aof-timestamp-enabled"), Ordering::Relaxed);
    }

    /// Takes out what is buffered (a rewrite whose base will cover it): the bytes, the
    /// database they start in and the one they end in.
    fn take_pending(&self) -> Pending {
        let mut b = self.buf.lock();
        Pending {
            data: std::mem::take(&mut b.data),
            start_db: b.db_at_start.take(),
            end_db: b.db,
            end: b.end,
        }
    }

    /// Puts back what [`Aof::take_pending`] took (the rewrite failed): it goes to
    /// the next file written, after a SELECT of the database it starts in.
    fn restore_pending(&self, p: Pending) {
        if p.data.is_empty() {
            return;
        }
        let mut b = self.buf.lock();
        let mut head = Vec::new();
        let mut none = None;
        if let Some(db) = p.start_db {
            select_db(&mut head, &mut none, db);
        }
        head.extend_from_slice(&p.data);
        if b.data.is_empty() {
            b.db = p.end_db;
        }
        head.extend_from_slice(&b.data);
        b.data = head;
        b.db_at_start = None;
    }

    /// The base just written covers everything fed up to `end`: waiters on those
    /// bytes may go on (they were dropped from the buffer).
    fn covered(&self, end: u64) {
        self.written.fetch_max(end, Ordering::SeqCst);
        self.synced.send_modify(|s| *s = (*s).max(end));
        // Nothing failed to write is pending any more: writes are accepted again.
        if self.buffer_len() == 0 && self.write_failed.swap(false, Ordering::SeqCst) {
            log::warning("AOF write error looks solved, Redis can write again.");
            self.refresh_deny();
        }
    }

    /// Switches writing to `file` (a new or reopened incremental file): pending bytes
    /// must have been written to the previous one. The next command starts with a
    /// SELECT.
    fn switch_file(&self, io: &mut Io, file: File, size: u64) {
        io.file = Some(Arc::new(file));
        io.incr_size = size;
        let mut b = self.buf.lock();
        if b.data.is_empty() {
            b.db = None;
        } else if let Some(db) = b.db_at_start {
            // Bytes the previous file could not take go to this one, after the SELECT
            // they were written under.
            let mut head = Vec::new();
            let mut none = None;
            select_db(&mut head, &mut none, db);
            head.extend_from_slice(&b.data);
            b.data = head;
        }
        b.db_at_start = None;
    }

    /// Turns propagation on (the incremental file is open).
    fn enable(&self) {
        let _b = self.buf.lock();
        self.on.store(true, Ordering::SeqCst);
    }

    /// Turns the AOF off: propagation stops, pending bytes are written and fsynced,
    /// the file is closed (CONFIG SET appendonly no, Redis's stopAppendOnly).
    pub fn disable(&self) {
        {
            let _b = self.buf.lock();
            self.on.store(false, Ordering::SeqCst);
        }
        let _ = self.write_and_fsync();
        let mut io = self.io.lock();
        io.file = None;
        let end = self.buf.lock().end;
        self.synced.send_modify(|s| *s = (*s).max(end));
        self.write_failed.store(false, Ordering::SeqCst);
        self.refresh_deny();
    }

    /// Recomputes `persistence::deny_writes`'s flag after the write status changed.
    fn refresh_deny(&self) {
        let srv = self.srv.lock().upgrade();
        if let Some(srv) = srv {
            crate::persistence::refresh_deny(&srv);
        }
    }
}

/// Opens (appending) or creates the incremental file to write to after loading or a
/// rewrite: the last one of the manifest, or a new one (persisting the manifest).
/// `io` must belong to `srv.aof`.
fn open_incr(srv: &Server, io: &mut Io, create_new: bool, why: &str) -> io::Result<()> {
    let dir = aof_dir(srv);
    let name = aof_name(srv);
    if create_new || io.manifest.incr.is_empty() {
        let seq = io.manifest.incr_seq + 1;
        let fname = format!("{name}.{seq}.incr.aof");
        let f = open_append(&dir.join(&fname))?;
        io.manifest.incr.push(AofFile {
            name: fname.clone(),
            seq,
            kind: b'i',
        });
        io.manifest.incr_seq = seq;
        persist_manifest(srv, &io.manifest)?;
        log::notice(&format!("Creating AOF incr file {fname} {why}"));
        srv.aof.switch_file(io, f, 0);
    } else if let Some(last) = io.manifest.incr.last() {
        let path = dir.join(&last.name);
        let f = open_append(&path)?;
        let size = f.metadata()?.len();
        srv.aof.switch_file(io, f, size);
    }
    Ok(())
}

/// Writes the manifest atomically.
pub fn persist_manifest(srv: &Server, m: &Manifest) -> io::Result<()> {
    let dir = aof_dir(srv);
    let name = format!("{}.manifest", aof_name(srv));
    manifest::write_atomic(&dir, &name, m.to_text().as_bytes())
}

/// Drops the history files from the manifest (unless `aof-disable-auto-gc`) and
/// persists it; returns the files to delete with [`remove_history`] once `io`'s lock is
/// released: unlinking a big base file can take tens of milliseconds, during which
/// writers waiting for the lock would stall (Redis unlinks them in a background job).
fn delete_history(srv: &Server, io: &mut Io) -> Vec<(String, std::path::PathBuf)> {
    if io.manifest.history.is_empty() || srv.config.read().bool("aof-disable-auto-gc") {
        return Vec::new();
    }
    let dir = aof_dir(srv);
    let gone = std::mem::take(&mut io.manifest.history)
        .into_iter()
        .map(|f| {
            let path = dir.join(&f.name);
            (f.name, path)
        })
        .collect();
    if let Err(e) = persist_manifest(srv, &io.manifest) {
        log::warning(&format!("Failed to persist the AOF manifest: {e}"));
    }
    gone
}

/// Deletes the files [`delete_history`] dropped from the manifest (call it without
/// holding the AOF's `io` lock).
fn remove_history(files: Vec<(String, std::path::PathBuf)>) {
    for (name, path) in files {
        match std::fs::remove_file(&path) {
            Ok(()) => log::notice(&format!(
                "Removing the history file {name} in the background"
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::warning(&format!("Failed to remove {name}: {e}")),
        }
    }
}

/// Size of a file in the AOF directory (0 if missing).
fn file_size(srv: &Server, name: &str) -> u64 {
    std::fs::metadata(aof_dir(srv).join(name))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Starts the writer thread (fsync, group commit, rewrites). Called once at startup.
pub fn spawn_writer(srv: &Arc<Server>) -> io::Result<()> {
    *srv.aof.srv.lock() = Arc::downgrade(srv);
    srv.aof.apply_config(&srv.config.read());
    let s = srv.clone();
    std::thread::Builder::new()
        .name("ferrodis-aof".into())
        .spawn(move || writer_loop(s))
        .map(|_| ())
}

fn writer_loop(srv: Arc<Server>) {
    let aof = &srv.aof;
    let mut last_fsync = Instant::now();
    loop {
        {
            let mut w = aof.wake.lock();
            if !*w {
                aof.wake_cv.wait_for(&mut w, Duration::from_millis(100));
            }
            *w = false;
        }
        if srv.shutting_down.load(Ordering::Relaxed) {
            break;
        }
        // A requested rewrite waits for a running BGSAVE (one snapshot at a time).
        if srv.persistence.bg.kind() == crate::persistence::bgsave::Kind::None
            && aof.rewrite_requested.swap(false, Ordering::SeqCst)
        {
            rewrite::run_background(&srv);
        }
        if !aof.on.load(Ordering::Relaxed) {
            continue;
        }
        let policy = aof.policy();
        let skip_fsync = aof.rewrite_in_progress.load(Ordering::Relaxed)
            && srv.config.read().bool("no-appendfsync-on-rewrite");
        match policy {
            FSYNC_ALWAYS if !skip_fsync => {
                let _ = aof.write_and_fsync();
            }
            FSYNC_EVERYSEC if !skip_fsync && last_fsync.elapsed() >= Duration::from_secs(1) => {
                last_fsync = Instant::now();
                let _ = aof.write_and_fsync();
            }
            _ => {
                let _ = aof.write_pending();
            }
        }
    }
}

/// Final flush at shutdown: writes and fsyncs what is pending.
pub fn shutdown(srv: &Server) {
    if srv.aof.on.load(Ordering::Relaxed) {
        log::notice("Calling fsync() on the AOF file.");
        let _ = srv.aof.write_and_fsync();
    }
}

/// CONFIG SET hook: `appendonly` switched, `appendfsync` changed...
pub fn config_changed(srv: &Server) {
    let (want, _) = {
        let c = srv.config.read();
        srv.aof.apply_config(&c);
        (c.bool("appendonly"), ())
    };
    let on = srv.aof.on.load(Ordering::SeqCst);
    if want && !on && !srv.aof.rewrite_in_progress.load(Ordering::SeqCst) {
        // Redis's startAppendOnly: a rewrite creates the base and opens the AOF.
        srv.aof.rewrite_requested.store(true, Ordering::SeqCst);
        srv.aof.wake_writer();
    } else if !want && on {
        srv.aof.disable();
        log::notice("Background append only file rewriting terminated: AOF turned off");
    }
}

/// Starts a rewrite in the background (BGREWRITEAOF, auto rewrite). Err if one is
/// already running.
pub fn request_rewrite(srv: &Server) -> Result<(), &'static str> {
    if srv.aof.rewrite_in_progress.load(Ordering::SeqCst)
        || srv.aof.rewrite_requested.swap(true, Ordering::SeqCst)
    {
        return Err("ERR Background append only file rewriting already in progress");
    }
    srv.aof.wake_writer();
    Ok(())
}

/// Called by the cron: automatic rewrite (auto-aof-rewrite-percentage / min-size) and
/// retrying a failed write.
pub fn cron(srv: &Server) {
    let aof = &srv.aof;
    if !aof.on.load(Ordering::Relaxed) {
        return;
    }
    if aof.write_failed.load(Ordering::Relaxed) {
        let _ = aof.write_pending();
    }
    if aof.rewrite_in_progress.load(Ordering::Relaxed)
        || aof.rewrite_requested.load(Ordering::Relaxed)
    {
        return;
    }
    let (perc, min) = {
        let c = srv.config.read();
        (
            c.int("auto-aof-rewrite-percentage"),
            c.int("auto-aof-rewrite-min-size").max(0) as u64,
        )
    };
    if perc <= 0 {
        return;
    }
    let current = {
        let io = aof.io.lock();
        io.base_size + io.incr_size
    };
    let base = aof.rewrite_base_size.load(Ordering::Relaxed).max(1);
    if current > min && (current.saturating_sub(base)) * 100 / base >= perc as u64 {
        log::notice(&format!(
            "Starting automatic rewriting of AOF on {}% growth",
            (current.saturating_sub(base)) * 100 / base
        ));
        let _ = request_rewrite(srv);
    }
}

/// INFO persistence: the AOF fields, in Redis's order.
pub fn info(srv: &Server, out: &mut String) {
    use std::fmt::Write as _;
    let a = &srv.aof;
    let on = a.on.load(Ordering::Relaxed);
    let in_progress = a.rewrite_in_progress.load(Ordering::Relaxed);
    let current_secs = match *a.rewrite_started.lock() {
        Some(t) if in_progress => t.elapsed().as_secs() as i64,
        _ => -1,
    };
    let _ = write!(
        out,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\n",
        on as u8,
        in_progress as u8,
        a.rewrite_requested.load(Ordering::Relaxed) as u8,
        a.last_rewrite_secs.load(Ordering::Relaxed),
        current_secs,
        if a.last_rewrite_failed.load(Ordering::Relaxed) { "err" } else { "ok" },
        a.rewrites.load(Ordering::Relaxed),
        a.rewrite_failures.load(Ordering::Relaxed),
        if a.write_failed.load(Ordering::Relaxed) { "err" } else { "ok" },
    );
}

/// INFO persistence: the fields Redis adds when the AOF is on (after the module fork
/// fields).
pub fn info_enabled(srv: &Server, out: &mut String) {
    use std::fmt::Write as _;
    let a = &srv.aof;
    if !a.on.load(Ordering::Relaxed) {
        return;
    }
    let (current, base) = {
        let io = a.io.lock();
        (io.base_size + io.incr_size, io.base_size)
    };
    let _ = write!(
        out,
        "aof_current_size:{current}\r\naof_base_size:{base}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:0\r\n",
        a.rewrite_requested.load(Ordering::Relaxed) as u8,
        a.buffer_len(),
        a.fsync_in_progress.load(Ordering::Relaxed) as u8,
    );
}

/// The `-MISCONF` text while AOF writes fail.
pub fn deny_writes(srv: &Server) -> Option<String> {
    if srv.aof.write_failed.load(Ordering::Relaxed) && srv.aof.on.load(Ordering::Relaxed) {
        Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            srv.aof.write_error.lock()
        ))
    } else {
        None
    }
}
