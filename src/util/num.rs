//! Number parsing and formatting with Redis's exact rules.
//!
//! Clients observe these rules directly: `INCR` on `" 1"` must fail, a score of
//! `0.1` prints as `0.10000000000000001` (Redis 7.0 formats doubles with `%.17g`),
//! infinities print as `inf`/`-inf`.

pub use crate::protocol::parser::parse_i64;

/// Parses a double the way Redis's `string2d`/`getDoubleFromObject` accept it:
/// no leading or trailing space, no NaN, `inf`/`-inf`/`+inf` allowed.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let st = std::str::from_utf8(s).ok()?;
    // Plain decimal notation (the common case: scores, coordinates, increments) needs
    // no spelling checks, and no lowercased copy.
    if s.iter()
        .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return st.parse().ok();
    }
    let v: f64 = match st.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        other => {
            // Rust accepts things strtod does not ("1_0" is refused by both; "1." is accepted
            // by both); refuse the textual nan spellings explicitly.
            if other.contains("nan") {
                return None;
            }
            other.parse().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// Formats a double as C's `printf("%.17g")` does, with Redis's spelling of infinities.
pub fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    fmt_g(d, 17)
}

/// C's `%.<prec>g` for finite doubles.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    // Integers below 2^53 have at most 16 digits: with 16 or more significant digits
    // `%g` prints them exactly, as integers (the common case of sorted-set scores).
    if prec >= 16 && d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 {
        let mut b = itoa::Buffer::new();
        return b.format(d as i64).to_owned();
    }
    // Scientific form with prec significant digits decides the exponent (after
    // rounding); the fixed form rounds at the same digit, so both use its digits.
    let sci = format!("{:.*e}", prec - 1, d.abs());
    let Some((mant, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = String::with_capacity(prec + 8);
    if d < 0.0 {
        out.push('-');
    }
    if exp < -4 || exp >= prec as i32 {
        out.push_str(strip_zeros(mant));
        let sign = if exp < 0 { '-' } else { '+' };
        out.push('e');
        out.push(sign);
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(a));
    } else {
        // `mant` is "D.DDDD" (or "D" for one digit): place the point after exp+1
        // digits, or pad with zeros after "0." for a negative exponent.
        let digits: String = mant.chars().filter(|c| *c != '.').collect();
        let mut fixed = String::with_capacity(digits.len() + 6);
        if exp >= 0 {
            let int_len = exp as usize + 1;
            fixed.push_str(&digits[..int_len.min(digits.len())]);
            for _ in digits.len()..int_len {
                fixed.push('0');
            }
            if digits.len() > int_len {
                fixed.push('.');
                fixed.push_str(&digits[int_len..]);
            }
        } else {
            fixed.push_str("0.");
            for _ in 0..(-exp - 1) {
                fixed.push('0');
            }
            fixed.push_str(&digits);
        }
        out.push_str(strip_zeros(&fixed));
    }
    out
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17() {
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(100.0), "100");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(1.0e-5), "1.0000000000000001e-05");
        assert_eq!(fmt_double(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_g(0.0001, 17), "0.0001");
    }

    /// The previous, straightforward `%g`: two formatting passes.
    fn fmt_g_reference(d: f64, prec: usize) -> String {
        if d == 0.0 {
            return if d.is_sign_negative() { "-0" } else { "0" }.into();
        }
        let sci = format!("{:.*e}", prec - 1, d);
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        if exp < -4 || exp >= prec as i32 {
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{}e{}{:02}", strip_zeros(mant), sign, exp.abs())
        } else {
            let decimals = (prec as i32 - 1 - exp).max(0) as usize;
            strip_zeros(&format!("{:.*}", decimals, d)).to_string()
        }
    }

    #[test]
    fn g_matches_reference() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut vals = vec![
            0.5,
            -0.5,
            1.0,
            -1.0,
            9.5,
            99.999,
            1e15,
            1e16,
            1e17,
            9_007_199_254_740_992.0,
            9_007_199_254_740_993.0,
            123456.0,
            -123456.0,
            0.0001,
            0.00012345,
            1e-5,
            3.0e-7,
            1234567890123456.7,
            0.1,
            2.5e300,
            -7.25e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                vals.push(f);
            }
            vals.push((x % 2_000_001) as f64 / 8.0 - 125_000.0);
            vals.push((x % 1_000_000) as f64 * 1e-3);
        }
        for v in vals {
            for prec in [1usize, 6, 15, 16, 17] {
                assert_eq!(
                    fmt_g(v, prec),
                    fmt_g_reference(v, prec),
                    "{v:e} prec {prec}"
                );
            }
        }
    }

    #[test]
    fn parse() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"+1.5E2"), Some(150.0));
        assert_eq!(parse_f64(b"1.5.2"), None);
        assert_eq!(parse_f64(b"--1"), None);
        assert_eq!(parse_f64(b"INF"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e999"), Some(f64::INFINITY));
    }
}
