//! Value types stored in the keyspace, one module per data type (as Redis keeps one
//! `t_*.c` file per type). They hold data and its encodings only; command semantics
//! live in `commands/`.

pub mod hash;
pub mod hll;
pub mod list;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;

pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::StreamValue;
pub use string::StrValue;
pub use zset::ZSetValue;

/// A value stored under a key.
///
/// The enum is kept at 24 bytes: variants hold at most one pointer-sized payload pair,
/// larger structures are boxed.
#[derive(Clone)]
pub enum Value {
    Str(StrValue),
    List(Box<ListValue>),
    /// Unboxed: a small hash is one 16-byte listpack pointer (see `types::hash`).
    Hash(HashValue),
    /// Inline: `SetValue` is two words (a small set is one packed buffer).
    Set(SetValue),
    /// Inline: `ZSetValue` is two words (its encodings are boxed inside).
    ZSet(ZSetValue),
    Stream(Box<StreamValue>),
}

impl Value {
    /// Starts loading what looking `members` (set members, hash fields) up in this
    /// collection will touch; nothing for the other types.
    pub fn prefetch_members(&self, members: &[&[u8]]) {
        match self {
            Value::Set(s) => s.prefetch(members),
            Value::Hash(h) => h.prefetch(members),
            _ => {}
        }
    }

    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING replies with (Redis's encoding names).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(v) => v.encoding(),
        }
    }

    /// True for a hash some of whose fields have a TTL (the keyspace tracks those keys
    /// for active expiry of fields).
    pub fn has_field_ttls(&self) -> bool {
        match self {
            Value::Hash(h) => h.has_field_ttls(),
            _ => false,
        }
    }

    /// How much work freeing the value is, as Redis's `lazyfreeGetFreeEffort` counts
    /// it: 1 for a string or a compact (single-buffer) collection, otherwise about one
    /// unit per element allocation.
    pub fn free_effort(&self) -> usize {
        if matches!(self, Value::Str(_))
            || matches!(self.encoding(), "listpack" | "intset" | "ziplist")
        {
            return 1;
        }
        match self {
            Value::Str(_) => 1,
            Value::List(v) => v.len(),
            Value::Hash(v) => v.len(),
            Value::Set(v) => v.len(),
            Value::ZSet(v) => v.len(),
            Value::Stream(v) => usize::try_from(v.len()).unwrap_or(usize::MAX),
        }
    }

    /// Approximate heap bytes owned by the value (for MEMORY USAGE and accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(v) => v.heap_size(),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => v.heap_size(),
            Value::ZSet(v) => v.heap_size(),
            Value::Stream(v) => v.heap_size(),
        }
    }
}

/// The error every command gives when a key holds a value of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[cfg(test)]
mod tests {
    #[test]
    fn value_stays_small() {
        // Every key pays for this in its table node: keep it at 24 bytes.
        assert!(std::mem::size_of::<super::Value>() <= 24);
    }
}
