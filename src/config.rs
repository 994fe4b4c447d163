//! Configuration: `redis.conf` syntax and `--directive value` arguments, with Redis's
//! directive names, defaults, validation and error texts.
//!
//! Every directive Redis 7 knows is accepted (so an existing `redis.conf` loads
//! unchanged); the [`DIRECTIVES`] table gives its kind, default and whether `CONFIG
//! SET` may change it at runtime. Values are kept in canonical text form (what
//! `CONFIG GET` prints); the server reads typed values through the accessors.

use std::collections::{BTreeMap, HashMap};

use crate::commands::args::text;
use crate::util::glob::glob_match;
use crate::VERSION_REDIS;

/// The kind of a directive's value, which decides how it is validated and printed.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int,
    /// A byte count accepting Redis's memory units (`1gb`, `100mb`, `64k`...).
    Mem,
    Enum(&'static [&'static str]),
    Str,
    /// Directives with their own syntax (save, bind, client-output-buffer-limit, ...).
    Special,
}

pub struct Directive {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
}

const fn d(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    default: &'static str,
    mutable: bool,
) -> Directive {
    Directive {
        name,
        aliases,
        kind,
        default,
        mutable,
    }
}

use Kind::*;

/// Directives CONFIG GET shows only when asked for by their exact name.
const HIDDEN: &[&str] = &[
    "rdb-key-save-delay",
    "key-load-delay",
    "loading-process-events-interval-bytes",
];

/// Every directive of Redis 7.0 (names and defaults as `CONFIG GET *` prints them on a
/// server started without a configuration file).
#[rustfmt::skip]
pub static DIRECTIVES: &[Directive] = &[
    d("acl-pubsub-default", &[], Enum(&["allchannels", "resetchannels"]), "resetchannels", true),
    d("aclfile", &[], Str, "", false),
    d("acllog-max-len", &[], Int, "128", true),
    d("active-defrag-cycle-max", &[], Int, "25", true),
    d("active-defrag-cycle-min", &[], Int, "1", true),
    d("active-defrag-ignore-bytes", &[], Mem, "104857600", true),
    d("active-defrag-max-scan-fields", &[], Int, "1000", true),
    d("active-defrag-threshold-lower", &[], Int, "10", true),
    d("active-defrag-threshold-upper", &[], Int, "100", true),
    d("active-expire-effort", &[], Int, "1", true),
    d("activedefrag", &[], Bool, "no", true),
    d("activerehashing", &[], Bool, "yes", true),
    d("always-show-logo", &[], Bool, "no", false),
    d("aof-disable-auto-gc", &[], Bool, "no", true),
    d("aof-load-truncated", &[], Bool, "yes", true),
    d("aof-rewrite-incremental-fsync", &[], Bool, "yes", true),
    d("aof-timestamp-enabled", &[], Bool, "no", true),
    d("aof-use-rdb-preamble", &[], Bool, "yes", true),
    d("aof_rewrite_cpulist", &[], Str, "", false),
    d("appenddirname", &[], Str, "appendonlydir", false),
    d("appendfilename", &[], Str, "appendonly.aof", false),
    d("appendfsync", &[], Enum(&["everysec", "always", "no"]), "everysec", true),
    d("appendonly", &[], Bool, "no", true),
    d("auto-aof-rewrite-min-size", &[], Mem, "67108864", true),
    d("auto-aof-rewrite-percentage", &[], Int, "100", true),
    d("bgsave_cpulist", &[], Str, "", false),
    d("bind", &[], Special, "* -::*", true),
    d("bind-source-addr", &[], Str, "", true),
    d("bio_cpulist", &[], Str, "", false),
    d("busy-reply-threshold", &["lua-time-limit"], Int, "5000", true),
    d("client-output-buffer-limit", &[], Special, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", true),
    d("client-query-buffer-limit", &[], Mem, "1073741824", true),
    d("cluster-allow-pubsubshard-when-down", &[], Bool, "yes", true),
    d("cluster-allow-reads-when-down", &[], Bool, "no", true),
    d("cluster-allow-replica-migration", &[], Bool, "yes", true),
    d("cluster-announce-bus-port", &[], Int, "0", true),
    d("cluster-announce-hostname", &[], Str, "", true),
    d("cluster-announce-ip", &[], Str, "", true),
    d("cluster-announce-port", &[], Int, "0", true),
    d("cluster-announce-tls-port", &[], Int, "0", true),
    d("cluster-config-file", &[], Str, "nodes.conf", false),
    d("cluster-enabled", &[], Bool, "no", false),
    d("cluster-link-sendbuf-limit", &[], Mem, "0", true),
    d("cluster-migration-barrier", &[], Int, "1", true),
    d("cluster-node-timeout", &[], Int, "15000", true),
    d("cluster-port", &[], Int, "0", false),
    d("cluster-preferred-endpoint-type", &[], Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", true),
    d("cluster-replica-no-failover", &["cluster-slave-no-failover"], Bool, "no", true),
    d("cluster-replica-validity-factor", &["cluster-slave-validity-factor"], Int, "10", true),
    d("cluster-require-full-coverage", &[], Bool, "yes", true),
    d("crash-log-enabled", &[], Bool, "yes", true),
    d("crash-memcheck-enabled", &[], Bool, "yes", true),
    d("daemonize", &[], Bool, "no", false),
    d("databases", &[], Int, "16", false),
    d("dbfilename", &[], Str, "dump.rdb", true),
    d("dir", &[], Special, "", true),
    d("disable-thp", &[], Bool, "yes", false),
    d("dynamic-hz", &[], Bool, "yes", true),
    d("enable-debug-command", &[], Enum(&["no", "yes", "local"]), "no", false),
    d("enable-module-command", &[], Enum(&["no", "yes", "local"]), "no", false),
    d("enable-protected-configs", &[], Enum(&["no", "yes", "local"]), "no", false),
    d("hash-max-listpack-entries", &["hash-max-ziplist-entries"], Int, "512", true),
    d("hash-max-listpack-value", &["hash-max-ziplist-value"], Mem, "64", true),
    d("hll-sparse-max-bytes", &[], Mem, "3000", true),
    d("hz", &[], Int, "10", true),
    d("ignore-warnings", &[], Str, "", true),
    d("io-threads", &[], Int, "1", false),
    d("io-threads-do-reads", &[], Bool, "no", false),
    d("jemalloc-bg-thread", &[], Bool, "yes", true),
    d("latency-monitor-threshold", &[], Int, "0", true),
    d("latency-tracking", &[], Bool, "yes", true),
    d("latency-tracking-info-percentiles", &[], Special, "50 99 99.9", true),
    d("lazyfree-lazy-eviction", &[], Bool, "no", true),
    d("lazyfree-lazy-expire", &[], Bool, "no", true),
    d("lazyfree-lazy-server-del", &[], Bool, "no", true),
    d("lazyfree-lazy-user-del", &[], Bool, "no", true),
    d("lazyfree-lazy-user-flush", &[], Bool, "no", true),
    d("lfu-decay-time", &[], Int, "1", true),
    d("lfu-log-factor", &[], Int, "10", true),
    d("list-compress-depth", &[], Int, "0", true),
    d("list-max-listpack-size", &["list-max-ziplist-size"], Int, "-2", true),
    d("logfile", &[], Str, "", false),
    d("loglevel", &[], Enum(&["debug", "verbose", "notice", "warning", "nothing"]), "notice", true),
    d("masterauth", &[], Str, "", true),
    d("masteruser", &[], Str, "", true),
    d("maxclients", &[], Int, "10000", true),
    d("maxmemory", &[], Mem, "0", true),
    d("maxmemory-clients", &[], Mem, "0", true),
    d("maxmemory-eviction-tenacity", &[], Int, "10", true),
    d("maxmemory-policy", &[], Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction", true),
    d("maxmemory-samples", &[], Int, "5", true),
    d("min-replicas-max-lag", &["min-slaves-max-lag"], Int, "10", true),
    d("min-replicas-to-write", &["min-slaves-to-write"], Int, "0", true),
    d("no-appendfsync-on-rewrite", &[], Bool, "no", true),
    d("notify-keyspace-events", &[], Special, "", true),
    d("oom-score-adj", &[], Enum(&["no", "yes", "relative", "absolute"]), "no", true),
    d("oom-score-adj-values", &[], Special, "0 200 800", true),
    d("pidfile", &[], Str, "", false),
    d("port", &[], Int, "6379", true),
    d("proc-title-template", &[], Str, "{title} {listen-addr} {server-mode}", true),
    d("propagation-error-behavior", &[], Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore", true),
    d("protected-mode", &[], Bool, "yes", true),
    d("proto-max-bulk-len", &[], Mem, "536870912", true),
    d("rdb-del-sync-files", &[], Bool, "no", true),
    d("rdb-key-save-delay", &[], Int, "0", true),
    d("key-load-delay", &[], Int, "0", true),
    // Redis serves clients every this many bytes loaded; Ferrodis serves them all
    // along (the loader runs on its own thread). Accepted for compatibility.
    d("loading-process-events-interval-bytes", &[], Int, "2097152", true),
    d("rdb-save-incremental-fsync", &[], Bool, "yes", true),
    d("rdbchecksum", &[], Bool, "yes", false),
    d("rdbcompression", &[], Bool, "yes", true),
    d("repl-backlog-size", &[], Mem, "1048576", true),
    d("repl-backlog-ttl", &[], Int, "3600", true),
    d("repl-disable-tcp-nodelay", &[], Bool, "no", true),
    d("repl-diskless-load", &[], Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", true),
    d("repl-diskless-sync", &[], Bool, "yes", true),
    d("repl-diskless-sync-delay", &[], Int, "5", true),
    d("repl-diskless-sync-max-replicas", &[], Int, "0", true),
    d("repl-ping-replica-period", &["repl-ping-slave-period"], Int, "10", true),
    d("repl-timeout", &[], Int, "60", true),
    d("replica-announce-ip", &["slave-announce-ip"], Str, "", true),
    d("replica-announce-port", &["slave-announce-port"], Int, "0", true),
    d("replica-announced", &[], Bool, "yes", true),
    d("replica-ignore-disk-write-errors", &[], Bool, "no", true),
    d("replica-ignore-maxmemory", &["slave-ignore-maxmemory"], Bool, "yes", true),
    d("replica-lazy-flush", &["slave-lazy-flush"], Bool, "no", true),
    d("replica-priority", &["slave-priority"], Int, "100", true),
    d("replica-read-only", &["slave-read-only"], Bool, "yes", true),
    d("replica-serve-stale-data", &["slave-serve-stale-data"], Bool, "yes", true),
    d("replicaof", &["slaveof"], Special, "", false),
    d("requirepass", &[], Str, "", true),
    d("sanitize-dump-payload", &[], Enum(&["no", "yes", "clients"]), "no", true),
    d("save", &[], Special, "3600 1 300 100 60 10000", true),
    d("server_cpulist", &[], Str, "", false),
    d("set-max-intset-entries", &[], Int, "512", true),
    d("set-proc-title", &[], Bool, "yes", false),
    d("shutdown-on-sigint", &[], Enum(&["default", "save", "nosave", "now", "force"]), "default", true),
    d("shutdown-on-sigterm", &[], Enum(&["default", "save", "nosave", "now", "force"]), "default", true),
    d("shutdown-timeout", &[], Int, "10", true),
    d("slowlog-log-slower-than", &[], Int, "10000", true),
    d("slowlog-max-len", &[], Int, "128", true),
    d("socket-mark-id", &[], Int, "0", false),
    d("stop-writes-on-bgsave-error", &[], Bool, "yes", true),
    d("stream-node-max-bytes", &[], Mem, "4096", true),
    d("stream-node-max-entries", &[], Int, "100", true),
    d("supervised", &[], Enum(&["upstart", "systemd", "auto", "no"]), "no", false),
    d("syslog-enabled", &[], Bool, "no", false),
    d("syslog-facility", &[], Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", false),
    d("syslog-ident", &[], Str, "redis", false),
    d("tcp-backlog", &[], Int, "511", false),
    d("tcp-keepalive", &[], Int, "300", true),
    d("timeout", &[], Int, "0", true),
    d("tls-auth-clients", &[], Enum(&["no", "yes", "optional"]), "yes", true),
    d("tls-ca-cert-dir", &[], Str, "", true),
    d("tls-ca-cert-file", &[], Str, "", true),
    d("tls-cert-file", &[], Str, "", true),
    d("tls-ciphers", &[], Str, "", true),
    d("tls-ciphersuites", &[], Str, "", true),
    d("tls-client-cert-file", &[], Str, "", true),
    d("tls-client-key-file", &[], Str, "", true),
    d("tls-client-key-file-pass", &[], Str, "", true),
    d("tls-cluster", &[], Bool, "no", true),
    d("tls-dh-params-file", &[], Str, "", true),
    d("tls-key-file", &[], Str, "", true),
    d("tls-key-file-pass", &[], Str, "", true),
    d("tls-port", &[], Int, "0", true),
    d("tls-prefer-server-ciphers", &[], Bool, "no", true),
    d("tls-protocols", &[], Str, "", true),
    d("tls-replication", &[], Bool, "no", true),
    d("tls-session-cache-size", &[], Int, "20480", true),
    d("tls-session-cache-timeout", &[], Int, "300", true),
    d("tls-session-caching", &[], Bool, "yes", true),
    d("tracking-table-max-keys", &[], Int, "1000000", true),
    d("unixsocket", &[], Str, "", false),
    // Ferrodis extension: I/O worker threads; 0 = one per available core.
    d("worker-threads", &[], Int, "0", false),
    // Ferrodis extension: Prometheus metrics endpoint (`GET /metrics`); 0 = off.
    d("metrics-port", &[], Int, "0", false),
    d("metrics-bind", &[], Str, "127.0.0.1", false),
    d("unixsocketperm", &[], Special, "0", false),
    d("zset-max-listpack-entries", &["zset-max-ziplist-entries"], Int, "128", true),
    d("zset-max-listpack-value", &["zset-max-ziplist-value"], Mem, "64", true),
];

/// Directives accepted in a configuration file but not stored as a single value.
const FILE_ONLY: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// Directives CONFIG SET refuses unless `enable-protected-configs` allows it.
pub fn is_protected(name: &str) -> bool {
    matches!(name, "dir" | "dbfilename")
}

/// Looks a directive up by name or alias, case-insensitively. Commands read thresholds
/// (e.g. `zset-max-listpack-entries`) on every call, so this is a hash lookup that
/// allocates nothing for the usual lower-case names.
pub fn find(name: &str) -> Option<&'static Directive> {
    type Index = std::collections::HashMap<&'static str, &'static Directive, ahash::RandomState>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = Index::default();
        for d in DIRECTIVES {
            m.insert(d.name, d);
            for a in d.aliases {
                m.insert(*a, d);
            }
        }
        m
    });
    if let Some(d) = index.get(name) {
        return Some(d);
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return index.get(name.to_ascii_lowercase().as_str()).copied();
    }
    None
}

/// Integer ranges Redis enforces, as (min, max).
fn int_range(name: &str) -> (i64, i64) {
    match name {
        "port" | "tls-port" | "cluster-port" | "replica-announce-port" | "metrics-port" => {
            (0, 65535)
        }
        "latency-monitor-threshold" => (0, i64::MAX),
        "databases" | "maxclients" => (1, i32::MAX as i64),
        "hz" => (0, i32::MAX as i64),
        "worker-threads" => (0, 1024),
        "list-max-listpack-size" => (i32::MIN as i64, i32::MAX as i64),
        "lfu-log-factor" | "tcp-backlog" | "timeout" | "tcp-keepalive" => (0, i32::MAX as i64),
        "maxmemory-samples" => (1, i32::MAX as i64),
        "active-expire-effort" => (1, 10),
        "slowlog-log-slower-than" => (-1, i64::MAX),
        "tls-session-cache-size" | "tls-session-cache-timeout" => (0, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

/// Parses a memory value with Redis's units (`memtoull`): `b`, `k`, `kb`, `m`, `mb`,
/// `g`, `gb`; `k` is 1000 and `kb` 1024, as in Redis.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    if num.is_empty() {
        return None;
    }
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// `maxmemory-clients`: a memory value or a percentage of `maxmemory` (`5%`).
fn parse_memory_or_percent(s: &str) -> Option<String> {
    if let Some(p) = s.strip_suffix('%') {
        let n: u64 = p.parse().ok()?;
        return Some(format!("{n}%"));
    }
    if s.is_empty() {
        return Some("0".into());
    }
    parse_memory(s).map(|v| v.to_string())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// The server's configuration: canonical text value of every directive.
#[derive(Clone, Debug)]
pub struct Config {
    /// Keyed by canonical name; a hash map because commands read encoding thresholds
    /// through `int` on every call.
    values: HashMap<&'static str, String, ahash::RandomState>,
    /// `rename-command` directives from the configuration file (old name, new name).
    pub renames: Vec<(String, String)>,
    /// `user` directives from the configuration file: each directive's arguments
    /// (name, rules...), applied at startup by `crate::acl::startup`.
    pub users: Vec<Vec<String>>,
    /// Path of the configuration file, if one was given (for INFO `config_file`).
    pub file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        let mut values = HashMap::default();
        for d in DIRECTIVES {
            values.insert(d.name, d.default.to_string());
        }
        let mut c = Config {
            values,
            renames: Vec::new(),
            users: Vec::new(),
            file: None,
        };
        if let Ok(cwd) = std::env::current_dir() {
            c.values.insert("dir", cwd.to_string_lossy().into_owned());
        }
        c
    }
}

/// A fatal configuration error, printed as Redis prints it.
#[derive(Debug)]
pub struct ConfigError {
    pub line_no: usize,
    pub line: String,
    pub msg: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis {VERSION_REDIS}) ***"
        )?;
        writeln!(
            f,
            "Reading the configuration file, at line {}",
            self.line_no
        )?;
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.msg)
    }
}

/// Splits a config line into arguments with Redis's quoting rules.
fn split_line(line: &str) -> Option<Vec<String>> {
    let mut p = crate::protocol::Parser::new();
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    match p.parse(&buf, crate::protocol::Limits::default()) {
        crate::protocol::Parsed::Command { .. } => Some(
            p.spans()
                .iter()
                .map(|&(s, e)| {
                    let tok = &buf[s..e];
                    let bytes = if crate::protocol::parser::inline_token_is_quoted(tok) {
                        crate::protocol::parser::decode_inline_token(tok)
                    } else {
                        tok.to_vec()
                    };
                    text(&bytes)
                })
                .collect(),
        ),
        _ => None,
    }
}

impl Config {
    /// Builds the configuration from `redis-server`-style arguments (without argv[0]):
    /// an optional config file path first, then `--directive value...` options, which
    /// are applied after the file (and win), exactly as Redis composes them.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut text = String::new();
        let mut i = 0;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let content = if first == "-" {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                        .map_err(|e| format!("Fatal error, can't read config from stdin: {e}"))?;
                    s
                } else {
                    cfg.file = Some(
                        std::fs::canonicalize(first)
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_else(|_| first.clone()),
                    );
                    std::fs::read_to_string(first).map_err(|e| {
                        format!("Fatal error, can't open config file '{first}': {e}")
                    })?
                };
                text.push_str(&content);
                i = 1;
            }
        }
        // Redis appends the options after the file (or after nothing) as
        // "\n" + "port \"7000\" \nsave \"60\" \"100\" ": a leading newline, one line per
        // `--name`, every value quoted (sdscatrepr). Error messages quote these lines and
        // count them, so the composition is reproduced exactly.
        text.push('\n');
        let rest = &args[i..];
        let mut options = String::new();
        // False right after a `--name` given without a value: the next argument is its
        // value even if it starts with "--" (Redis's `handled_last_config_arg`).
        let mut handled_last = true;
        for (j, a) in rest.iter().enumerate() {
            if let (true, Some(name)) = (handled_last, a.strip_prefix("--")) {
                if !options.is_empty() {
                    options.push('\n');
                }
                options.push_str(name);
                options.push(' ');
                if name.split_whitespace().count() <= 1 {
                    handled_last = false;
                    let next_is_option = rest.get(j + 1).is_some_and(|n| n.starts_with("--"));
                    if name.eq_ignore_ascii_case("save") && (next_is_option || j + 1 == rest.len())
                    {
                        // `--save --port 1` and a trailing `--save` mean `save ""`.
                        options.push_str("\"\"");
                        handled_last = true;
                    }
                } else {
                    handled_last = true;
                }
            } else {
                options.push_str(&quote(a));
                options.push(' ');
                handled_last = true;
            }
        }
        text.push_str(&options);
        text.push('\n');
        cfg.load_text(&text).map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    /// Applies configuration text (a whole `redis.conf`).
    pub fn load_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |msg: String| ConfigError {
                line_no: idx + 1,
                line: line.to_string(),
                msg,
            };
            let argv = split_line(line)
                .ok_or_else(|| err("Unbalanced quotes in configuration line".into()))?;
            if argv.is_empty() {
                continue;
            }
            let name = argv[0].to_ascii_lowercase();
            match name.as_str() {
                "include" => {
                    if argv.len() != 2 {
                        return Err(err("Bad directive or wrong number of arguments".into()));
                    }
                    let inc = std::fs::read_to_string(&argv[1])
                        .map_err(|e| err(format!("Can't open included file '{}': {e}", argv[1])))?;
                    self.load_text(&inc)?;
                    continue;
                }
                "rename-command" => {
                    if argv.len() != 3 {
                        return Err(err("Bad directive or wrong number of arguments".into()));
                    }
                    let from = argv[1].to_ascii_lowercase();
                    if !self.command_exists(&from) {
                        return Err(err("No such command in rename-command".into()));
                    }
                    self.renames.push((from, String::new()));
                    let to = argv[2].to_ascii_lowercase();
                    if !to.is_empty() && self.command_exists(&to) {
                        return Err(err("Target command name already exists".into()));
                    }
                    if let Some(last) = self.renames.last_mut() {
                        last.1 = to;
                    }
                    continue;
                }
                "user" if argv.len() >= 2 => {
                    crate::acl::file::validate_directive(&argv).map_err(err)?;
                    self.users.push(argv[1..].to_vec());
                    continue;
                }
                "loadmodule" => {
                    return Err(err("Modules are not supported by Ferrodis".into()));
                }
                n if FILE_ONLY.contains(&n) => continue,
                _ => {}
            }
            self.set(&name, &argv[1..], false).map_err(err)?;
        }
        Ok(())
    }

    /// Whether a command is known by `name` (lower case) after the `rename-command`
    /// directives read so far (applied to the table by `CommandTable::rename`).
    fn command_exists(&self, name: &str) -> bool {
        let mut exists = crate::commands::table::families()
            .iter()
            .any(|f| f.iter().any(|c| c.name == name));
        for (from, to) in &self.renames {
            if from == name {
                exists = false;
            }
            if to == name {
                exists = true;
            }
        }
        exists
    }

    /// Validates and stores a directive. `runtime` is true for CONFIG SET (immutable
    /// directives are refused). Errors are Redis's texts (without prefix).
    pub fn set(&mut self, name: &str, args: &[String], runtime: bool) -> Result<(), String> {
        let Some(d) = find(name) else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        if runtime && !d.mutable {
            return Err("can't set immutable config".into());
        }
        let value = match d.kind {
            Special => self.special(d.name, args)?,
            _ => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let a = &args[0];
                match d.kind {
                    Bool => {
                        let b = parse_bool(a).ok_or("argument must be 'yes' or 'no'")?;
                        if b { "yes" } else { "no" }.to_string()
                    }
                    Int => {
                        let v: i64 = a.parse().map_err(|_| {
                            "argument couldn't be parsed into an integer".to_string()
                        })?;
                        let (lo, hi) = int_range(d.name);
                        if v < lo || v > hi {
                            return Err(format!(
                                "argument must be between {lo} and {hi} inclusive"
                            ));
                        }
                        v.to_string()
                    }
                    Mem => {
                        if d.name == "maxmemory-clients" {
                            parse_memory_or_percent(a)
                                .ok_or("argument must be a memory or percent value")?
                        } else if a.is_empty() {
                            // Redis's memtoull reads an empty string as 0.
                            "0".to_string()
                        } else {
                            parse_memory(a)
                                .ok_or("argument must be a memory value")?
                                .to_string()
                        }
                    }
                    Enum(options) => {
                        let l = a.to_ascii_lowercase();
                        if !options.contains(&l.as_str()) {
                            return Err(format!(
                                "argument(s) must be one of the following: {}",
                                options.join(", ")
                            ));
                        }
                        l
                    }
                    _ => a.clone(),
                }
            }
        };
        self.values.insert(d.name, value);
        Ok(())
    }

    fn special(&self, name: &str, args: &[String]) -> Result<String, String> {
        match name {
            "save" => {
                // "save ''" or "save" with no args clears; otherwise pairs of integers.
                if args.is_empty() || (args.len() == 1 && args[0].is_empty()) {
                    return Ok(String::new());
                }
                let parts: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
                if !parts.len().is_multiple_of(2) {
                    return Err("Invalid save parameters".into());
                }
                for p in &parts {
                    if p.parse::<u64>().is_err() {
                        return Err("Invalid save parameters".into());
                    }
                }
                Ok(parts.join(" "))
            }
            "bind" => {
                if args.is_empty() {
                    return Err("wrong number of arguments".into());
                }
                let parts: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
                if parts.len() > 16 {
                    return Err("Too many bind addresses specified.".into());
                }
                Ok(parts.join(" "))
            }
            "dir" => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                std::env::set_current_dir(&args[0]).map_err(|e| e.to_string())?;
                Ok(std::env::current_dir()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| args[0].clone()))
            }
            "client-output-buffer-limit" => {
                let parts: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
                // No class at all (CONFIG SET to "") changes nothing, as in Redis.
                if !parts.len().is_multiple_of(4) {
                    return Err("Wrong number of arguments in buffer limit configuration.".into());
                }
                let mut current: BTreeMap<&str, [String; 3]> = BTreeMap::new();
                let cur = self.get("client-output-buffer-limit").unwrap_or_default();
                let cur_parts: Vec<&str> = cur.split_whitespace().collect();
                for c in cur_parts.chunks(4) {
                    if c.len() == 4 {
                        current.insert(c[0], [c[1].into(), c[2].into(), c[3].into()]);
                    }
                }
                for c in parts.chunks(4) {
                    let class = match c[0].to_ascii_lowercase().as_str() {
                        "normal" => "normal",
                        "slave" | "replica" => "slave",
                        "pubsub" => "pubsub",
                        _ => {
                            return Err(
                                "Invalid client class specified in buffer limit configuration."
                                    .into(),
                            )
                        }
                    };
                    let hard = parse_memory(c[1]).ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
                    let soft = parse_memory(c[2]).ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
                    let secs: u64 = c[3].parse().map_err(|_| {
                        "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    })?;
                    current.insert(
                        class,
                        [hard.to_string(), soft.to_string(), secs.to_string()],
                    );
                }
                let mut out = Vec::new();
                for class in ["normal", "slave", "pubsub"] {
                    if let Some(v) = current.get(class) {
                        out.push(format!("{class} {} {} {}", v[0], v[1], v[2]));
                    }
                }
                Ok(out.join(" "))
            }
            "latency-tracking-info-percentiles" => {
                // Numbers between 0 and 100 separated by single spaces (Redis splits
                // on each space, so an empty item is invalid).
                let items: Vec<&str> = args
                    .iter()
                    .filter(|a| !a.is_empty())
                    .flat_map(|a| a.split(' '))
                    .collect();
                let mut out = Vec::new();
                for it in items {
                    let v: f64 = it
                        .parse()
                        .map_err(|_| "Invalid latency-tracking-info-percentiles parameters")?;
                    if !(0.0..=100.0).contains(&v) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    out.push(crate::server::latency::fmt_percentile(v));
                }
                Ok(out.join(" "))
            }
            "notify-keyspace-events" => {
                if args.len() != 1 {
                    return Err("wrong number of arguments".into());
                }
                let flags = crate::config::keyspace_events_from_str(&args[0])
                    .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
                Ok(keyspace_events_stored(flags))
            }
            "replicaof" => {
                if args.len() != 2 {
                    return Err("wrong number of arguments".into());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    return Ok(String::new());
                }
                Err("Replication is not supported by Ferrodis yet".into())
            }
            _ => Ok(args.join(" ")),
        }
    }

    /// Canonical value of a directive (by name or alias).
    pub fn get(&self, name: &str) -> Option<String> {
        let d = find(name)?;
        self.values.get(d.name).cloned()
    }

    /// A value as CONFIG GET shows it (`get` returns the stored form).
    pub fn get_display(&self, name: &str) -> Option<String> {
        let d = find(name)?;
        self.values
            .get(d.name)
            .map(|v| display_value(d.name, v.clone()))
    }

    /// `(name, value)` pairs matching a CONFIG GET pattern, aliases included. Hidden
    /// directives (Redis's HIDDEN_CONFIG, for tests) match only by exact name.
    pub fn matching(&self, pattern: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for d in DIRECTIVES {
            if HIDDEN.contains(&d.name) && !pattern.eq_ignore_ascii_case(d.name) {
                continue;
            }
            let v = display_value(d.name, self.values.get(d.name).cloned().unwrap_or_default());
            if glob_match(pattern.as_bytes(), d.name.as_bytes(), true) {
                out.push((d.name.to_string(), v.clone()));
            }
            for a in d.aliases {
                if glob_match(pattern.as_bytes(), a.as_bytes(), true) {
                    out.push((a.to_string(), v.clone()));
                }
            }
        }
        out
    }

    pub fn str(&self, name: &str) -> String {
        self.get(name).unwrap_or_default()
    }

    pub fn int(&self, name: &str) -> i64 {
        // Canonical names (what the code passes) need one lookup and no allocation.
        let v = match self.values.get(name) {
            Some(v) => Some(v),
            None => find(name).and_then(|d| self.values.get(d.name)),
        };
        v.and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name).as_deref() == Some("yes")
    }

    /// The configuration file rewritten for CONFIG REWRITE: comments and lines Ferrodis
    /// does not store (include, rename-command, ...) stay; each known directive keeps its
    /// first line, updated to the current value; directives changed from their default
    /// but absent from the file are appended after Redis's marker comment.
    pub fn rewrite_text(&self, original: &str) -> String {
        const MARKER: &str = "# Generated by CONFIG REWRITE";
        // Redis splits the old file on newlines (a final newline leaves an empty last
        // line, which is why a rewrite leaves a blank line before what it appends) and
        // writes the lines back joined by newlines, plus one.
        let old: Vec<&str> = if original.is_empty() {
            Vec::new()
        } else {
            original.split('\n').collect()
        };
        let mut lines: Vec<String> = Vec::new();
        let mut written = std::collections::HashSet::new();
        // An existing marker stays where it is and is not added again.
        let mut has_marker = false;
        for raw in old {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.trim() == MARKER {
                has_marker = true;
                lines.push(raw.to_string());
                continue;
            }
            let line = raw.trim();
            let d = if line.is_empty() || line.starts_with('#') {
                None
            } else {
                split_line(line)
                    .and_then(|a| a.first().cloned())
                    .and_then(|n| find(&n))
            };
            match d {
                Some(d) => {
                    // The first line of a directive is updated, later ones dropped.
                    if written.insert(d.name) {
                        lines.push(self.directive_line(d));
                    }
                }
                None => lines.push(raw.to_string()),
            }
        }
        let mut extra = Vec::new();
        for d in DIRECTIVES {
            if written.contains(d.name) {
                continue;
            }
            let v = self.values.get(d.name).map(String::as_str).unwrap_or("");
            // Redis 7.0 always writes `dir` and `latency-tracking-info-percentiles`.
            let always = matches!(d.name, "dir" | "latency-tracking-info-percentiles");
            if always || v != d.default {
                extra.push(self.directive_line(d));
            }
        }
        if !extra.is_empty() && !has_marker {
            lines.push(MARKER.to_string());
        }
        lines.extend(extra);
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    fn directive_line(&self, d: &Directive) -> String {
        let v = display_value(d.name, self.values.get(d.name).cloned().unwrap_or_default());
        match d.kind {
            // Strings are written quoted, as Redis's sdscatrepr.
            Str => format!("{} {}", d.name, quote(&v)),
            Special if d.name == "dir" => format!("{} {}", d.name, quote(&v)),
            // Multi-word values are written as separate arguments.
            Special if d.name != "notify-keyspace-events" && !v.is_empty() => {
                format!("{} {}", d.name, v)
            }
            _ => format!("{} {}", d.name, quote_if_needed(&v)),
        }
    }

    /// `save` points as (seconds, changes) pairs.
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        let v: Vec<u64> = self
            .str("save")
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        v.chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0], c[1]))
            .collect()
    }
}

/// CONFIG REWRITE writes plain values as they are and quotes only those that need it
/// (empty, or containing spaces, quotes or control characters), as Redis does.
fn quote_if_needed(a: &str) -> String {
    let plain = !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'\'');
    if plain {
        a.to_string()
    } else {
        quote(a)
    }
}

/// Quotes a command-line argument the way Redis's `sdscatrepr` does when it composes
/// `--directive value` options into configuration text (always quoted, so that error
/// messages print the same line Redis prints).
fn quote(a: &str) -> String {
    let mut s = String::from("\"");
    for &b in a.as_bytes() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// Keyspace notification classes (Redis's NOTIFY_* bits).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const LOADED: u32 = 1 << 12;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a `notify-keyspace-events` string (Redis's `keyspaceEventsStringToFlags`).
pub fn keyspace_events_from_str(s: &str) -> Option<u32> {
    use notify::*;
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// A stored value as CONFIG GET and CONFIG REWRITE show it: `notify-keyspace-events`
/// is stored losslessly (see [`keyspace_events_stored`]) and shown as Redis does.
fn display_value(name: &str, v: String) -> String {
    if name == "notify-keyspace-events" {
        if let Some(f) = keyspace_events_from_str(&v) {
            return keyspace_events_to_str(f);
        }
    }
    v
}

/// The stored form of notification flags: Redis's string, plus `n` after `A` when
/// both are set (Redis keeps that flag but does not show it after `A`).
pub fn keyspace_events_stored(f: u32) -> String {
    let mut s = keyspace_events_to_str(f);
    if f & notify::NEW != 0 && s.starts_with('A') {
        s.insert(1, 'n');
    }
    s
}

/// Formats notification flags as Redis does (`keyspaceEventsFlagsToString`).
pub fn keyspace_events_to_str(f: u32) -> String {
    use notify::*;
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            // Redis 7.0 prints `n` among the classes, and not at all after `A`.
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    if f & KEYSPACE != 0 {
        s.push('K');
    }
    if f & KEYEVENT != 0 {
        s.push('E');
    }
    if f & KEY_MISS != 0 {
        s.push('m');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.str("port"), "6379");
        assert_eq!(c.int("databases"), 16);
        assert!(c.bool("protected-mode"));
        assert_eq!(c.str("save"), "3600 1 300 100 60 10000");
        assert_eq!(c.str("bind"), "* -::*");
    }

    #[test]
    fn command_line_options() {
        let c = Config::from_args(&args(&[
            "--port",
            "7001",
            "--save",
            "",
            "--maxmemory",
            "100mb",
        ]))
        .unwrap();
        assert_eq!(c.str("port"), "7001");
        assert_eq!(c.str("save"), "");
        assert_eq!(c.str("maxmemory"), "104857600");
    }

    #[test]
    fn unknown_directive_names_line() {
        let e = Config::from_args(&args(&["--port", "7001", "--bogus", "1"])).unwrap_err();
        // As redis-server: options follow an empty first line, values are quoted.
        assert!(e.contains("at line 3"), "{e}");
        assert!(e.contains(">>> 'bogus \"1\"'"), "{e}");
        assert!(
            e.contains("Bad directive or wrong number of arguments"),
            "{e}"
        );
    }

    #[test]
    fn validation() {
        let mut c = Config::default();
        assert_eq!(
            c.set("port", &args(&["x"]), false).unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            c.set("appendonly", &args(&["maybe"]), false).unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            c.set("databases", &args(&["4"]), true).unwrap_err(),
            "can't set immutable config"
        );
        assert!(c
            .set("maxmemory-policy", &args(&["allkeys-lru"]), true)
            .is_ok());
        assert_eq!(
            keyspace_events_to_str(keyspace_events_from_str("KEA").unwrap()),
            "AKE"
        );
    }
}
