//! The wire protocol: request parsing ([`parser`]) and reply encoding ([`reply`]).
//! Nothing here knows about commands or the keyspace.

pub mod parser;
pub mod reply;

pub use parser::{Limits, Parsed, Parser};
pub use reply::{Proto, Reply};
