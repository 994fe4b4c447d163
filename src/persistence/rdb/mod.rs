//! The RDB format (`rdb.h` / `rdb.c`): constants, the length and string encodings, and
//! the value codec ([`encode`], [`decode`]).
//!
//! Ferrodis writes RDB version 10 (Redis 7.0's, what the reference server reads) in
//! the form Redis 7.0 writes it, and reads versions 1 to 12 (Redis 7.2 writes 11,
//! Redis 7.4 writes 12).
//!
//! Hash field TTLs (HEXPIRE, Redis 7.4) have no representation before RDB 12. A hash
//! that has live field TTLs is written in Redis 7.4's form (`RDB_TYPE_HASH_METADATA`
//! or `RDB_TYPE_HASH_LISTPACK_EX`) and the payload or file then carries version 12:
//! Ferrodis and Redis 7.4 load it with the TTLs; Redis 7.0 refuses it with its
//! version error instead of silently turning the fields persistent.

pub mod decode;
pub mod encode;
pub mod stream;

/// The version Ferrodis writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The version written when a value needs Redis 7.4's hash field TTL types.
pub const RDB_VERSION_HFE: u16 = 12;
/// The newest version Ferrodis reads.
pub const RDB_MAX_VERSION: u16 = 12;

// Value types.
pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
pub const TYPE_HASH_METADATA: u8 = 24;
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;

/// Whether `t` is a value type byte (as opposed to an opcode).
pub fn is_object_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=25)
}

// Opcodes.
pub const OPCODE_SLOT_INFO: u8 = 244;
pub const OPCODE_FUNCTION2: u8 = 245;
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
pub const OPCODE_MODULE_AUX: u8 = 247;
pub const OPCODE_IDLE: u8 = 248;
pub const OPCODE_FREQ: u8 = 249;
pub const OPCODE_AUX: u8 = 250;
pub const OPCODE_RESIZEDB: u8 = 251;
pub const OPCODE_EXPIRETIME_MS: u8 = 252;
pub const OPCODE_EXPIRETIME: u8 = 253;
pub const OPCODE_SELECTDB: u8 = 254;
pub const OPCODE_EOF: u8 = 255;

// Length / string encodings.
pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// Quicklist 2 node containers.
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// A decoding error: what is wrong, for logs and RESTORE's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub msg: String,
    /// The input ended (or a count exceeds what remains): more bytes could make it
    /// valid. The streaming file loader reads more and retries; anywhere else it is
    /// an error like the others.
    pub short: bool,
}

impl RdbError {
    pub fn new(msg: impl Into<String>) -> RdbError {
        RdbError {
            msg: msg.into(),
            short: false,
        }
    }

    pub fn short(msg: impl Into<String>) -> RdbError {
        RdbError {
            msg: msg.into(),
            short: true,
        }
    }

    /// The same error with `context` appended to its message.
    pub fn context(self, context: &str) -> RdbError {
        RdbError {
            msg: format!("{} {context}", self.msg),
            short: self.short,
        }
    }
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

pub type Result<T> = std::result::Result<T, RdbError>;

/// Checks a DUMP / FUNCTION DUMP payload's footer (2-byte RDB version, CRC-64 of
/// everything before it, little-endian) and returns (body, version). `None` when the
/// version is newer than Ferrodis reads or the checksum is wrong (Redis's
/// `verifyDumpPayload`; `skip_crc` mirrors `skip_checksum_validation`).
pub fn verify_payload(p: &[u8], skip_crc: bool) -> Option<(&[u8], u16)> {
    if p.len() < 10 {
        return None;
    }
    let footer = p.len() - 10;
    let ver = u16::from_le_bytes([p[footer], p[footer + 1]]);
    if ver > RDB_MAX_VERSION {
        return None;
    }
    if !skip_crc {
        let crc = super::crc64::crc64(0, &p[..p.len() - 8]);
        let stored = u64::from_le_bytes(p[p.len() - 8..].try_into().ok()?);
        if crc != stored {
            return None;
        }
    }
    Some((&p[..footer], ver))
}

/// Appends the DUMP footer (version and CRC-64) to a payload body.
pub fn seal_payload(mut body: Vec<u8>, version: u16) -> Vec<u8> {
    body.extend_from_slice(&version.to_le_bytes());
    let crc = super::crc64::crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}
