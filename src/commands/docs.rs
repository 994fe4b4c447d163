//! Command documentation (COMMAND DOCS): summaries, groups and argument grammar.
