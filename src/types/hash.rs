//! Hashes (Redis's `t_hash.c`): the value type and its encodings.
//!
//! Scaffold: the hash family fills this in (compact encoding below the
//! configured thresholds, full structure above, OBJECT ENCODING names as Redis's).

/// A hash value. No command creates one yet.
#[derive(Clone, Default, Debug)]
pub struct HashValue {}

impl HashValue {
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
