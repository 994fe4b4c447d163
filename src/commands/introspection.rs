//! (family introspection: commands are added here)

crate::commands! { pub static COMMANDS = []; }
