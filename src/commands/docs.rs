//! Command documentation (COMMAND DOCS): summaries, groups and argument grammar, plus
//! the parts of COMMAND INFO the command table does not hold (key specs, tips).
//!
//! The data lives in `docs.json`, generated at development time by
//! `tools/gen-command-docs.py` (facts from Redis's command descriptions, prose written
//! for Ferrodis) and embedded in the binary. It covers every Redis command, keyed by
//! full name (`config|get` for subcommands); only commands in the table are ever shown.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::protocol::Reply;

static DATA: &str = include_str!("docs.json");

/// One argument of a command's grammar.
#[derive(Debug, Clone, Default)]
pub struct Arg {
    pub name: String,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`, `pure-token`,
    /// `oneof` or `block`.
    pub kind: String,
    /// Shown by clients in hints; defaults to the name (not for `oneof`/`block`).
    pub display: Option<String>,
    pub key_spec_index: Option<i64>,
    pub token: Option<String>,
    pub since: Option<String>,
    pub deprecated_since: Option<String>,
    /// `optional`, `multiple`, `multiple_token`.
    pub flags: Vec<String>,
    /// Members of a `oneof` or `block`.
    pub args: Vec<Arg>,
}

/// Where a key spec's search for keys begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    Unknown,
    /// A fixed argument index.
    Index(i64),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword {
        keyword: String,
        startfrom: i64,
    },
}

/// How keys are found once the search has begun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    Unknown,
    /// `lastkey` relative to the first key (negative: from the end), `step`, and
    /// `limit` (when `lastkey` is -1, a `limit` of N keeps only 1/N of the rest).
    Range {
        lastkey: i64,
        step: i64,
        limit: i64,
    },
    /// The number of keys is at `keynumidx` (relative to the begin search), the first
    /// key at `firstkey` (relative too), then every `step`.
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        step: i64,
    },
}

/// A Redis 7 key specification.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub notes: Option<String>,
    /// In Redis's order (`RO`, `RW`, ..., `access`, `update`, ...).
    pub flags: Vec<String>,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

/// Everything known about a command beyond the table.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub summary: Option<String>,
    pub since: Option<String>,
    pub group: String,
    pub complexity: Option<String>,
    /// `deprecated`, `syscmd`.
    pub doc_flags: Vec<String>,
    pub deprecated_since: Option<String>,
    pub replaced_by: Option<String>,
    pub arguments: Vec<Arg>,
    pub key_specs: Vec<KeySpec>,
    /// Command tips, lower case (`nondeterministic_output`, `request_policy:...`).
    pub tips: Vec<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn ints(v: Option<&Value>) -> [i64; 3] {
    let mut out = [0; 3];
    if let Some(a) = v.and_then(Value::as_array) {
        for (o, x) in out.iter_mut().zip(a) {
            *o = x.as_i64().unwrap_or(0);
        }
    }
    out
}

fn parse_arg(v: &Value) -> Arg {
    Arg {
        name: s(v, "name").unwrap_or_default(),
        kind: s(v, "type").unwrap_or_default(),
        display: s(v, "display"),
        key_spec_index: v.get("key_spec_index").and_then(Value::as_i64),
        token: s(v, "token"),
        since: s(v, "since"),
        deprecated_since: s(v, "deprecated_since"),
        flags: strs(v, "flags"),
        args: parse_args(v.get("arguments")),
    }
}

fn parse_args(v: Option<&Value>) -> Vec<Arg> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(parse_arg).collect())
        .unwrap_or_default()
}

fn parse_spec(v: &Value) -> KeySpec {
    let bs = v.get("bs");
    let begin = if let Some(i) = bs.and_then(|b| b.get("index")).and_then(Value::as_i64) {
        BeginSearch::Index(i)
    } else if let Some(k) = bs.and_then(|b| b.get("keyword")).and_then(Value::as_str) {
        BeginSearch::Keyword {
            keyword: k.to_string(),
            startfrom: bs
                .and_then(|b| b.get("startfrom"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
        }
    } else {
        BeginSearch::Unknown
    };
    let fk = v.get("fk");
    let find = if let Some(r) = fk.and_then(|f| f.get("range")) {
        let [lastkey, step, limit] = ints(Some(r));
        FindKeys::Range {
            lastkey,
            step,
            limit,
        }
    } else if let Some(k) = fk.and_then(|f| f.get("keynum")) {
        let [keynumidx, firstkey, step] = ints(Some(k));
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            step,
        }
    } else {
        FindKeys::Unknown
    };
    KeySpec {
        notes: s(v, "notes"),
        flags: strs(v, "flags"),
        begin,
        find,
    }
}

fn parse_doc(v: &Value) -> Doc {
    Doc {
        summary: s(v, "summary"),
        since: s(v, "since"),
        group: s(v, "group").unwrap_or_else(|| "generic".to_string()),
        complexity: s(v, "complexity"),
        doc_flags: strs(v, "doc_flags"),
        deprecated_since: s(v, "deprecated_since"),
        replaced_by: s(v, "replaced_by"),
        arguments: parse_args(v.get("arguments")),
        key_specs: v
            .get("key_specs")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(parse_spec).collect())
            .unwrap_or_default(),
        tips: strs(v, "tips"),
    }
}

fn all() -> &'static HashMap<String, Doc> {
    static DOCS: OnceLock<HashMap<String, Doc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        // The file is generated and checked by the test suite; a broken file yields no
        // docs rather than a crash.
        let v: Value = serde_json::from_str(DATA).unwrap_or(Value::Null);
        v.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), parse_doc(v))).collect())
            .unwrap_or_default()
    })
}

/// The documentation of a command by full lower-case name (`get`, `config|get`).
pub fn get(fullname: &str) -> Option<&'static Doc> {
    all().get(fullname)
}

/// Every documented command name (for tests and tools).
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = all().keys().map(String::as_str).collect();
    v.sort_unstable();
    v
}

impl KeySpec {
    /// Argument indexes of the keys this spec finds in `args` (args[0] is the command
    /// name; for subcommands too, positions count from the container's name), following
    /// Redis's `getKeysUsingKeySpecs`: `Some(vec![])` when a keyword is absent, `None`
    /// when the spec cannot tell (unknown search, bad key count, out of range).
    pub fn find(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        let argc = args.len() as i64;
        let first = match &self.begin {
            BeginSearch::Unknown => return None,
            BeginSearch::Index(i) => *i,
            BeginSearch::Keyword { keyword, startfrom } => {
                let start = if *startfrom > 0 {
                    *startfrom
                } else {
                    argc + startfrom
                };
                let end = if *startfrom > 0 { argc - 1 } else { 0 };
                let mut i = start;
                let mut found = None;
                while i != end {
                    if i < 0 || i >= argc {
                        break;
                    }
                    if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                match found {
                    Some(f) => f,
                    None => return Some(Vec::new()),
                }
            }
        };
        let (last, step) = match self.find {
            FindKeys::Unknown => return None,
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, step)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                let idx = first + keynumidx;
                if idx < 0 || idx >= argc {
                    return None;
                }
                let n = std::str::from_utf8(args[idx as usize])
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .filter(|&n| n >= 0)?;
                let f = first + firstkey;
                return collect(f, f.saturating_add(n) - 1, step, argc);
            }
        };
        collect(first, last, step, argc)
    }

    /// COMMAND INFO's map for this spec.
    pub fn write(&self, out: &mut Reply) {
        out.map(if self.notes.is_some() { 4 } else { 3 });
        if let Some(n) = &self.notes {
            out.bulk(b"notes");
            out.bulk(n.as_bytes());
        }
        out.bulk(b"flags");
        write_status_set(out, &self.flags);
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match &self.begin {
            BeginSearch::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
            BeginSearch::Index(i) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                out.bulk(b"index");
                out.int(*i);
            }
            BeginSearch::Keyword { keyword, startfrom } => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(*startfrom);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        match self.find {
            FindKeys::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
            FindKeys::Range {
                lastkey,
                step,
                limit,
            } => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"lastkey");
                out.int(lastkey);
                out.bulk(b"keystep");
                out.int(step);
                out.bulk(b"limit");
                out.int(limit);
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                step,
            } => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"keynumidx");
                out.int(keynumidx);
                out.bulk(b"firstkey");
                out.int(firstkey);
                out.bulk(b"keystep");
                out.int(step);
            }
        }
    }
}

/// Positions `first..=last` every `step`, or `None` when the range is out of bounds
/// (Redis treats that as a syntax error of the command line).
fn collect(first: i64, last: i64, step: i64, argc: i64) -> Option<Vec<usize>> {
    if last >= argc || last < first || first >= argc || first < 1 || step <= 0 {
        return None;
    }
    Some(
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect(),
    )
}

/// A set of status strings (how Redis replies with flag lists).
pub fn write_status_set<S: AsRef<str>>(out: &mut Reply, items: &[S]) {
    out.set(items.len());
    for i in items {
        out.simple(i.as_ref());
    }
}

impl Arg {
    fn write(&self, out: &mut Reply) {
        let container = self.kind == "oneof" || self.kind == "block";
        let n = 2
            + usize::from(!container) // display_text
            + usize::from(self.key_spec_index.is_some())
            + usize::from(self.token.is_some())
            + usize::from(self.since.is_some())
            + usize::from(self.deprecated_since.is_some())
            + usize::from(!self.flags.is_empty())
            + usize::from(container);
        out.map(n);
        out.bulk(b"name");
        out.bulk(self.name.as_bytes());
        out.bulk(b"type");
        out.bulk(self.kind.as_bytes());
        if !container {
            out.bulk(b"display_text");
            out.bulk(self.display.as_deref().unwrap_or(&self.name).as_bytes());
        }
        if let Some(i) = self.key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(i);
        }
        if let Some(t) = &self.token {
            out.bulk(b"token");
            out.bulk(t.as_bytes());
        }
        if let Some(t) = &self.since {
            out.bulk(b"since");
            out.bulk(t.as_bytes());
        }
        if let Some(t) = &self.deprecated_since {
            out.bulk(b"deprecated_since");
            out.bulk(t.as_bytes());
        }
        if !self.flags.is_empty() {
            out.bulk(b"flags");
            write_status_set(out, &self.flags);
        }
        if container {
            out.bulk(b"arguments");
            write_args(out, &self.args);
        }
    }
}

fn write_args(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        a.write(out);
    }
}

impl Doc {
    /// Writes the COMMAND DOCS map of one command. With `has_subcommands`, the map ends
    /// with the `subcommands` key and the caller writes its value (a map) right after.
    pub fn write(&self, out: &mut Reply, has_subcommands: bool) {
        let n = 1
            + usize::from(self.summary.is_some())
            + usize::from(self.since.is_some())
            + usize::from(self.complexity.is_some())
            + usize::from(!self.doc_flags.is_empty())
            + usize::from(self.deprecated_since.is_some())
            + usize::from(self.replaced_by.is_some())
            + usize::from(!self.arguments.is_empty())
            + usize::from(has_subcommands);
        out.map(n);
        if let Some(t) = &self.summary {
            out.bulk(b"summary");
            out.bulk(t.as_bytes());
        }
        if let Some(t) = &self.since {
            out.bulk(b"since");
            out.bulk(t.as_bytes());
        }
        out.bulk(b"group");
        out.bulk(self.group.as_bytes());
        if let Some(t) = &self.complexity {
            out.bulk(b"complexity");
            out.bulk(t.as_bytes());
        }
        if !self.doc_flags.is_empty() {
            out.bulk(b"doc_flags");
            write_status_set(out, &self.doc_flags);
        }
        if let Some(t) = &self.deprecated_since {
            out.bulk(b"deprecated_since");
            out.bulk(t.as_bytes());
        }
        if let Some(t) = &self.replaced_by {
            out.bulk(b"replaced_by");
            out.bulk(t.as_bytes());
        }
        if !self.arguments.is_empty() {
            out.bulk(b"arguments");
            write_args(out, &self.arguments);
        }
        if has_subcommands {
            out.bulk(b"subcommands");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_parses_and_covers_redis() {
        let n = names();
        assert!(n.len() > 350, "only {} documented commands", n.len());
        for name in ["get", "set", "config|get", "command|docs", "xreadgroup"] {
            let d = get(name).unwrap_or_else(|| panic!("{name} undocumented"));
            assert!(d.summary.is_some() && d.since.is_some(), "{name}");
        }
        let set = get("set").map(|d| &d.key_specs[..]).unwrap_or(&[]);
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].begin, BeginSearch::Index(1));
    }

    #[test]
    fn key_specs_find_keys() {
        let find = |name: &str, spec: usize, args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            get(name)
                .and_then(|d| d.key_specs.get(spec))
                .and_then(|s| s.find(&args))
        };
        assert_eq!(
            find("mset", 0, &["mset", "a", "1", "b", "2"]),
            Some(vec![1, 3])
        );
        assert_eq!(find("del", 0, &["del", "a", "b"]), Some(vec![1, 2]));
        assert_eq!(
            find(
                "xread",
                0,
                &["xread", "COUNT", "1", "streams", "s1", "s2", "0", "0"]
            ),
            Some(vec![4, 5])
        );
        assert_eq!(
            find(
                "zunionstore",
                1,
                &["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]
            ),
            Some(vec![3, 4])
        );
        assert_eq!(
            find("zunionstore", 1, &["zunionstore", "d", "x", "a"]),
            None
        );
        assert_eq!(find("sort", 1, &["sort", "k"]), None);
    }
}
