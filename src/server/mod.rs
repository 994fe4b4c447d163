//! The server layer: shared state ([`Server`]), the listener and per-connection loop
//! ([`connection`]), command dispatch ([`dispatch`]), client registry ([`client`]),
//! background jobs ([`cron`]) and logging ([`log`]).

pub mod blocking;
pub mod client;
pub mod connection;
pub mod cron;
pub mod dispatch;
pub mod evict;
pub mod latency;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod monitor;
pub mod multi;
pub mod notify;
pub mod obuf;
pub mod pause;
pub mod propagate;
pub mod pubsub;
pub mod slowlog;
pub mod tls;
pub mod tracking;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::commands::table::CommandTable;
use crate::config::Config;
use crate::keyspace::Keyspace;
use client::Registry;

/// Server-wide counters reported by INFO stats. Updated with relaxed atomics, mostly
/// once per batch of pipelined commands rather than per command.
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: AtomicU64,
    pub expired_keys_active: AtomicU64,
    pub expire_cycle_cpu_ms: AtomicU64,
    /// Clients currently blocked on keys.
    pub blocked_clients: AtomicU64,
}

/// Values read on every request, cached out of the configuration so the hot path does
/// not take the configuration lock.
pub struct Hot {
    pub proto_max_bulk_len: AtomicU64,
    pub client_query_buffer_limit: AtomicU64,
    pub maxclients: AtomicU64,
    pub timeout_secs: AtomicU64,
    pub requirepass: RwLock<Option<String>>,
    /// `list-max-listpack-size` (read on every list write).
    pub list_max_listpack_size: AtomicI64,
    /// The other encoding limits read on every write of their type (a configuration
    /// lookup by name took 3% of a PFADD's time), indexed by [`Limit`].
    pub limits: [AtomicI64; Limit::ALL.len()],
}

/// A directive cached in [`Hot::limits`].
#[derive(Clone, Copy)]
pub enum Limit {
    HashMaxListpackEntries,
    HashMaxListpackValue,
    SetMaxIntsetEntries,
    ZsetMaxListpackEntries,
    ZsetMaxListpackValue,
    StreamNodeMaxEntries,
    StreamNodeMaxBytes,
    HllSparseMaxBytes,
}

impl Limit {
    /// Every limit, in declaration order (so `ALL[l as usize]` is `l`).
    pub const ALL: [Limit; 8] = [
        Limit::HashMaxListpackEntries,
        Limit::HashMaxListpackValue,
        Limit::SetMaxIntsetEntries,
        Limit::ZsetMaxListpackEntries,
        Limit::ZsetMaxListpackValue,
        Limit::StreamNodeMaxEntries,
        Limit::StreamNodeMaxBytes,
        Limit::HllSparseMaxBytes,
    ];

    /// The configuration directive.
    pub fn name(self) -> &'static str {
        match self {
            Limit::HashMaxListpackEntries => "hash-max-listpack-entries",
            Limit::HashMaxListpackValue => "hash-max-listpack-value",
            Limit::SetMaxIntsetEntries => "set-max-intset-entries",
            Limit::ZsetMaxListpackEntries => "zset-max-listpack-entries",
            Limit::ZsetMaxListpackValue => "zset-max-listpack-value",
            Limit::StreamNodeMaxEntries => "stream-node-max-entries",
            Limit::StreamNodeMaxBytes => "stream-node-max-bytes",
            Limit::HllSparseMaxBytes => "hll-sparse-max-bytes",
        }
    }
}

impl Hot {
    /// The current value of a cached limit, negative values as 0.
    #[inline]
    pub fn limit(&self, l: Limit) -> u64 {
        self.limits[l as usize].load(Ordering::Relaxed).max(0) as u64
    }
}

/// State shared by every connection and background job.
pub struct Server {
    pub ks: Keyspace,
    pub config: RwLock<Config>,
    pub hot: Hot,
    pub commands: CommandTable,
    pub clients: Registry,
    pub stats: Stats,
    pub started: Instant,
    pub started_unix_ms: u64,
    /// Unix seconds of the last successful save (LASTSAVE); the start time until then.
    pub lastsave: AtomicU64,
    /// 40 hex characters identifying this run (INFO `run_id`).
    pub run_id: String,
    /// Set once shutdown begins; connections stop accepting commands.
    pub shutting_down: AtomicBool,
    /// Wakes the main task to perform a shutdown requested by SHUTDOWN or a signal.
    pub shutdown: tokio::sync::Notify,
    /// The shutdown mode requested (flags from SHUTDOWN's arguments).
    pub shutdown_request: Mutex<Option<ShutdownRequest>>,
    /// Highest memory usage seen (INFO used_memory_peak).
    pub mem_peak: AtomicU64,
    /// Port actually listened on (the configured one, or the OS's choice for port 0).
    pub port: AtomicU64,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the cron runs the active expiry cycle.
    pub active_expire: AtomicBool,
    /// The Lua interpreter and script cache (scripts run one at a time, under the
    /// exclusive gate).
    pub scripts: Mutex<crate::scripting::Engine>,
    /// The running script's state, visible without the engine's lock (BUSY, SCRIPT
    /// KILL).
    pub script_state: Arc<crate::scripting::RunState>,
    /// Redis 7 Functions: libraries, their interpreter and the running function.
    pub functions: crate::scripting::functions::Registry,
    /// Pub/Sub subscriptions and delivery.
    pub pubsub: pubsub::Hub,
    /// RDB save/load counters (INFO persistence).
    pub persistence: crate::persistence::snapshot::State,
    /// Client-side caching: the tracking table and BCAST prefixes.
    pub tracking: tracking::Tracking,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Monitors,
    /// The append-only file (see `persistence::aof`).
    pub aof: crate::persistence::aof::Aof,
    /// SLOWLOG.
    pub slowlog: slowlog::SlowLog,
    /// `maxmemory` and eviction.
    pub evict: evict::Evictor,
    /// TLS: the context for `tls-port` connections and that port's listeners.
    pub tls: tls::Tls,
    /// CLIENT PAUSE (see `pause`).
    pub pause: pause::Pause,
    /// INFO `client_recent_max_output_buffer` (see `obuf`).
    pub obuf_peak: obuf::Peak,
    /// The latency monitor and latency-tracking settings (LATENCY, INFO latencystats).
    pub latency: &'static latency::Monitor,
    /// ACL users and ACL LOG (see `crate::acl`).
    pub acl: crate::acl::Acl,
    /// This server, for starting background jobs from a `&Server` (see [`Server::arc`]).
    me: std::sync::Weak<Server>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ShutdownRequest {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
    /// Exit code the process should end with.
    pub signal: Option<&'static str>,
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        let databases = config.int("databases").max(1) as usize;
        let hot = Hot {
            proto_max_bulk_len: AtomicU64::new(config.int("proto-max-bulk-len") as u64),
            client_query_buffer_limit: AtomicU64::new(
                config.int("client-query-buffer-limit") as u64
            ),
            maxclients: AtomicU64::new(config.int("maxclients") as u64),
            timeout_secs: AtomicU64::new(config.int("timeout") as u64),
            requirepass: RwLock::new(None),
            list_max_listpack_size: AtomicI64::new(config.int("list-max-listpack-size")),
            limits: Limit::ALL.map(|l| AtomicI64::new(config.int(l.name()))),
        };
        let script_state = Arc::new(crate::scripting::RunState::default());
        let mut commands = CommandTable::new();
        for (from, to) in &config.renames {
            commands.rename(from, to);
        }
        Arc::new_cyclic(|me| Server {
            me: me.clone(),
            ks: Keyspace::new(databases),
            config: RwLock::new(config),
            hot,
            commands,
            clients: Registry::default(),
            stats: Stats::default(),
            started: Instant::now(),
            started_unix_ms: crate::util::time::now_ms(),
            lastsave: AtomicU64::new(crate::util::time::now_ms() / 1000),
            run_id: random_hex(40),
            shutting_down: AtomicBool::new(false),
            shutdown: tokio::sync::Notify::new(),
            shutdown_request: Mutex::new(None),
            mem_peak: AtomicU64::new(0),
            port: AtomicU64::new(0),
            active_expire: AtomicBool::new(true),
            scripts: Mutex::new(
                crate::scripting::Engine::new(script_state.clone())
                    .expect("the Lua interpreter starts (no client input involved)"),
            ),
            script_state,
            functions: crate::scripting::functions::Registry::new()
                .expect("the Lua interpreter starts (no client input involved)"),
            pubsub: pubsub::Hub::default(),
            persistence: Default::default(),
            tracking: Default::default(),
            monitors: Default::default(),
            slowlog: Default::default(),
            evict: Default::default(),
            pause: Default::default(),
            obuf_peak: Default::default(),
            latency: latency::global(),
            aof: Default::default(),
            tls: Default::default(),
            acl: Default::default(),
        })
        .init()
    }

    fn init(self: Arc<Server>) -> Arc<Server> {
        crate::memory::record_startup();
        // Not a configuration setting: applied once (arenas created later inherit it).
        crate::memory::set_dirty_decay(crate::memory::DIRTY_DECAY_MS);
        self.refresh_hot();
        self
    }

    /// A counted reference to this server (for threads a command starts).
    pub fn arc(&self) -> Option<Arc<Server>> {
        self.me.upgrade()
    }

    /// Re-reads the cached hot values after a configuration change.
    pub fn refresh_hot(&self) {
        let c = self.config.read();
        let h = &self.hot;
        h.proto_max_bulk_len
            .store(c.int("proto-max-bulk-len") as u64, Ordering::Relaxed);
        h.client_query_buffer_limit
            .store(c.int("client-query-buffer-limit") as u64, Ordering::Relaxed);
        h.maxclients
            .store(c.int("maxclients") as u64, Ordering::Relaxed);
        h.timeout_secs
            .store(c.int("timeout") as u64, Ordering::Relaxed);
        h.list_max_listpack_size
            .store(c.int("list-max-listpack-size"), Ordering::Relaxed);
        for l in Limit::ALL {
            h.limits[l as usize].store(c.int(l.name()), Ordering::Relaxed);
        }
        self.tracking.max_keys.store(
            c.int("tracking-table-max-keys").max(0) as u64,
            Ordering::Relaxed,
        );
        let policy = c.str("maxmemory-policy");
        let access = &self.ks.access;
        access.lfu.store(policy.contains("lfu"), Ordering::Relaxed);
        access.log_factor.store(
            c.int("lfu-log-factor").clamp(0, u32::MAX as i64) as u32,
            Ordering::Relaxed,
        );
        access.decay_time.store(
            c.int("lfu-decay-time").clamp(0, u32::MAX as i64) as u32,
            Ordering::Relaxed,
        );
        self.evict.configure(
            c.int("maxmemory").max(0) as u64,
            &policy,
            c.int("maxmemory-samples").max(1) as usize,
        );
        self.slowlog
            .threshold
            .store(c.int("slowlog-log-slower-than"), Ordering::Relaxed);
        self.slowlog
            .max_len
            .store(c.int("slowlog-max-len").max(0) as u64, Ordering::Relaxed);
        self.latency.configure(
            c.int("latency-monitor-threshold"),
            c.bool("latency-tracking"),
            &c.str("latency-tracking-info-percentiles"),
        );
        drop(c);
        crate::persistence::refresh_deny(self);
        let c = self.config.read();
        let pass = c.str("requirepass");
        let pass = if pass.is_empty() { None } else { Some(pass) };
        let mut cur = h.requirepass.write();
        if *cur != pass {
            // requirepass is the default user's password (Redis's updateRequirePass).
            self.acl.set_default_password(pass.as_deref());
            *cur = pass;
        }
        drop(cur);
        let obl = c.str("client-output-buffer-limit");
        self.pubsub.set_limits(pubsub::Limits::parse(&obl));
        self.pubsub
            .set_normal_limits(pubsub::Limits::parse_class(&obl, "normal"));
        let events = crate::config::keyspace_events_from_str(&c.str("notify-keyspace-events"));
        self.ks
            .notify_flags
            .store(events.unwrap_or(0), Ordering::Relaxed);
        self.ks
            .lazy_expire
            .store(c.bool("lazyfree-lazy-expire"), Ordering::Relaxed);
        crate::memory::set_background_thread(c.bool("jemalloc-bg-thread"));
    }

    /// Asks the main task to shut down.
    pub fn request_shutdown(&self, req: ShutdownRequest) {
        *self.shutdown_request.lock() = Some(req);
        self.shutdown.notify_one();
    }

    /// Number of configured databases.
    pub fn databases(&self) -> usize {
        self.ks.num_dbs()
    }
}

/// `n` random lower-case hex characters.
pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod hot_tests {
    use super::Limit;

    /// `Hot::limits` is indexed by discriminant and filled in `Limit::ALL`'s order.
    #[test]
    fn limit_all_is_in_declaration_order() {
        for (i, l) in Limit::ALL.iter().enumerate() {
            assert_eq!(*l as usize, i, "{}", l.name());
        }
    }
}
