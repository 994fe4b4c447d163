//! Value types stored in the keyspace, one module per data type (as Redis keeps one
//! `t_*.c` file per type). They hold data and its encodings only; command semantics
//! live in `commands/`.

pub mod string;

pub use string::StrValue;

/// A value stored under a key.
///
/// The enum is kept at 24 bytes: variants hold at most one pointer-sized payload pair,
/// larger structures are boxed.
#[derive(Clone)]
pub enum Value {
    Str(StrValue),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name OBJECT ENCODING replies with (Redis's encoding names).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    /// Approximate heap bytes owned by the value (for MEMORY USAGE and accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
        }
    }
}

/// The error every command gives when a key holds a value of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
