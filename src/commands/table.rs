//! The command table: every family's entries gathered into one lookup structure.

use std::collections::HashMap;

type Map = HashMap<&'static str, &'static Command, ahash::RandomState>;

use super::{Command, RError};
use crate::commands::{
    acl, aof, bits, client, connection, db, dump, functions, geo, hash, hll, introspection, keys,
    latency, list, lolwut, memory, multi, pubsub, replication, scripting, server, set, slowlog,
    sort, stream, strings, zset,
};

/// All commands, by lower-case name.
pub struct CommandTable {
    by_name: Map,
}

/// The families that make up the table. A new family adds its slice here.
pub fn families() -> Vec<&'static [Command]> {
    vec![
        &connection::COMMANDS,
        &server::COMMANDS,
        &db::COMMANDS,
        &client::COMMANDS,
        &multi::COMMANDS,
        &scripting::COMMANDS,
        &functions::COMMANDS,
        &introspection::COMMANDS,
        &strings::COMMANDS,
        &bits::COMMANDS,
        &keys::COMMANDS,
        &dump::COMMANDS,
        &aof::COMMANDS,
        &slowlog::COMMANDS,
        &latency::COMMANDS,
        &lolwut::COMMANDS,
        &memory::COMMANDS,
        &list::COMMANDS,
        &hash::COMMANDS,
        &set::COMMANDS,
        &zset::COMMANDS,
        &hll::COMMANDS,
        &geo::COMMANDS,
        &sort::COMMANDS,
        &stream::COMMANDS,
        &pubsub::COMMANDS,
        &acl::COMMANDS,
        &replication::COMMANDS,
    ]
}

/// Redis truncates names and arguments echoed in errors to 128 bytes and keeps them on
/// one line.
fn sanitize(arg: &[u8], max: usize) -> String {
    let s = &arg[..arg.len().min(max)];
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandTable {
    pub fn new() -> CommandTable {
        let mut by_name = Map::default();
        for fam in families() {
            for c in fam {
                let prev = by_name.insert(c.name, c);
                debug_assert!(prev.is_none(), "duplicate command {}", c.name);
            }
        }
        CommandTable { by_name }
    }

    /// `rename-command from to` (validated when the configuration was read): the
    /// command is known by `to` only, or by no name when `to` is empty. The command
    /// keeps its own name in replies and statistics, as in Redis.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(cmd) = self.by_name.remove(from) {
            if !to.is_empty() {
                // A few names at startup, for the life of the process.
                let to: &'static str = Box::leak(to.to_ascii_lowercase().into_boxed_str());
                self.by_name.insert(to, cmd);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&'static Command> {
        self.by_name.get(name).copied()
    }

    /// Looks up by raw client bytes, case-insensitively, without allocating.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static Command> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            // Only names given by `rename-command` are this long.
            let s = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
            return self.get(&s);
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let s = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.get(s)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// All top-level commands, sorted by name.
    pub fn all(&self) -> Vec<&'static Command> {
        let mut v: Vec<_> = self.by_name.values().copied().collect();
        v.sort_by_key(|c| c.name);
        v
    }

    /// Resolves the command (and subcommand) for `args` and checks arity, producing
    /// Redis's exact errors. Returns the command to run and its parent, if it is a
    /// subcommand.
    pub fn resolve(
        &self,
        args: &[&[u8]],
    ) -> Result<(&'static Command, Option<&'static Command>), RError> {
        let Some(cmd) = self.lookup(args[0]) else {
            let mut rest = String::new();
            for a in &args[1..] {
                if rest.len() >= 128 {
                    break;
                }
                let room = 128 - rest.len();
                rest.push('\'');
                rest.push_str(&sanitize(a, room));
                rest.push_str("' ");
            }
            return Err(RError::owned(format!(
                "ERR unknown command '{}', with args beginning with: {}",
                sanitize(args[0], 128),
                rest
            )));
        };
        if cmd.subcommands.is_empty() {
            check_arity(cmd, None, args.len())?;
            return Ok((cmd, None));
        }
        if args.len() < 2 {
            // A container alone runs its own handler if its arity allows (COMMAND);
            // otherwise this is the usual arity error.
            check_arity(cmd, None, args.len())?;
            return Ok((cmd, None));
        }
        let sub_name = args[1].to_ascii_lowercase();
        let sub = cmd
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes() == sub_name.as_slice());
        match sub {
            Some(sub) => {
                check_arity(sub, Some(cmd), args.len())?;
                Ok((sub, Some(cmd)))
            }
            None => Err(RError::owned(format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                sanitize(args[1], 128),
                cmd.name.to_ascii_uppercase()
            ))),
        }
    }
}

/// `name` or `parent|name`, as Redis prints command names in errors and stats.
pub fn full_name(cmd: &Command, parent: Option<&Command>) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, cmd.name),
        None => cmd.name.to_string(),
    }
}

fn check_arity(cmd: &Command, parent: Option<&Command>, argc: usize) -> Result<(), RError> {
    let a = cmd.arity;
    let argc = argc as i32;
    if (a > 0 && argc != a) || argc < -a {
        return Err(RError::owned(format!(
            "ERR wrong number of arguments for '{}' command",
            full_name(cmd, parent)
        )));
    }
    Ok(())
}
