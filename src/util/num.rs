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
    // Scientific form with prec significant digits decides the exponent (after rounding).
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = match sci.split_once('e') {
        Some(x) => x,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
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

    #[test]
    fn parse() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
    }
}
