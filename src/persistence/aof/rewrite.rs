//! AOF rewrite without fork (BGREWRITEAOF, automatic rewrite, turning the AOF on).
//!
//! (a) Under the exclusive gate (no command runs meanwhile), what is buffered goes to
//!     the current incremental file (written and fsynced) and a new incremental file
//!     is opened and added to the manifest: it receives every write after this
//!     instant;
//! (b) the new base, the dataset at this instant, is written to a temp file, fsynced
//!     and renamed to `<appendfilename>.<n>.base.rdb` (`.aof` without the RDB
//!     preamble);
//! (c) the manifest switches to the new base + the new incremental file; the old
//!     base and incremental files become history and are deleted.
//!
//! With the RDB preamble (the default) and the AOF already on, (b) is a background
//! point-in-time snapshot (`persistence::bgsave`, started at (a)'s instant): clients
//! keep running while the base is written, and their writes go to the new
//! incremental file. Otherwise (a base written as commands, or the AOF being turned
//! on, whose writes could not be kept if the rewrite failed) (b) runs under the gate.
//!
//! A failure before (c) leaves the previous manifest's files in place (plus the
//! new incremental file, listed after them), so nothing written is lost.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::manifest::{AofFile, Manifest};
use super::{
    aof_dir, aof_name, delete_history, encode_command, open_incr, persist_manifest, remove_history,
};
use crate::keyspace::{Txn, SHARDS};
use crate::server::{log, Server};
use crate::types::Value;

/// Items per command in a base written as commands (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// Runs a rewrite (called by the AOF writer thread): in the background when it can
/// (see module docs), otherwise under the exclusive gate.
pub fn run_background(srv: &Server) {
    let aof = &srv.aof;
    aof.rewrite_in_progress.store(true, Ordering::SeqCst);
    let started = Instant::now();
    *aof.rewrite_started.lock() = Some(started);
    log::notice(&format!(
        "Background append only file rewriting started by pid {}",
        std::process::id()
    ));
    let gate = srv.ks.gate.write();
    let mut txn = Txn::exclusive(&srv.ks, crate::util::time::now_ms());
    // In the background only with nothing left unwritten in the current file (a
    // failing disk keeps the rewrite synchronous, which covers those bytes at once).
    let background = aof.on.load(Ordering::SeqCst)
        && srv.config.read().bool("aof-use-rdb-preamble")
        && srv.persistence.bg.kind() == crate::persistence::bgsave::Kind::None
        && aof.write_and_fsync().is_ok()
        && aof.buffer_len() == 0;
    if background {
        match start_snapshot(srv, &mut txn, started) {
            // The snapshot thread finishes the rewrite (`finish`).
            Ok(()) => return,
            Err(e) => {
                drop(txn);
                drop(gate);
                finish(srv, Err(e), started);
                return;
            }
        }
    }
    let result = rewrite_locked(srv, &mut txn);
    drop(txn);
    drop(gate);
    finish(srv, result, started);
}

/// (a) under the gate, then (b) as a background snapshot whose end does (c).
fn start_snapshot(srv: &Server, txn: &mut Txn, started: Instant) -> io::Result<()> {
    let aof = &srv.aof;
    let dir = aof_dir(srv);
    std::fs::create_dir_all(&dir)?;
    let _ = aof.write_and_fsync();
    let stale = aof.take_pending();
    let prepared = (|| -> io::Result<(std::path::PathBuf, String, u64, File)> {
        let mut io = aof.io.lock();
        ensure_manifest(srv, &mut io.manifest);
        open_incr(srv, &mut io, true, "during AOF rewrite")?;
        let seq = io.manifest.base_seq + 1;
        let base_name = format!("{}.{seq}.base.rdb", aof_name(srv));
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let f = File::create(&tmp)?;
        Ok((tmp, base_name, seq, f))
    })();
    let (tmp, base_name, seq, f) = match prepared {
        Ok(p) => p,
        Err(e) => {
            aof.restore_pending(stale);
            return Err(e);
        }
    };
    let tmp_done = tmp.clone();
    let r = crate::persistence::bgsave::start(
        srv,
        txn,
        crate::persistence::bgsave::Kind::AofRewrite,
        BufWriter::with_capacity(256 * 1024, f),
        |_| {},
        move |srv, result| {
            let result = result.and_then(|bw| {
                let f = bw.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                let size = f.metadata().map(|m| m.len())?;
                drop(f);
                std::fs::rename(&tmp_done, aof_dir(srv).join(&base_name))?;
                super::manifest::sync_dir(&aof_dir(srv))?;
                let mut io = srv.aof.io.lock();
                let history = switch_manifest(srv, &mut io, base_name, seq, true, size)?;
                drop(io);
                remove_history(history);
                Ok(())
            });
            match &result {
                Ok(()) => srv.aof.covered(stale.end),
                Err(_) => {
                    let _ = std::fs::remove_file(&tmp_done);
                    srv.aof.restore_pending(stale);
                }
            }
            finish(srv, result, started);
        },
    );
    match r {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(match e {
                crate::persistence::bgsave::StartError::Io(e) => e,
                crate::persistence::bgsave::StartError::Busy(_) => {
                    io::Error::other("another background snapshot is running")
                }
            })
        }
    }
}

/// Bookkeeping at the end of a rewrite.
fn finish(srv: &Server, result: io::Result<()>, started: Instant) {
    let aof = &srv.aof;
    aof.last_rewrite_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    match result {
        Ok(()) => {
            aof.rewrites.fetch_add(1, Ordering::Relaxed);
            aof.rewrite_failures.store(0, Ordering::Relaxed);
            aof.last_rewrite_failed.store(false, Ordering::Relaxed);
            log::notice("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            aof.rewrite_failures.fetch_add(1, Ordering::Relaxed);
            aof.last_rewrite_failed.store(true, Ordering::Relaxed);
            log::warning(&format!(
                "Background AOF rewrite terminated with error: {e}"
            ));
        }
    }
    aof.rewrite_in_progress.store(false, Ordering::SeqCst);
}

/// Loads the manifest from disk into `m` if it is still empty (AOF off so far).
fn ensure_manifest(srv: &Server, m: &mut Manifest) {
    if *m != Manifest::default() {
        return;
    }
    let path = aof_dir(srv).join(format!("{}.manifest", aof_name(srv)));
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(parsed) = Manifest::parse(&text) {
            *m = parsed;
        }
    }
}

/// The rewrite itself (see module docs). `txn` must be exclusive.
pub fn rewrite_locked(srv: &Server, txn: &mut Txn) -> io::Result<()> {
    let aof = &srv.aof;
    let dir = aof_dir(srv);
    std::fs::create_dir_all(&dir)?;
    let was_on = aof.on.load(Ordering::SeqCst);
    let on_after = was_on || srv.config.read().bool("appendonly");
    // (a) What the current file cannot take (a failing disk) is covered by the new
    // base; it is put back (for the new incremental file) if the rewrite fails.
    if was_on {
        let _ = aof.write_and_fsync();
    }
    let stale = aof.take_pending();
    let result = rewrite_files(srv, txn, was_on, on_after).map(remove_history);
    match result {
        Ok(()) => aof.covered(stale.end),
        Err(_) => aof.restore_pending(stale),
    }
    if result.is_ok() && !was_on && on_after {
        aof.enable();
    }
    result
}

/// Steps (a) to (c) once the buffer is empty; returns the history files to delete.
fn rewrite_files(
    srv: &Server,
    txn: &mut Txn,
    was_on: bool,
    on_after: bool,
) -> io::Result<Vec<(String, std::path::PathBuf)>> {
    let aof = &srv.aof;
    let dir = aof_dir(srv);
    let name = aof_name(srv);
    let mut io = aof.io.lock();
    ensure_manifest(srv, &mut io.manifest);
    if on_after {
        let why = if was_on {
            "during AOF rewrite"
        } else {
            "on AOF enable"
        };
        open_incr(srv, &mut io, true, why)?;
    }
    // (b)
    let preamble = srv.config.read().bool("aof-use-rdb-preamble");
    let seq = io.manifest.base_seq + 1;
    let base_name = format!("{name}.{seq}.base.{}", if preamble { "rdb" } else { "aof" });
    let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let size = match write_base(srv, txn, &tmp, preamble) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, dir.join(&base_name))?;
    super::manifest::sync_dir(&dir)?;
    switch_manifest(srv, &mut io, base_name, seq, on_after, size)
}

/// (c): the manifest lists the new base and the newest incremental file; the rest
/// becomes history, returned to be deleted once the `io` lock is released.
fn switch_manifest(
    srv: &Server,
    io: &mut super::Io,
    base_name: String,
    seq: u64,
    on_after: bool,
    size: u64,
) -> io::Result<Vec<(String, std::path::PathBuf)>> {
    let aof = &srv.aof;
    let mut m = io.manifest.clone();
    if let Some(mut old) = m.base.take() {
        old.kind = b'h';
        m.history.push(old);
    }
    let keep = if on_after { m.incr.pop() } else { None };
    for mut f in std::mem::take(&mut m.incr) {
        f.kind = b'h';
        m.history.push(f);
    }
    m.incr.extend(keep);
    m.base = Some(AofFile {
        name: base_name,
        seq,
        kind: b'b',
    });
    m.base_seq = seq;
    persist_manifest(srv, &m)?;
    io.manifest = m;
    io.base_size = size;
    let history = delete_history(srv, io);
    aof.rewrite_base_size
        .store(io.base_size + io.incr_size, Ordering::Relaxed);
    Ok(history)
}

/// Writes the base file (the dataset behind `txn`, exclusive) to `path`, fsynced;
/// returns its size.
pub fn write_base(srv: &Server, txn: &mut Txn, path: &Path, preamble: bool) -> io::Result<u64> {
    let f = File::create(path)?;
    let mut bw = BufWriter::with_capacity(256 * 1024, f);
    if preamble {
        crate::persistence::snapshot::write_rdb(srv, txn, &mut bw)?;
    } else {
        write_commands(srv, txn, &mut bw)?;
    }
    let f = bw.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    f.metadata().map(|m| m.len())
}

/// The dataset as commands (Redis's `rewriteAppendOnlyFileRio`): function libraries,
/// then per database a SELECT and each key (SET / RPUSH / SADD / ZADD / HMSET in
/// batches of 64 items; streams as RESTORE of their serialized form), followed by
/// PEXPIREAT for keys with a TTL.
fn write_commands<W: Write>(srv: &Server, txn: &mut Txn, w: &mut W) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    {
        let lib = srv.functions.lib.lock();
        let mut libs: Vec<_> = lib.libraries.values().collect();
        libs.sort_by(|a, b| a.name.cmp(&b.name));
        for l in libs {
            encode_command(&mut buf, &[&b"FUNCTION"[..], b"LOAD", &l.code]);
        }
    }
    let opts = crate::persistence::rdb::encode::EncodeOpts::from_config(&srv.config.read());
    let mut n = itoa::Buffer::new();
    for db in 0..srv.databases() {
        let mut selected = false;
        for s in 0..SHARDS {
            let shard = txn.shard_at(db, s);
            for (k, e) in shard.dict.iter() {
                if !selected {
                    encode_command(&mut buf, &[&b"SELECT"[..], n.format(db).as_bytes()]);
                    selected = true;
                }
                write_key(&mut buf, k, &e.value, &opts);
                if e.expire() != 0 {
                    encode_command(
                        &mut buf,
                        &[&b"PEXPIREAT"[..], k, n.format(e.expire()).as_bytes()],
                    );
                }
                if buf.len() >= 64 * 1024 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Emits `items` in commands of at most [`ITEMS_PER_CMD`] items: `head` + key + items.
fn batched(out: &mut Vec<u8>, head: &[u8], key: &[u8], items: Vec<Vec<Vec<u8>>>) {
    for chunk in items.chunks(ITEMS_PER_CMD) {
        let mut argv: Vec<&[u8]> = vec![head, key];
        for it in chunk {
            argv.extend(it.iter().map(|a| a.as_slice()));
        }
        encode_command(out, &argv);
    }
}

fn write_key(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    opts: &crate::persistence::rdb::encode::EncodeOpts,
) {
    match v {
        Value::Str(s) => s.with_bytes(|b| encode_command(out, &[&b"SET"[..], key, b])),
        Value::List(l) => {
            let items = l.iter().map(|e| vec![e.to_vec()]).collect();
            batched(out, b"RPUSH", key, items);
        }
        Value::Set(s) => {
            let items = s.members().into_iter().map(|m| vec![m]).collect();
            batched(out, b"SADD", key, items);
        }
        Value::ZSet(z) => {
            let items = z
                .to_vec()
                .into_iter()
                .map(|(m, sc)| vec![crate::util::num::fmt_double(sc).into_bytes(), m])
                .collect();
            batched(out, b"ZADD", key, items);
        }
        Value::Hash(h) if !h.has_field_ttls() => {
            let items = h
                .pairs()
                .into_iter()
                .map(|(f, v)| vec![f.to_vec(), v.to_vec()])
                .collect();
            batched(out, b"HMSET", key, items);
        }
        _ => {
            // Streams (and hashes with field TTLs): their serialized form.
            let payload = crate::persistence::rdb::encode::dump_payload(v, opts);
            encode_command(out, &[&b"RESTORE"[..], key, b"0", &payload]);
        }
    }
}
