//! Logging in Redis's format: `<pid>:<role> <date> <level-char> <message>`, e.g.
//! `1234:M 26 Nov 2026 05:52:17.334 * Ready to accept connections`.

use std::io::Write;
use std::sync::OnceLock;

use parking_lot::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
    Nothing = 4,
}

impl Level {
    pub fn parse(s: &str) -> Level {
        match s {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "warning" => Level::Warning,
            "nothing" => Level::Nothing,
            _ => Level::Notice,
        }
    }
    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning | Level::Nothing => '#',
        }
    }
}

struct Logger {
    level: Level,
    file: Option<std::fs::File>,
}

static LOGGER: OnceLock<Mutex<Logger>> = OnceLock::new();

fn logger() -> &'static Mutex<Logger> {
    LOGGER.get_or_init(|| {
        Mutex::new(Logger {
            level: Level::Notice,
            file: None,
        })
    })
}

/// Configures level and destination (`logfile ""` means standard output).
pub fn init(level: &str, logfile: &str) -> std::io::Result<()> {
    let file = if logfile.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)?,
        )
    };
    let mut l = logger().lock();
    l.level = Level::parse(level);
    l.file = file;
    Ok(())
}

pub fn set_level(level: &str) {
    logger().lock().level = Level::parse(level);
}

/// Formats Unix milliseconds as Redis's log timestamp (`26 Nov 2026 05:52:17.334`, UTC).
fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(mo - 1) as usize],
        y,
        h,
        m,
        s,
        ms % 1000
    )
}

pub fn log(level: Level, msg: &str) {
    let mut l = logger().lock();
    if level < l.level {
        return;
    }
    let line = format!(
        "{}:M {} {} {}\n",
        std::process::id(),
        timestamp(crate::util::time::now_ms()),
        level.mark(),
        msg
    );
    match l.file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stdout().write_all(line.as_bytes());
        }
    }
}

pub fn notice(msg: &str) {
    log(Level::Notice, msg)
}
pub fn warning(msg: &str) {
    log(Level::Warning, msg)
}
pub fn verbose(msg: &str) {
    log(Level::Verbose, msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        // 2026-11-26 05:52:17.334 UTC
        assert_eq!(
            super::timestamp(1_795_672_337_334),
            "26 Nov 2026 05:52:17.334"
        );
    }
}
