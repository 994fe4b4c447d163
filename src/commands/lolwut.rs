//! LOLWUT: a piece of generative computer art followed by the server version, as
//! Redis 7.0 does it (`lolwut.c`, `lolwut5.c`, `lolwut6.c`).
//!
//! `LOLWUT [VERSION v] [args...]` picks the art by version: 5.x (but not 5.9) and 4.9
//! draw Georg Nees's "Schotter" in Unicode braille, 6.x (but not 6.9) and 5.9 a city
//! skyline in terminal colours, anything else (the default for this server) only the
//! version line. The text always ends with the server's own version (`redis_version`),
//! also when VERSION asks for another piece, as in Redis.
//!
//! Every size a client gives is clamped to Redis's limits before anything is
//! allocated; the random numbers stand in for libc's `rand()` (0..=`RAND_MAX`).

use rand::Rng;

use super::{args, flags::*, CmdResult, Command, Ctx, RError};

crate::commands! { pub static COMMANDS = [
    Command::new("lolwut", -1, READONLY | FAST, lolwut).acl(&["read", "fast"]),
]; }

/// glibc's `RAND_MAX`.
const RAND_MAX: i32 = i32::MAX;

/// One `rand()`.
fn crand(rng: &mut impl Rng) -> i32 {
    rng.gen_range(0..=RAND_MAX)
}

/// Which piece a version string asks for (Redis's test on its first three bytes).
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Schotter,
    Skyline,
    VersionOnly,
}

fn piece_for(version: &[u8]) -> Piece {
    let b = |i: usize| version.get(i).copied().unwrap_or(0);
    let (major, dot, minor) = (b(0), b(1), b(2));
    if dot != b'.' {
        return Piece::VersionOnly;
    }
    match (major, minor) {
        (b'5', m) if m != b'9' => Piece::Schotter,
        (b'4', b'9') => Piece::Schotter,
        (b'6', m) if m != b'9' => Piece::Skyline,
        (b'5', b'9') => Piece::Skyline,
        _ => Piece::VersionOnly,
    }
}

fn lolwut(ctx: &mut Ctx, argv: &[&[u8]]) -> CmdResult {
    // `VERSION v` only counts as the first option; the piece then gets the arguments
    // after it, and the version string is `<v as unsigned int>.0.0`.
    let requested;
    let (version, rest): (&[u8], &[&[u8]]) = if argv.len() >= 3 && args::is(argv[1], "version") {
        let v = args::int(argv[2])?;
        requested = format!("{}.0.0", v as u32);
        (requested.as_bytes(), &argv[3..])
    } else {
        (crate::VERSION_REDIS.as_bytes(), &argv[1..])
    };
    // Every piece ends with the server's version.
    let mut text = match piece_for(version) {
        Piece::Schotter => schotter_command(rest)?,
        Piece::Skyline => skyline_command(rest)?,
        Piece::VersionOnly => Vec::new(),
    };
    text.extend_from_slice(format!("Redis ver. {}\n", crate::VERSION_REDIS).as_bytes());
    ctx.out.verbatim(&text, "txt");
    Ok(())
}

/// The `i`th numeric argument of a piece, or `default` when absent.
fn arg_or(rest: &[&[u8]], i: usize, default: i64) -> Result<i64, RError> {
    match rest.get(i) {
        Some(a) => args::int(a),
        None => Ok(default),
    }
}

// ---------------------------------------------------------------------------------
// Version 5: Schotter.

/// `[columns] [squares-per-row] [squares-per-col]`, defaults 66 8 12: the art and
/// its credit, which the version follows.
fn schotter_command(rest: &[&[u8]]) -> Result<Vec<u8>, RError> {
    let cols = arg_or(rest, 0, 66)?.clamp(1, 1000) as i32;
    let per_row = arg_or(rest, 1, 8)?.clamp(1, 200) as i32;
    let per_col = arg_or(rest, 2, 12)?.clamp(1, 200) as i32;
    let mut text = schotter(cols, per_row, per_col, &mut rand::thread_rng());
    text.extend_from_slice(b"\nGeorg Nees - schotter, plotter on paper, 1968. ");
    Ok(text)
}

/// A one-bit canvas kept directly as its rendering: one 3-byte UTF-8 braille
/// character (U+2800 + bits) per 2x4 pixels, a row of characters per 4 pixel rows,
/// each row followed by a newline except when it starts on the last pixel row (Redis's
/// renderer tests `y != height - 1` with `y` stepping by 4).
struct Braille {
    width: i32,
    height: i32,
    /// Bytes from one character row to the next.
    stride: usize,
    text: Vec<u8>,
}

impl Braille {
    fn new(cols: i32, height: i32) -> Braille {
        let cols = cols.max(0) as usize;
        let height = height.max(0);
        let rows = (height as usize).div_ceil(4);
        let stride = cols * 3 + 1;
        let mut text = Vec::with_capacity(rows * stride);
        for r in 0..rows {
            for _ in 0..cols {
                text.extend_from_slice(&[0xE2, 0xA0, 0x80]);
            }
            if (r * 4) as i32 != height - 1 {
                text.push(b'\n');
            }
        }
        Braille {
            width: cols as i32 * 2,
            height,
            stride,
            text,
        }
    }

    /// Sets a pixel; pixels outside the canvas are ignored.
    fn set(&mut self, x: i32, y: i32) {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return;
        }
        // Dot numbering of a braille cell: bits 0-2 down the left column, 3-5 down
        // the right one, 6 and 7 the bottom row.
        let bit = match (x % 2, y % 4) {
            (0, 3) => 6,
            (1, 3) => 7,
            (dx, dy) => dx * 3 + dy,
        };
        let at = (y / 4) as usize * self.stride + (x / 2) as usize * 3;
        // 0x2800 + b in UTF-8: E2, A0 | b >> 6, 80 | (b & 0x3F).
        if bit < 6 {
            self.text[at + 2] |= 1 << bit;
        } else {
            self.text[at + 1] |= 1 << (bit - 6);
        }
    }

    /// Bresenham's line from (x1, y1) to (x2, y2), both ends included.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32) {
        let dx = (x2 - x1).abs();
        let dy = (y2 - y1).abs();
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on (x, y) whose corners lie on the circle of radius
    /// `side / sqrt 2`, turned by `angle` radians. The arithmetic keeps C's mix of
    /// `float` and `double` so the corners land on the same pixels as Redis's.
    // Redis divides by a truncated sqrt 2; the exact constant would round some
    // radii differently.
    #[allow(clippy::approx_constant)]
    fn square(&mut self, x: i32, y: i32, side: f32, angle: f32) {
        let radius = (side as f64 / 1.4142135623) as f32;
        let radius = (radius as f64).round() as f32;
        let mut k = (std::f64::consts::FRAC_PI_4 + angle as f64) as f32;
        let mut px = [0i32; 4];
        let mut py = [0i32; 4];
        for j in 0..4 {
            px[j] = ((k as f64).sin() * radius as f64 + x as f64).round() as i32;
            py[j] = ((k as f64).cos() * radius as f64 + y as f64).round() as i32;
            k = (k as f64 + std::f64::consts::FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            let n = (j + 1) % 4;
            self.line(px[j], py[j], px[n], py[n]);
        }
    }
}

/// Draws the grid of squares, the ones below the second row turned and moved by
/// random amounts that grow row by row, and returns the rendered canvas.
fn schotter(cols: i32, per_row: i32, per_col: i32, rng: &mut impl Rng) -> Vec<u8> {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Braille::new(cols, height);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in r.iter_mut() {
                    *v = crand(rng) as f32 / RAND_MAX as f32 / per_col as f32 * y as f32;
                }
                for v in r.iter_mut() {
                    if crand(rng) % 2 != 0 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i32;
                sy = (sy as f32 + r[2] * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    canvas.text
}

// ---------------------------------------------------------------------------------
// Version 6: the skyline.

/// `[columns] [rows]`, defaults 80 20: the art and its credit, which the version
/// follows.
fn skyline_command(rest: &[&[u8]]) -> Result<Vec<u8>, RError> {
    let cols = arg_or(rest, 0, 80)?.clamp(1, 1000) as i32;
    let rows = arg_or(rest, 1, 20)?.clamp(1, 1000) as i32;
    let mut text = skyline(cols, rows, &mut rand::thread_rng());
    text.extend_from_slice(
        b"\nDedicated to the 8 bit game developers of past and present.\n\
          Original 8 bit image from Plaguemon by hikikomori. ",
    );
    Ok(text)
}

/// A canvas of four grey levels (0 black .. 3 white).
struct Greys {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Greys {
    fn get(&self, x: i32, y: i32) -> u8 {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return 0;
        }
        self.pixels[(y * self.width + x) as usize]
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return;
        }
        self.pixels[(y * self.width + x) as usize] = color;
    }
}

struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

/// A building standing on the bottom row, its roof two pixels narrower on each side;
/// windows (two pixels wide, one tall, of a random grey) only well inside it.
fn skyscraper(canvas: &mut Greys, s: &Skyscraper, rng: &mut impl Rng) {
    let starty = canvas.height - 1;
    let endy = starty - s.height + 1;
    let (left, right) = (s.xoff, s.xoff + s.width);
    for y in (endy..=starty).rev() {
        for x in left..right {
            if y == endy && (x <= left + 1 || x >= right - 2) {
                continue;
            }
            let mut color = s.color;
            if s.windows && x > left + 1 && x < right - 2 && y > endy + 1 && y < starty - 1 {
                let relx = x - (left + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = 1 + (crand(rng) % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    // Both pixels of a window share its colour.
                    if relx % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
    }
}

/// Two layers of window-less buildings (the lighter behind), then black ones with
/// windows in front, on a white sky; rendered one space per pixel with its colour's
/// escape sequence.
fn skyline(cols: i32, rows: i32, rng: &mut impl Rng) -> Vec<u8> {
    let mut canvas = Greys {
        width: cols,
        height: rows,
        pixels: vec![3; (cols.max(0) as usize) * (rows.max(0) as usize)],
    };
    let h = rows;
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += crand(rng) % 8;
            let width = 10 + crand(rng) % 9;
            let height = if color == 2 {
                h / 2 + (crand(rng) % h) / 2
            } else {
                h / 2 + (crand(rng) % h) / 3
            };
            let s = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            skyscraper(&mut canvas, &s, rng);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += crand(rng) % 8;
        let mut width = 5 + crand(rng) % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (crand(rng) % h) / 2;
        let s = Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        };
        skyscraper(&mut canvas, &s, rng);
        offset += width + 5;
    }

    let mut text = Vec::with_capacity(canvas.pixels.len() * 18 + rows as usize);
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let escape: &[u8] = match canvas.get(x, y) {
                1 => b"0;90;100m",
                2 => b"0;37;47m",
                3 => b"0;97;107m",
                _ => b"0;30;40m",
            };
            text.extend_from_slice(b"\x1b[");
            text.extend_from_slice(escape);
            text.extend_from_slice(b" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn versions_pick_pieces_as_redis() {
        assert_eq!(piece_for(b"5.0.0"), Piece::Schotter);
        assert_eq!(piece_for(b"4.9.0"), Piece::Schotter);
        assert_eq!(piece_for(b"5.9.0"), Piece::Skyline);
        assert_eq!(piece_for(b"6.2.14"), Piece::Skyline);
        assert_eq!(piece_for(b"6.9.0"), Piece::VersionOnly);
        assert_eq!(piece_for(b"4.0.0"), Piece::VersionOnly);
        assert_eq!(piece_for(b"55.0.0"), Piece::VersionOnly);
        assert_eq!(piece_for(b"7.2.4"), Piece::VersionOnly);
        assert_eq!(piece_for(b"5"), Piece::VersionOnly);
    }

    #[test]
    fn braille_bits_and_rows() {
        // 2 columns, 5 pixel rows: two character rows, the second starting on the last
        // pixel row, so without a newline.
        let mut c = Braille::new(2, 5);
        assert_eq!(c.text.len(), 2 * 3 + 1 + 2 * 3);
        c.set(0, 0);
        c.set(1, 3);
        c.set(3, 4);
        c.set(4, 0); // outside
        c.set(0, 5); // outside
        let s = String::from_utf8(c.text).expect("utf-8");
        let chars: Vec<u32> = s.chars().map(|ch| ch as u32).collect();
        assert_eq!(chars, [0x2881, 0x2800, 10, 0x2800, 0x2808]);
    }

    #[test]
    fn schotter_sizes() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        // 66 columns, 16-pixel squares, 12 rows of them: 196 pixel rows = 49 lines.
        let s = String::from_utf8(schotter(66, 8, 12, &mut rng)).expect("utf-8");
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 50);
        assert!(lines[..49].iter().all(|l| l.chars().count() == 66));
        assert_eq!(lines[49], "");
        // One column, 200 squares a row: no pixel rows at all.
        assert!(schotter(1, 200, 1, &mut rng).is_empty());
    }

    #[test]
    fn skyline_sizes() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(2);
        let s = String::from_utf8(skyline(7, 3, &mut rng)).expect("utf-8");
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 3);
        for l in lines {
            assert_eq!(l.matches(" \x1b[0m").count(), 7);
        }
    }
}
