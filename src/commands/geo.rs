//! Geospatial commands (Redis's `geo.c`): positions stored in sorted sets, the score
//! of each member being the 52-bit geohash of its position (`util::geohash`).
//!
//! GEOADD rewrites its arguments into a ZADD (as Redis does) and runs the sorted set
//! code; the searches (GEORADIUS*, GEOSEARCH*) scan the score ranges of the 9 cells
//! covering the query, keep the members inside the circle or box, then sort them the
//! way Redis does (glibc's merge sort, or Redis's partial quicksort when COUNT cuts
//! the result), so that ties and COUNT cut-offs come out in the same order.

use super::{args, errors, flags::*, zset, CmdResult, Command, Ctx, RError};
use crate::types::zset::{ScoreRange, ZSetValue};
use crate::types::Value;
use crate::util::geohash::{self, Shape, ShapeKind};
use crate::util::longdouble::LongDouble;
use crate::util::num::parse_f64;

crate::commands! { pub static COMMANDS = [
    Command::new("geoadd", -5, WRITE | DENYOOM, geoadd)
        .keys(1, 1, 1)
        .acl(&["write", "geo", "slow"]),
    Command::new("geodist", -4, READONLY, geodist)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("geohash", -2, READONLY, geohash_cmd)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("geopos", -2, READONLY, geopos)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("georadius", -6, WRITE | DENYOOM, georadius)
        .keys(1, 1, 1)
        .getkeys(georadius_keys)
        .acl(&["write", "geo", "slow"]),
    Command::new("georadius_ro", -6, READONLY, georadius_ro)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("georadiusbymember", -5, WRITE | DENYOOM, georadiusbymember)
        .keys(1, 1, 1)
        .getkeys(georadius_keys)
        .acl(&["write", "geo", "slow"]),
    Command::new("georadiusbymember_ro", -5, READONLY, georadiusbymember_ro)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("geosearch", -7, READONLY, geosearch)
        .keys(1, 1, 1)
        .acl(&["read", "geo", "slow"]),
    Command::new("geosearchstore", -8, WRITE | DENYOOM, geosearchstore)
        .keys(1, 2, 1)
        .acl(&["write", "geo", "slow"]),
]; }

/// Keys of GEORADIUS / GEORADIUSBYMEMBER: the source, plus the key after every
/// STORE / STOREDIST from argument 5 on (Redis's `georadiusGetKeys` keeps the last
/// one; every candidate is returned here so that whichever one the command ends up
/// writing is locked).
fn georadius_keys(argv: &[&[u8]]) -> Vec<usize> {
    let mut v = Vec::new();
    if argv.len() > 1 {
        v.push(1);
    }
    let mut i = 5;
    while i < argv.len() {
        if (kw(argv[i], "store") || kw(argv[i], "storedist")) && i + 1 < argv.len() {
            if !v.contains(&(i + 1)) {
                v.push(i + 1);
            }
            i += 1;
        }
        i += 1;
    }
    v
}

/// Redis compares option names with `strcasecmp` on the C string: the argument ends
/// at its first NUL byte.
fn kw(arg: &[u8], name: &str) -> bool {
    let end = arg.iter().position(|&c| c == 0).unwrap_or(arg.len());
    args::is(&arg[..end], name)
}

// ---------------------------------------------------------------------------
// Argument helpers

/// A double as Redis's `getDoubleFromObject` reads it (`strtod` over the whole
/// argument): hexadecimal accepted, overflow and underflow to zero refused.
fn parse_double(arg: &[u8]) -> Option<f64> {
    let body = match arg.first() {
        Some(b'+') | Some(b'-') => &arg[1..],
        _ => arg,
    };
    if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        return parse_hex_double(arg);
    }
    let v = parse_f64(arg)?;
    if v.is_infinite()
        && !body.eq_ignore_ascii_case(b"inf")
        && !body.eq_ignore_ascii_case(b"infinity")
    {
        return None; // ERANGE overflow
    }
    if v == 0.0 {
        // ERANGE underflow: nonzero digits in the mantissa that rounded to zero.
        let mant_end = body
            .iter()
            .position(|&c| c == b'e' || c == b'E')
            .unwrap_or(body.len());
        if body[..mant_end].iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

/// A hexadecimal float (`0x1.8p3`), through the exact `strtold` parser, narrowed to
/// a double when the value is a normal double.
fn parse_hex_double(arg: &[u8]) -> Option<f64> {
    let ld = LongDouble::parse(arg)?;
    if ld.inf {
        return None;
    }
    if ld.mant == 0 {
        return Some(if ld.neg { -0.0 } else { 0.0 });
    }
    // mant * 2^exp, rounded to 53 bits by the integer conversion.
    let m = ld.mant as f64;
    let lead = 63 - ld.mant.leading_zeros() as i32 + ld.exp;
    if !(-1022..=1023).contains(&lead) {
        return None;
    }
    let mut v = m;
    let mut e = ld.exp;
    while e > 0 {
        let s = e.min(60);
        v *= (1u64 << s) as f64;
        e -= s;
    }
    while e < 0 {
        let s = (-e).min(60);
        v /= (1u64 << s) as f64;
        e += s;
    }
    if v.is_infinite() {
        return None;
    }
    Some(if ld.neg { -v } else { v })
}

/// `extractLongLatOrReply`: a longitude and a latitude within the WGS84 limits.
fn extract_long_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), RError> {
    let x = parse_double(lon).ok_or(errors::NOT_FLOAT)?;
    let y = parse_double(lat).ok_or(errors::NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(RError::owned(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok((x, y))
}

/// `extractUnitOrReply`: metres per unit.
fn extract_unit(unit: &[u8]) -> Result<f64, RError> {
    if kw(unit, "m") {
        Ok(1.0)
    } else if kw(unit, "km") {
        Ok(1000.0)
    } else if kw(unit, "ft") {
        Ok(0.3048)
    } else if kw(unit, "mi") {
        Ok(1609.34)
    } else {
        Err(RError::raw(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// `extractDistanceOrReply`: `<radius> <unit>`, returning (radius, conversion).
fn extract_distance(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), RError> {
    let d = parse_double(radius).ok_or(RError::raw("ERR need numeric radius"))?;
    if d < 0.0 {
        return Err(RError::raw("ERR radius cannot be negative"));
    }
    Ok((d, extract_unit(unit)?))
}

/// `extractBoxOrReply`: `<width> <height> <unit>`, returning (width, height,
/// conversion).
fn extract_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), RError> {
    let w = parse_double(width).ok_or(RError::raw("ERR need numeric width"))?;
    let h = parse_double(height).ok_or(RError::raw("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(RError::raw("ERR height or width cannot be negative"));
    }
    Ok((w, h, extract_unit(unit)?))
}

/// A distance as Redis prints it (`%.4f`).
fn fmt_distance(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    format!("{d:.4}")
}

/// A coordinate as Redis's `addReplyHumanLongDouble` prints it: the double widened to
/// a long double, `%.17Lf` with trailing zeros trimmed.
fn fmt_coord(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    let bits = d.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mant, exp) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    LongDouble {
        neg: d.is_sign_negative(),
        inf: false,
        mant,
        exp,
    }
    .to_human_string()
}

/// A coordinate reply: a bulk string in RESP2, a double in RESP3.
fn reply_coord(ctx: &mut Ctx, d: f64) {
    let s = fmt_coord(d);
    if ctx.out.is_resp3() {
        ctx.out.raw(b",");
        ctx.out.raw(s.as_bytes());
        ctx.out.raw(b"\r\n");
    } else {
        ctx.out.bulk(s.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// GEOADD

fn geoadd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let (mut xx, mut nx, mut ch) = (false, false, false);
    let mut longidx = 2;
    while longidx < argv.len() {
        let opt = argv[longidx];
        if kw(opt, "nx") {
            nx = true;
        } else if kw(opt, "xx") {
            xx = true;
        } else if kw(opt, "ch") {
            ch = true;
        } else {
            break;
        }
        longidx += 1;
    }
    if !(argv.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(errors::SYNTAX);
    }
    // The equivalent ZADD: options kept, each triple turned into score + member.
    let elements = (argv.len() - longidx) / 3;
    let mut scores: Vec<String> = Vec::with_capacity(elements);
    for i in 0..elements {
        let base = longidx + i * 3;
        let (x, y) = extract_long_lat(argv[base], argv[base + 1])?;
        let bits = geohash::encode_score(x, y).unwrap_or(0);
        scores.push(bits.to_string());
    }
    let mut zargv: Vec<&[u8]> = Vec::with_capacity(longidx + elements * 2);
    zargv.push(b"zadd");
    zargv.extend_from_slice(&argv[1..longidx]);
    for (i, s) in scores.iter().enumerate() {
        zargv.push(s.as_bytes());
        zargv.push(argv[longidx + i * 3 + 2]);
    }
    let mut flags = 0;
    if nx {
        flags |= zset::ZADD_NX;
    }
    if xx {
        flags |= zset::ZADD_XX;
    }
    if ch {
        flags |= zset::ZADD_CH;
    }
    let dirty = ctx.txn.dirty;
    zset::zadd_generic(ctx, &zargv, longidx, flags)?;
    if ctx.txn.dirty > dirty {
        // Propagated as the ZADD it is (Redis replaces the command vector).
        ctx.propagate_as(&zargv);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// GEOPOS / GEOHASH / GEODIST

/// The scores of `members` in the sorted set at `key` (None for absent members or
/// an absent key), or WRONGTYPE.
fn member_scores(ctx: &mut Ctx, key: &[u8], members: &[&[u8]]) -> Result<Vec<Option<f64>>, RError> {
    let db = ctx.db();
    match ctx.txn.get_read(db, key) {
        None => Ok(vec![None; members.len()]),
        Some(e) => {
            let z = zset::zset_ref(&e.value)?;
            Ok(members.iter().map(|m| z.score(m)).collect())
        }
    }
}

fn geopos(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let scores = member_scores(ctx, argv[1], &argv[2..])?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            None => ctx.out.null_array(),
            Some(score) => {
                let (x, y) = geohash::decode_score(score);
                ctx.out.array(2);
                reply_coord(ctx, x);
                reply_coord(ctx, y);
            }
        }
    }
    Ok(())
}

fn geohash_cmd(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let scores = member_scores(ctx, argv[1], &argv[2..])?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            None => ctx.out.null(),
            Some(score) => ctx.out.bulk(&geohash::geohash_string(score)),
        }
    }
    Ok(())
}

fn geodist(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    let to_meter = match argv.len() {
        5 => extract_unit(argv[4])?,
        n if n > 5 => return Err(errors::SYNTAX),
        _ => 1.0,
    };
    let db = ctx.db();
    let scores = match ctx.txn.get_read(db, argv[1]) {
        None => None,
        Some(e) => {
            let z = zset::zset_ref(&e.value)?;
            z.score(argv[2]).zip(z.score(argv[3]))
        }
    };
    match scores {
        None => ctx.out.null(),
        Some((s1, s2)) => {
            let (x1, y1) = geohash::decode_score(s1);
            let (x2, y2) = geohash::decode_score(s2);
            let d = geohash::distance(x1, y1, x2, y2) / to_meter;
            ctx.out.bulk(fmt_distance(d).as_bytes());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// GEORADIUS* / GEOSEARCH*

const RADIUS_COORDS: u32 = 1;
const RADIUS_MEMBER: u32 = 2;
const RADIUS_NOSTORE: u32 = 4;
const GEOSEARCH: u32 = 8;
const GEOSEARCHSTORE: u32 = 16;

fn georadius(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 1, RADIUS_COORDS)
}
fn georadiusbymember(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 1, RADIUS_MEMBER)
}
fn georadius_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 1, RADIUS_COORDS | RADIUS_NOSTORE)
}
fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 1, RADIUS_MEMBER | RADIUS_NOSTORE)
}
fn geosearch(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 1, GEOSEARCH)
}
fn geosearchstore(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    georadius_generic(ctx, argv, 2, GEOSEARCH | GEOSEARCHSTORE)
}

/// A member found by a search.
struct Point {
    member: Vec<u8>,
    score: f64,
    longitude: f64,
    latitude: f64,
    /// Metres from the centre.
    dist: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Everything a search command asked for, once its arguments are parsed.
struct Query<'a> {
    shape: Shape,
    storekey: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoords: bool,
    sort: Sort,
    any: bool,
    count: i64,
}

/// The decoded position of `member`, or Redis's error for an absent member.
fn member_position(z: &ZSetValue, member: &[u8]) -> Result<(f64, f64), RError> {
    z.score(member)
        .map(geohash::decode_score)
        .ok_or(RError::raw("ERR could not decode requested zset member"))
}

/// Parses a search command's arguments exactly in Redis's order (so the same error
/// wins when several are wrong). `z` is the source set, if it exists.
fn parse_query<'a>(
    z: Option<&ZSetValue>,
    argv: &[&'a [u8]],
    flags: u32,
) -> Result<Query<'a>, RError> {
    let mut q = Query {
        shape: Shape {
            xy: (0.0, 0.0),
            conversion: 0.0,
            kind: ShapeKind::Circle { radius: 0.0 },
        },
        storekey: None,
        storedist: false,
        withdist: false,
        withhash: false,
        withcoords: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let base_args;
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        q.shape.xy = extract_long_lat(argv[2], argv[3])?;
        let (radius, conv) = extract_distance(argv[4], argv[5])?;
        q.shape.kind = ShapeKind::Circle { radius };
        q.shape.conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        // Without a source key the arguments are still parsed (for the reply type),
        // but the member and radius are not looked at.
        if let Some(z) = z {
            q.shape.xy = member_position(z, argv[2])?;
            let (radius, conv) = extract_distance(argv[3], argv[4])?;
            q.shape.kind = ShapeKind::Circle { radius };
            q.shape.conversion = conv;
        }
    } else {
        base_args = if flags & GEOSEARCHSTORE != 0 {
            q.storekey = Some(argv[1]);
            3
        } else {
            2
        };
    }

    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let search = flags & GEOSEARCH != 0;
    let store_ok = flags & RADIUS_NOSTORE == 0 && !search;
    let remaining = argv.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let arg = argv[base_args + i];
        let next = |k: usize| argv[base_args + i + k];
        if kw(arg, "withdist") {
            q.withdist = true;
        } else if kw(arg, "withhash") {
            q.withhash = true;
        } else if kw(arg, "withcoord") {
            q.withcoords = true;
        } else if kw(arg, "any") {
            q.any = true;
        } else if kw(arg, "asc") {
            q.sort = Sort::Asc;
        } else if kw(arg, "desc") {
            q.sort = Sort::Desc;
        } else if kw(arg, "count") && i + 1 < remaining {
            q.count = args::int(next(1))?;
            if q.count <= 0 {
                return Err(RError::raw("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if kw(arg, "store") && i + 1 < remaining && store_ok {
            q.storekey = Some(next(1));
            q.storedist = false;
            i += 1;
        } else if kw(arg, "storedist") && i + 1 < remaining && store_ok {
            q.storekey = Some(next(1));
            q.storedist = true;
            i += 1;
        } else if kw(arg, "storedist") && search && flags & GEOSEARCHSTORE != 0 {
            q.storedist = true;
        } else if kw(arg, "frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(z) = z {
                q.shape.xy = member_position(z, next(1))?;
            }
            frommember = true;
            i += 1;
        } else if kw(arg, "fromlonlat") && i + 2 < remaining && search && !frommember {
            q.shape.xy = extract_long_lat(next(1), next(2))?;
            fromloc = true;
            i += 2;
        } else if kw(arg, "byradius") && i + 2 < remaining && search && !bybox {
            let (radius, conv) = extract_distance(next(1), next(2))?;
            q.shape.kind = ShapeKind::Circle { radius };
            q.shape.conversion = conv;
            byradius = true;
            i += 2;
        } else if kw(arg, "bybox") && i + 3 < remaining && search && !byradius {
            let (width, height, conv) = extract_box(next(1), next(2), next(3))?;
            q.shape.kind = ShapeKind::Box { width, height };
            q.shape.conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }

    if q.storekey.is_some() && (q.withdist || q.withhash || q.withcoords) {
        return Err(RError::owned(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if flags & GEOSEARCHSTORE != 0 {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = || args::text(argv[0]);
    if search && !(frommember || fromloc) {
        return Err(RError::owned(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if search && !(byradius || bybox) {
        return Err(RError::owned(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if q.any && q.count == 0 {
        return Err(RError::raw("ERR the ANY argument requires COUNT argument"));
    }
    Ok(q)
}

/// `geoGetPointsInRange`: the members with scores in `[min, max)` that are inside
/// the shape, appended to `out` (stopping once `limit` points are gathered, if set).
fn points_in_range(
    z: &ZSetValue,
    min: f64,
    max: f64,
    shape: &Shape,
    out: &mut Vec<Point>,
    limit: usize,
) {
    let range = ScoreRange {
        min,
        max,
        minex: false,
        maxex: true,
    };
    let (start, end) = z.score_span(&range);
    let probe = geohash::Probe::new(shape);
    let mut done = false;
    z.for_each_in(start, end, false, |m, score| {
        if done {
            return;
        }
        let (x, y) = geohash::decode_score(score);
        if let Some(dist) = probe.distance_if_inside(x, y) {
            out.push(Point {
                member: m.to_vec(),
                score,
                longitude: x,
                latitude: y,
                dist,
            });
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            done = true;
        }
    });
}

/// `membersOfAllNeighbors`: the points of the 9 cells, in Redis's order, skipping a
/// cell equal to the one processed just before (huge radii make neighbours repeat).
fn search_points(z: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Point> {
    let areas = geohash::areas_by_shape(shape);
    let cells = areas.cells();
    let mut out = Vec::new();
    let mut last_processed = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last_processed != 0 && *cell == cells[last_processed] {
            continue;
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(*cell);
        points_in_range(z, min as f64, max as f64, shape, &mut out, limit);
        last_processed = i;
    }
    out
}

/// Redis's `sort_gp_asc` (NaN distances compare as "less", as in C).
fn cmp_asc(a: f64, b: f64) -> i32 {
    if a > b {
        1
    } else if a == b {
        0
    } else {
        -1
    }
}

/// glibc's `qsort` (a top-down merge sort, stable) over `idx`.
fn merge_sort(idx: &mut [usize], cmp: &dyn Fn(usize, usize) -> i32) {
    let n = idx.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut idx[..n1], cmp);
    merge_sort(&mut idx[n1..], cmp);
    let mut tmp = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(idx[i], idx[j]) <= 0 {
            tmp.push(idx[i]);
            i += 1;
        } else {
            tmp.push(idx[j]);
            j += 1;
        }
    }
    tmp.extend_from_slice(&idx[i..n1]);
    let k = tmp.len();
    idx[..k].copy_from_slice(&tmp);
}

/// Redis 7.0's `pqsort` (NetBSD's quicksort without the switch to insertion sort on
/// presorted input, only descending into the parts that overlap positions
/// `lrange..=rrange`). The parts left to sort are kept on an explicit stack rather
/// than recursed into: they are disjoint, so the order they are sorted in does not
/// change the result, and no input can exhaust the thread's stack.
fn partial_sort(
    idx: &mut [usize],
    cmp: &dyn Fn(usize, usize) -> i32,
    lrange: usize,
    rrange: usize,
) {
    let mut todo = vec![(0, idx.len())];
    while let Some((a, n)) = todo.pop() {
        pqsort_part(idx, a, n, cmp, lrange, rrange, &mut todo);
    }
}

fn med3(v: &[usize], a: usize, b: usize, c: usize, cmp: &dyn Fn(usize, usize) -> i32) -> usize {
    if cmp(v[a], v[b]) < 0 {
        if cmp(v[b], v[c]) < 0 {
            b
        } else if cmp(v[a], v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(v[b], v[c]) > 0 {
        b
    } else if cmp(v[a], v[c]) < 0 {
        a
    } else {
        c
    }
}

fn insertion_sort(v: &mut [usize], a: usize, n: usize, cmp: &dyn Fn(usize, usize) -> i32) {
    for pm in a + 1..a + n {
        let mut pl = pm;
        while pl > a && cmp(v[pl - 1], v[pl]) > 0 {
            v.swap(pl, pl - 1);
            pl -= 1;
        }
    }
}

fn vecswap(v: &mut [usize], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

/// One step of `_pqsort` on `v[a..a + n]`: partitions it and queues the parts that
/// still need sorting on `todo`.
fn pqsort_part(
    v: &mut [usize],
    mut a: usize,
    mut n: usize,
    cmp: &dyn Fn(usize, usize) -> i32,
    lrange: usize,
    rrange: usize,
    todo: &mut Vec<(usize, usize)>,
) {
    // Whether elements a..a+n overlap lrange..=rrange.
    let wanted =
        |a: usize, n: usize| !((lrange < a && rrange < a) || (lrange >= a + n && rrange >= a + n));
    loop {
        if n < 7 {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(v[pb], v[a]);
                if r > 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(v[pc], v[a]);
                if r < 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r) {
            todo.push((a, r));
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if wanted(a, n) {
                continue;
            }
        }
        return;
    }
}

/// `georadiusGeneric`: every search command, `src_idx` naming the source key.
fn georadius_generic(ctx: &mut Ctx, argv: &[&[u8]], src_idx: usize, flags: u32) -> CmdResult {
    let db = ctx.db();
    let lim = zset::limits(ctx);
    let (q, found) = {
        let z = match ctx.txn.get_read(db, argv[src_idx]) {
            Some(e) => Some(zset::zset_ref(&e.value)?),
            None => None,
        };
        let q = parse_query(z, argv, flags)?;
        let found = z.map(|z| {
            let limit = if q.any { q.count as usize } else { 0 };
            search_points(z, &q.shape, limit)
        });
        (q, found)
    };
    let Some(points) = found else {
        // No source key: an empty result.
        match q.storekey {
            Some(dst) => {
                if ctx.txn.remove(db, dst).is_some() {
                    ctx.notify(crate::config::notify::GENERIC, "del", dst);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if points.is_empty() && q.storekey.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let mut sort = q.sort;
    if q.count != 0 && sort == Sort::None && !q.any {
        sort = Sort::Asc;
    }
    let result_length = points.len();
    let returned = if q.count == 0 || (result_length as i64) < q.count {
        result_length
    } else {
        q.count as usize
    };
    let mut order: Vec<usize> = (0..result_length).collect();
    if sort != Sort::None {
        let asc = |i: usize, j: usize| cmp_asc(points[i].dist, points[j].dist);
        let desc = |i: usize, j: usize| -cmp_asc(points[i].dist, points[j].dist);
        let cmp: &dyn Fn(usize, usize) -> i32 = if sort == Sort::Asc { &asc } else { &desc };
        if returned == result_length {
            merge_sort(&mut order, cmp);
        } else {
            partial_sort(&mut order, cmp, 0, returned - 1);
        }
    }
    let conversion = q.shape.conversion;
    match q.storekey {
        None => {
            let option_length =
                usize::from(q.withdist) + usize::from(q.withcoords) + usize::from(q.withhash);
            ctx.out.array(returned);
            for &k in &order[..returned] {
                let p = &points[k];
                if option_length > 0 {
                    ctx.out.array(option_length + 1);
                }
                ctx.out.bulk(&p.member);
                if q.withdist {
                    ctx.out.bulk(fmt_distance(p.dist / conversion).as_bytes());
                }
                if q.withhash {
                    ctx.out.int(p.score as i64);
                }
                if q.withcoords {
                    ctx.out.array(2);
                    reply_coord(ctx, p.longitude);
                    reply_coord(ctx, p.latitude);
                }
            }
        }
        Some(dst) => {
            if returned > 0 {
                let mut z = ZSetValue::Skiplist(Box::default());
                for &k in &order[..returned] {
                    let p = &points[k];
                    let score = if q.storedist {
                        p.dist / conversion
                    } else {
                        p.score
                    };
                    z.insert_new(&p.member, score, lim);
                }
                z.compact_if_fits(lim);
                ctx.txn.set(db, dst, Value::ZSet(z), false);
                ctx.txn.dirty += returned as u64 - 1;
                let event = if flags & GEOSEARCH != 0 {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                ctx.notify(crate::config::notify::ZSET, event, dst);
            } else if ctx.txn.remove(db, dst).is_some() {
                ctx.notify(crate::config::notify::GENERIC, "del", dst);
            }
            ctx.out.int(returned as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys() {
        let a: Vec<&[u8]> = vec![b"georadius", b"k", b"1", b"2", b"3", b"m", b"STORE", b"d"];
        assert_eq!(georadius_keys(&a), vec![1, 7]);
        let a: Vec<&[u8]> = vec![b"georadiusbymember", b"k", b"m", b"3", b"km", b"store"];
        assert_eq!(georadius_keys(&a), vec![1]);
        let a: Vec<&[u8]> = vec![
            b"georadiusbymember",
            b"k",
            b"m",
            b"3",
            b"km",
            b"store",
            b"a",
            b"storedist",
            b"b",
        ];
        assert_eq!(georadius_keys(&a), vec![1, 6, 8]);
    }

    #[test]
    fn doubles_like_strtod() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"-0x1p-2"), Some(-0.25));
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"1e-400"), None);
        assert_eq!(parse_double(b"0e-400"), Some(0.0));
        assert_eq!(parse_double(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b" 1"), None);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_coord(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_coord(-0.0), "0");
        assert_eq!(fmt_coord(180.0), "180");
        assert_eq!(fmt_distance(0.03125), "0.0312");
        assert_eq!(fmt_distance(166274.15156960033), "166274.1516");
    }

    fn check_sorts(d: &[f64]) {
        let cmp = |i: usize, j: usize| cmp_asc(d[i], d[j]);
        let mut all: Vec<usize> = (0..d.len()).collect();
        merge_sort(&mut all, &cmp);
        for w in all.windows(2) {
            assert!(d[w[0]] <= d[w[1]]);
        }
        for k in 1..d.len() {
            let mut part: Vec<usize> = (0..d.len()).collect();
            partial_sort(&mut part, &cmp, 0, k - 1);
            for (a, b) in part[..k].iter().zip(&all[..k]) {
                assert_eq!(d[*a], d[*b]);
            }
        }
    }

    #[test]
    fn sorts_order_by_distance() {
        let d: Vec<f64> = (0..100).map(|i| ((i * 7919) % 101) as f64).collect();
        check_sorts(&d);
        let d: Vec<f64> = (0..60).map(|i| (i % 5) as f64).collect();
        check_sorts(&d);
        check_sorts(&[3.0, 1.0, 2.0]);
    }
}
