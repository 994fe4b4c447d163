//! Users and selectors: Redis 7.0's ACL rules (`ACLSetUser` / `ACLSetSelector`), their
//! description (`ACL LIST`, `ACL GETUSER`, the ACL file) and the permission check
//! (`ACLCheckAllUserCommandPerm`).

use sha2::{Digest, Sha256};

use super::index::{self, index, Index, ALL, READ, WRITE};
use crate::commands::{flags, Command};
use crate::util::glob::glob_match;

/// Why a call is denied (Redis's ACL_DENIED_*; the order picks the error reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Cmd = 1,
    Key = 2,
    Auth = 3,
    Channel = 4,
}

impl Denied {
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Cmd => "command",
            Denied::Key => "key",
            Denied::Auth => "auth",
            Denied::Channel => "channel",
        }
    }
}

/// A rule error: Redis's `ACLSetUserStringError` texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    NoEnt,
    Inval,
    Exist,
    IsDir,
    NoDev,
    BadMsg,
    Child,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::NoEnt => "Unknown command or category name in ACL",
            RuleError::Inval => "Syntax error",
            RuleError::Exist => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::IsDir => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoDev => "The password you are trying to remove from the user does not exist",
            RuleError::BadMsg => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Child => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// A set of permissions: commands, key patterns, channel patterns.
#[derive(Clone, Debug)]
pub struct Selector {
    /// One bit per command id, plus a last bit: "future commands" (set by `+@all`).
    pub allowed: Vec<bool>,
    pub all_commands: bool,
    /// The state of each `index::PHANTOMS` command (Redis commands Ferrodis lacks), as
    /// category rules leave it: only for describing the user as Redis does.
    pub phantoms: Vec<bool>,
    /// Allowed first arguments of otherwise denied commands (`+select|0`), by id.
    pub firstargs: Vec<(usize, Vec<String>)>,
    pub all_keys: bool,
    pub patterns: Vec<(u8, Vec<u8>)>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            allowed: vec![false; index().len() + 1],
            all_commands: false,
            phantoms: vec![false; index::PHANTOMS.len()],
            firstargs: Vec::new(),
            all_keys: false,
            patterns: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    fn future(&self) -> bool {
        self.allowed.last().copied().unwrap_or(false)
    }

    fn set_bit(&mut self, id: usize, v: bool) {
        if let Some(b) = self.allowed.get_mut(id) {
            *b = v;
        }
        if !v {
            self.all_commands = false;
        }
    }

    fn reset_firstargs(&mut self, id: usize) {
        self.firstargs.retain(|(i, _)| *i != id);
    }

    /// `ACLChangeSelectorPerm`: a command and all its subcommands.
    fn change_perm(&mut self, ix: &Index, id: usize, v: bool) {
        self.set_bit(id, v);
        self.reset_firstargs(id);
        if let Some(e) = ix.entries.get(id) {
            for &k in &e.children {
                self.set_bit(k, v);
            }
        }
    }

    fn set_category(&mut self, ix: &Index, cat: u32, v: bool) {
        for id in 0..ix.len() {
            if ix.entries[id].cats & cat != 0 {
                self.change_perm(ix, id, v);
            }
        }
        for (c, p) in index::phantom_cats().iter().zip(self.phantoms.iter_mut()) {
            if c & cat != 0 {
                *p = v;
            }
        }
    }

    /// Sets the [`index::PHANTOMS`] entries named `name` (a container also sets its
    /// subcommands); false if there are none.
    fn set_phantom(&mut self, name: &str, v: bool) -> bool {
        let mut found = false;
        for ((p, _), on) in index::PHANTOMS.iter().zip(self.phantoms.iter_mut()) {
            let sub = p
                .strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('|'));
            if sub {
                *on = v;
                found = true;
            }
        }
        found
    }

    fn set_all(&mut self, v: bool) {
        for b in &mut self.allowed {
            *b = v;
        }
        for p in &mut self.phantoms {
            *p = v;
        }
        self.all_commands = v;
        self.firstargs.clear();
    }

    /// `ACLSetSelector`: applies one rule.
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let ix = index();
        let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.patterns.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.patterns.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.set_all(true);
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.set_all(false);
                return Ok(());
            }
            _ => {}
        }
        let _ = pubsub_all;
        match op.first() {
            Some(b'~') | Some(b'%') => {
                if self.all_keys {
                    return Err(RuleError::Exist);
                }
                let mut fl = 0u8;
                let mut off = 1;
                if op[0] == b'%' {
                    let mut found = false;
                    while off < op.len() {
                        let c = op[off].to_ascii_uppercase();
                        if c == b'R' && fl & READ == 0 {
                            fl |= READ;
                        } else if c == b'W' && fl & WRITE == 0 {
                            fl |= WRITE;
                        } else if op[off] == b'~' {
                            off += 1;
                            found = true;
                            break;
                        } else {
                            return Err(RuleError::Inval);
                        }
                        off += 1;
                    }
                    if fl == 0 || !found {
                        return Err(RuleError::Inval);
                    }
                } else {
                    fl = ALL;
                }
                let pat = op[off..].to_vec();
                if pat == b"*" && fl == ALL {
                    self.all_keys = true;
                    self.patterns.clear();
                } else if let Some(p) = self.patterns.iter_mut().find(|p| p.1 == pat) {
                    p.0 |= fl;
                } else {
                    self.patterns.push((fl, pat));
                }
                Ok(())
            }
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::IsDir);
                }
                let pat = op[1..].to_vec();
                if !self.channels.contains(&pat) {
                    self.channels.push(pat);
                }
                Ok(())
            }
            // A Redis command Ferrodis lacks (`+cluster`, `-wait`): accepted as Redis
            // accepts it and remembered for the descriptions; it can never run here.
            Some(b'+') | Some(b'-')
                if op.get(1) != Some(&b'@')
                    && ix.by_name(&lower[1..]).is_none()
                    && self.set_phantom(&lower[1..], op[0] == b'+') =>
            {
                Ok(())
            }
            Some(b'+') if op.get(1) != Some(&b'@') => {
                let name = &lower[1..];
                match name.rfind('|') {
                    None => {
                        let id = ix.by_name(name).ok_or(RuleError::NoEnt)?;
                        self.change_perm(ix, id, true);
                        Ok(())
                    }
                    Some(p) => {
                        let (base, sub) = (&name[..p], &name[p + 1..]);
                        let id = ix.by_name(base).ok_or(RuleError::NoEnt)?;
                        if sub.is_empty() {
                            return Err(RuleError::Inval);
                        }
                        let e = &ix.entries[id];
                        if !e.children.is_empty() {
                            // A real subcommand.
                            let sid = ix.by_name(name).ok_or(RuleError::NoEnt)?;
                            self.change_perm(ix, sid, true);
                        } else {
                            if e.parent.is_some() {
                                return Err(RuleError::Child);
                            }
                            // An allowed first argument (`+select|0`).
                            // Kept as typed (the check ignores case).
                            let raw = op.rsplit(|&c| c == b'|').next().unwrap_or_default();
                            let orig = String::from_utf8_lossy(raw).into_owned();
                            match self.firstargs.iter_mut().find(|(i, _)| *i == id) {
                                Some((_, v)) => {
                                    if !v.iter().any(|a| a.eq_ignore_ascii_case(&orig)) {
                                        v.push(orig)
                                    }
                                }
                                None => self.firstargs.push((id, vec![orig])),
                            }
                        }
                        Ok(())
                    }
                }
            }
            Some(b'-') if op.get(1) != Some(&b'@') => {
                let id = ix.by_name(&lower[1..]).ok_or(RuleError::NoEnt)?;
                self.change_perm(ix, id, false);
                Ok(())
            }
            Some(b'+') | Some(b'-') => {
                let cat = index::category(&lower[2..]).ok_or(RuleError::NoEnt)?;
                self.set_category(ix, cat, op[0] == b'+');
                Ok(())
            }
            _ => Err(RuleError::Inval),
        }
    }

    /// Commands of category `cat` allowed / not allowed, counting the Redis commands
    /// Ferrodis lacks (`index::PHANTOMS`, category bits in `phantoms`) too.
    fn count_category(&self, ix: &Index, cat: u32, phantoms: &[u32]) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (c, &is_on) in phantoms.iter().zip(&self.phantoms) {
            if c & cat != 0 {
                if is_on {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        for (id, e) in ix.entries.iter().enumerate() {
            if e.cats & cat != 0 && !e.newer {
                if self.allowed[id] {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// `ACLDescribeSelectorCommandRules` (Redis 7.0's best-fit of categories, then the
    /// single commands that differ).
    pub fn describe_commands(&self) -> String {
        let ix = index();
        let mut rules = String::new();
        let mut fake = Selector::new(false);
        let additive = !self.future();
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.set_all(true);
        }
        let mut temp = self.clone();
        // The commands Redis has and Ferrodis lacks count as the user's category rules
        // left them (`Selector::phantoms`, carried by `temp`).
        let phantoms = index::phantom_cats();
        let mut applied = [false; index::CATEGORIES.len()];
        loop {
            let mut best: Option<usize> = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, name) in index::CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let cat = index::category(name).unwrap_or(0);
                let (on, off) = temp.count_category(ix, cat, phantoms);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(b) = best else { break };
            let cat = 1u32 << b;
            fake.set_category(ix, cat, additive);
            temp.set_category(ix, cat, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(index::CATEGORIES[b]);
            rules.push(' ');
            applied[b] = true;
        }
        for &id in &ix.top {
            self.describe_single(ix, &mut fake, &mut rules, id);
            for &k in &ix.entries[id].children {
                self.describe_single(ix, &mut fake, &mut rules, k);
            }
        }
        // Redis commands Ferrodis lacks that the user's rules named (`-cluster`).
        for (i, (name, _)) in index::PHANTOMS.iter().enumerate() {
            let user = self.phantoms.get(i).copied().unwrap_or(false);
            if fake.phantoms.get(i).copied() != Some(user) {
                rules.push(if user { '+' } else { '-' });
                rules.push_str(name);
                rules.push(' ');
                fake.set_phantom(name, user);
            }
        }
        rules.pop();
        rules
    }

    fn describe_single(&self, ix: &Index, fake: &mut Selector, rules: &mut String, id: usize) {
        let user = self.allowed[id];
        let e = &ix.entries[id];
        if user != fake.allowed[id] {
            rules.push(if user { '+' } else { '-' });
            rules.push_str(&e.fullname);
            rules.push(' ');
            fake.change_perm(ix, id, user);
        }
        if !user {
            if let Some((_, args)) = self.firstargs.iter().find(|(i, _)| *i == id) {
                for a in args {
                    rules.push('+');
                    rules.push_str(&e.fullname);
                    rules.push('|');
                    rules.push_str(a);
                    rules.push(' ');
                }
            }
        }
    }

    /// The key patterns as `ACL GETUSER` prints them.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, (fl, p)) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(pattern_prefix(*fl).as_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, p) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(p);
        }
        out
    }

    /// `ACLDescribeSelector`: keys, channels and command rules as one rule string.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for (fl, p) in &self.patterns {
                out.extend_from_slice(pattern_prefix(*fl).as_bytes());
                out.extend_from_slice(p);
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for p in &self.channels {
                out.push(b'&');
                out.extend_from_slice(p);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
        out
    }

    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    fn key_ok(&self, key: &[u8], need: u8) -> bool {
        if self.all_keys {
            return true;
        }
        self.patterns
            .iter()
            .any(|(fl, p)| fl & need == need && glob_match(p, key, false))
    }

    /// `ACLSelectorCheckCmd`: Ok, or the denial and the offending argument's index.
    fn check(
        &self,
        id: usize,
        cmd: &Command,
        sub: bool,
        args: &[&[u8]],
        keys: &mut Option<Vec<(usize, u8)>>,
    ) -> Result<(), (Denied, usize)> {
        let ix = index();
        if !self.all_commands && !cmd.has(flags::NO_AUTH) && !self.allowed[id] {
            let pos = if sub { 2 } else { 1 };
            let ok = args.get(pos).is_some_and(|a| {
                self.firstargs
                    .iter()
                    .find(|(i, _)| *i == id)
                    .is_some_and(|(_, v)| v.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(a)))
            });
            if !ok {
                return Err((Denied::Cmd, 0));
            }
        }
        if !self.all_keys {
            let ks = keys.get_or_insert_with(|| ix.keys(id, args));
            for &(i, need) in ks.iter() {
                if !self.key_ok(args[i], need) {
                    return Err((Denied::Key, i));
                }
            }
        }
        if !self.all_channels {
            for (i, pat) in index::channels(&ix.entries[id].fullname, args) {
                let ch = args[i];
                let ok = self.channels.iter().any(|p| {
                    if pat {
                        p.as_slice() == ch
                    } else {
                        glob_match(p, ch, false)
                    }
                });
                if !ok {
                    return Err((Denied::Channel, i));
                }
            }
        }
        Ok(())
    }
}

fn pattern_prefix(fl: u8) -> &'static str {
    match fl {
        READ => "%R~",
        WRITE => "%W~",
        _ => "~",
    }
}

/// A user: flags, password hashes (hex SHA-256) and selectors (the first is the root).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `Some(true)`: sanitize-payload, `Some(false)`: skip-sanitize-payload.
    pub sanitize: Option<bool>,
    pub passwords: Vec<String>,
    pub selectors: Vec<Selector>,
}

/// The hex SHA-256 of a password.
pub fn hash_password(p: &[u8]) -> String {
    let d = Sha256::digest(p);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    /// A new user: disabled, no passwords, no permissions (`ACLCreateUser`).
    pub fn new(name: &str, pubsub_all: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_all)],
        }
    }

    /// `ACLSetUser`: one rule (selectors `(...)` already merged into one argument).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize = Some(false),
            b"sanitize-payload" => self.sanitize = Some(true),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.truncate(1),
            b"reset" => {
                self.nopass = false;
                self.passwords.clear();
                let mut root = Selector::new(pubsub_all);
                root.set_all(false);
                self.selectors = vec![root];
                self.enabled = false;
                self.sanitize = Some(true);
            }
            _ => match op.first() {
                Some(b'>') => {
                    let h = hash_password(&op[1..]);
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                Some(b'#') => {
                    if !valid_hash(&op[1..]) {
                        return Err(RuleError::BadMsg);
                    }
                    let h = String::from_utf8_lossy(&op[1..]).into_owned();
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                Some(b'<') | Some(b'!') => {
                    let h = if op[0] == b'<' {
                        hash_password(&op[1..])
                    } else {
                        if !valid_hash(&op[1..]) {
                            return Err(RuleError::BadMsg);
                        }
                        String::from_utf8_lossy(&op[1..]).into_owned()
                    };
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != h);
                    if self.passwords.len() == before {
                        return Err(RuleError::NoDev);
                    }
                }
                Some(b'(') if op.last() == Some(&b')') && op.len() >= 2 => {
                    let mut sel = Selector::new(pubsub_all);
                    for tok in op[1..op.len() - 1].split(|&c| c == b' ') {
                        if tok.is_empty() {
                            continue;
                        }
                        sel.apply(tok, pubsub_all)?;
                    }
                    self.selectors.push(sel);
                }
                _ => {
                    if let Some(root) = self.selectors.first_mut() {
                        root.apply(op, pubsub_all)?;
                    }
                }
            },
        }
        Ok(())
    }

    /// Whether the root selector lets a client stay subscribed to `name` (a pattern
    /// subscription is matched literally), as Redis's `ACLKillPubsubClientsIfNeeded`.
    pub fn may_keep_subscription(&self, name: &[u8], pattern: bool) -> bool {
        let Some(root) = self.selectors.first() else {
            return true;
        };
        root.all_channels
            || root.channels.iter().any(|p| {
                if pattern {
                    p.as_slice() == name
                } else {
                    glob_match(p, name, false)
                }
            })
    }

    /// Whether the user can run anything: one selector with every permission.
    pub fn unrestricted(&self) -> bool {
        self.selectors.first().is_some_and(|s| s.unrestricted())
    }

    /// `ACLDescribeUser`: the rules after `user <name> ` in ACL LIST and the ACL file.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.enabled { b"on " } else { b"off " });
        if self.nopass {
            out.extend_from_slice(b"nopass ");
        }
        match self.sanitize {
            Some(false) => out.extend_from_slice(b"skip-sanitize-payload "),
            Some(true) => out.extend_from_slice(b"sanitize-payload "),
            None => {}
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        for (i, s) in self.selectors.iter().enumerate() {
            if i == 0 {
                out.extend_from_slice(&s.describe());
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&s.describe());
                out.push(b')');
            }
        }
        out
    }

    /// The `flags` of ACL GETUSER.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// Whether `pass` opens this user (enabled, and nopass or a matching hash).
    pub fn check_password(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let h = hash_password(pass);
        self.passwords.contains(&h)
    }

    /// `ACLCheckAllUserCommandPerm`: Ok, or the denial with the index of the key or
    /// channel argument at fault (0 for a command denial).
    pub fn check(
        &self,
        cmd: &'static Command,
        parent: Option<&'static Command>,
        args: &[&[u8]],
    ) -> Result<(), (Denied, usize)> {
        let Some(id) = index().id_of(cmd) else {
            return Ok(());
        };
        let mut relevant = Denied::Cmd;
        let mut last = 0;
        let mut keys = None;
        for s in &self.selectors {
            match s.check(id, cmd, parent.is_some(), args, &mut keys) {
                Ok(()) => return Ok(()),
                Err((d, i)) => {
                    if d > relevant || (d == relevant && i > last) {
                        relevant = d;
                        last = i;
                    }
                }
            }
        }
        Err((relevant, last))
    }

    /// Whether some selector allows the command with access to every key
    /// (`ACLUserCheckCmdWithUnrestrictedKeyAccess`, for SORT BY/GET).
    pub fn full_key_access(
        &self,
        cmd: &'static Command,
        parent: Option<&'static Command>,
        args: &[&[u8]],
    ) -> bool {
        let Some(id) = index().id_of(cmd) else {
            return true;
        };
        self.selectors.iter().any(|s| {
            let unrestricted_keys = s.all_keys
                || s.patterns
                    .iter()
                    .any(|(fl, p)| fl & READ != 0 && p.as_slice() == b"*");
            unrestricted_keys
                && s.check(id, cmd, parent.is_some(), args, &mut Some(Vec::new()))
                    .is_ok()
        })
    }
}

/// Joins arguments of a selector split over several arguments (`"(+get" "~x)"`) into
/// one, as Redis's `ACLMergeSelectorArguments`; the error names the opening one.
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    let mut first: &[u8] = b"";
    for &a in args {
        if let Some(cur) = open.as_mut() {
            cur.push(b' ');
            cur.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.extend(open.take());
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some(a.to_vec());
            first = a;
        } else {
            out.push(a.to_vec());
        }
    }
    if open.is_some() {
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(first)
        ));
    }
    Ok(out)
}
