//! Command dispatch: resolve the command, check arity and authentication, take the
//! right locks (see `keyspace` docs), run the handler, account statistics.
//!
//! This is the single place every command passes through, which is where write
//! propagation (AOF, replicas), keyspace notifications and MULTI queueing hook in.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::{RwLockReadGuard, RwLockWriteGuard};

use crate::commands::{flags, Ctx, Lock};
use crate::keyspace::Txn;
use crate::protocol::Reply;
use crate::server::client::{ClientState, ReplyMode};
use crate::server::multi;
use crate::server::Server;
use crate::util::time::now_ms;

/// How the connection currently holds the keyspace gate. Held across a batch of
/// pipelined commands so the gate is taken once per batch, not once per command.
pub enum Gate<'a> {
    Open,
    Shared(RwLockReadGuard<'a, ()>),
    Exclusive(RwLockWriteGuard<'a, ()>),
}

/// The reply to commands that cannot run while a script holds the keyspace too long.
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while a function (FCALL) runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// How long to wait for the gate between checks for a busy script.
const GATE_POLL: Duration = Duration::from_millis(10);

/// Whether a script or function has held the keyspace for longer than
/// `busy-reply-threshold`.
fn script_is_busy(srv: &Server) -> bool {
    let started = match srv.script_state.started_ms.load(Ordering::SeqCst) {
        0 => srv.functions.state.started_ms.load(Ordering::SeqCst),
        s => s,
    };
    if started == 0 {
        return false;
    }
    let threshold = srv.config.read().int("busy-reply-threshold").max(0) as u64;
    now_ms().saturating_sub(started) >= threshold
}

/// The BUSY reply naming the kill command for what is running (Redis's
/// `slowevalerr` / `slowscripterr`).
pub fn busy_reply(srv: &Server) -> &'static str {
    if srv.functions.state.started_ms.load(Ordering::SeqCst) != 0 {
        BUSY_FUNCTION
    } else {
        BUSY
    }
}

/// How a [`Gate`] is held, for comparing before and after taking it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GateKind {
    Open,
    Shared,
    Exclusive,
}

impl<'a> Gate<'a> {
    fn kind(&self) -> GateKind {
        match self {
            Gate::Open => GateKind::Open,
            Gate::Shared(_) => GateKind::Shared,
            Gate::Exclusive(_) => GateKind::Exclusive,
        }
    }

    /// Takes the gate shared. False if a busy script holds it (the caller replies
    /// BUSY, or runs an `allow_busy` command without the gate).
    fn ensure_shared(&mut self, srv: &'a Server) -> bool {
        match self {
            Gate::Shared(_) => true,
            Gate::Open => loop {
                if let Some(g) = srv.ks.gate.try_read_for(GATE_POLL) {
                    *self = Gate::Shared(g);
                    return true;
                }
                if script_is_busy(srv) {
                    return false;
                }
            },
            Gate::Exclusive(_) => {
                // Give other clients their turn: downgrade instead of keeping them out.
                if let Gate::Exclusive(w) = std::mem::replace(self, Gate::Open) {
                    *self = Gate::Shared(RwLockWriteGuard::downgrade(w));
                }
                true
            }
        }
    }

    /// Takes the gate exclusively (false if a busy script holds it).
    pub fn ensure_exclusive(&mut self, srv: &'a Server) -> bool {
        if matches!(self, Gate::Exclusive(_)) {
            return true;
        }
        *self = Gate::Open; // release shared first, or we would wait for ourselves
        loop {
            if let Some(g) = srv.ks.gate.try_write_for(GATE_POLL) {
                *self = Gate::Exclusive(g);
                return true;
            }
            if script_is_busy(srv) {
                return false;
            }
        }
    }

    /// Releases the gate (end of a batch, or before blocking).
    pub fn release(&mut self) {
        *self = Gate::Open;
    }
}

/// Statistics of the commands a client ran in the current batch, not yet added to the
/// shared counters.
///
/// `INFO commandstats`, the latency histograms and `dirty` are atomics shared by every
/// worker thread; adding to them per command was three to four locked instructions per
/// command (the hottest instructions of `execute` in a pipelined `PFADD` profile). A
/// batch of the same fast command (`-P 16` of one command, a pipeline of GETs) now adds
/// them once. Whatever reads them sees the same figures as before from this client's
/// point of view: the pending figures go out before any other command runs (INFO,
/// LATENCY HISTOGRAM, CONFIG RESETSTAT, SAVE...), a command that is not `FAST` is never
/// held back, and the batch ends with a flush (`connection::process_input`) before its
/// replies are written. Other clients may see them up to one batch late.
#[derive(Default)]
pub struct PendingStats {
    cmd: Option<&'static crate::commands::Command>,
    calls: u64,
    usec: u64,
    dirty: u64,
    /// The last duration for the histogram, and how many runs took it.
    hist_usec: u64,
    hist_n: u64,
}

impl PendingStats {
    /// Adds the pending figures to the shared counters.
    pub fn flush(&mut self, srv: &Server) {
        let Some(cmd) = self.cmd.take() else { return };
        cmd.stats.calls.fetch_add(self.calls, Ordering::Relaxed);
        cmd.stats.usec.fetch_add(self.usec, Ordering::Relaxed);
        if self.dirty > 0 {
            srv.stats.dirty.fetch_add(self.dirty, Ordering::Relaxed);
        }
        self.flush_histogram(srv, cmd);
        *self = PendingStats::default();
    }

    fn flush_histogram(&mut self, srv: &Server, cmd: &crate::commands::Command) {
        if self.hist_n > 0 && srv.latency.tracking.load(Ordering::Relaxed) {
            cmd.stats
                .latency
                .record_n(self.hist_usec.saturating_mul(1000), self.hist_n);
        }
        self.hist_n = 0;
    }

    /// Before `cmd` runs: flushes what another command left pending.
    #[inline]
    fn before(&mut self, srv: &Server, cmd: &'static crate::commands::Command) {
        if self.cmd.is_some_and(|c| !std::ptr::eq(c, cmd)) {
            self.flush(srv);
        }
    }

    /// After `cmd` ran for `usec` µs making `dirty` changes; `hist`: whether it counts in
    /// its latency histogram (not when it blocked); `defer`: whether the figures may wait
    /// for the end of the batch.
    #[inline]
    fn add(
        &mut self,
        srv: &Server,
        cmd: &'static crate::commands::Command,
        usec: u64,
        dirty: u64,
        hist: bool,
        defer: bool,
    ) {
        self.before(srv, cmd);
        self.cmd = Some(cmd);
        self.calls += 1;
        self.usec += usec;
        self.dirty += dirty;
        if hist {
            if self.hist_n > 0 && self.hist_usec != usec {
                self.flush_histogram(srv, cmd);
            }
            self.hist_usec = usec;
            self.hist_n += 1;
        }
        if !defer {
            self.flush(srv);
        }
    }
}

/// Runs one command and writes its reply into `out`.
pub fn execute<'a>(
    srv: &'a Server,
    client: &mut ClientState,
    out: &mut Reply,
    args: &[&[u8]],
    gate: &mut Gate<'a>,
) {
    let reply_start = out.buf.len();
    let suppress = match client.reply_mode {
        ReplyMode::SkipNext => {
            client.reply_mode = ReplyMode::Skip;
            true
        }
        ReplyMode::Off => true,
        _ => false,
    };
    let errors_before = out.errors;
    run(srv, client, out, args, gate);
    if out.errors > errors_before {
        // EXEC's queued commands counted their own errors (they ran through here):
        // EXEC adds one only when its own reply is an error (EXECABORT...).
        let exec = args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"exec"));
        if !exec {
            crate::commands::server::record_errors(
                out.last_error_code.as_deref(),
                out.errors - errors_before,
            );
        } else if out.buf.get(reply_start) == Some(&b'-') {
            crate::commands::server::record_errors(out.last_error_code.as_deref(), 1);
        }
    }
    // CLIENT REPLY OFF/SKIP: drop what the command wrote (the command itself may have
    // switched the mode, e.g. CLIENT REPLY ON replies OK).
    if suppress && client.reply_mode != ReplyMode::On {
        out.buf.truncate(reply_start);
    }
    // Client tracking: the client's own invalidations follow the reply (pushes are
    // sent even with CLIENT REPLY OFF, as in Redis); CLIENT CACHING expires.
    if !client.in_exec && (!client.tracking.pending.is_empty() || srv.tracking.clients() > 0) {
        crate::server::tracking::after_reply(srv, client, out, args);
    }
    if client.reply_mode == ReplyMode::Skip {
        client.reply_mode = ReplyMode::On;
    }
}

fn run<'a>(
    srv: &'a Server,
    client: &mut ClientState,
    out: &mut Reply,
    args: &[&[u8]],
    gate: &mut Gate<'a>,
) {
    let entry = gate.kind();
    let (cmd, parent) = match srv.commands.resolve(args) {
        Ok(c) => c,
        Err(e) => {
            if args
                .first()
                .is_some_and(|a| a.eq_ignore_ascii_case(b"exec"))
            {
                // EXEC's own rejection aborts the transaction (Redis's execCommandAbort).
                multi::abort(srv, client, out, &e.0, gate);
                return;
            }
            multi::flag_error(client);
            // A known command with the wrong arity is a rejected call of it (Redis's
            // rejectCommand); unknown commands and subcommands count nowhere.
            if let Some(c) = srv.commands.lookup(args[0]) {
                let sub = args.get(1).and_then(|n| {
                    c.subcommands
                        .iter()
                        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(n))
                });
                match sub {
                    Some(s) => s.stats.rejected.fetch_add(1, Ordering::Relaxed),
                    None if c.subcommands.is_empty() => {
                        c.stats.rejected.fetch_add(1, Ordering::Relaxed)
                    }
                    None => 0,
                };
            }
            out.error(&e.0);
            return;
        }
    };
    // Whatever reads the statistics sees those of the commands before it.
    client.stats.before(srv, cmd);
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        multi::flag_error(client);
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        out.error("NOAUTH Authentication required.");
        return;
    }
    // ACL: command, key and channel permissions (one load for unrestricted users).
    if let Err((denied, pos)) = crate::commands::acl::check(srv, client, cmd, parent, args) {
        acl_reject(srv, client, out, cmd, parent, args, denied, pos);
        return;
    }
    // While the dataset loads only `loading` commands run, and only those that need no
    // keys (the loader has the keyspace to itself).
    if srv.persistence.loading.load(Ordering::Relaxed)
        && !client.loader
        && (!cmd.has(flags::LOADING) || !matches!(cmd.lock, Lock::None | Lock::Gateless))
    {
        multi::flag_error(client);
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        out.error("LOADING Redis is loading the dataset in memory");
        return;
    }
    // maxmemory: evict before the command; refuse it (-OOM) if it may grow memory and
    // nothing can be evicted.
    if !client.in_exec && srv.evict.enabled() {
        if matches!(gate, Gate::Open) {
            gate.ensure_shared(srv);
        }
        if !matches!(gate, Gate::Open) {
            let exec = cmd.name == "exec";
            // Queueing in MULTI may grow memory without bound: refused too (but not
            // EXEC without denyoom commands, DISCARD, QUIT, RESET), as in Redis.
            let queueing = client.multi.is_some()
                && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset");
            let denyoom = cmd.has(flags::DENYOOM)
                || queueing
                || (exec && multi::queued_with(srv, client, flags::DENYOOM));
            if let Some(e) = crate::server::evict::before_command(srv, denyoom) {
                if exec {
                    multi::abort(srv, client, out, e, gate);
                } else {
                    multi::flag_error(client);
                    cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    out.error(e);
                }
                return;
            }
        }
    }
    // Writes are refused while persistence fails (-MISCONF); PING too, as in Redis.
    if !client.in_exec
        && (cmd.has(flags::WRITE) || cmd.name == "ping" || cmd.name == "exec")
        && srv.persistence.deny.load(Ordering::Relaxed) != 0
    {
        if let Some(msg) = crate::persistence::deny_writes(srv) {
            if cmd.name == "exec" {
                if multi::queued_writes(srv, client) {
                    multi::abort(srv, client, out, &msg, gate);
                    return;
                }
            } else {
                multi::flag_error(client);
                cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
                out.error(&msg);
                return;
            }
        }
    }
    // RESP2 subscriber mode allows only a few commands (checked before MULTI queueing,
    // as in Redis).
    if !crate::server::pubsub::admit(client, out, cmd, parent) {
        return;
    }
    // A MONITOR client may not touch the keyspace (Redis treats it as a replica).
    if client.info.monitor.load(Ordering::Relaxed)
        && (cmd.has(flags::READONLY) || cmd.has(flags::WRITE) || cmd.has(flags::MAY_REPLICATE))
    {
        multi::flag_error(client);
        cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        out.error("ERR Replica can't interact with the keyspace");
        return;
    }
    if multi::intercept(srv, client, out, cmd, parent, args, gate) {
        // EXEC is shown to monitors after the commands it ran.
        if cmd.name == "exec" && srv.monitors.active() {
            crate::server::monitor::feed(srv, client.db, Some(&client.info.addr), args);
        }
        return;
    }

    // Inside EXEC the gate stays exclusive for the whole transaction.
    if !client.in_exec {
        let got = match cmd.lock {
            Lock::Exclusive => gate.ensure_exclusive(srv),
            // Needs neither keys nor the gate (FUNCTION STATS/KILL during a function).
            Lock::Gateless => true,
            _ => gate.ensure_shared(srv),
        };
        // A script has held the keyspace longer than busy-reply-threshold: only
        // `allow_busy` commands that need no keys run (SCRIPT KILL, SHUTDOWN...).
        let may_run_busy = cmd.has(flags::ALLOW_BUSY) && cmd.lock == Lock::None;
        if !got && !may_run_busy {
            multi::flag_error(client);
            out.error(busy_reply(srv));
            return;
        }
    }
    // One clock read gives the command's time and the start of its duration. In a
    // pipelined batch the previous command's end is this one's start (what lies
    // between is parsing this command): unless this command waited for the gate,
    // during which time passed (keys may have expired meanwhile).
    let chained = client.clock.take();
    let started = match chained {
        Some(t) if entry != GateKind::Open && gate.kind() == entry => t,
        _ => Instant::now(),
    };
    let now = crate::util::time::ms_at(started);
    let mut txn = if matches!(gate, Gate::Exclusive(_)) {
        Txn::exclusive(&srv.ks, now)
    } else {
        Txn::shared(&srv.ks, now)
    };
    txn.prop.on = srv.aof.on.load(Ordering::Relaxed);
    // CLIENT NO-TOUCH (TOUCH itself still touches, as in Redis).
    txn.no_touch = client.info.no_touch.load(Ordering::Relaxed) && cmd.name != "touch";
    match cmd.lock {
        Lock::Keys => {
            let idx = cmd.key_indexes(args);
            txn.lock_keys(client.db, idx.iter().map(|&i| args[i]));
            if cmd.has(flags::WRITE) {
                // Serving clients blocked on these keys may touch more keys.
                let keys: crate::commands::KeyIndexes = idx;
                let keys: smallvec::SmallVec<[&[u8]; 8]> = keys.iter().map(|&i| args[i]).collect();
                txn.lock_for_waiters(client.db, &keys);
            }
        }
        Lock::Db => txn.lock_db(client.db),
        Lock::None | Lock::Exclusive | Lock::Stepwise | Lock::Gateless => {}
    }

    if txn.tracked.on && !client.in_exec && srv.tracking.clients() > 0 {
        // tracking-table-max-keys, checked before each command as in Redis.
        crate::server::tracking::limit_keys(srv, client, out);
    }
    if txn.tracked.on {
        crate::server::tracking::before_command(client, cmd, args);
    }
    // Script commands are shown before the commands they call.
    if cmd.has(flags::SKIP_MONITOR) && srv.monitors.active() {
        crate::server::monitor::feed(srv, client.db, Some(&client.info.addr), args);
    }

    let errors_before = out.errors;
    let reply_start = out.buf.len();
    let result = {
        let mut ctx = Ctx {
            srv,
            client,
            out,
            txn: &mut txn,
            cmd,
        };
        (cmd.handler)(&mut ctx, args)
    };
    if txn.prop.on {
        // Propagation, under the command's locks (see `server::propagate`).
        let ok = result.is_ok() && out.errors == errors_before;
        crate::server::propagate::end_command(&mut txn, client.db, cmd, parent, Some(args), ok);
        let ops = crate::server::propagate::take_ops(&mut txn);
        if client.in_exec {
            client.exec_prop.extend(ops);
        } else {
            crate::server::propagate::flush_unit(srv, client, ops);
        }
    }
    txn.settle_watches();
    if !txn.ready.is_empty() {
        if client.in_exec {
            // Served after the whole transaction (see `server::multi`).
            client.exec_ready.append(&mut txn.ready);
        } else {
            // Clients blocked on keys this command filled are served before anyone
            // else can see the new elements (see `server::blocking`).
            crate::server::blocking::serve_ready(srv, client, &mut txn);
        }
    }
    if !txn.events.is_empty() {
        let events = std::mem::take(&mut txn.events);
        let inline = !client.in_exec && !client.deny_blocking;
        crate::server::notify::publish_all(srv, events, client.id, out, reply_start, inline);
    }
    if txn.tracked.on {
        // Invalidate what the command changed, remember what it read (under its locks).
        crate::server::tracking::after_command(srv, client, cmd, args, &mut txn, out, reply_start);
    }
    let dirty = txn.dirty;
    let expired = std::mem::take(&mut txn.expired);
    drop(txn); // release shard locks before bookkeeping
    let failed = match result {
        Ok(()) => out.errors > errors_before,
        Err(e) => {
            out.error(&e.0);
            true
        }
    };
    let ended = Instant::now();
    let usec = ended.saturating_duration_since(started).as_micros() as u64;
    if client.chain_clock {
        client.clock = Some(ended);
    }
    if srv.slowlog.wants(usec) && !cmd.has(flags::SKIP_SLOWLOG) && client.waiter.is_none() {
        crate::server::slowlog::record(srv, client, args, usec);
    }
    let blocked = client.waiter.is_some();
    crate::server::latency::after_command(srv, cmd, usec, blocked);
    let defer = client.chain_clock && cmd.has(flags::FAST);
    client.stats.add(srv, cmd, usec, dirty, !blocked, defer);
    if failed {
        cmd.stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    // Lazily expired keys: their DEL was propagated above (their `expired` events
    // were published with the command's).
    drop(expired);
    client.last_cmd = Some((cmd, parent));
    if srv.monitors.active() && !cmd.has(flags::SKIP_MONITOR) && !cmd.has(flags::ADMIN) {
        crate::server::monitor::feed(srv, client.db, Some(&client.info.addr), args);
    }
}

/// Rejects a call the client's ACL user may not make (Redis's processCommand, or
/// EXEC's re-check when the rules changed after queueing), logging it in ACL LOG.
#[allow(clippy::too_many_arguments)]
#[cold]
fn acl_reject(
    srv: &Server,
    client: &mut ClientState,
    out: &mut Reply,
    cmd: &'static crate::commands::Command,
    parent: Option<&'static crate::commands::Command>,
    args: &[&[u8]],
    denied: crate::acl::Denied,
    pos: usize,
) {
    use crate::acl::Denied;
    let context = if client.multi.is_some() || client.in_exec {
        "multi"
    } else {
        "toplevel"
    };
    let object = crate::commands::acl::denial_object(denied, cmd, parent, args, pos);
    crate::commands::acl::log_denial(srv, client, (cmd, parent), denied, context, &object);
    if client.in_exec {
        let reason = match denied {
            Denied::Cmd => "no permission to execute the command or subcommand",
            Denied::Key => "no permission to touch the specified keys",
            Denied::Channel => "no permission to access one of the channels used as arguments",
            Denied::Auth => "no permission",
        };
        out.error(&format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"));
        return;
    }
    multi::flag_error(client);
    cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
    let name = crate::commands::table::full_name(cmd, parent);
    out.error(&crate::acl::denial_error(denied, &name));
}

/// Hook for each `redis.call` a script makes, after it ran on the script's view
/// (`commands::scripting::script_call`): client tracking (invalidations, and a read
/// remembering the script's keys) and MONITOR (`[db lua]` lines).
pub fn after_script_call(ctx: &mut Ctx, cmd: &'static crate::commands::Command, args: &[&[u8]]) {
    if ctx.txn.prop.on {
        // The call's effect joins the script's unit (MULTI/EXEC-wrapped if several).
        let db = ctx.client.db;
        crate::server::propagate::end_command(ctx.txn, db, cmd, None, Some(args), true);
    }
    if ctx.txn.tracked.on {
        crate::server::tracking::after_script_call(ctx.srv, ctx.client, cmd, ctx.txn, ctx.out);
    }
    if ctx.srv.monitors.active() && !cmd.has(flags::SKIP_MONITOR) && !cmd.has(flags::ADMIN) {
        crate::server::monitor::feed(ctx.srv, ctx.client.db, None, args);
    }
}
