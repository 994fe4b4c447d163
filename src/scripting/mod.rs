//! Lua scripting (EVAL, FUNCTION): the Lua 5.1 interpreter Redis embeds, through the
//! `mlua` crate with a vendored Lua 5.1, plus the libraries scripts in the wild rely
//! on (`libs/`: cjson, cmsgpack, bit, struct).

pub mod libs;
