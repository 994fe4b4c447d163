//! (family bits: commands are added here)

use super::Command;

crate::commands! { pub static COMMANDS = []; }
