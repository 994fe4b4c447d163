//! Sets (Redis's `t_set.c`): the value type and its encodings.
//!
//! Scaffold: the set family fills this in (compact encoding below the
//! configured thresholds, full structure above, OBJECT ENCODING names as Redis's).

/// A set value. No command creates one yet.
#[derive(Clone, Default, Debug)]
pub struct SetValue {}

impl SetValue {
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
