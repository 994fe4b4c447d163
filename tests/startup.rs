//! Startup and shutdown of the `ferrodis-server` binary: configuration errors (compared
//! with what redis-server prints for the same input), loading Debian's stock
//! `/etc/redis/redis.conf`, the startup log, signals, `--version`, and the defaults.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ferrodis_bin, free_port, redis_server_bin, RawClient};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrodis-startup-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Runs a server binary that is expected to exit by itself (bad configuration);
/// returns (exit code, stdout, stderr). Kills it if it starts serving instead.
fn run_to_exit(bin: &str, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bin} {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Redis prints its own version in the fatal banner; Ferrodis prints the Redis version
/// it is compatible with. Everything else must match.
fn normalize_version(s: &str) -> String {
    let re_start = "*** FATAL CONFIG FILE ERROR (Redis ";
    s.lines()
        .map(|l| match l.strip_prefix(re_start) {
            Some(_) => format!("{re_start}X) ***"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn compare_fatal(args: &[&str], cwd: &Path) -> String {
    let redis = run_to_exit(&redis_server_bin(), args, cwd);
    let ferro = run_to_exit(ferrodis_bin(), args, cwd);
    assert_eq!(redis.0, 1, "redis-server {args:?} should fail: {redis:?}");
    assert_eq!(ferro.0, 1, "ferrodis-server {args:?} exit status");
    assert_eq!(
        normalize_version(&ferro.2),
        normalize_version(&redis.2),
        "stderr for {args:?}: ferrodis (left) vs redis-server (right)"
    );
    ferro.2
}

#[test]
fn unknown_directive_is_fatal_like_redis() {
    let dir = tmp_dir("fatal");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "# comment\nport 6399\nbogus 1\n").expect("write conf");
    let conf_s = conf.to_string_lossy().into_owned();
    let port = free_port().to_string();

    // In a file: the line number and text of the file.
    let err = compare_fatal(&[&conf_s], &dir);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR (Redis "), "{err}");
    assert!(
        err.contains("Reading the configuration file, at line 3"),
        "{err}"
    );
    assert!(err.contains(">>> 'bogus 1'"), "{err}");
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );

    // On the command line (Redis numbers the composed option lines after the file).
    let err = compare_fatal(&["--port", &port, "--bogus", "1"], &dir);
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
    compare_fatal(&["--bogus"], &dir);
    compare_fatal(&["--bogus", "1", "2"], &dir);

    // A good file followed by a bad option.
    let good = dir.join("good.conf");
    std::fs::write(&good, "port 6399\n").expect("write conf");
    compare_fatal(&[&good.to_string_lossy(), "--bogus", "x y"], &dir);

    // Bad values of known directives.
    compare_fatal(&["--port", "abc"], &dir);
    compare_fatal(&["--port", "70000"], &dir);
    compare_fatal(&["--port"], &dir);
    compare_fatal(&["--port", &port, "--databases", "x"], &dir);
    compare_fatal(&["--save", "a", "b", "c"], &dir);
    std::fs::write(&conf, "port 6399\nappendonly maybe\n").expect("write conf");
    compare_fatal(&[&conf_s], &dir);
    std::fs::write(&conf, "port \"6399\n").expect("write conf");
    compare_fatal(&[&conf_s], &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A running server process with its stdout (the log) collected by a thread.
struct Running {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    dir: PathBuf,
}

impl Running {
    fn start(args: &[String], port: u16, dir: PathBuf) -> Running {
        let mut child = Command::new(ferrodis_bin())
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ferrodis-server");
        let mut out = child.stdout.take().expect("stdout");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let mut r = Running {
            child,
            log,
            reader: Some(reader),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = r.child.try_wait() {
                panic!("ferrodis-server exited during startup ({st}): {}", r.log());
            }
            if r.log().contains("Ready to accept connections")
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "not ready: {}", r.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sends a signal and waits for the exit status; returns (status, full log).
    fn signal_and_wait(mut self, sig: i32) -> (i32, String) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after signal {sig}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        (status.code().unwrap_or(-1), self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn base_args(port: u16, dir: &Path) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
    ]
}

#[test]
fn startup_log_and_clean_shutdown_on_sigterm_and_sigint() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let port = free_port();
        let dir = tmp_dir("signal");
        let srv = Running::start(&base_args(port, &dir), port, dir);
        let pid = srv.child.id();
        let mut c = RawClient::connect(port);
        assert_eq!(c.cmds(&["SET", "k", "v"]), b"+OK\r\n");
        let log = srv.log();
        assert!(
            log.contains("version="),
            "no version in startup log:\n{log}"
        );
        assert!(
            log.contains(&format!("pid={pid}")),
            "no pid in startup log:\n{log}"
        );
        assert!(
            log.contains(&format!("port={port}")),
            "no port in startup log:\n{log}"
        );
        assert!(log.contains("Ready to accept connections"), "{log}");
        // Redis's log line prefix: "<pid>:M <day> <mon> <year> <time> <level> ".
        let first = log.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("{pid}:")),
            "log line format: {first}"
        );
        let (code, log) = srv.signal_and_wait(sig);
        assert_eq!(code, 0, "exit status after signal {sig}:\n{log}");
        let name = if sig == libc::SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        assert!(log.contains(&format!("Received {name}")), "{log}");
        assert!(log.contains("ready to exit"), "{log}");
        // The port is released.
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} still bound"
        );
    }
}

#[test]
fn debian_redis_conf_loads() {
    let stock = Path::new("/etc/redis/redis.conf");
    assert!(
        stock.exists(),
        "/etc/redis/redis.conf is missing: install the redis-server package (scripts/test.sh does)"
    );
    let port = free_port();
    let dir = tmp_dir("debian");
    let args: Vec<String> = vec![
        stock.to_string_lossy().into_owned(),
        "--daemonize".into(),
        "no".into(),
        "--port".into(),
        port.to_string(),
        "--logfile".into(),
        "".into(),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
        "--pidfile".into(),
        "".into(),
        "--save".into(),
        "".into(),
    ];
    let srv = Running::start(&args, port, dir);
    let mut c = RawClient::connect(port);
    assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmds(&["SET", "a", "1"]), b"+OK\r\n");
    assert_eq!(c.cmds(&["GET", "a"]), b"$1\r\n1\r\n");
    let log = srv.log();
    assert!(
        log.contains("/etc/redis/redis.conf"),
        "config file not named in log:\n{log}"
    );
    let (code, _) = srv.signal_and_wait(libc::SIGTERM);
    assert_eq!(code, 0);
}

#[test]
fn version_flag() {
    for flag in ["--version", "-v"] {
        let out = Command::new(ferrodis_bin())
            .arg(flag)
            .output()
            .expect("run");
        assert!(out.status.success());
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains(&format!("v={}", ferrodis::VERSION)), "{s}");
        assert!(s.contains(ferrodis::VERSION_REDIS), "{s}");
    }
}

#[test]
fn defaults_without_configuration() {
    // With no arguments at all the server listens on 6379, like redis-server. Only
    // checked when 6379 is free on this machine (a system Redis may hold it).
    let free_6379 = TcpListener::bind(("127.0.0.1", 6379)).is_ok();
    if free_6379 {
        let dir = tmp_dir("default");
        let mut child = Command::new(ferrodis_bin())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut served = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost a race for 6379 with another process
            }
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", 6379)) {
                drop(s);
                let mut c = RawClient::connect(6379);
                assert_eq!(c.cmds(&["PING"]), b"+PONG\r\n");
                served = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        if !served {
            assert!(
                TcpListener::bind(("127.0.0.1", 6379)).is_err(),
                "ferrodis-server without arguments did not serve on 6379"
            );
        }
    }
    // The other defaults, on a port override: 16 databases, like redis-server.
    let ferro = common::ferrodis(&[]);
    let redis = common::redis(&[]);
    let mut f = ferro.client();
    let mut r = redis.client();
    for cmd in [["SELECT", "15"], ["SELECT", "16"], ["SELECT", "0"]] {
        assert_eq!(f.cmds(&cmd), r.cmds(&cmd), "{cmd:?}");
    }
    assert_eq!(f.cmds(&["SELECT", "15"]), b"+OK\r\n");
}
