//! Persistence: Redis's RDB format (values for DUMP/RESTORE, whole snapshots for
//! SAVE and loading at startup), with the building blocks it needs: CRC-64, LZF, and
//! the compact encodings Redis stores inside RDB files (listpack, ziplist, intset,
//! zipmap).

pub mod crc64;
pub mod legacy;
pub mod listpack;
pub mod lzf;
pub mod rdb;
pub mod snapshot;
