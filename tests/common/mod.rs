//! Test support: start Ferrodis and the reference redis-server on free ports, and a
//! raw RESP client that returns replies byte for byte.
#![allow(dead_code)]

pub mod scenario;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process killed when dropped.
pub struct ServerProc {
    pub child: Child,
    pub port: u16,
    pub name: &'static str,
    pub dir: PathBuf,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ServerProc {
    pub fn client(&self) -> RawClient {
        RawClient::connect(self.port)
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// A port nobody listens on, never handed out twice in this test process (tests run
/// in parallel threads: without the record, two servers starting at the same moment
/// could be given the same port and one test would talk to the other's server).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local addr").port();
        let mut used = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !used.contains(&port) {
            used.push(port);
            return port;
        }
    }
}

/// The `process_id` the server on `s` reports in INFO (to be sure the server that
/// answers is the one we started).
fn reported_pid(s: &mut TcpStream) -> Option<u32> {
    s.write_all(b"INFO server\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(i) = text.find("process_id:") {
            let rest = &text[i + "process_id:".len()..];
            if let Some(end) = rest.find("\r\n") {
                return rest[..end].parse().ok();
            }
        }
    }
}

/// A temporary directory removed when dropped (for servers started and restarted on
/// the same files).
pub struct TmpDir(pub PathBuf);

impl TmpDir {
    pub fn new(tag: &str) -> TmpDir {
        TmpDir(temp_dir(tag))
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
    /// The path as a `--dir` argument.
    pub fn s(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `bin` with `--port <free> --bind 127.0.0.1 --dir <dir>` and `extra`, and
/// returns as soon as it accepts connections: it may still be loading its dataset
/// (-LOADING), which is what the callers look at or wait out themselves.
pub fn spawn_listening(bin: &str, dir: &std::path::Path, extra: &[&str]) -> (Child, u16) {
    let port = free_port();
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    wait_listening(bin, &mut child, port);
    (child, port)
}

/// Waits (20 s at most) until `child` accepts connections on `port`; panics if it
/// exits first.
pub fn wait_listening(bin: &str, child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // A connect to a port in the ephemeral range that nothing listens on can succeed
    // by connecting to itself (the kernel picked the same port as the local end, TCP
    // simultaneous open): that is not the server.
    let listening = || {
        TcpStream::connect(("127.0.0.1", port))
            .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
    };
    while !listening() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{bin} exited during startup: {status}");
        }
        assert!(Instant::now() < deadline, "{bin} did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Three CI runs saw the first connect after this point refused (never locally):
    // if the server dies right after it starts listening, say so with its status.
    std::thread::sleep(Duration::from_millis(50));
    if let Ok(Some(status)) = child.try_wait() {
        panic!("{bin} exited right after it started listening on {port}: {status}");
    }
}

/// A server process (child, port, its directory) killed when dropped.
pub struct Proc(pub Child, pub u16, pub TmpDir);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin` (Ferrodis or redis-server) without persistence in a fresh directory.
pub fn start_proc(bin: &str, tag: &str, extra: &[&str]) -> Proc {
    let dir = TmpDir::new(tag);
    let mut a = vec!["--save", ""];
    if bin.contains("redis-server") {
        a.extend(["--appendonly", "no"]);
    }
    a.extend(extra);
    let (child, port) = spawn_listening(bin, dir.path(), &a);
    Proc(child, port, dir)
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrodis-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

pub fn wait_ready(port: u16, child: &mut Child, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited during startup: {status}");
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    // `-NOAUTH`: up, but protected by requirepass.
                    if n > 0 && buf[..n].starts_with(b"-NOAUTH") {
                        return;
                    }
                    if n > 0 && buf[0] == b'+' {
                        let pid = reported_pid(&mut s);
                        assert_eq!(
                            pid,
                            Some(child.id()),
                            "port {port} is served by another process, not the {name} we started"
                        );
                        return;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{name} did not start listening on port {port}");
}

/// Path of the Ferrodis binary built for this test run.
pub fn ferrodis_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferrodis-server")
}

/// Starts Ferrodis on a free port with extra `--directive value` arguments.
pub fn ferrodis(extra: &[&str]) -> ServerProc {
    let port = free_port();
    let dir = temp_dir("ferrodis");
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        // As for the reference server below: DEBUG is refused unless enabled.
        "--enable-debug-command".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = Command::new(ferrodis_bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrodis-server");
    wait_ready(port, &mut child, "ferrodis-server");
    ServerProc {
        child,
        port,
        name: "ferrodis",
        dir,
    }
}

/// Path of the reference redis-server. Fails (never skips) when it is missing.
pub fn redis_server_bin() -> String {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(p).exists() {
            return p.to_string();
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
    {
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !s.is_empty() {
            return s;
        }
    }
    panic!(
        "the reference redis-server is not installed: the differential tests need it. \
         Install it with `apt-get install -y redis-server` (scripts/test.sh does this)."
    );
}

/// Starts the reference redis-server on a free port.
pub fn redis(extra: &[&str]) -> ServerProc {
    let port = free_port();
    let dir = temp_dir("redis");
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--daemonize".into(),
        "no".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--enable-debug-command".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = Command::new(redis_server_bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn redis-server");
    wait_ready(port, &mut child, "redis-server");
    ServerProc {
        child,
        port,
        name: "redis",
        dir,
    }
}

/// A minimal RESP client that returns each reply as the exact bytes the server sent.
pub struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.set_nodelay(true).ok();
        RawClient {
            reader: BufReader::new(s.try_clone().expect("clone stream")),
            writer: s,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Sends a command and returns the raw reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_raw(&encode(args));
        self.read_reply()
    }

    /// Convenience: command from string arguments.
    pub fn cmds(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.cmd(&a)
    }

    /// Waits (5 s at most) until CLIENT LIST shows this connection alone: the server
    /// has seen the others close and freed their buffers.
    pub fn wait_alone(&mut self) {
        for _ in 0..500 {
            let list = self.cmds(&["CLIENT", "LIST"]);
            if list.windows(3).filter(|w| w == b"id=").count() <= 1 {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `ms` for the server to close the connection (unread replies
    /// before the close are skipped): true if it did.
    pub fn closed_within(&mut self, ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.writer.set_read_timeout(Some(left)).ok();
            let r = match self.reader.fill_buf() {
                Ok([]) => Some(true),
                Ok(b) => {
                    let n = b.len();
                    self.reader.consume(n);
                    None
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    Some(false)
                }
                Err(_) => Some(true),
            };
            if let Some(closed) = r {
                self.writer
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .ok();
                return closed;
            }
        }
    }

    /// Waits up to `ms` for a reply: `None` if nothing arrived in that time.
    pub fn poll_reply(&mut self, ms: u64) -> Option<Vec<u8>> {
        self.writer
            .set_read_timeout(Some(Duration::from_millis(ms.max(1))))
            .ok();
        let ready = matches!(self.reader.fill_buf(), Ok(b) if !b.is_empty());
        self.writer
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok();
        ready.then(|| self.read_reply())
    }

    /// Reads one complete reply (RESP2 or RESP3) and returns its bytes. Returns an empty
    /// vector if the connection was closed.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.read_into(&mut out).is_err() {
            out.clear();
        }
        out
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        out.extend_from_slice(&line);
        Ok(line)
    }

    fn read_into(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let line = self.read_line(out)?;
        let body = &line[1..line.len().saturating_sub(2)];
        let num = || -> i64 { String::from_utf8_lossy(body).parse().unwrap_or(-1) };
        match line[0] {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(()),
            b'$' | b'=' | b'!' => {
                let n = num();
                if n >= 0 {
                    let mut buf = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut buf)?;
                    out.extend_from_slice(&buf);
                }
                Ok(())
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..num().max(0) {
                    self.read_into(out)?;
                }
                Ok(())
            }
            b'%' | b'|' => {
                let n = num().max(0);
                for _ in 0..2 * n {
                    self.read_into(out)?;
                }
                if line[0] == b'|' {
                    // attribute: the real reply follows
                    self.read_into(out)?;
                }
                Ok(())
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad reply",
            )),
        }
    }
}

/// Splits a RESP reply (an aggregate) into its top-level elements' raw bytes.
pub fn split_elements(reply: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut c = Cursor { b: reply, pos: 0 };
    let header_end = c.line_end();
    let header = reply[..header_end].to_vec();
    let kind = reply[0];
    let n: i64 = String::from_utf8_lossy(&reply[1..header_end - 2])
        .parse()
        .unwrap_or(0);
    let count = match kind {
        b'*' | b'~' | b'>' => n,
        b'%' => 2 * n,
        _ => return (reply.to_vec(), Vec::new()),
    };
    c.pos = header_end;
    let mut elems = Vec::new();
    for _ in 0..count.max(0) {
        let start = c.pos;
        c.skip();
        elems.push(reply[start..c.pos].to_vec());
    }
    (header, elems)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn line_end(&self) -> usize {
        let mut i = self.pos;
        while i + 1 < self.b.len() && !(self.b[i] == b'\r' && self.b[i + 1] == b'\n') {
            i += 1;
        }
        i + 2
    }
    fn skip(&mut self) {
        let end = self.line_end();
        let kind = self.b[self.pos];
        let n: i64 = String::from_utf8_lossy(&self.b[self.pos + 1..end - 2])
            .parse()
            .unwrap_or(-1);
        self.pos = end;
        match kind {
            b'$' | b'=' | b'!' if n >= 0 => self.pos += n as usize + 2,
            b'*' | b'~' | b'>' => {
                for _ in 0..n.max(0) {
                    self.skip()
                }
            }
            b'%' => {
                for _ in 0..2 * n.max(0) {
                    self.skip()
                }
            }
            _ => {}
        }
    }
}

/// Printable form of raw protocol bytes for assertion messages.
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Like `wait_ready`, but also accepts `-NOAUTH` (a server started with `requirepass`)
/// as ready, and kills the child if it never becomes ready (no orphaned servers).
fn wait_ready_auth(port: u16, child: &mut Child, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited during startup: {status}");
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    if n > 0 && buf[..n].starts_with(b"-NOAUTH") {
                        return;
                    }
                    if n > 0 && buf[0] == b'+' {
                        let pid = reported_pid(&mut s);
                        assert_eq!(
                            pid,
                            Some(child.id()),
                            "port {port} is served by another process, not the {name} we started"
                        );
                        return;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{name} did not start listening on port {port}");
}

/// Spawns `bin` with `args` (which must include `--port port`) and waits until it
/// answers PING (or NOAUTH).
fn spawn_server(
    bin: &str,
    args: &[String],
    port: u16,
    dir: PathBuf,
    name: &'static str,
) -> ServerProc {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
    wait_ready_auth(port, &mut child, name);
    ServerProc {
        child,
        port,
        name,
        dir,
    }
}

/// Starts Ferrodis with `requirepass` set (readiness is detected through `-NOAUTH`).
pub fn ferrodis_with_password(password: &str, extra: &[&str]) -> ServerProc {
    let port = free_port();
    let dir = temp_dir("ferrodis");
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--requirepass".into(),
        password.into(),
        "--enable-debug-command".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server(ferrodis_bin(), &args, port, dir, "ferrodis")
}

/// Starts the reference redis-server with `requirepass` set.
pub fn redis_with_password(password: &str, extra: &[&str]) -> ServerProc {
    let port = free_port();
    let dir = temp_dir("redis");
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--daemonize".into(),
        "no".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--requirepass".into(),
        password.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    spawn_server(&redis_server_bin(), &args, port, dir, "redis")
}
