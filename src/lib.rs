//! Ferrodis: a Redis-compatible in-memory data store.
//!
//! Layers, from the bottom up (see ARCHITECTURE.md):
//! * [`util`]: number parsing/formatting, glob matching, time.
//! * [`protocol`]: RESP request parsing and reply encoding.
//! * [`types`]: the values stored under keys and their encodings.
//! * [`keyspace`]: databases, shards, TTLs, expiry, locking.
//! * [`commands`]: the command table and one module per command family.
//! * [`server`]: networking, clients, dispatch, background jobs.
//! * [`persistence`]: the RDB format, DUMP/RESTORE payloads, snapshots.
//! * [`config`]: `redis.conf` directives.

pub mod acl;
pub mod commands;
pub mod config;
pub mod keyspace;
pub mod memory;
pub mod persistence;
pub mod protocol;
pub mod scripting;
pub mod server;
pub mod types;
pub mod util;

/// The Redis version Ferrodis is compatible with, reported as `redis_version` (client
/// libraries such as BullMQ check it).
pub const VERSION_REDIS: &str = "7.2.4";
/// Ferrodis's own version, reported as `ferrodis_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
