//! The ACL file (`aclfile`: ACL LOAD / ACL SAVE, loaded at startup) and the `user`
//! directives of the configuration file, read as Redis 7.0 reads them.

use super::user::{merge_selectors, User};

/// Parses an ACL file's text (Redis's `ACLLoadFromFile`): the users, or the error text
/// (every problem found, then Redis's closing warning).
pub fn parse(text: &str, path: &str, pubsub_all: bool) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&str> = line.split(' ').collect();
        if argv.first() != Some(&"user") || argv.len() < 2 {
            errors.push_str(&format!(
                "{path}:{line_no} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if name.is_empty() || name.contains(' ') || name.contains('\0') {
            errors.push_str(&format!(
                "'{path}:{line_no}: username '{name}' contains invalid characters. "
            ));
            continue;
        }
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{name}' found on line {line_no}. "
            ));
            continue;
        }
        let mut u = User::new(name, pubsub_all);
        let rest: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_bytes()).collect();
        let merged = match merge_selectors(&rest) {
            Ok(m) => m,
            Err(_) => {
                errors.push_str(&format!(
                    "{path}:{line_no}: Unmatched parenthesis in selector definition."
                ));
                continue;
            }
        };
        let mut bad = false;
        for a in merged {
            let a = trim_bytes(&a);
            if let Err(e) = u.apply(a, pubsub_all) {
                errors.push_str(&format!("{path}:{line_no}: {}. ", e.text()));
                bad = true;
                break;
            }
        }
        if bad || !errors.is_empty() {
            continue;
        }
        users.push(u);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

fn trim_bytes(a: &[u8]) -> &[u8] {
    let is = |c: &u8| matches!(c, b'\t' | b'\r' | b'\n');
    let start = a.iter().position(|c| !is(c)).unwrap_or(a.len());
    let end = a.iter().rposition(|c| !is(c)).map_or(start, |e| e + 1);
    &a[start..end.max(start)]
}

/// The ACL file's text for `users` (ACL SAVE).
pub fn render(users: &[User]) -> Vec<u8> {
    let mut out = Vec::new();
    for u in users {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(u.name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&u.describe());
        out.push(b'\n');
    }
    out
}

/// Applies the configuration file's `user` directives (each the directive's arguments
/// after `user`): Redis's `ACLAppendUserForLoading` + `ACLLoadConfiguredUsers`.
pub fn from_directives(dirs: &[Vec<String>], pubsub_all: bool) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    for d in dirs {
        let Some(name) = d.first() else {
            return Err("Error in user declaration: the user name is missing".into());
        };
        if users.iter().any(|u| &u.name == name) {
            return Err(
                "Duplicate user found. A user can only be defined once in config files".into(),
            );
        }
        let rest: Vec<&[u8]> = d[1..].iter().map(|a| a.as_bytes()).collect();
        let merged = merge_selectors(&rest)?;
        let mut u = User::new(name, pubsub_all);
        if name == "default" {
            // The default user already exists: Redis resets it first.
            let _ = u.apply(b"reset", pubsub_all);
        }
        for a in merged {
            u.apply(&a, pubsub_all).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(&a),
                    name,
                    e.text()
                )
            })?;
        }
        users.push(u);
    }
    Ok(users)
}

/// CONFIG REWRITE's `user` lines (Redis's `rewriteConfigUserOption`): the old ones are
/// dropped; without an ACL file every user is written, in ACL LIST's form.
pub fn rewrite_users(srv: &crate::server::Server, aclfile: &str, text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        let is_user = t
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("user"));
        if !is_user {
            out.push_str(line);
            out.push('\n');
        }
    }
    if aclfile.is_empty() {
        let users = srv.acl.snapshot();
        out.push_str(&String::from_utf8_lossy(&render(&users)));
    }
    out
}

/// Checks a configuration file's `user` directive as it is read (Redis's
/// `ACLAppendUserForLoading`): `argv` is the whole directive. Unknown commands are let
/// through (they fail at startup); the message names `argv[j]` for the failing merged
/// rule `j`, as Redis 7.0 prints it.
pub fn validate_directive(argv: &[String]) -> Result<(), String> {
    let show = |j: usize| argv.get(j).cloned().unwrap_or_default();
    let rest: Vec<&[u8]> = argv.iter().skip(2).map(|a| a.as_bytes()).collect();
    let merged = merge_selectors(&rest)
        .map_err(|e| format!("Error in user declaration '{}': {e}", show(0)))?;
    let mut fake = User::new("fake", false);
    for (j, a) in merged.iter().enumerate() {
        match fake.apply(a, false) {
            Ok(()) | Err(super::RuleError::NoEnt) => {}
            Err(e) => {
                return Err(format!(
                    "Error in user declaration '{}': {}",
                    show(j),
                    e.text()
                ));
            }
        }
    }
    Ok(())
}
