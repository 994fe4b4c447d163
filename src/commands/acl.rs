//! ACL commands: ACL SETUSER, GETUSER, DELUSER, USERS, LIST, WHOAMI, CAT, GENPASS, LOG,
//! SAVE, LOAD, DRYRUN, HELP. Users and rules live in `crate::acl`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{args, flags::*, CmdResult, Command, Ctx, RError};
use crate::acl::{self, file, index, user::merge_selectors, Denied, User, UserCell};
use crate::server::Server;

const SUB: u64 = NOSCRIPT | LOADING | STALE | SENTINEL;
const ADM: &[&str] = &["admin", "slow", "dangerous"];

crate::commands! { pub static SUBCOMMANDS = [
    Command::new("cat", -2, SUB, cat).acl(&["slow"]),
    Command::new("deluser", -3, ADMIN | SUB, deluser).acl(ADM),
    Command::new("dryrun", -4, ADMIN | SUB, dryrun).acl(ADM),
    Command::new("genpass", -2, SUB, genpass).acl(&["slow"]),
    Command::new("getuser", 3, ADMIN | SUB, getuser).acl(ADM),
    Command::new("help", 2, LOADING | STALE | SENTINEL, help).acl(&["slow"]),
    Command::new("list", 2, ADMIN | SUB, list).acl(ADM),
    Command::new("load", 2, ADMIN | SUB, load).acl(ADM),
    Command::new("log", -2, ADMIN | SUB, log).acl(ADM),
    Command::new("save", 2, ADMIN | SUB, save).acl(ADM),
    Command::new("setuser", -3, ADMIN | SUB, setuser).acl(ADM),
    Command::new("users", 2, ADMIN | SUB, users).acl(ADM),
    Command::new("whoami", 2, SUB, whoami).acl(&["slow"]),
]; }

crate::commands! { pub static COMMANDS = [
    Command::new("acl", -2, SENTINEL, super::container)
        .acl(&["slow"])
        .subcommands(&SUBCOMMANDS),
]; }

/// The value of `acl-pubsub-default`: new users get `allchannels`.
pub fn pubsub_all(srv: &Server) -> bool {
    srv.config.read().str("acl-pubsub-default") == "allchannels"
}

fn has_spaces(name: &[u8]) -> bool {
    name.iter().any(|&c| c == b' ' || c == 0)
}

fn setuser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let name = argv[2];
    if has_spaces(name) {
        return Err(RError::raw(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let merged = merge_selectors(&argv[3..]).map_err(RError::err)?;
    let pa = pubsub_all(ctx.srv);
    let existing = ctx.srv.acl.get(name);
    let mut u = match &existing {
        Some(c) => c.user.read().clone(),
        None => User::new(&String::from_utf8_lossy(name), pa),
    };
    for op in &merged {
        if let Err(e) = u.apply(op, pa) {
            return Err(RError::owned(format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(op),
                e.text()
            )));
        }
    }
    let cell = ctx.srv.acl.put(u);
    kill_lost_subscribers(ctx, &cell);
    ctx.out.ok();
    Ok(())
}

/// Disconnects the user's clients subscribed to channels its new rules deny.
fn kill_lost_subscribers(ctx: &mut Ctx, cell: &Arc<UserCell>) {
    let u = cell.user.read().clone();
    if u.selectors.first().is_none_or(|s| s.all_channels) {
        return;
    }
    use crate::server::pubsub::Kind;
    for c in ctx.srv.clients.snapshot() {
        if *c.user.lock() != u.name || !c.pubsub.any() {
            continue;
        }
        let lost = ctx
            .srv
            .pubsub
            .subscriptions_of(c.id)
            .iter()
            .any(|(k, n)| !u.may_keep_subscription(n, matches!(k, Kind::Pattern)));
        if !lost {
            continue;
        }
        if c.id == ctx.client.id {
            ctx.client.close_after_reply = true;
            continue;
        }
        c.kill();
        ctx.srv.clients.remove(c.id);
        ctx.srv.pubsub.drop_client(c.id);
        crate::server::tracking::disable(ctx.srv, &c);
        ctx.srv.monitors.remove(c.id);
    }
}

fn getuser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(cell) = ctx.srv.acl.get(argv[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let u = cell.user.read().clone();
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let fl = u.flag_names();
    out.set(fl.len());
    for f in fl {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    let describe = |out: &mut crate::protocol::Reply, s: &acl::user::Selector| {
        out.bulk(b"commands");
        out.bulk(s.describe_commands().as_bytes());
        out.bulk(b"keys");
        out.bulk(&s.describe_keys());
        out.bulk(b"channels");
        out.bulk(&s.describe_channels());
    };
    if let Some(root) = u.selectors.first() {
        describe(out, root);
    }
    out.bulk(b"selectors");
    out.array(u.selectors.len().saturating_sub(1));
    for s in u.selectors.iter().skip(1) {
        out.map(3);
        describe(out, s);
    }
    Ok(())
}

/// Closes the connections authenticated as `cell`'s user (a deleted or replaced user).
pub fn kill_clients_of(srv: &Server, cell: &Arc<UserCell>, me: u64, close_me: &mut bool) {
    let name = cell.name();
    for c in srv.clients.snapshot() {
        if *c.user.lock() != name {
            continue;
        }
        if c.id == me {
            *close_me = true;
            continue;
        }
        c.kill();
        srv.clients.remove(c.id);
        srv.pubsub.drop_client(c.id);
        crate::server::tracking::disable(srv, &c);
        srv.monitors.remove(c.id);
    }
}

fn deluser(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv[2..].iter().any(|n| *n == b"default") {
        return Err(RError::raw("ERR The 'default' user cannot be removed"));
    }
    let mut n = 0;
    let mut close_me = false;
    for name in &argv[2..] {
        if let Some(cell) = ctx.srv.acl.remove(name) {
            n += 1;
            kill_clients_of(ctx.srv, &cell, ctx.client.id, &mut close_me);
        }
    }
    if close_me {
        ctx.client.close_after_reply = true;
    }
    ctx.out.int(n);
    Ok(())
}

fn users(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let all = ctx.srv.acl.all();
    ctx.out.array(all.len());
    for c in all {
        ctx.out.bulk(c.name().as_bytes());
    }
    Ok(())
}

fn list(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let all = ctx.srv.acl.all();
    ctx.out.array(all.len());
    for c in all {
        let u = c.user.read();
        let mut line = b"user ".to_vec();
        line.extend_from_slice(u.name.as_bytes());
        line.push(b' ');
        line.extend_from_slice(&u.describe());
        drop(u);
        ctx.out.bulk(&line);
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let name = ctx.client.user.clone();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn cat(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            args::text(argv[1])
        )));
    }
    if argv.len() == 2 {
        ctx.out.array(index::CATEGORIES.len());
        for c in index::CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    }
    let name = args::text(argv[2]);
    let Some(bit) = index::category(&name) else {
        return Err(RError::owned(format!("ERR Unknown category '{name}'")));
    };
    let ix = index::index();
    let names: Vec<&str> = ix
        .entries
        .iter()
        .filter(|e| e.cats & bit != 0)
        .map(|e| e.fullname.as_str())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            args::text(argv[1])
        )));
    }
    let bits = if argv.len() == 3 {
        let b = args::int(argv[2])?;
        if b <= 0 || b > 4096 {
            return Err(RError::raw("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
        }
        b as usize
    } else {
        256
    };
    let chars = bits.div_ceil(4);
    let s = crate::server::random_hex(chars);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

fn log(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(RError::owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            args::text(argv[1])
        )));
    }
    let mut count = 10usize;
    if argv.len() == 3 {
        if args::is(argv[2], "reset") {
            ctx.srv.acl.log.lock().clear();
            ctx.out.ok();
            return Ok(());
        }
        count = args::int(argv[2])?.max(0) as usize;
    }
    let now = crate::util::time::now_ms();
    let log = ctx.srv.acl.log.lock();
    let n = count.min(log.len());
    ctx.out.array(n);
    for e in log.iter().take(n) {
        let out = &mut *ctx.out;
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.reason().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

const NO_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn save(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let path = ctx.srv.config.read().str("aclfile");
    if path.is_empty() {
        return Err(RError::raw(NO_FILE));
    }
    save_to(ctx.srv, &path).map_err(|e| {
        crate::server::log::warning(&format!("Error saving ACLs: {e}"));
        RError::raw("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.out.ok();
    Ok(())
}

/// Writes every user to `path` (a temporary file renamed over it, as Redis does).
pub fn save_to(srv: &Server, path: &str) -> std::io::Result<()> {
    let users = srv.acl.snapshot();
    let text = file::render(&users);
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, &text)?;
    std::fs::rename(&tmp, path)
}

/// Loads `path` into the registry (ACL LOAD and startup); returns Redis's error text.
pub fn load_from(srv: &Server, path: &str) -> Result<Vec<Arc<UserCell>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        // strerror's text, without Rust's " (os error N)".
        let msg = e.to_string();
        let msg = msg
            .split(" (os error")
            .next()
            .unwrap_or_default()
            .to_string();
        format!("Error loading ACLs, opening file '{path}': {msg}")
    })?;
    let users = file::parse(&text, path, pubsub_all(srv))?;
    Ok(srv.acl.replace_all(users))
}

fn load(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    let path = ctx.srv.config.read().str("aclfile");
    if path.is_empty() {
        return Err(RError::raw(NO_FILE));
    }
    let gone = load_from(ctx.srv, &path).map_err(RError::err)?;
    let mut close_me = false;
    for cell in &gone {
        kill_clients_of(ctx.srv, cell, ctx.client.id, &mut close_me);
    }
    if close_me {
        ctx.client.close_after_reply = true;
    }
    ctx.out.ok();
    Ok(())
}

fn dryrun(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let Some(cell) = ctx.srv.acl.get(argv[2]) else {
        return Err(RError::owned(format!(
            "ERR User '{}' not found",
            args::text(argv[2])
        )));
    };
    let call = &argv[3..];
    let not_found = || RError::owned(format!("ERR Command '{}' not found", args::text(call[0])));
    let Some(top) = ctx.srv.commands.lookup(call[0]) else {
        return Err(not_found());
    };
    let (cmd, parent) = if !top.subcommands.is_empty() && call.len() >= 2 {
        let sub = call[1].to_ascii_lowercase();
        match top
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes() == sub.as_slice())
        {
            Some(s) => (s, Some(top)),
            None => return Err(not_found()),
        }
    } else {
        (top, None)
    };
    let argc = call.len() as i32;
    if (cmd.arity > 0 && cmd.arity != argc) || argc < -cmd.arity {
        return Err(RError::owned(format!(
            "ERR wrong number of arguments for '{}' command",
            super::table::full_name(cmd, parent)
        )));
    }
    let u = cell.user.read();
    match u.check(cmd, parent, call) {
        Ok(()) => ctx.out.ok(),
        Err((d, i)) => {
            let msg = match d {
                Denied::Cmd => format!(
                    "This user has no permissions to run the '{}' command",
                    super::table::full_name(cmd, parent)
                ),
                Denied::Key => format!(
                    "This user has no permissions to access the '{}' key",
                    args::text(call.get(i).copied().unwrap_or_default())
                ),
                _ => format!(
                    "This user has no permissions to access the '{}' channel",
                    args::text(call.get(i).copied().unwrap_or_default())
                ),
            };
            ctx.out.bulk(msg.as_bytes());
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}

/// Records a denial in ACL LOG (`acllog-max-len` entries at most). The client's
/// `cmd=` in `client-info` is the command being run (`current`), as in Redis.
pub fn log_denial(
    srv: &Server,
    client: &crate::server::client::ClientState,
    current: (&'static Command, Option<&'static Command>),
    d: Denied,
    context: &'static str,
    object: &[u8],
) {
    let max = srv.config.read().int("acllog-max-len").max(0) as usize;
    let now = crate::util::time::now_ms();
    *client.info.last_cmd.lock() = Some(current);
    srv.acl.log_denial(
        d,
        context,
        object,
        client.user.as_bytes(),
        client.info.describe(now),
        now,
        max,
    );
}

/// The user a client runs as.
pub fn user_of<'a>(
    srv: &'a Server,
    client: &'a crate::server::client::ClientState,
) -> &'a Arc<UserCell> {
    client.acl_user.as_ref().unwrap_or(&srv.acl.default)
}

/// Dispatcher hook: checks the client's permission for a call. `Ok` at once (one
/// relaxed load) for users who can run anything.
#[inline]
pub fn check(
    srv: &Server,
    client: &crate::server::client::ClientState,
    cmd: &'static Command,
    parent: Option<&'static Command>,
    args: &[&[u8]],
) -> Result<(), (Denied, usize)> {
    let cell = user_of(srv, client);
    // The AOF loader runs with every permission, as Redis's fake client (no user).
    if cell.unrestricted.load(Ordering::Relaxed) || client.loader {
        return Ok(());
    }
    let u = cell.user.read();
    u.check(cmd, parent, args)
}

/// The object ACL LOG records for a denial.
pub fn denial_object(
    d: Denied,
    cmd: &Command,
    parent: Option<&Command>,
    args: &[&[u8]],
    i: usize,
) -> Vec<u8> {
    match d {
        Denied::Cmd => super::table::full_name(cmd, parent).into_bytes(),
        _ => args.get(i).map(|a| a.to_vec()).unwrap_or_default(),
    }
}

/// A `redis.call` the script's user may not make: logged (context `lua`) and Redis's
/// error text for the script.
pub fn script_denial(
    ctx: &mut Ctx,
    cmd: &'static Command,
    parent: Option<&'static Command>,
    args: &[&[u8]],
    denied: Denied,
    pos: usize,
) -> String {
    let object = denial_object(denied, cmd, parent, args, pos);
    let current = (ctx.cmd, None);
    log_denial(ctx.srv, ctx.client, current, denied, "lua", &object);
    match denied {
        Denied::Cmd => "The user executing the script can't run this command or subcommand",
        Denied::Key => "The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel => "The user executing the script can't publish to the channel mentioned in the command",
        Denied::Auth => "The user executing the script is lacking the permissions for the command",
    }
    .to_string()
}

/// `redis.acl_check_cmd(cmd, args...)`: a RESP3 boolean reply, or the error for an
/// unknown command.
pub fn script_acl_check(ctx: &mut Ctx, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    let invalid = || "Invalid command passed to redis.acl_check_cmd()".to_string();
    let top = ctx.srv.commands.lookup(args[0]).ok_or_else(invalid)?;
    let (cmd, parent) = if !top.subcommands.is_empty() && args.len() >= 2 {
        let sub = args[1].to_ascii_lowercase();
        match top
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes() == sub.as_slice())
        {
            Some(s) => (s, Some(top)),
            None => return Err(invalid()),
        }
    } else {
        (top, None)
    };
    let ok = check(ctx.srv, ctx.client, cmd, parent, args).is_ok();
    Ok(if ok {
        b"#t\r\n".to_vec()
    } else {
        b"#f\r\n".to_vec()
    })
}

/// SORT's BY (with a `*` pattern) and GET name keys that cannot be checked beforehand:
/// Redis refuses them unless the user may read every key.
pub fn check_sort_patterns(ctx: &Ctx, argv: &[&[u8]]) -> CmdResult {
    let cell = user_of(ctx.srv, ctx.client);
    if cell.unrestricted.load(Ordering::Relaxed) {
        return Ok(());
    }
    let full = cell.user.read().full_key_access(ctx.cmd, None, argv);
    if full {
        return Ok(());
    }
    let mut j = 2;
    while j + 1 < argv.len() {
        if args::is(argv[j], "by") && argv[j + 1].contains(&b'*') {
            return Err(RError::raw(
                "ERR BY option of SORT denied due to insufficient ACL permissions.",
            ));
        }
        if args::is(argv[j], "get") {
            return Err(RError::raw(
                "ERR GET option of SORT denied due to insufficient ACL permissions.",
            ));
        }
        j += 1;
    }
    Ok(())
}
