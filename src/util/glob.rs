//! Glob-style pattern matching with exactly the semantics of Redis's `stringmatchlen`
//! (used by KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE, ...): `*`, `?`, `[abc]`, `[^a]`,
//! `[a-z]` and `\` escapes, on raw bytes.

/// Returns true if `string` matches `pattern`. `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Redis bounds the recursion depth of '*' handling; an iterative backtracking
    // matcher has no recursion at all and the same results.
    matches(pattern, string, nocase, 0)
}

fn lower(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Redis gives up (no match) past a nesting limit to avoid stack exhaustion.
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if matches(&p[1..], s, nocase, depth + 1) {
                        return true;
                    }
                    s = &s[1..];
                }
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0], p[2]);
                        let c = lower(s[0], nocase);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let (start, end) = (lower(start, nocase), lower(end, nocase));
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if lower(p[0], nocase) == lower(s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                // Redis: a missing ']' is treated as if the pattern ended here.
                if p.is_empty() {
                    // pattern exhausted inside class: step back so the outer loop ends
                    let m = if not { !matched } else { matched };
                    if !m {
                        return false;
                    }
                    s = &s[1..];
                    return s.is_empty();
                }
                let m = if not { !matched } else { matched };
                if !m {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if lower(p[0], nocase) != lower(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if lower(c, nocase) != lower(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while !p.is_empty() && p[0] == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn basics() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"h\\*llo", b"hello", false));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!glob_match(b"a*b", b"a", false));
        assert!(glob_match(b"a*", b"a", false));
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"", b"a", false));
    }
}
