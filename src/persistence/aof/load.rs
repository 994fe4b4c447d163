//! Loading the AOF at startup (Redis's `loadAppendOnlyFiles`).
//!
//! The files of the manifest are loaded in order: the base (an RDB file, or
//! commands, possibly after an RDB preamble), then each incremental file. Commands
//! run through the dispatcher with an internal client (MULTI/EXEC included; `#`
//! annotation lines are skipped). A truncated last command in the last file is
//! trimmed with `aof-load-truncated yes` (also an unterminated MULTI block); any
//! other problem refuses to start, naming the file and offset.
//!
//! With `appendonly yes` and no AOF yet, Redis 7.0 ignores `dump.rdb` and creates an
//! (empty) base; an old single-file `appendonly.aof` in `dir` is moved into the
//! AOF directory as the base, as Redis 7.0 upgrades it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::manifest::{AofFile, Manifest};
use super::{
    aof_dir, aof_name, delete_history, file_size, open_incr, persist_manifest, remove_history,
};
use crate::keyspace::Txn;
use crate::persistence::snapshot::{self, Counting, LoadOpts};
use crate::protocol::{Proto, Reply};
use crate::server::client::{ClientInfo, ClientState};
use crate::server::dispatch::{execute, Gate};
use crate::server::{log, Server};

/// How loading one file ended.
enum FileEnd {
    Ok,
    /// Truncated: the offset up to which it is valid.
    Truncated(u64),
}

/// Startup: loads the AOF if `appendonly yes` and opens it for appending. Returns
/// whether the AOF is on (the RDB is then not loaded). Err: refuse to start.
pub fn load_at_startup(srv: &Server) -> Result<bool, String> {
    let (on, dirname, name, dir) = {
        let c = srv.config.read();
        (
            c.bool("appendonly"),
            c.str("appenddirname"),
            c.str("appendfilename"),
            c.str("dir"),
        )
    };
    let aofdir = aof_dir(srv);
    let manifest_path = aofdir.join(format!("{name}.manifest"));
    // The manifest is read even with the AOF off (turning it on later continues it).
    let mut m = match std::fs::read_to_string(&manifest_path) {
        Ok(t) => Manifest::parse(&t).map_err(|e| {
            format!(
                "Invalid AOF manifest file format ({}): {e}",
                manifest_path.display()
            )
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => {
            return Err(format!(
                "Can't open the AOF manifest file {}: {e}",
                manifest_path.display()
            ))
        }
    };
    if !on {
        srv.aof.io.lock().manifest = m;
        return Ok(false);
    }
    // Old single-file AOF: becomes the base of the new layout.
    let old = Path::new(&dir).join(&name);
    if m == Manifest::default() && old.is_file() {
        std::fs::create_dir_all(&aofdir)
            .map_err(|e| format!("Can't create AOF directory {dirname}: {e}"))?;
        m.base = Some(AofFile {
            name: name.clone(),
            seq: 1,
            kind: b'b',
        });
        m.base_seq = 1;
        std::fs::rename(&old, aofdir.join(&name))
            .map_err(|e| format!("Error moving {} into {dirname}: {e}", old.display()))?;
        super::manifest::write_atomic(&aofdir, &format!("{name}.manifest"), m.to_text().as_bytes())
            .map_err(|e| format!("Error writing the AOF manifest: {e}"))?;
        log::notice("Successfully migrated an old-style AOF into the AOF directory");
    }
    std::fs::create_dir_all(&aofdir)
        .map_err(|e| format!("Can't create AOF directory {dirname}: {e}"))?;
    let started = Instant::now();
    let files: Vec<AofFile> = m.files().into_iter().cloned().collect();
    // INFO loading_*: the bytes of every file to read, and those read so far.
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(aofdir.join(&f.name)).ok())
        .map(|m| m.len())
        .sum();
    srv.persistence
        .loading_total
        .store(total, Ordering::Relaxed);
    srv.persistence.loading_loaded.store(0, Ordering::Relaxed);
    let truncated_ok = srv.config.read().bool("aof-load-truncated");
    let mut loaded_any = false;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = aofdir.join(&f.name);
        if !path.exists() {
            return Err(format!(
                "Fatal error: can't open the append log file {} for reading: No such file or directory",
                f.name
            ));
        }
        let t = Instant::now();
        match load_file(srv, &path, &f.name)? {
            FileEnd::Ok => {}
            FileEnd::Truncated(valid) => {
                if !last {
                    return Err(format!(
                        "Fatal error: the truncated file {} is not the last file",
                        f.name
                    ));
                }
                if !truncated_ok {
                    return Err(format!("Unexpected end of file reading the append only file {} (valid up to offset {valid}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", f.name));
                }
                log::warning(&format!(
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    f.name
                ));
                log::warning(&format!(
                    "!!! Truncating the AOF {} at offset {valid} !!!",
                    f.name
                ));
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
                file.set_len(valid)
                    .and_then(|_| file.sync_all())
                    .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
                log::warning(&format!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    f.name
                ));
            }
        }
        loaded_any = true;
        let kind = if f.kind == b'b' { "base" } else { "incr" };
        log::notice(&format!(
            "DB loaded from {kind} file {}: {:.3} seconds",
            f.name,
            t.elapsed().as_secs_f64()
        ));
    }
    if loaded_any {
        log::notice(&format!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        ));
    }
    srv.stats.dirty.store(0, Ordering::Relaxed);
    open_after_load(srv, m).map_err(|e| format!("Can't open the append-only file: {e}"))?;
    Ok(true)
}

/// After loading: creates the base if there is none (and no incremental file),
/// opens the last incremental file (or a new one) and turns propagation on.
fn open_after_load(srv: &Server, m: Manifest) -> io::Result<()> {
    let aof = &srv.aof;
    let base_size = m.base.as_ref().map_or(0, |b| file_size(srv, &b.name));
    let incr_size: u64 = m.incr.iter().map(|f| file_size(srv, &f.name)).sum();
    let empty = m.base.is_none() && m.incr.is_empty();
    {
        let mut io = aof.io.lock();
        io.manifest = m;
        io.base_size = base_size;
    }
    if empty {
        // Redis's aofOpenIfNeededOnServerStart: a base from the (empty) dataset.
        let _gate = srv.ks.gate.write();
        let mut txn = Txn::exclusive(&srv.ks, crate::util::time::now_ms());
        let preamble = srv.config.read().bool("aof-use-rdb-preamble");
        let name = format!(
            "{}.1.base.{}",
            aof_name(srv),
            if preamble { "rdb" } else { "aof" }
        );
        let dir = aof_dir(srv);
        let tmp = dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
        let size = super::rewrite::write_base(srv, &mut txn, &tmp, preamble)?;
        std::fs::rename(&tmp, dir.join(&name))?;
        log::notice(&format!("Creating AOF base file {name} on server start"));
        let mut io = aof.io.lock();
        io.manifest.base = Some(AofFile {
            name,
            seq: 1,
            kind: b'b',
        });
        io.manifest.base_seq = 1;
        io.base_size = size;
        persist_manifest(srv, &io.manifest)?;
    }
    let mut io = aof.io.lock();
    let create = io.manifest.incr.is_empty();
    open_incr(srv, &mut io, create, "on server start")?;
    if !create {
        io.incr_size = incr_size;
    }
    let history = delete_history(srv, &mut io);
    aof.rewrite_base_size
        .store(io.base_size + io.incr_size, Ordering::Relaxed);
    drop(io);
    remove_history(history);
    aof.enable();
    Ok(())
}

/// Reads an RDB image from `src` into the keyspace (and its function libraries).
fn load_rdb_part<R: Read>(srv: &Server, src: R, name: &str) -> Result<u64, String> {
    let opts = LoadOpts::from_config(&srv.config.read());
    // As the RDB loader: no gate, the `loading` state keeps clients off the keyspace
    // (INFO and friends still answer).
    let mut txn = Txn::exclusive(&srv.ks, opts.now);
    let loaded = snapshot::load_stream(src, &mut txn, &opts).map_err(|e| {
        format!("Bad file format reading the append only file {name}: RDB preamble: {e}")
    })?;
    drop(txn);
    let mut lib = srv.functions.lib.lock();
    for code in &loaded.functions {
        lib.load(code, true)
            .map_err(|e| format!("Failed loading library from the AOF file {name}: {e}"))?;
    }
    srv.functions.update_counts(&lib);
    Ok(loaded.bytes)
}

/// Loads one file. Err: refuse to start (bad format, unknown command, I/O error).
fn load_file(srv: &Server, path: &Path, name: &str) -> Result<FileEnd, String> {
    let loaded_bytes = &srv.persistence.loading_loaded;
    let mut f = File::open(path).map_err(|e| {
        format!("Fatal error: can't open the append log file {name} for reading: {e}")
    })?;
    let mut magic = [0u8; 5];
    let n = read_full(&mut f, &mut magic)
        .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
    if n == 0 {
        return Ok(FileEnd::Ok); // empty file
    }
    let mut start = 0u64;
    if n == 5 && &magic == b"REDIS" {
        if name.ends_with(".rdb") {
            let f = File::open(path).map_err(|e| format!("Can't open {name}: {e}"))?;
            load_rdb_part(srv, Counting::new(f, loaded_bytes), name)?;
            return Ok(FileEnd::Ok);
        }
        // An RDB preamble followed by commands: the preamble is read from memory so
        // its exact length is known.
        let data = std::fs::read(path).map_err(|e| format!("Can't read {name}: {e}"))?;
        start = load_rdb_part(srv, &data[..], name)?;
        log::notice("Reading RDB preamble from AOF file...");
    }
    let f = File::open(path).map_err(|e| format!("Can't open {name}: {e}"))?;
    // (The preamble's bytes are counted by skipping them here.)
    let mut r = BufReader::with_capacity(256 * 1024, Counting::new(f, loaded_bytes));
    io::copy(&mut (&mut r).take(start), &mut io::sink())
        .map_err(|e| format!("Unrecoverable error reading the append only file {name}: {e}"))?;
    replay(srv, &mut r, start, name)
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads a `\n`-terminated line (None at a clean end of file, Err(true) if it ends
/// mid-line).
fn read_line<R: BufRead>(r: &mut R, line: &mut Vec<u8>) -> Result<Option<()>, io::Error> {
    line.clear();
    let n = r.read_until(b'\n', line)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(()))
}

/// Runs the commands of an AOF stream (after `start` bytes) through the dispatcher.
fn replay<R: BufRead>(srv: &Server, r: &mut R, start: u64, name: &str) -> Result<FileEnd, String> {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let info = Arc::new(ClientInfo::new(
        0,
        addr,
        addr,
        -1,
        crate::util::time::now_ms(),
    ));
    let mut client = ClientState::new(info, true);
    client.loader = true;
    let mut out = Reply::new(Proto::Resp2);
    let mut gate = Gate::Open;
    let mut pos = start;
    let mut valid_up_to = start;
    let mut valid_before_multi = start;
    let mut line = Vec::new();
    let fmterr = |pos: u64| {
        Err(format!(
            "Bad file format reading the append only file {name} (offset {pos}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
        ))
    };
    let ioerr =
        |e: io::Error| format!("Unrecoverable error reading the append only file {name}: {e}");
    // The file ends in the middle of a command (see `truncated`).
    macro_rules! truncated {
        () => {
            Ok(truncated(
                &mut client,
                &mut gate,
                valid_up_to,
                valid_before_multi,
            ))
        };
    }
    loop {
        let cmd_start = pos;
        match read_line(r, &mut line).map_err(ioerr)? {
            None => break,
            Some(()) => pos += line.len() as u64,
        }
        if line.first() == Some(&b'#') {
            if line.last() != Some(&b'\n') {
                return truncated!();
            }
            valid_up_to = pos;
            continue;
        }
        if line.first() != Some(&b'*') {
            return fmterr(cmd_start);
        }
        if line.last() != Some(&b'\n') {
            return truncated!();
        }
        let Some(argc) = parse_len(&line[1..]) else {
            return fmterr(cmd_start);
        };
        if argc < 1 {
            return fmterr(cmd_start);
        }
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            let at = pos;
            match read_line(r, &mut line).map_err(ioerr)? {
                None => return truncated!(),
                Some(()) => pos += line.len() as u64,
            }
            if line.first() != Some(&b'$') {
                return fmterr(at);
            }
            if line.last() != Some(&b'\n') {
                return truncated!();
            }
            let Some(len) = parse_len(&line[1..]) else {
                return fmterr(at);
            };
            let mut arg = Vec::new();
            let got = (&mut *r)
                .take(len + 2)
                .read_to_end(&mut arg)
                .map_err(ioerr)?;
            pos += got as u64;
            if (got as u64) < len + 2 {
                return truncated!();
            }
            if &arg[len as usize..] != b"\r\n" {
                return fmterr(pos - 2);
            }
            arg.truncate(len as usize);
            argv.push(arg);
        }
        let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        if let Err(e) = srv.commands.resolve(&refs) {
            if e.0.starts_with("ERR unknown command") {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {name}",
                    String::from_utf8_lossy(&argv[0])
                ));
            }
        }
        if refs[0].eq_ignore_ascii_case(b"multi") {
            valid_before_multi = valid_up_to;
        }
        execute(srv, &mut client, &mut out, &refs, &mut gate);
        out.buf.clear();
        valid_up_to = pos;
    }
    gate.release();
    if client.multi.is_some() {
        log::warning(&format!(
            "Revert incomplete MULTI/EXEC transaction in AOF file {name}"
        ));
        client.multi = None;
        return Ok(FileEnd::Truncated(valid_before_multi));
    }
    Ok(FileEnd::Ok)
}

fn truncated(client: &mut ClientState, gate: &mut Gate, valid: u64, before_multi: u64) -> FileEnd {
    gate.release();
    // An open MULTI ran nothing yet: it goes away with the truncated tail.
    if client.multi.take().is_some() {
        return FileEnd::Truncated(before_multi);
    }
    FileEnd::Truncated(valid)
}

/// Parses the number of a `*N\r\n` / `$N\r\n` line (after the prefix byte).
fn parse_len(b: &[u8]) -> Option<u64> {
    let s = b.strip_suffix(b"\n")?;
    let s = s.strip_suffix(b"\r").unwrap_or(s);
    let n: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    u64::try_from(n).ok().filter(|&n| n <= 512 * 1024 * 1024)
}
