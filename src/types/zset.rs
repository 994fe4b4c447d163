//! Sorted sets (Redis's `t_zset.c`): the value type and its encodings.
//!
//! Scaffold: the zset family fills this in (compact encoding below the
//! configured thresholds, full structure above, OBJECT ENCODING names as Redis's).

/// A zset value. No command creates one yet.
#[derive(Clone, Default, Debug)]
pub struct ZSetValue {}

impl ZSetValue {
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
