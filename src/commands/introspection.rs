//! COMMAND and its subcommands (COUNT, INFO, LIST, DOCS, GETKEYS, GETKEYSANDFLAGS,
//! HELP), driven by the command table plus the documentation data in [`super::docs`].

use super::docs::{self, write_status_set, Doc};
use super::table::full_name;
use super::{args, errors, flags, flags::*, CmdResult, Command, Ctx, RError};
use crate::protocol::Reply;
use crate::util::glob::glob_match;

const F: u64 = LOADING | STALE | SENTINEL;

crate::commands! { static SUBCOMMANDS = [
    Command::new("count", 2, F, count).acl(&["connection"]),
    Command::new("docs", -2, F, docs_cmd).acl(&["connection"]),
    Command::new("getkeys", -3, F, getkeys).acl(&["connection"]),
    Command::new("getkeysandflags", -3, F, getkeysandflags).acl(&["connection"]),
    Command::new("help", 2, F, help).acl(&["connection"]),
    Command::new("info", -2, F, info).acl(&["connection"]),
    Command::new("list", -2, F, list).acl(&["connection"]),
]; }

crate::commands! { pub static COMMANDS = [
    Command::new("command", -1, F, command)
        .acl(&["connection"])
        .subcommands(&SUBCOMMANDS),
]; }

/// ACL categories in the order Redis prints them.
pub const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A command's ACL categories (without `@`), in Redis's order: the table's categories
/// plus those Redis derives from the flags (`write`, `read`, `admin`+`dangerous`,
/// `pubsub`, `fast`, `blocking`, and `slow` for everything not fast).
pub fn acl_categories(cmd: &Command) -> Vec<&'static str> {
    let explicit = |c: &str| {
        cmd.acl
            .iter()
            .any(|a| a.trim_start_matches('@').eq_ignore_ascii_case(c))
    };
    let fast = explicit("fast") || cmd.has(FAST);
    ACL_CATEGORIES
        .iter()
        .copied()
        .filter(|&c| {
            explicit(c)
                || match c {
                    "write" => cmd.has(WRITE),
                    "read" => cmd.has(READONLY) && !explicit("scripting"),
                    "admin" | "dangerous" => cmd.has(ADMIN),
                    "pubsub" => cmd.has(PUBSUB),
                    "fast" => cmd.has(FAST),
                    "blocking" => cmd.has(BLOCKING),
                    "slow" => !fast,
                    _ => false,
                }
        })
        .collect()
}

/// Whether Redis would report `movablekeys`: the table says so, or a key spec is not a
/// plain index + range, or keys come from a `getkeys` function with no key specs known.
pub fn movable_keys(cmd: &Command, doc: Option<&Doc>) -> bool {
    if cmd.has(MOVABLE_KEYS) {
        return true;
    }
    let specs = doc.map(|d| &d.key_specs[..]).unwrap_or(&[]);
    if specs.iter().any(|s| {
        !matches!(s.begin, docs::BeginSearch::Index(_))
            || !matches!(s.find, docs::FindKeys::Range { .. })
    }) {
        return true;
    }
    cmd.getkeys.is_some() && specs.is_empty()
}

/// COMMAND INFO's flag names for a command (hidden flags left out, as Redis does).
pub fn flag_names(cmd: &Command, doc: Option<&Doc>) -> Vec<&'static str> {
    let movable = movable_keys(cmd, doc);
    flags::NAMES
        .iter()
        .filter(|(f, _)| match *f {
            MAY_REPLICATE | SENTINEL | ONLY_SENTINEL => false,
            MOVABLE_KEYS => movable,
            _ => cmd.has(*f),
        })
        .map(|&(_, n)| n)
        .collect()
}

/// Writes one COMMAND INFO entry (the 10-element array, subcommands nested).
pub fn write_info(out: &mut Reply, cmd: &Command, parent: Option<&Command>) {
    let full = full_name(cmd, parent);
    let doc = docs::get(&full);
    out.array(10);
    out.bulk(full.as_bytes());
    out.int(cmd.arity as i64);
    write_status_set(out, &flag_names(cmd, doc));
    out.int(cmd.first_key as i64);
    out.int(cmd.last_key as i64);
    out.int(cmd.step as i64);
    let cats: Vec<String> = acl_categories(cmd)
        .iter()
        .map(|c| format!("@{c}"))
        .collect();
    write_status_set(out, &cats);
    let tips = doc.map(|d| &d.tips[..]).unwrap_or(&[]);
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    let specs = doc.map(|d| &d.key_specs[..]).unwrap_or(&[]);
    out.set(specs.len());
    for s in specs {
        s.write(out);
    }
    if cmd.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(cmd.subcommands.len());
        for sub in cmd.subcommands {
            write_info(out, sub, Some(cmd));
        }
    }
}

/// Writes one command's COMMAND DOCS map (subcommands nested as a map).
pub fn write_docs(out: &mut Reply, cmd: &Command, parent: Option<&Command>) {
    static EMPTY: std::sync::OnceLock<Doc> = std::sync::OnceLock::new();
    let full = full_name(cmd, parent);
    let doc = docs::get(&full).unwrap_or_else(|| {
        EMPTY.get_or_init(|| Doc {
            group: "generic".to_string(),
            ..Doc::default()
        })
    });
    doc.write(out, !cmd.subcommands.is_empty());
    if !cmd.subcommands.is_empty() {
        out.map(cmd.subcommands.len());
        for sub in cmd.subcommands {
            out.bulk(full_name(sub, Some(cmd)).as_bytes());
            write_docs(out, sub, Some(cmd));
        }
    }
}

/// Looks a command up by full name (`get`, `CONFIG|GET`), as COMMAND INFO/DOCS do.
fn lookup_full(ctx: &Ctx, name: &[u8]) -> Option<(&'static Command, Option<&'static Command>)> {
    let mut parts = name.split(|&b| b == b'|');
    let base = ctx.srv.commands.lookup(parts.next()?)?;
    let Some(sub) = parts.next() else {
        return Some((base, None));
    };
    if parts.next().is_some() {
        return None;
    }
    base.subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
        .map(|s| (s, Some(base)))
}

/// COMMAND with no subcommand: every command's info.
fn command(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let all = ctx.srv.commands.all();
    ctx.out.array(all.len());
    for c in all {
        write_info(ctx.out, c, None);
    }
    Ok(())
}

fn count(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.commands.len() as i64);
    Ok(())
}

fn info(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    ctx.out.array(argv.len() - 2);
    for name in &argv[2..] {
        match lookup_full(ctx, name) {
            Some((c, p)) => write_info(ctx.out, c, p),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn docs_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let found: Vec<(&Command, Option<&Command>)> = if argv.len() == 2 {
        ctx.srv
            .commands
            .all()
            .into_iter()
            .map(|c| (c, None))
            .collect()
    } else {
        argv[2..]
            .iter()
            .filter_map(|n| lookup_full(ctx, n))
            .collect()
    };
    ctx.out.map(found.len());
    for (c, p) in found {
        ctx.out.bulk(full_name(c, p).as_bytes());
        write_docs(ctx.out, c, p);
    }
    Ok(())
}

enum Filter<'a> {
    All,
    Module,
    AclCat(Option<&'static str>),
    Pattern(&'a [u8]),
}

fn list(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let filter = match argv.len() {
        2 => Filter::All,
        5 if args::is(argv[2], "filterby") => {
            let arg = argv[4];
            if args::is(argv[3], "module") {
                Filter::Module
            } else if args::is(argv[3], "aclcat") {
                Filter::AclCat(
                    ACL_CATEGORIES
                        .iter()
                        .copied()
                        .find(|c| c.as_bytes().eq_ignore_ascii_case(arg)),
                )
            } else if args::is(argv[3], "pattern") {
                Filter::Pattern(arg)
            } else {
                return Err(errors::SYNTAX);
            }
        }
        _ => return Err(errors::SYNTAX),
    };
    let mut names = Vec::new();
    let mut add = |c: &Command, p: Option<&Command>| {
        let full = full_name(c, p);
        let keep = match &filter {
            Filter::All => true,
            // Ferrodis has no modules.
            Filter::Module => false,
            Filter::AclCat(cat) => cat.is_some_and(|cat| acl_categories(c).contains(&cat)),
            Filter::Pattern(p) => glob_match(p, full.as_bytes(), true),
        };
        if keep {
            names.push(full);
        }
    };
    for c in ctx.srv.commands.all() {
        add(c, None);
        for s in c.subcommands {
            add(s, Some(c));
        }
    }
    ctx.out.bulk_array(names.iter());
    Ok(())
}

/// The key positions (relative to `target`, which starts at the command name) and each
/// key's flags, or the COMMAND GETKEYS error.
fn keys_and_flags(ctx: &Ctx, target: &[&[u8]]) -> Result<Vec<(usize, Vec<String>)>, RError> {
    let invalid = || RError::raw("ERR Invalid command specified");
    let base = target
        .first()
        .and_then(|n| ctx.srv.commands.lookup(n))
        .ok_or_else(invalid)?;
    let (cmd, parent) = if base.subcommands.is_empty() || target.len() == 1 {
        (base, None)
    } else {
        let sub = base
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(target[1]))
            .ok_or_else(invalid)?;
        (sub, Some(base))
    };
    command_keys(cmd, parent, target)
}

/// The keys of the command line `target` (which starts at the command name) for `cmd`
/// (a subcommand of `parent`), with each key's flags, as COMMAND GETKEYSANDFLAGS
/// reports them; or its error.
pub fn command_keys(
    cmd: &Command,
    parent: Option<&Command>,
    target: &[&[u8]],
) -> Result<Vec<(usize, Vec<String>)>, RError> {
    let full = full_name(cmd, parent);
    let specs = docs::get(&full).map(|d| &d.key_specs[..]).unwrap_or(&[]);
    let is_key = |s: &&docs::KeySpec| !s.flags.iter().any(|f| f == "not_key");
    let has_keyspec = specs.iter().any(|s| is_key(&s));
    let has_keys = cmd.getkeys.is_some()
        || if specs.is_empty() {
            cmd.first_key > 0
        } else {
            has_keyspec
        };
    if !has_keys {
        return Err(RError::raw("ERR The command has no key arguments"));
    }
    let argc = target.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(RError::raw(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    // Keys found by each key spec (None: the spec cannot tell).
    let found: Vec<Option<Vec<usize>>> = specs
        .iter()
        .map(|s| {
            if is_key(&s) {
                s.find(target)
            } else {
                Some(Vec::new())
            }
        })
        .collect();
    let from_specs = |partial: bool| -> Option<Vec<(usize, Vec<String>)>> {
        let mut out = Vec::new();
        for (s, f) in specs.iter().zip(&found) {
            // An incomplete spec may miss keys: only good for a best effort.
            if !partial && s.flags.iter().any(|f| f == "incomplete") {
                return None;
            }
            match f {
                Some(keys) => out.extend(keys.iter().map(|&i| (i, s.flags.clone()))),
                None if partial => {}
                None => return None,
            }
        }
        Some(out)
    };
    let varflags = specs
        .iter()
        .any(|s| s.flags.iter().any(|f| f == "variable_flags"));
    // Like Redis: key specs when they are reliable, else the command's own key
    // extraction, else whatever the specs can tell, else the legacy range.
    let mut keys = match (has_keyspec && !varflags)
        .then(|| from_specs(false))
        .flatten()
    {
        Some(k) => k,
        None if cmd.getkeys.is_some() || specs.is_empty() => cmd
            .key_indexes(target)
            .into_iter()
            .filter(|&i| i < target.len())
            .map(|i| {
                let spec = found
                    .iter()
                    .position(|f| f.as_ref().is_some_and(|v| v.contains(&i)))
                    .and_then(|n| specs.get(n))
                    .or(specs.first());
                (i, spec.map(|s| s.flags.clone()).unwrap_or_default())
            })
            .collect(),
        None => from_specs(true).unwrap_or_default(),
    };
    if let Some(flags) = variable_key_flags(&full, target) {
        for k in &mut keys {
            k.1 = flags.clone();
        }
    }
    if keys.is_empty() && !cmd.has(NO_MANDATORY_KEYS) {
        return Err(RError::raw("ERR Invalid arguments specified for command"));
    }
    Ok(keys)
}

/// Key flags of the commands whose key spec says `variable_flags`: they depend on the
/// arguments (Redis's `setGetKeys` / `bitfieldGetKeys`).
fn variable_key_flags(full: &str, argv: &[&[u8]]) -> Option<Vec<String>> {
    let v = |f: &[&str]| Some(f.iter().map(|s| s.to_string()).collect());
    match full {
        "set" => {
            if argv.iter().skip(3).any(|a| args::is(a, "get")) {
                v(&["RW", "access", "update"])
            } else {
                v(&["OW", "update"])
            }
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argv.len() {
                let rem = argv.len() - i - 1;
                let a = argv[i];
                if args::is(a, "get") && rem >= 2 {
                    i += 2;
                } else if (args::is(a, "set") || args::is(a, "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if args::is(a, "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            if readonly {
                v(&["RO", "access"])
            } else {
                v(&["RW", "access", "update"])
            }
        }
        _ => None,
    }
}

fn getkeys(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let target = &argv[2..];
    let keys = keys_and_flags(ctx, target)?;
    ctx.out.array(keys.len());
    for (i, _) in keys {
        ctx.out.bulk(target[i]);
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let target = &argv[2..];
    let keys = keys_and_flags(ctx, target)?;
    ctx.out.array(keys.len());
    for (i, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(target[i]);
        write_status_set(ctx.out, &flags);
    }
    Ok(())
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Describe every command of this server.",
    "COUNT",
    "    Number of commands this server offers.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Names of the commands of this server, optionally filtered.",
    "INFO [<command-name> ...]",
    "    Describe the named commands (all commands when none is named).",
    "DOCS [<command-name> ...]",
    "    Documentation of the named commands (all commands when none is named).",
    "GETKEYS <full-command>",
    "    The keys a full command line would access.",
    "GETKEYSANDFLAGS <full-command>",
    "    The keys a full command line would access, with their access flags.",
    "HELP",
    "    Print this help.",
];

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(HELP.len());
    for l in HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reply::Proto;

    fn entry(name: &str) -> &'static Command {
        crate::commands::table::CommandTable::new()
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in the table"))
    }

    /// RESP3 bytes of `COMMAND INFO get` as the reference server (7.0.15, same as 7.2
    /// for GET) sends them after `HELLO 3`: sets for flags, categories, tips and key
    /// specs, maps inside key specs, an empty set for no subcommands.
    #[test]
    fn info_resp3_shape_matches_redis() {
        let mut r = Reply::new(Proto::Resp3);
        write_info(&mut r, entry("get"), None);
        let want = "*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
            ~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n\
            +access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n\
            %1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n\
            $4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n\
            ~0\r\n";
        assert_eq!(String::from_utf8_lossy(&r.buf), want);
    }

    #[test]
    fn info_of_a_container_nests_subcommands_as_an_array() {
        let mut r = Reply::new(Proto::Resp3);
        let cmd = entry("command");
        write_info(&mut r, cmd, None);
        let s = String::from_utf8_lossy(&r.buf).into_owned();
        assert!(s.starts_with("*10\r\n$7\r\ncommand\r\n:-1\r\n~2\r\n+loading\r\n+stale\r\n"));
        let subs = format!(
            "~0\r\n*{}\r\n*10\r\n$13\r\ncommand|count\r\n",
            cmd.subcommands.len()
        );
        assert!(s.contains(&subs), "{s}");
    }

    /// COMMAND DOCS: a map per command; arguments an array of maps with flags as a set;
    /// subcommands a map keyed by full name.
    #[test]
    fn docs_resp3_shape() {
        let mut r = Reply::new(Proto::Resp3);
        write_docs(&mut r, entry("get"), None);
        let s = String::from_utf8_lossy(&r.buf).into_owned();
        assert!(s.starts_with("%4\r\n$7\r\nsummary\r\n"), "{s}");
        assert!(s.contains(
            "$9\r\narguments\r\n*1\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n\
             $12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
        ));
        let mut r = Reply::new(Proto::Resp3);
        write_docs(&mut r, entry("set"), None);
        let s = String::from_utf8_lossy(&r.buf).into_owned();
        assert!(s.contains("$5\r\nflags\r\n~1\r\n+optional\r\n"), "{s}");
        let mut r = Reply::new(Proto::Resp3);
        let cmd = entry("command");
        write_docs(&mut r, cmd, None);
        let s = String::from_utf8_lossy(&r.buf).into_owned();
        let subs = format!(
            "$11\r\nsubcommands\r\n%{}\r\n$13\r\ncommand|count\r\n%",
            cmd.subcommands.len()
        );
        assert!(s.contains(&subs), "{s}");
        // RESP2: the same maps flattened.
        let mut r = Reply::new(Proto::Resp2);
        write_docs(&mut r, entry("get"), None);
        assert!(r.buf.starts_with(b"*8\r\n$7\r\nsummary\r\n"));
    }

    #[test]
    fn acl_categories_add_implicit_ones_in_redis_order() {
        let c = Command::new("x", 1, WRITE | ADMIN, crate::commands::container).acl(&["keyspace"]);
        assert_eq!(
            acl_categories(&c),
            ["keyspace", "write", "admin", "slow", "dangerous"]
        );
        let c = Command::new(
            "y",
            1,
            READONLY | FAST | BLOCKING,
            crate::commands::container,
        )
        .acl(&["@list"]);
        assert_eq!(acl_categories(&c), ["read", "list", "fast", "blocking"]);
    }
}
