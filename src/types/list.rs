//! Lists (Redis's `t_list.c`): the value type and its encodings.
//!
//! Scaffold: the list family fills this in (compact encoding below the
//! configured thresholds, full structure above, OBJECT ENCODING names as Redis's).

/// A list value. No command creates one yet.
#[derive(Clone, Default, Debug)]
pub struct ListValue {}

impl ListValue {
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }
}
