//! ACL integration tests: unauthenticated clients, a user restricted to `~app:*` going
//! through every kind of key access, Pub/Sub channel denial, ACL LOG, the ACL file
//! (round trip, and a file the reference redis-server wrote), `user` directives,
//! DELUSER / ACL LOAD disconnecting clients, CLIENT KILL USER, requirepass.

mod common;

use common::{ferrodis, ferrodis_bin, redis, split_elements, RawClient, TmpDir};

fn s(r: &[u8]) -> String {
    String::from_utf8_lossy(r).into_owned()
}

fn ok(r: Vec<u8>) {
    assert_eq!(s(&r), "+OK\r\n");
}

/// The bulk strings of a flat array reply.
fn strings(r: &[u8]) -> Vec<String> {
    let (_, items) = split_elements(r);
    items
        .iter()
        .map(|i| {
            let t = s(i);
            match t.find("\r\n") {
                Some(p) if t.starts_with('$') => t[p + 2..t.len() - 2].to_string(),
                _ => t.trim_end().to_string(),
            }
        })
        .collect()
}

#[test]
fn unauthenticated_clients_only_authenticate() {
    let srv = ferrodis(&["--requirepass", "secret"]);
    let mut admin = srv.client();
    ok(admin.cmds(&["AUTH", "secret"]));
    // Every command of the table, with as many arguments as its arity asks for.
    let (_, infos) = split_elements(&admin.cmds(&["COMMAND", "INFO"]));
    let mut c = srv.client();
    let mut checked = 0;
    for info in infos {
        let (_, f) = split_elements(&info);
        let name = s(&f[0]);
        let name = name.split("\r\n").nth(1).unwrap_or("").to_string();
        let arity: i64 = s(&f[1]).trim_start_matches(':').trim().parse().unwrap_or(0);
        if matches!(name.as_str(), "auth" | "hello" | "quit" | "reset") {
            continue;
        }
        let (_, subs) = split_elements(&f[9]);
        let mut argv: Vec<String> = vec![name.clone()];
        if !subs.is_empty() {
            argv.push("help".into());
        } else {
            let n = if arity < 0 { -arity - 1 } else { arity - 1 };
            argv.extend((0..n).map(|i| format!("a{i}")));
        }
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        let r = c.cmds(&a);
        assert_eq!(s(&r), "-NOAUTH Authentication required.\r\n", "{argv:?}");
        checked += 1;
    }
    assert!(checked > 200, "{checked} commands checked");
    assert_eq!(
        s(&c.cmds(&["AUTH", "wrong"])),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(s(&c.cmds(&["HELLO", "2", "AUTH", "default", "secret"])).starts_with("*14\r\n"));
    assert_eq!(s(&c.cmds(&["GET", "k"])), "$-1\r\n");
    ok(c.cmds(&["QUIT"]));
    let mut q = srv.client();
    ok(q.cmds(&["QUIT"]));
}

#[test]
fn restricted_user_cannot_touch_other_keys() {
    let srv = ferrodis(&[]);
    let mut admin = srv.client();
    ok(admin.cmds(&["SET", "other", "secret"]));
    ok(admin.cmds(&["HSET", "other:h", "f", "v"]).replace_ok_int());
    ok(admin.cmds(&[
        "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "&app:*", "+@all",
    ]));
    let mut c = srv.client();
    ok(c.cmds(&["AUTH", "app", "pw"]));
    ok(c.cmds(&["SET", "app:1", "v"]));
    ok(c.cmds(&["RPUSH", "app:l", "b", "a"]).replace_ok_int());
    let denied: &[&[&str]] = &[
        &["GET", "other"],
        &["SET", "other", "x"],
        &["MSET", "app:2", "x", "other", "y"],
        &["MGET", "app:1", "other"],
        &["RENAME", "app:1", "other"],
        &["RENAME", "other", "app:3"],
        &["COPY", "app:1", "other", "REPLACE"],
        &["COPY", "other", "app:4"],
        &["BITOP", "OR", "app:d", "app:1", "other"],
        &["BITOP", "OR", "other", "app:1"],
        &["ZUNIONSTORE", "app:z", "2", "app:1", "other"],
        &["ZUNIONSTORE", "other", "1", "app:1"],
        &["XREAD", "STREAMS", "app:s", "other", "0", "0"],
        &["OBJECT", "ENCODING", "other"],
        &["DUMP", "other"],
        &["RESTORE", "other", "0", "x"],
        &["DEL", "other"],
        &["UNLINK", "app:1", "other"],
        &["EXISTS", "other"],
        &["TYPE", "other"],
        &["EXPIRE", "other", "1"],
        &["HGETALL", "other:h"],
        &["LMOVE", "app:l", "other", "LEFT", "LEFT"],
        &["SORT", "app:l", "STORE", "other"],
        &["SORT", "other"],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "other"],
        &["EVAL", "return 1", "2", "app:1", "other"],
        &["FCALL", "f", "1", "other"],
        &["GETEX", "other", "PERSIST"],
        &["SETRANGE", "other", "0", "x"],
        &["PFMERGE", "app:h", "other"],
        &["SMOVE", "other", "app:s", "m"],
        &[
            "GEOSEARCHSTORE",
            "other",
            "app:g",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["WATCH", "other"],
        &["MEMORY", "USAGE", "other"],
    ];
    for argv in denied {
        let r = s(&c.cmds(argv));
        assert!(
            r.starts_with("-NOPERM") || r.starts_with("-ERR unknown command"),
            "{argv:?} -> {r}"
        );
    }
    // Keys a command finds itself: denied as Redis denies them.
    assert_eq!(
        s(&c.cmds(&["SORT", "app:l", "BY", "other*", "ALPHA"])),
        "-ERR BY option of SORT denied due to insufficient ACL permissions.\r\n"
    );
    assert_eq!(
        s(&c.cmds(&["SORT", "app:l", "GET", "other*", "ALPHA"])),
        "-ERR GET option of SORT denied due to insufficient ACL permissions.\r\n"
    );
    let r = s(&c.cmds(&["EVAL", "return redis.call('get','other')", "0"]));
    assert!(
        r.starts_with("-ERR The user executing the script can't access at least one of the keys"),
        "{r}"
    );
    let r = s(&c.cmds(&["EVAL", "return redis.call('set','other','x')", "0"]));
    assert!(r.starts_with("-ERR The user executing the script"), "{r}");
    // Inside MULTI: refused at queueing, the transaction aborts.
    ok(c.cmds(&["MULTI"]));
    assert!(s(&c.cmds(&["GET", "other"])).starts_with("-NOPERM"));
    assert!(s(&c.cmds(&["EXEC"])).starts_with("-EXECABORT"));
    // Rules changed between queueing and EXEC.
    ok(c.cmds(&["MULTI"]));
    assert_eq!(s(&c.cmds(&["GET", "app:1"])), "+QUEUED\r\n");
    ok(admin.cmds(&["ACL", "SETUSER", "app", "resetkeys", "~nothing"]));
    let r = s(&c.cmds(&["EXEC"]));
    assert!(r.contains("-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys"), "{r}");
    // Nothing of `other` changed.
    assert_eq!(s(&admin.cmds(&["GET", "other"])), "$6\r\nsecret\r\n");
    assert_eq!(
        s(&admin.cmds(&["EXISTS", "app:3", "app:4", "app:d"])),
        ":0\r\n"
    );
    // ACL LOG has the denials, newest first, with Redis's fields.
    let (_, log) = split_elements(&admin.cmds(&["ACL", "LOG", "1"]));
    assert_eq!(log.len(), 1);
    let f = strings(&log[0]);
    assert_eq!(f[0], "count");
    assert_eq!(
        &f[2..10],
        ["reason", "key", "context", "multi", "object", "app:1", "username", "app"]
    );
    assert_eq!(f[10], "age-seconds");
    assert_eq!(f[12], "client-info");
    assert!(f[13].contains("user=app"), "{}", f[13]);
    // Similar denials are grouped into one entry with a count, as in Redis.
    let (_, all) = split_elements(&admin.cmds(&["ACL", "LOG", "100"]));
    let total: i64 = all
        .iter()
        .map(|e| {
            strings(e)[1]
                .trim_start_matches(':')
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum();
    assert!(total as usize >= denied.len() + 2, "{total} denials logged");
    ok(admin.cmds(&["CONFIG", "SET", "acllog-max-len", "3"]));
    assert!(s(&c.cmds(&["GET", "x1"])).starts_with("-NOPERM"));
    let (_, all) = split_elements(&admin.cmds(&["ACL", "LOG"]));
    assert_eq!(all.len(), 3);
    ok(admin.cmds(&["ACL", "LOG", "RESET"]));
    assert_eq!(s(&admin.cmds(&["ACL", "LOG"])), "*0\r\n");
}

trait OkInt {
    fn replace_ok_int(self) -> Vec<u8>;
}

impl OkInt for Vec<u8> {
    /// An integer reply counts as success for `ok`.
    fn replace_ok_int(self) -> Vec<u8> {
        if self.starts_with(b":") {
            b"+OK\r\n".to_vec()
        } else {
            self
        }
    }
}

#[test]
fn pubsub_channels_are_checked() {
    let srv = ferrodis(&[]);
    let mut admin = srv.client();
    ok(admin.cmds(&[
        "ACL", "SETUSER", "ps", "on", "nopass", "~*", "&news.*", "+@all",
    ]));
    let mut sub = srv.client();
    ok(sub.cmds(&["AUTH", "ps", "x"]));
    let no_channel =
        "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
    assert_eq!(s(&sub.cmds(&["SUBSCRIBE", "news.1", "other"])), no_channel);
    assert_eq!(s(&sub.cmds(&["PSUBSCRIBE", "news.1*"])), no_channel);
    assert_eq!(s(&sub.cmds(&["SSUBSCRIBE", "other"])), no_channel);
    assert_eq!(s(&sub.cmds(&["PUBLISH", "other", "m"])), no_channel);
    assert_eq!(s(&sub.cmds(&["SPUBLISH", "other", "m"])), no_channel);
    assert!(s(&sub.cmds(&["PSUBSCRIBE", "news.*"])).contains("news.*"));
    assert!(s(&sub.cmds(&["SUBSCRIBE", "news.1"])).contains("news.1"));
    let mut p = srv.client();
    ok(p.cmds(&["AUTH", "ps", "x"]));
    assert_eq!(s(&p.cmds(&["PUBLISH", "news.1", "hello"])), ":2\r\n");
    assert!(s(&sub.read_reply()).contains("hello"));
    assert!(s(&sub.read_reply()).contains("hello"));
    // Losing a subscribed channel disconnects the user's subscribers.
    ok(admin.cmds(&["ACL", "SETUSER", "ps", "resetchannels", "&news.*"]));
    assert_eq!(s(&sub.cmds(&["PING"])), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    ok(admin.cmds(&["ACL", "SETUSER", "ps", "resetchannels", "&news.2"]));
    assert_eq!(sub.read_reply_or_eof(), b"");
    // acl-pubsub-default allchannels: new users get every channel.
    ok(admin.cmds(&["CONFIG", "SET", "acl-pubsub-default", "allchannels"]));
    ok(admin.cmds(&["ACL", "SETUSER", "ps2"]));
    let l = s(&admin.cmds(&["ACL", "LIST"]));
    assert!(l.contains("user ps2 off &* -@all"), "{l}");
}

#[test]
fn deluser_and_client_kill_user_disconnect() {
    let srv = ferrodis(&[]);
    let mut admin = srv.client();
    ok(admin.cmds(&["ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"]));
    ok(admin.cmds(&["ACL", "SETUSER", "bob", "on", ">pw", "~*", "+@all"]));
    let mut a = srv.client();
    ok(a.cmds(&["AUTH", "alice", "pw"]));
    let mut b = srv.client();
    ok(b.cmds(&["AUTH", "bob", "pw"]));
    let list = s(&admin.cmds(&["CLIENT", "LIST"]));
    assert!(
        list.contains("user=alice") && list.contains("user=bob"),
        "{list}"
    );
    assert_eq!(s(&a.cmds(&["ACL", "WHOAMI"])), "$5\r\nalice\r\n");
    assert_eq!(s(&admin.cmds(&["CLIENT", "KILL", "USER", "bob"])), ":1\r\n");
    assert_eq!(b.read_reply(), b"", "bob's connection is closed");
    assert_eq!(
        s(&admin.cmds(&["CLIENT", "KILL", "USER", "nobody"])),
        "-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(
        s(&admin.cmds(&["ACL", "DELUSER", "alice", "nobody"])),
        ":1\r\n"
    );
    assert_eq!(a.read_reply(), b"", "alice's connection is closed");
    // A new connection cannot log in as the deleted user.
    let mut c = srv.client();
    assert!(s(&c.cmds(&["AUTH", "alice", "pw"])).starts_with("-WRONGPASS"));
    // Disabling a user keeps its connections but refuses new logins.
    ok(admin.cmds(&["ACL", "SETUSER", "bob", "off"]));
    assert!(s(&c.cmds(&["AUTH", "bob", "pw"])).starts_with("-WRONGPASS"));
}

#[test]
fn requirepass_with_config_set() {
    let srv = ferrodis(&[]);
    let mut admin = srv.client();
    ok(admin.cmds(&["CONFIG", "SET", "requirepass", "s3cret"]));
    let mut c = srv.client();
    assert_eq!(
        s(&c.cmds(&["PING"])),
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(s(&c.cmds(&["AUTH", "nope"])).starts_with("-WRONGPASS"));
    ok(c.cmds(&["AUTH", "s3cret"]));
    let l = s(&admin.cmds(&["ACL", "GETUSER", "default"]));
    assert!(!l.contains("nopass"), "{l}");
    ok(admin.cmds(&["CONFIG", "SET", "requirepass", ""]));
    let mut d = srv.client();
    assert_eq!(s(&d.cmds(&["PING"])), "+PONG\r\n");
    // SLOWLOG hides ACL SETUSER's arguments, as Redis does.
    ok(admin.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]));
    ok(admin.cmds(&["SLOWLOG", "RESET"]));
    ok(admin.cmds(&["ACL", "SETUSER", "zed", "on", ">topsecret"]));
    let log = s(&admin.cmds(&["SLOWLOG", "GET", "1"]));
    assert!(
        log.contains("SETUSER") && !log.contains("topsecret") && !log.contains("zed"),
        "{log}"
    );
    assert_eq!(log.matches("(redacted)").count(), 3, "{log}");
}

#[test]
fn user_directives_and_aclfile_conflict() {
    let srv = ferrodis(&["--user", "alice", "on", ">pw", "~a*", "+get", "+set"]);
    let mut c = srv.client();
    ok(c.cmds(&["AUTH", "alice", "pw"]));
    ok(c.cmds(&["SET", "a1", "x"]));
    assert!(s(&c.cmds(&["SET", "b1", "x"])).starts_with("-NOPERM"));
    assert!(s(&c.cmds(&["DEL", "a1"])).starts_with("-NOPERM"));
    let l = s(&c.cmds(&["ACL", "WHOAMI"]));
    assert!(l.starts_with("-NOPERM"), "{l}");
    // CONFIG REWRITE writes the users into the configuration file, which a restart
    // reads back.
    let dir = TmpDir::new("acl-rewrite");
    let conf = dir.path().join("f.conf");
    std::fs::write(&conf, "save \"\"\nuser carol on >c ~c* +get\n").expect("write conf");
    let start = || {
        let port = common::free_port();
        let mut child = std::process::Command::new(ferrodis_bin())
            .args([
                &conf.to_string_lossy(),
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn ferrodis-server");
        common::wait_ready(port, &mut child, "ferrodis-server");
        (child, port)
    };
    let (mut child, port) = start();
    let mut c = RawClient::connect(port);
    ok(c.cmds(&["AUTH", "carol", "c"]));
    ok(c.cmds(&["AUTH", "default", "x"]));
    ok(c.cmds(&["ACL", "SETUSER", "dave", "on", ">d", "~d*", "+@all"]));
    ok(c.cmds(&["CONFIG", "REWRITE"]));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&conf).expect("rewritten conf");
    assert_eq!(text.matches("user ").count(), 3, "{text}");
    assert!(
        text.contains("user default on nopass ~* &* +@all\n"),
        "{text}"
    );
    assert!(text.contains("user dave on #"), "{text}");
    let (mut child, port) = start();
    let mut c = RawClient::connect(port);
    ok(c.cmds(&["AUTH", "dave", "d"]));
    ok(c.cmds(&["AUTH", "carol", "c"]));
    let _ = child.kill();
    let _ = child.wait();
    // Users in the configuration and an ACL file together: refused, as Redis does.
    let dir = TmpDir::new("acl-conflict");
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user bob on nopass +@all ~*\n").expect("write acl file");
    let status = std::process::Command::new(ferrodis_bin())
        .args([
            "--port",
            "0",
            "--save",
            "",
            "--aclfile",
            &file.to_string_lossy(),
            "--user",
            "alice",
            "on",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run ferrodis-server");
    assert!(!status.success());
    // A bad rule stops the server: a syntax error while reading the configuration, an
    // unknown command when the users are loaded.
    for rule in ["foo", "+nosuch"] {
        let out = std::process::Command::new(ferrodis_bin())
            .args(["--port", "0", "--save", "", "--user", "alice", "on", rule])
            .output()
            .expect("run ferrodis-server");
        assert!(!out.status.success(), "{rule}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let want = if rule == "foo" {
            "Error in user declaration 'alice': Syntax error"
        } else {
            "Error loading ACL rule '+nosuch' for the user named 'alice': Unknown command or category name in ACL"
        };
        assert!(text.contains(want), "{text}");
    }
}

#[test]
fn aclfile_round_trip_and_reference_file() {
    let dir = TmpDir::new("acl-file");
    let path = dir.path().join("users.acl");
    let p = path.to_string_lossy().into_owned();
    // The reference writes a file...
    std::fs::write(&path, "").expect("empty acl file");
    let reference = redis(&["--aclfile", &p]);
    let mut r = reference.client();
    let rules: &[&[&str]] = &[
        &[
            "ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "%R~ro:*", "&ch", "+@hash", "+get",
        ],
        &[
            "ACL",
            "SETUSER",
            "bob",
            "off",
            "nopass",
            "allkeys",
            "allchannels",
            "+@all",
            "-flushall",
        ],
        &[
            "ACL",
            "SETUSER",
            "carol",
            "on",
            "#ea71c25a7a602246b4c39824b855678894a96f43bb9b71319c39700a1e045222",
            "(+set ~x*)",
            "(+@read %W~w*)",
        ],
        &[
            "ACL",
            "SETUSER",
            "dave",
            "reset",
            "+select|0",
            "skip-sanitize-payload",
        ],
    ];
    for rule in rules {
        ok(r.cmds(rule));
    }
    ok(r.cmds(&["ACL", "SAVE"]));
    let want = r.cmds(&["ACL", "LIST"]);
    drop(r);
    drop(reference);
    let written = std::fs::read_to_string(&path).expect("reference wrote the file");
    assert!(written.contains("user alice on #"), "{written}");
    // ... which Ferrodis reads at startup with the same result.
    let srv = ferrodis(&["--aclfile", &p]);
    let mut c = srv.client();
    assert_eq!(s(&c.cmds(&["ACL", "LIST"])), s(&want));
    let mut a = srv.client();
    ok(a.cmds(&["AUTH", "alice", "pw"]));
    assert_eq!(s(&a.cmds(&["HSET", "app:h", "f", "v"])), ":1\r\n");
    // ACL SAVE writes what ACL LOAD reads back.
    ok(c.cmds(&["ACL", "SETUSER", "erin", "on", ">e", "~e*", "+@string"]));
    ok(c.cmds(&["ACL", "SAVE"]));
    let saved = std::fs::read_to_string(&path).expect("saved file");
    assert!(saved.contains("user erin on #"), "{saved}");
    assert_eq!(saved.lines().count(), 6);
    let before = c.cmds(&["ACL", "LIST"]);
    ok(c.cmds(&["ACL", "DELUSER", "erin"]).replace_ok_int());
    ok(c.cmds(&["ACL", "LOAD"]));
    assert_eq!(s(&c.cmds(&["ACL", "LIST"])), s(&before));
    // ACL LOAD replaces the users: connections of the old users are closed.
    assert_eq!(a.read_reply_or_eof(), b"");
    // A bad file changes nothing and says why.
    std::fs::write(&path, "user x on\nuser bob on foo\nnope\n").expect("bad file");
    let e = s(&c.cmds(&["ACL", "LOAD"]));
    assert_eq!(
        e,
        format!("-ERR {p}:2: Syntax error. {p}:3 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n")
    );
    assert_eq!(s(&c.cmds(&["ACL", "LIST"])), s(&before));
    // A missing file is an error too.
    std::fs::remove_file(&path).expect("remove acl file");
    assert_eq!(
        s(&c.cmds(&["ACL", "LOAD"])),
        format!("-ERR Error loading ACLs, opening file '{p}': No such file or directory\r\n")
    );
    // Without an aclfile, SAVE and LOAD are refused.
    let plain = ferrodis(&[]);
    let mut q = plain.client();
    assert!(s(&q.cmds(&["ACL", "SAVE"]))
        .starts_with("-ERR This Redis instance is not configured to use an ACL file."));
    assert!(s(&q.cmds(&["ACL", "LOAD"]))
        .starts_with("-ERR This Redis instance is not configured to use an ACL file."));
}

trait Eof {
    fn read_reply_or_eof(&mut self) -> Vec<u8>;
}

impl Eof for RawClient {
    /// The next reply after a PING, or nothing if the server closed the connection.
    fn read_reply_or_eof(&mut self) -> Vec<u8> {
        self.send_raw(b"PING\r\n");
        self.read_reply()
    }
}

/// A failed AUTH / HELLO AUTH is logged with the command name as the client sent it
/// (Redis's `addACLLogEntry` takes `argv[0]`): the same objects as the reference's.
#[test]
fn auth_failures_logged_with_the_command_as_sent() {
    let objects = |srv: &common::ServerProc| -> Vec<Vec<String>> {
        let mut c = srv.client();
        ok(c.cmds(&["ACL", "SETUSER", "u", "on", ">p", "+@all", "~*"]));
        ok(c.cmds(&["ACL", "LOG", "RESET"]));
        assert!(s(&c.cmds(&["AuTh", "u", "wrong"])).starts_with("-WRONGPASS"));
        assert!(s(&c.cmds(&["hello", "2", "AUTH", "u", "nope"])).starts_with("-WRONGPASS"));
        assert!(s(&c.cmds(&["AUTH", "nosuchuser", "x"])).starts_with("-WRONGPASS"));
        let (_, log) = split_elements(&c.cmds(&["ACL", "LOG"]));
        log.iter()
            .map(|e| {
                let f = strings(e);
                f.chunks(2)
                    .filter(|kv| {
                        matches!(kv[0].as_str(), "reason" | "context" | "object" | "username")
                    })
                    .map(|kv| format!("{}={}", kv[0], kv[1]))
                    .collect()
            })
            .collect()
    };
    let fer = objects(&ferrodis(&[]));
    let reference = objects(&redis(&[]));
    assert_eq!(fer.len(), 3, "{fer:?}");
    assert_eq!(fer, reference);
}
