//! LOLWUT compared with the reference redis-server. The art is random, so replies
//! cannot be compared byte for byte: for versions 5 and 6 and many argument sets the
//! *shape* must be the reference's (number of lines, characters per line, the text
//! after the art), every byte that does not depend on a random number must be equal
//! (in version 5 the top two rows of squares are never turned or moved), and each
//! reply ends with the server's own version as INFO reports it.

mod common;

use common::{show, RawClient};

/// The payload of a bulk string, or of a verbatim string without its `txt:`.
fn payload(reply: &[u8]) -> Vec<u8> {
    assert!(
        reply.first() == Some(&b'$') || reply.first() == Some(&b'='),
        "not a string reply: {}",
        show(reply)
    );
    let nl = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("header line");
    let mut body = &reply[nl + 2..reply.len() - 2];
    if reply[0] == b'=' {
        assert_eq!(&body[..4], b"txt:", "verbatim format: {}", show(reply));
        body = &body[4..];
    }
    body.to_vec()
}

fn lolwut(c: &mut RawClient, args: &[&str]) -> Vec<u8> {
    let mut a = vec!["LOLWUT"];
    a.extend_from_slice(args);
    c.cmds(&a)
}

/// `redis_version` from INFO server.
fn redis_version(c: &mut RawClient) -> String {
    let info = String::from_utf8(payload(&c.cmds(&["INFO", "server"]))).expect("utf-8");
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .expect("redis_version in INFO")
        .to_string()
}

/// The reply's text without its final `Redis ver. <version>\n`, which must be there.
fn without_version(reply: &[u8], version: &str, what: &str) -> String {
    let text = String::from_utf8(payload(reply))
        .unwrap_or_else(|_| panic!("{what}: reply is not UTF-8: {}", show(reply)));
    let tail = format!("Redis ver. {version}\n");
    text.strip_suffix(&tail)
        .unwrap_or_else(|| panic!("{what}: reply does not end with {tail:?}: {text:?}"))
        .to_string()
}

fn is_braille(c: char) -> bool {
    ('\u{2800}'..='\u{28FF}').contains(&c)
}

/// The four grey levels of version 6, each drawn as one space.
const PIXELS: [&str; 4] = [
    "\x1b[0;30;40m \x1b[0m",
    "\x1b[0;90;100m \x1b[0m",
    "\x1b[0;37;47m \x1b[0m",
    "\x1b[0;97;107m \x1b[0m",
];

/// A version 6 line as its number of pixels, or None if it holds no pixel; panics on
/// anything else mixed with pixels.
fn skyline_pixels(line: &str, what: &str) -> Option<usize> {
    if !line.contains('\x1b') {
        return None;
    }
    let mut rest = line;
    let mut n = 0;
    while !rest.is_empty() {
        let p = PIXELS
            .iter()
            .find(|p| rest.starts_with(*p))
            .unwrap_or_else(|| panic!("{what}: unexpected bytes in a skyline row: {rest:?}"));
        rest = &rest[p.len()..];
        n += 1;
    }
    Some(n)
}

/// How many lines at the top of a Schotter are drawn only by the first two rows of
/// squares, which are never turned or moved, so they are the same in every reply.
/// A square of the third row is centred 2.5 sides (plus padding) down, moved up by at
/// most 2 / per_col * side / 3 and reaches up by its corner radius, side / sqrt 2.
fn schotter_fixed_lines(cols: i64, per_row: i64, per_col: i64) -> usize {
    let cols = cols.clamp(1, 1000);
    let per_row = per_row.clamp(1, 200);
    let per_col = per_col.clamp(1, 200);
    let width = cols * 2;
    let pad = if width > 4 { 2 } else { 0 };
    let side = (width - 2 * pad) as f64 / per_row as f64;
    if per_col <= 2 {
        return usize::MAX;
    }
    let top = 2.5 * side + pad as f64
        - 2.0 / per_col as f64 * side / 3.0
        - (side / std::f64::consts::SQRT_2).round()
        - 2.0;
    let mut k = 0;
    while (4 * k + 3) as f64 + 1.0 <= top {
        k += 1;
    }
    k
}

struct Servers {
    _ferro: common::ServerProc,
    _redis: common::ServerProc,
    f: RawClient,
    r: RawClient,
    f_ver: String,
    r_ver: String,
}

fn servers() -> Servers {
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut f = ferro.client();
    let mut r = redis.client();
    let f_ver = redis_version(&mut f);
    let r_ver = redis_version(&mut r);
    assert_eq!(f_ver, ferrodis::VERSION_REDIS);
    Servers {
        _ferro: ferro,
        _redis: redis,
        f,
        r,
        f_ver,
        r_ver,
    }
}

/// Both servers' replies to `LOLWUT args`, without the version line.
fn both(s: &mut Servers, args: &[&str]) -> (String, String) {
    let what = format!("LOLWUT {}", args.join(" "));
    let got = lolwut(&mut s.f, args);
    let want = lolwut(&mut s.r, args);
    (
        without_version(&got, &s.f_ver, &format!("ferrodis {what}")),
        without_version(&want, &s.r_ver, &format!("redis {what}")),
    )
}

#[test]
fn schotter_shape_and_fixed_rows() {
    let mut s = servers();
    let sets: &[&[&str]] = &[
        &[],
        &["0"],
        &["-5"],
        &["5000"],
        &["1"],
        &["2"],
        &["3"],
        &["66", "8", "2"],
        &["10", "0", "0"],
        &["10", "300", "300"],
        &["66", "8", "12", "junk"],
        &["40", "5", "9"],
        &["120", "10", "30"],
        &["7", "3", "9"],
        &["80", "1", "3"],
        &["1000", "1", "20"],
        &["1000", "200", "200"],
        &["1", "200", "1"],
        // 9 and 5 pixel rows: the last line starts on the last pixel row, and Redis
        // puts no newline after it.
        &["10", "3", "1"],
        &["1", "8", "20"],
    ];
    for args in sets {
        let mut full = vec!["VERSION", "5"];
        full.extend_from_slice(args);
        let what = format!("LOLWUT {}", full.join(" "));
        let (got, want) = both(&mut s, &full);
        assert!(
            want.ends_with("\nGeorg Nees - schotter, plotter on paper, 1968. "),
            "{what}: reference trailer {want:?}"
        );
        let gl: Vec<&str> = got.split('\n').collect();
        let wl: Vec<&str> = want.split('\n').collect();
        assert_eq!(gl.len(), wl.len(), "{what}: number of lines");
        let n = |a: i64, i: usize| args.get(i).map_or(a, |v| v.parse().unwrap_or(a));
        let fixed = schotter_fixed_lines(n(66, 0), n(8, 1), n(12, 2));
        for (i, (g, w)) in gl.iter().zip(&wl).enumerate() {
            let art = w.chars().any(is_braille);
            if !art || i < fixed {
                assert_eq!(g, w, "{what}: line {i} differs");
                continue;
            }
            assert!(
                w.chars().all(is_braille) && g.chars().all(is_braille),
                "{what}: line {i} mixes braille and text: {g:?}"
            );
            assert_eq!(
                g.chars().count(),
                w.chars().count(),
                "{what}: characters on line {i}"
            );
        }
    }
}

#[test]
fn skyline_shape() {
    let mut s = servers();
    let sets: &[&[&str]] = &[
        &[],
        &["0", "0"],
        &["5000", "-3"],
        &["1", "1"],
        &["10", "5"],
        &["33", "7"],
        &["80", "20", "junk"],
        &["1000", "3"],
        &["3", "1000"],
        &["200", "60"],
    ];
    for args in sets {
        let mut full = vec!["VERSION", "6"];
        full.extend_from_slice(args);
        let what = format!("LOLWUT {}", full.join(" "));
        let (got, want) = both(&mut s, &full);
        let gl: Vec<&str> = got.split('\n').collect();
        let wl: Vec<&str> = want.split('\n').collect();
        assert_eq!(gl.len(), wl.len(), "{what}: number of lines");
        for (i, (g, w)) in gl.iter().zip(&wl).enumerate() {
            match skyline_pixels(w, &what) {
                None => assert_eq!(g, w, "{what}: line {i} differs"),
                Some(n) => assert_eq!(
                    skyline_pixels(g, &what),
                    Some(n),
                    "{what}: pixels on line {i}: {g:?}"
                ),
            }
        }
        assert!(
            want.ends_with(
                "\nDedicated to the 8 bit game developers of past and present.\n\
                 Original 8 bit image from Plaguemon by hikikomori. "
            ),
            "{what}: reference trailer {want:?}"
        );
    }
}

#[test]
fn art_is_random() {
    let mut s = servers();
    for v in ["5", "6"] {
        let a = lolwut(&mut s.f, &["VERSION", v]);
        let b = lolwut(&mut s.f, &["VERSION", v]);
        assert_ne!(a, b, "LOLWUT VERSION {v} twice gave the same art");
    }
}

#[test]
fn version_only_and_errors() {
    let mut s = servers();
    let sets: &[&[&str]] = &[
        &[],
        &["VERSION", "7"],
        &["VERSION", "9"],
        &["VERSION", "4"],
        &["VERSION", "-1"],
        &["VERSION"],
        &["abc"],
        &["5", "VERSION", "5"],
        &["VERSION", "7", "abc"],
    ];
    for args in sets {
        let (got, want) = both(&mut s, args);
        assert_eq!(got, want, "LOLWUT {}", args.join(" "));
        assert_eq!(got, "");
    }
    for args in [
        &["VERSION", "abc"][..],
        &["VERSION", "5", "abc"],
        &["VERSION", "5", "1", "2", "x"],
        &["VERSION", "6", "1", "x"],
        &["VERSION", "99999999999999999999"],
    ] {
        let got = lolwut(&mut s.f, args);
        let want = lolwut(&mut s.r, args);
        assert_eq!(show(&got), show(&want), "LOLWUT {}", args.join(" "));
        assert!(want.starts_with(b"-ERR value is not an integer"));
    }
    // RESP3: a verbatim string of format txt.
    s.f.cmds(&["HELLO", "3"]);
    s.r.cmds(&["HELLO", "3"]);
    for args in [
        &[][..],
        &["VERSION", "5", "1", "200", "1"],
        &["VERSION", "6", "1"],
    ] {
        let got = lolwut(&mut s.f, args);
        let want = lolwut(&mut s.r, args);
        assert!(want.starts_with(b"="), "{}", show(&want));
        assert!(got.starts_with(b"="), "{}", show(&got));
        let what = format!("RESP3 LOLWUT {}", args.join(" "));
        let g = without_version(&got, &s.f_ver, &what);
        let w = without_version(&want, &s.r_ver, &what);
        assert_eq!(g.lines().count(), w.lines().count(), "{what}");
    }
}
