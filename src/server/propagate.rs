//! Write propagation: the one place every change to the dataset flows through on its
//! way to the append-only file (and, later, to replicas).
//!
//! Redis 7.0's model (`call()` / `alsoPropagate` / `propagatePendingCommands`):
//!
//! * After each command (each command of an EXEC, each `redis.call` of a script, each
//!   blocked client served) [`end_command`] decides what it propagates: nothing if it
//!   changed nothing, its own argv if it did (or if it is one of the commands Redis
//!   always propagates, FLUSHALL/FLUSHDB/FUNCTION ...), or the deterministic forms the
//!   handler registered with [`Ctx::propagate_as`] (EXPIRE -> PEXPIREAT, SPOP -> SREM,
//!   INCRBYFLOAT -> SET KEEPTTL, ...). Keys the command found expired come first, as
//!   `DEL`s. Scripts (EVAL, FCALL) never propagate themselves, only their effects.
//! * The ops of one *execution unit* (a top-level command with everything it ran, a
//!   whole EXEC, one served blocked client) are collected and written together by
//!   [`flush_unit`]: wrapped in `MULTI`/`EXEC` when there is more than one, preceded
//!   by `SELECT` when the database differs from the last one written.
//!
//! The dispatcher calls [`flush_unit`] while the command's shard locks are still
//! held, so two commands on the same key reach the AOF in execution order. When
//! nothing consumes propagation (AOF off), `Record::on` is false (one relaxed atomic
//! load per command) and every function here returns at once.

use crate::commands::{Command, Ctx};
use crate::keyspace::Txn;
use crate::server::client::ClientState;
use crate::server::Server;

/// One propagated command: the database it applies to and its arguments.
pub type Op = (usize, Vec<Vec<u8>>);

/// The propagation state of the running execution unit (kept in [`Txn`]).
#[derive(Default)]
pub struct Record {
    /// Whether anything consumes propagation (read once per command).
    pub on: bool,
    /// Ops of the unit so far.
    pub ops: Vec<Op>,
    /// What the running command propagates instead of its argv (see
    /// [`Ctx::propagate_as`]); `Some(empty)` propagates nothing.
    pub replaced: Option<Vec<Vec<Vec<u8>>>>,
    /// `txn.dirty` and `txn.expired.len()` at the end of the previous command of the
    /// unit (a script's calls share one `Txn`).
    pub dirty_mark: u64,
    pub expired_mark: usize,
}

impl Ctx<'_, '_> {
    /// Whether the running command's writes are propagated (AOF on): handlers may
    /// skip building deterministic forms otherwise.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.txn.prop.on
    }

    /// Propagates `args` (in the client's database) in place of the running command's
    /// own argv. Called several times, every form is propagated in order (SPOP with a
    /// count -> one SREM per member). Redis's `rewriteClientCommandVector` and
    /// `alsoPropagate`.
    pub fn propagate_as(&mut self, args: &[&[u8]]) {
        if !self.txn.prop.on {
            return;
        }
        self.txn
            .prop
            .replaced
            .get_or_insert_with(Vec::new)
            .push(args.iter().map(|a| a.to_vec()).collect());
    }

    /// Writes the `DEL`s of the keys found expired so far now, before the command
    /// lets go of their shards (commands that lock shards one at a time, SCAN): a
    /// write to such a key by another client must reach the AOF after its `DEL`.
    pub fn propagate_expired_now(&mut self) {
        if !self.txn.prop.on || self.txn.is_exclusive() {
            return; // nobody else runs meanwhile: they stay in the unit
        }
        let p = &mut self.txn.prop;
        let ops: Vec<Op> = self
            .txn
            .expired
            .iter()
            .skip(p.expired_mark)
            .map(|e| (e.db, vec![b"DEL".to_vec(), e.key.to_vec()]))
            .collect();
        p.expired_mark = self.txn.expired.len();
        for op in ops {
            if let Some(end) = self.srv.aof.feed(std::slice::from_ref(&op), false) {
                self.client.aof_offset = self.client.aof_offset.max(end);
                self.client.aof_woff = end;
            }
        }
    }

    /// The running command propagates nothing, whatever it changed (Redis's
    /// `preventCommandPropagation`).
    pub fn dont_propagate(&mut self) {
        if self.txn.prop.on {
            self.txn.prop.replaced.get_or_insert_with(Vec::new);
        }
    }
}

/// Commands that never propagate themselves (only the effects of what they run).
fn never_propagated(cmd: &Command, parent: Option<&Command>) -> bool {
    parent.is_none()
        && matches!(
            cmd.name,
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "exec" | "multi"
        )
}

/// Commands Redis propagates even when they changed nothing (FLUSHALL on an empty
/// dataset; FUNCTION LOAD/DELETE/FLUSH/RESTORE, which change no key).
fn always_propagated(cmd: &Command, parent: Option<&Command>) -> bool {
    match parent {
        None => matches!(cmd.name, "flushall" | "flushdb"),
        Some(p) => {
            p.name == "function" && matches!(cmd.name, "load" | "delete" | "flush" | "restore")
        }
    }
}

/// End of one command: adds what it propagates to the unit (see module docs). `argv`
/// is its own argv, or `None` for a blocked client being served (only what its
/// `on_ready` registered is propagated). `ok`: it did not reply with an error.
pub fn end_command(
    txn: &mut Txn,
    db: usize,
    cmd: &Command,
    parent: Option<&Command>,
    argv: Option<&[&[u8]]>,
    ok: bool,
) {
    if !txn.prop.on {
        return;
    }
    let p = &mut txn.prop;
    for e in txn.expired.iter().skip(p.expired_mark) {
        p.ops.push((e.db, vec![b"DEL".to_vec(), e.key.to_vec()]));
    }
    p.expired_mark = txn.expired.len();
    let dirty = txn.dirty.saturating_sub(p.dirty_mark);
    p.dirty_mark = txn.dirty;
    match p.replaced.take() {
        Some(forms) => p.ops.extend(forms.into_iter().map(|a| (db, a))),
        None => {
            if let Some(argv) = argv {
                if (dirty > 0 || (ok && always_propagated(cmd, parent)))
                    && !never_propagated(cmd, parent)
                {
                    p.ops.push((db, argv.iter().map(|a| a.to_vec()).collect()));
                }
            }
        }
    }
}

/// End of an execution unit: writes its ops to the AOF (wrapped in MULTI/EXEC when
/// there are several) and remembers in `client` the AOF offset its reply must wait
/// for. Call while the unit's shard locks are held.
pub fn flush_unit(srv: &Server, client: &mut ClientState, ops: Vec<Op>) {
    if ops.is_empty() {
        return;
    }
    if let Some(end) = srv.aof.feed(&ops, ops.len() > 1) {
        client.aof_offset = client.aof_offset.max(end);
        client.aof_woff = end;
    }
}

/// The unit's ops, taken out of `txn` (the marks stay: the same `Txn` may go on with
/// another unit, a served blocked client).
pub fn take_ops(txn: &mut Txn) -> Vec<Op> {
    std::mem::take(&mut txn.prop.ops)
}
