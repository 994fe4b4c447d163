//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
//! SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH and PUBSUB CHANNELS / NUMSUB / NUMPAT /
//! SHARDCHANNELS / SHARDNUMSUB / HELP. Delivery, queues and output buffer limits live
//! in `server::pubsub`; this module only parses arguments and writes replies.

use super::{flags::*, CmdResult, Command, Ctx, Lock, RError};
use crate::server::pubsub::{self, Kind};

const SUB: u64 = PUBSUB | NOSCRIPT | LOADING | STALE;

crate::commands! { static PUBSUB_SUBCOMMANDS = [
    Command::new("channels", -2, PUBSUB | LOADING | STALE, channels),
    Command::new("help", 2, LOADING | STALE, help),
    Command::new("numpat", 2, PUBSUB | LOADING | STALE, numpat),
    Command::new("numsub", -2, PUBSUB | LOADING | STALE, numsub),
    Command::new("shardchannels", -2, PUBSUB | LOADING | STALE, shardchannels),
    Command::new("shardnumsub", -2, PUBSUB | LOADING | STALE, shardnumsub),
]; }

crate::commands! { pub static COMMANDS = [
    Command::new("subscribe", -2, SUB | SENTINEL, subscribe),
    Command::new("unsubscribe", -1, SUB | SENTINEL, unsubscribe),
    Command::new("psubscribe", -2, SUB | SENTINEL, psubscribe),
    Command::new("punsubscribe", -1, SUB | SENTINEL, punsubscribe),
    Command::new(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | SENTINEL,
        publish
    ),
    // Shard channels are declared as (not_key) keys, as in Redis; they lock nothing.
    Command::new("ssubscribe", -2, SUB, ssubscribe)
        .keys(1, -1, 1)
        .lock(Lock::None),
    Command::new("sunsubscribe", -1, SUB, sunsubscribe)
        .keys(1, -1, 1)
        .lock(Lock::None),
    Command::new(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        spublish
    )
    .keys(1, 1, 1)
    .lock(Lock::None),
    Command::new("pubsub", -2, 0, super::container).subcommands(&PUBSUB_SUBCOMMANDS),
]; }

fn kind_name(kind: Kind, sub: bool) -> &'static [u8] {
    match (kind, sub) {
        (Kind::Channel, true) => b"subscribe",
        (Kind::Channel, false) => b"unsubscribe",
        (Kind::Pattern, true) => b"psubscribe",
        (Kind::Pattern, false) => b"punsubscribe",
        (Kind::Shard, true) => b"ssubscribe",
        (Kind::Shard, false) => b"sunsubscribe",
    }
}

/// One (un)subscribe confirmation: `[kind, name or nil, count]` (a push in RESP3).
fn confirm(ctx: &mut Ctx, kind: Kind, sub: bool, name: Option<&[u8]>) {
    let count = ctx.client.pubsub.reply_count(kind);
    ctx.out.push(3);
    ctx.out.bulk(kind_name(kind, sub));
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn do_subscribe(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) -> CmdResult {
    for &name in &argv[1..] {
        pubsub::subscribe(ctx.srv, ctx.client, kind, name);
        confirm(ctx, kind, true, Some(name));
    }
    Ok(())
}

fn do_unsubscribe(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) -> CmdResult {
    if argv.len() == 1 {
        let names = ctx.client.pubsub.names(kind);
        if names.is_empty() {
            confirm(ctx, kind, false, None);
        }
        for name in names {
            pubsub::unsubscribe(ctx.srv, ctx.client, kind, &name);
            confirm(ctx, kind, false, Some(&name));
        }
    } else {
        for &name in &argv[1..] {
            pubsub::unsubscribe(ctx.srv, ctx.client, kind, name);
            confirm(ctx, kind, false, Some(name));
        }
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Channel)
}

fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Pattern)
}

fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Shard)
}

fn sunsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Shard)
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let me = Some((ctx.client.id, &mut *ctx.out));
    let n = ctx.srv.pubsub.publish(argv[1], argv[2], me);
    ctx.out.int(n as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let me = Some((ctx.client.id, &mut *ctx.out));
    let n = ctx.srv.pubsub.spublish(argv[1], argv[2], me);
    ctx.out.int(n as i64);
    Ok(())
}

/// The error Redis gives PUBSUB subcommands called with a wrong argument count that
/// the table's arity lets through.
fn syntax_error(argv: &[&[u8]]) -> RError {
    RError::owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
    ))
}

fn list_names(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) -> CmdResult {
    if argv.len() > 3 {
        return Err(syntax_error(argv));
    }
    let names = ctx.srv.pubsub.names(kind, argv.get(2).copied());
    ctx.out.bulk_array(names.iter());
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn channels(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    list_names(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn shardchannels(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    list_names(ctx, argv, Kind::Shard)
}

fn count_subscribers(ctx: &mut Ctx, argv: &[&[u8]], kind: Kind) -> CmdResult {
    ctx.out.array((argv.len() - 2) * 2);
    for &name in &argv[2..] {
        ctx.out.bulk(name);
        ctx.out.int(ctx.srv.pubsub.subscribers(kind, name) as i64);
    }
    Ok(())
}

/// PUBSUB NUMSUB [channel ...]
fn numsub(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Channel)
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
fn shardnumsub(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, argv, Kind::Shard)
}

/// PUBSUB NUMPAT: distinct patterns with subscribers.
fn numpat(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.count(Kind::Pattern) as i64);
    Ok(())
}

fn help(ctx: &mut Ctx, _argv: &[&[u8]]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}

/// PING in RESP2 subscriber mode replies `["pong", <message or "">]`; false when the
/// normal PING reply applies.
pub fn ping_in_subscriber_mode(ctx: &mut Ctx, argv: &[&[u8]]) -> bool {
    if ctx.out.is_resp3() || !ctx.client.pubsub.active() || argv.len() > 2 {
        return false;
    }
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out.bulk(argv.get(1).copied().unwrap_or_default());
    true
}

/// RESET: leaves every channel and pattern (without confirmations, as in Redis).
pub fn reset(ctx: &mut Ctx) {
    pubsub::unsubscribe_all(ctx.srv, ctx.client);
}
