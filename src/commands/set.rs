//! The set command family (issue 3). Commands are added here.

crate::commands! { pub static COMMANDS = []; }
