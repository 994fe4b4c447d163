//! The command index ACLs work on: every command and subcommand of the table gets an id
//! (a bit in a selector's bitmap), its ACL categories as a bit mask, and how to find its
//! keys with their access flags (from the key specs in `commands/docs.json`).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::commands::docs::{self, KeySpec};
use crate::commands::{table, Command};

/// Redis's ACL categories, in `ACL CAT`'s order (the command table's list).
pub use crate::commands::introspection::ACL_CATEGORIES as CATEGORIES;

/// Key access the ACL checks: read, write.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const ALL: u8 = READ | WRITE;

/// The category bit of `name` (case-insensitive).
pub fn category(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// Redis 7.0.15 commands Ferrodis does not have (cluster, replication, modules,
/// MIGRATE...), with their ACL categories. ACL LIST / GETUSER describe a user by the
/// categories that best fit its commands, counting every command of each category
/// (`ACLDescribeSelectorCommandRules`); counting these too keeps the descriptions equal
/// to Redis's.
pub static PHANTOMS: &[(&str, &[&str])] = &[
    ("asking", &["fast", "connection"]),
    ("cluster", &["slow"]),
    ("cluster|addslots", &["admin", "slow", "dangerous"]),
    ("cluster|addslotsrange", &["admin", "slow", "dangerous"]),
    ("cluster|bumpepoch", &["admin", "slow", "dangerous"]),
    (
        "cluster|count-failure-reports",
        &["admin", "slow", "dangerous"],
    ),
    ("cluster|countkeysinslot", &["slow"]),
    ("cluster|delslots", &["admin", "slow", "dangerous"]),
    ("cluster|delslotsrange", &["admin", "slow", "dangerous"]),
    ("cluster|failover", &["admin", "slow", "dangerous"]),
    ("cluster|flushslots", &["admin", "slow", "dangerous"]),
    ("cluster|forget", &["admin", "slow", "dangerous"]),
    ("cluster|getkeysinslot", &["slow"]),
    ("cluster|help", &["slow"]),
    ("cluster|info", &["slow"]),
    ("cluster|keyslot", &["slow"]),
    ("cluster|links", &["slow"]),
    ("cluster|meet", &["admin", "slow", "dangerous"]),
    ("cluster|myid", &["slow"]),
    ("cluster|nodes", &["slow"]),
    ("cluster|replicas", &["admin", "slow", "dangerous"]),
    ("cluster|replicate", &["admin", "slow", "dangerous"]),
    ("cluster|reset", &["admin", "slow", "dangerous"]),
    ("cluster|saveconfig", &["admin", "slow", "dangerous"]),
    ("cluster|set-config-epoch", &["admin", "slow", "dangerous"]),
    ("cluster|setslot", &["admin", "slow", "dangerous"]),
    ("cluster|shards", &["slow"]),
    ("cluster|slaves", &["admin", "slow", "dangerous"]),
    ("cluster|slots", &["slow"]),
    ("failover", &["admin", "slow", "dangerous"]),
    ("lolwut", &["read", "fast"]),
    ("migrate", &["keyspace", "write", "slow", "dangerous"]),
    ("module", &["slow"]),
    ("module|help", &["slow"]),
    ("module|list", &["admin", "slow", "dangerous"]),
    ("module|load", &["admin", "slow", "dangerous"]),
    ("module|loadex", &["admin", "slow", "dangerous"]),
    ("module|unload", &["admin", "slow", "dangerous"]),
    ("psync", &["admin", "slow", "dangerous"]),
    ("readonly", &["fast", "connection"]),
    ("readwrite", &["fast", "connection"]),
    ("replconf", &["admin", "slow", "dangerous"]),
    ("replicaof", &["admin", "slow", "dangerous"]),
    (
        "restore-asking",
        &["keyspace", "write", "slow", "dangerous"],
    ),
    ("script|debug", &["slow", "scripting"]),
    ("slaveof", &["admin", "slow", "dangerous"]),
    ("sync", &["admin", "slow", "dangerous"]),
];

/// The category bits of each [`PHANTOMS`] entry (computed once, with the index).
pub fn phantom_cats() -> &'static [u32] {
    &index().phantom_cats
}

/// One command of the index.
pub struct Entry {
    pub cmd: &'static Command,
    pub parent: Option<&'static Command>,
    pub fullname: String,
    pub cats: u32,
    /// Ids of the subcommands (containers only).
    pub children: Vec<usize>,
    /// Key specs with the access they need (specs marked `not_key` left out).
    pub specs: Vec<(&'static KeySpec, u8, bool)>,
    /// The specs' flags cannot be trusted (`variable_flags`): use the getkeys function.
    pub variable: bool,
    /// A command Redis 7.0 does not have: left out when rules are described with
    /// categories (so descriptions match the reference server's).
    pub newer: bool,
    /// Every key spec is `not_key` (sharded channels): the command has no keys.
    pub no_keys: bool,
}

/// Whether a `since` version is later than Redis 7.0.
fn after_7_0(since: &str) -> bool {
    let v: Vec<u32> = since.split('.').filter_map(|p| p.parse().ok()).collect();
    v.first().copied().unwrap_or(0) > 7
        || (v.first() == Some(&7) && v.get(1).copied().unwrap_or(0) > 0)
}

/// Every command, with ids.
pub struct Index {
    pub entries: Vec<Entry>,
    by_ptr: HashMap<usize, usize>,
    by_name: HashMap<String, usize>,
    /// Top-level command ids, in the order rules are described.
    pub top: Vec<usize>,
    /// The category bits of each [`PHANTOMS`] entry.
    phantom_cats: Vec<u32>,
}

fn access_of(spec: &KeySpec) -> u8 {
    let mut f = 0;
    for fl in &spec.flags {
        match fl.as_str() {
            "access" => f |= READ,
            "insert" | "delete" | "update" => f |= WRITE,
            _ => {}
        }
    }
    f
}

impl Index {
    fn build() -> Index {
        let mut idx = Index {
            entries: Vec::new(),
            by_ptr: HashMap::new(),
            by_name: HashMap::new(),
            top: Vec::new(),
            phantom_cats: PHANTOMS
                .iter()
                .map(|(_, cats)| {
                    cats.iter()
                        .filter_map(|c| category(c))
                        .fold(0, |a, b| a | b)
                })
                .collect(),
        };
        let mut all: Vec<&'static Command> = table::families().into_iter().flatten().collect();
        all.sort_by_key(|c| c.name);
        for c in all {
            let id = idx.add(c, None);
            idx.top.push(id);
            let mut kids = Vec::new();
            for s in c.subcommands {
                kids.push(idx.add(s, Some(c)));
            }
            if let Some(e) = idx.entries.get_mut(id) {
                e.children = kids;
            }
        }
        idx
    }

    fn add(&mut self, cmd: &'static Command, parent: Option<&'static Command>) -> usize {
        let fullname = table::full_name(cmd, parent);
        let cats = crate::commands::introspection::acl_categories(cmd)
            .iter()
            .filter_map(|c| category(c))
            .fold(0, |a, b| a | b);
        let mut specs = Vec::new();
        let mut variable = false;
        let mut newer = false;
        if let Some(d) = docs::get(&fullname) {
            newer = d.since.as_deref().is_some_and(after_7_0);
            for s in &d.key_specs {
                if s.flags.iter().any(|f| f == "variable_flags") {
                    variable = true;
                }
                if s.flags.iter().any(|f| f == "not_key") {
                    continue;
                }
                let incomplete = s.flags.iter().any(|f| f == "incomplete");
                specs.push((s, access_of(s), incomplete));
            }
        }
        let no_keys =
            specs.is_empty() && docs::get(&fullname).is_some_and(|d| !d.key_specs.is_empty());
        let id = self.entries.len();
        self.by_ptr.insert(cmd as *const Command as usize, id);
        self.by_name.insert(fullname.clone(), id);
        self.entries.push(Entry {
            cmd,
            parent,
            fullname,
            cats,
            children: Vec::new(),
            specs,
            variable,
            newer,
            no_keys,
        });
        id
    }

    pub fn id_of(&self, cmd: &'static Command) -> Option<usize> {
        self.by_ptr.get(&(cmd as *const Command as usize)).copied()
    }

    /// A command by full lower-case name (`get`, `config|get`).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// Number of ids (the bitmap also has one more bit: "future commands").
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys of a call with the access each needs (Redis's
    /// `getKeysFromCommandWithSpecs`): the key specs when they are complete and
    /// reliable, otherwise the command's own key function with each key's access
    /// taken from the spec that finds it.
    pub fn keys(&self, id: usize, args: &[&[u8]]) -> Vec<(usize, u8)> {
        let Some(e) = self.entries.get(id) else {
            return Vec::new();
        };
        if !e.specs.is_empty() && !e.variable {
            let mut out = Vec::new();
            let mut ok = true;
            for (s, acc, incomplete) in &e.specs {
                match s.find(args) {
                    Some(v) if !*incomplete => out.extend(v.into_iter().map(|i| (i, *acc))),
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                out.retain(|&(i, _)| i < args.len());
                return out;
            }
        }
        if e.no_keys {
            return Vec::new();
        }
        let union = match e.specs.iter().fold(0, |a, s| a | s.1) {
            0 if e.specs.is_empty() => ALL,
            u => u,
        };
        let found: Vec<(Vec<usize>, u8)> = e
            .specs
            .iter()
            .filter_map(|(s, acc, _)| s.find(args).map(|v| (v, *acc)))
            .collect();
        let mut out: Vec<(usize, u8)> = e
            .cmd
            .key_indexes(args)
            .into_iter()
            .filter(|&i| i < args.len())
            .map(|i| {
                let acc = found
                    .iter()
                    .find(|(v, _)| v.contains(&i))
                    .map_or(union, |f| f.1);
                (i, acc)
            })
            .collect();
        match e.fullname.as_str() {
            // sortGetKeys: the sorted key is read, the STORE destination written.
            "sort" | "sort_ro" => {
                for (n, k) in out.iter_mut().enumerate() {
                    k.1 = if n == 0 { READ } else { WRITE };
                }
            }
            // setGetKeys: read too only with GET.
            "set" => {
                let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
                for k in &mut out {
                    k.1 = if get { ALL } else { WRITE };
                }
            }
            _ => {}
        }
        if e.fullname == "bitfield" {
            // Only GET operations: a read (Redis's bitfieldGetKeys).
            let read_only = args
                .iter()
                .skip(2)
                .all(|a| !(a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby")));
            if read_only {
                for k in &mut out {
                    k.1 = READ;
                }
            }
        }
        out
    }
}

/// The index (built once from the static command table).
pub fn index() -> &'static Index {
    static I: OnceLock<Index> = OnceLock::new();
    I.get_or_init(Index::build)
}

/// The channels a call names, with whether each is a pattern (PSUBSCRIBE).
pub fn channels(fullname: &str, args: &[&[u8]]) -> Vec<(usize, bool)> {
    match fullname {
        "publish" | "spublish" => {
            if args.len() > 1 {
                vec![(1, false)]
            } else {
                Vec::new()
            }
        }
        "subscribe" | "ssubscribe" => (1..args.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..args.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}
