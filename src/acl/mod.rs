//! Access control lists (Redis 7.0's ACLs): users and their rules (`user.rs`), the
//! command index the rules work on (`index.rs`), the registry of users, ACL LOG and the
//! ACL file (`file.rs`). The commands are in `commands/acl.rs`; the check runs in
//! `server::dispatch` (and for `redis.call` in `commands::scripting`).
//!
//! A client holds its user's [`UserCell`]; changing a user changes the cell in place, so
//! authenticated connections see new rules at once. The cell caches "can run anything"
//! in an atomic: the check for such users (the default user, usually) is one load.

pub mod file;
pub mod index;
pub mod user;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub use user::{Denied, RuleError, User};

/// A user shared by the registry and the connections authenticated as it.
pub struct UserCell {
    pub user: RwLock<User>,
    /// Cached [`User::unrestricted`].
    pub unrestricted: AtomicBool,
    /// Set when the user is deleted or replaced (its connections are closed).
    pub gone: AtomicBool,
}

impl UserCell {
    pub fn new(u: User) -> Arc<UserCell> {
        let unrestricted = AtomicBool::new(u.unrestricted());
        Arc::new(UserCell {
            user: RwLock::new(u),
            unrestricted,
            gone: AtomicBool::new(false),
        })
    }

    /// Replaces the user's rules in place.
    pub fn set(&self, u: User) {
        self.unrestricted.store(u.unrestricted(), Ordering::Relaxed);
        *self.user.write() = u;
    }

    pub fn name(&self) -> String {
        self.user.read().name.clone()
    }
}

/// One ACL LOG entry.
pub struct LogEntry {
    pub count: u64,
    pub reason: Denied,
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub ctime_ms: u64,
    pub client_info: String,
}

/// Users and the ACL LOG.
pub struct Acl {
    users: RwLock<BTreeMap<Vec<u8>, Arc<UserCell>>>,
    pub default: Arc<UserCell>,
    pub log: Mutex<VecDeque<LogEntry>>,
}

impl Default for Acl {
    fn default() -> Self {
        Self::new()
    }
}

/// The default user as Redis creates it: `on nopass ~* &* +@all`.
pub fn default_user() -> User {
    let mut u = User::new("default", true);
    for r in ["+@all", "~*", "&*", "on", "nopass"] {
        let _ = u.apply(r.as_bytes(), true);
    }
    u
}

impl Acl {
    pub fn new() -> Acl {
        let default = UserCell::new(default_user());
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), default.clone());
        Acl {
            users: RwLock::new(users),
            default,
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// Sets the default user's password from `requirepass` (`None`: nopass).
    pub fn set_default_password(&self, pass: Option<&str>) {
        let mut u = self.default.user.read().clone();
        let _ = u.apply(b"resetpass", false);
        let rule = match pass {
            Some(p) => format!(">{p}"),
            None => "nopass".to_string(),
        };
        let _ = u.apply(rule.as_bytes(), false);
        self.default.set(u);
    }

    /// Whether new connections start authenticated (default user on and nopass).
    pub fn default_is_open(&self) -> bool {
        let u = self.default.user.read();
        u.enabled && u.nopass
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<UserCell>> {
        self.users.read().get(name).cloned()
    }

    /// All users, by name.
    pub fn all(&self) -> Vec<Arc<UserCell>> {
        self.users.read().values().cloned().collect()
    }

    /// A copy of every user (ACL SAVE, CONFIG REWRITE's user lines).
    pub fn snapshot(&self) -> Vec<User> {
        self.all().iter().map(|c| c.user.read().clone()).collect()
    }

    /// Adds or replaces a user (the default user is changed in place).
    pub fn put(&self, u: User) -> Arc<UserCell> {
        let name = u.name.as_bytes().to_vec();
        let mut users = self.users.write();
        if let Some(c) = users.get(&name) {
            c.set(u);
            return c.clone();
        }
        let c = UserCell::new(u);
        users.insert(name, c.clone());
        c
    }

    /// Removes a user (not `default`); its cell is marked gone.
    pub fn remove(&self, name: &[u8]) -> Option<Arc<UserCell>> {
        if name == b"default" {
            return None;
        }
        let c = self.users.write().remove(name)?;
        c.gone.store(true, Ordering::SeqCst);
        Some(c)
    }

    /// Replaces every user with `users` (ACL LOAD): the default user keeps its cell
    /// (reset to the new rules, or to Redis's default), the others' cells are gone.
    pub fn replace_all(&self, users: Vec<User>) -> Vec<Arc<UserCell>> {
        let mut map = self.users.write();
        let mut gone = Vec::new();
        for (n, c) in std::mem::take(&mut *map) {
            if n != b"default" {
                c.gone.store(true, Ordering::SeqCst);
                gone.push(c);
            }
        }
        let mut saw_default = false;
        for u in users {
            if u.name == "default" {
                saw_default = true;
                self.default.set(u);
            } else {
                map.insert(u.name.as_bytes().to_vec(), UserCell::new(u));
            }
        }
        if !saw_default {
            self.default.set(default_user());
        }
        map.insert(b"default".to_vec(), self.default.clone());
        gone
    }

    /// Adds an ACL LOG entry, grouping it with a similar recent one as Redis does.
    #[allow(clippy::too_many_arguments)]
    pub fn log_denial(
        &self,
        reason: Denied,
        context: &'static str,
        object: &[u8],
        username: &[u8],
        client_info: String,
        now_ms: u64,
        max_len: usize,
    ) {
        let mut log = self.log.lock();
        let found = log.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms.saturating_sub(e.ctime_ms) < 60_000
        });
        if let Some(i) = found {
            if let Some(mut e) = log.remove(i) {
                e.count += 1;
                e.ctime_ms = now_ms;
                e.client_info = client_info;
                log.push_front(e);
            }
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            ctime_ms: now_ms,
            client_info,
        });
        while log.len() > max_len {
            log.pop_back();
        }
    }
}

/// The error text of a denial for a client (Redis's processCommand).
pub fn denial_error(d: Denied, fullname: &str) -> String {
    match d {
        Denied::Cmd => {
            format!("NOPERM this user has no permissions to run the '{fullname}' command")
        }
        Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
        Denied::Auth => "NOPERM no permission".into(),
    }
}

/// Loads the users at startup: the configuration file's `user` directives or the
/// `aclfile` (not both, as Redis refuses). Returns the text to log before exiting.
pub fn startup(srv: &crate::server::Server) -> Result<(), String> {
    let (dirs, path) = {
        let c = srv.config.read();
        (c.users.clone(), c.str("aclfile"))
    };
    if !dirs.is_empty() && !path.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let pubsub_all = crate::commands::acl::pubsub_all(srv);
    if !dirs.is_empty() {
        let users = file::from_directives(&dirs, pubsub_all)
            .map_err(|e| format!("{e}\nCritical error while loading ACLs. Exiting."))?;
        for u in users {
            srv.acl.put(u);
        }
    } else if !path.is_empty() {
        crate::commands::acl::load_from(srv, &path)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    }
    Ok(())
}
