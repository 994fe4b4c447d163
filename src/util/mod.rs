//! Small helpers shared by every layer: Redis-compatible number parsing and
//! formatting, glob matching, time.

pub mod geohash;
pub mod glob;
pub mod longdouble;
pub mod num;
pub mod time;
