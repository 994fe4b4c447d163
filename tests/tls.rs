//! TLS (`tls-port`): a rustls client and `redis-cli --tls` against Ferrodis, client
//! certificates (`tls-auth-clients yes/optional/no`), `tls-protocols`, plain TCP on the
//! TLS port, plain + TLS ports together, a TLS-only server, CONFIG SET reloading the
//! context and moving the port, and startup / CONFIG SET errors compared with the
//! reference redis-server (Debian's is built with TLS).
//!
//! Certificates are made with the `openssl` command-line tool (scripts/test.sh installs
//! it); the tests fail, never skip, when it is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, redis_server_bin, show, split_elements, RawClient, TmpDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, pki_types::ServerName};

// ---------------------------------------------------------------- certificates

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the `openssl` command-line tool is needed to make test certificates ({e}): \
                 apt-get install -y openssl (scripts/test.sh does this)"
            )
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, two server certificates it signed (localhost / 127.0.0.1), a client
/// certificate it signed, and a client certificate signed by another CA.
struct Certs {
    dir: TmpDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = TmpDir::new("tls-certs");
        let d = dir.path();
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("write server.ext");
        std::fs::write(
            d.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
        .expect("write client.ext");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let mut a = vec!["req", "-x509", "-new"];
            a.extend(ec);
            let (key, crt, subj) = (
                format!("{ca}.key"),
                format!("{ca}.crt"),
                format!("/CN=Ferrodis test {ca}"),
            );
            a.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
            openssl(d, &a);
        }
        for (name, ca, ext, cn) in [
            ("server", "ca", "server.ext", "localhost"),
            ("server2", "ca", "server.ext", "localhost-second"),
            ("client", "ca", "client.ext", "client"),
            ("rogue", "other-ca", "client.ext", "rogue"),
        ] {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            let subj = format!("/CN={cn}");
            let mut a = vec!["req", "-new"];
            a.extend(ec);
            a.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(d, &a);
            let (cacrt, cakey) = (format!("{ca}.crt"), format!("{ca}.key"));
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &cacrt,
                    "-CAkey",
                    &cakey,
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    ext,
                ],
            );
        }
        // The server key, encrypted (tls-key-file-pass).
        openssl(
            d,
            &[
                "pkey",
                "-in",
                "server.key",
                "-aes256",
                "-passout",
                "pass:secret",
                "-out",
                "server-enc.key",
            ],
        );
        Certs { dir }
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The usual server arguments (certificate, key, CA).
    fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert-file".into(),
            self.p("server.crt"),
            "--tls-key-file".into(),
            self.p("server.key"),
            "--tls-ca-cert-file".into(),
            self.p("ca.crt"),
        ]
    }
}

// ---------------------------------------------------------------- servers

/// A server with a TLS port (and a plain one unless `plain` is 0); killed when dropped.
struct Srv {
    child: Child,
    plain: u16,
    tls: u16,
    _dir: TmpDir,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_args(bin: &str, plain: u16, tls: u16, dir: &TmpDir) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--port".into(),
        plain.to_string(),
        "--tls-port".into(),
        tls.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--dir".into(),
        dir.s(),
    ];
    if bin.contains("redis-server") {
        a.extend(["--appendonly".into(), "no".into()]);
    }
    a
}

fn start(bin: &str, with_plain: bool, extra: &[String]) -> Srv {
    let dir = TmpDir::new("tls-server");
    let plain = if with_plain { free_port() } else { 0 };
    let tls = free_port();
    let mut args = base_args(bin, plain, tls, &dir);
    args.extend(extra.iter().cloned());
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let probe = if with_plain { plain } else { tls };
    common::wait_listening(bin, &mut child, probe);
    Srv {
        child,
        plain,
        tls,
        _dir: dir,
    }
}

fn ferrodis(with_plain: bool, extra: &[String]) -> Srv {
    start(common::ferrodis_bin(), with_plain, extra)
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs a server that must fail at startup; returns its exit status and output.
fn run_to_exit(bin: &str, extra: &[String]) -> Output {
    let dir = TmpDir::new("tls-fail");
    let mut args = base_args(bin, 0, free_port(), &dir);
    args.extend(extra.iter().cloned());
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("server output")
}

/// The log lines' messages (after Redis's `pid:role date time level ` prefix).
fn messages(out: &Output) -> Vec<String> {
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter_map(|l| {
            // "1234:M 26 Nov 2026 18:35:20.065 # message"
            let mut it = l.splitn(7, ' ');
            let _ = (it.next(), it.next(), it.next(), it.next(), it.next());
            let level = it.next()?;
            matches!(level, "#" | "*" | "-" | ".").then(|| it.next().unwrap_or("").to_string())
        })
        .collect()
}

// ---------------------------------------------------------------- clients

fn client_config(
    certs: &Certs,
    client_cert: Option<&str>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(certs.path("ca.crt")).expect("read ca.crt");
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.expect("CA cert")).expect("add CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let cfg = match client_cert {
        None => b.with_no_client_auth(),
        Some(name) => {
            let cert = std::fs::read(certs.path(&format!("{name}.crt"))).expect("cert");
            let key = std::fs::read(certs.path(&format!("{name}.key"))).expect("key");
            let chain: Vec<_> = rustls_pemfile::certs(&mut &cert[..])
                .collect::<Result<_, _>>()
                .expect("client cert");
            let key = rustls_pemfile::private_key(&mut &key[..])
                .expect("client key")
                .expect("a key");
            b.with_client_auth_cert(chain, key).expect("client auth")
        }
    };
    Arc::new(cfg)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(port: u16, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
}

/// Sends `req` and reads exactly `want.len()` bytes (or what came before EOF/error).
async fn exchange(s: &mut Tls, req: &[u8], want_len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    if s.write_all(req).await.is_err() || s.flush().await.is_err() {
        return got;
    }
    let mut buf = vec![0u8; 64 * 1024];
    while got.len() < want_len {
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

/// Whether a TLS session with this client configuration can run PING.
async fn can_ping(port: u16, cfg: Arc<rustls::ClientConfig>) -> bool {
    match connect(port, cfg).await {
        Ok(mut s) => exchange(&mut s, b"PING\r\n", 7).await == b"+PONG\r\n",
        Err(_) => false,
    }
}

fn redis_cli(certs: &Certs, port: u16, client_cert: Option<&str>, cmd: &[&str]) -> String {
    let mut a = vec![
        "-p".to_string(),
        port.to_string(),
        "--tls".into(),
        "--cacert".into(),
        certs.p("ca.crt"),
    ];
    if let Some(name) = client_cert {
        a.extend([
            "--cert".into(),
            certs.p(&format!("{name}.crt")),
            "--key".into(),
            certs.p(&format!("{name}.key")),
        ]);
    }
    a.extend(cmd.iter().map(|s| s.to_string()));
    let out = Command::new("redis-cli")
        .args(&a)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli (package redis-tools) is needed");
    let s =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    s.trim().to_string()
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn info_field(reply: &[u8], field: &str) -> String {
    let text = String::from_utf8_lossy(reply);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_and_large_pipelined_reply_over_tls() {
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    let cfg = client_config(&certs, Some("client"), BOTH);
    let mut s = connect(srv.tls, cfg).await.expect("TLS handshake");
    assert_eq!(exchange(&mut s, b"PING\r\n", 7).await, b"+PONG\r\n");
    assert_eq!(
        exchange(
            &mut s,
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n",
            5
        )
        .await,
        b"+OK\r\n"
    );
    assert_eq!(
        exchange(&mut s, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 11).await,
        b"$5\r\nhello\r\n"
    );
    // A 1 MB value read 40 times in one pipeline: 40 MB of reply through TLS records.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut set = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1000000\r\n".to_vec();
    set.extend_from_slice(&big);
    set.extend_from_slice(b"\r\n");
    assert_eq!(exchange(&mut s, &set, 5).await, b"+OK\r\n");
    let mut one = b"$1000000\r\n".to_vec();
    one.extend_from_slice(&big);
    one.extend_from_slice(b"\r\n");
    let n = 40;
    let req = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(n);
    let got = exchange(&mut s, &req, one.len() * n).await;
    assert_eq!(got.len(), one.len() * n, "whole pipelined reply");
    assert!(got == one.repeat(n), "pipelined replies intact");

    // The plain port serves the same data at the same time.
    let mut plain = RawClient::connect(srv.plain);
    assert_eq!(plain.cmds(&["GET", "key"]), b"$5\r\nhello\r\n");
    // CLIENT LIST shows the TLS connection's local port; INFO shows the plain port.
    let list = String::from_utf8_lossy(&plain.cmds(&["CLIENT", "LIST"])).into_owned();
    assert!(
        list.contains(&format!("laddr=127.0.0.1:{} ", srv.tls)),
        "TLS client in CLIENT LIST: {list}"
    );
    assert!(list.contains(&format!("laddr=127.0.0.1:{} ", srv.plain)));
    let info = plain.cmds(&["INFO", "server"]);
    assert_eq!(info_field(&info, "tcp_port"), srv.plain.to_string());
    assert_eq!(
        exchange(&mut s, b"INFO server\r\n", 1).await.first(),
        Some(&b'$')
    );
}

#[test]
fn redis_cli_and_client_certificates() {
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    // tls-auth-clients yes (the default): a certificate from the CA is required.
    assert_eq!(
        redis_cli(&certs, srv.tls, Some("client"), &["PING"]),
        "PONG"
    );
    assert_ne!(redis_cli(&certs, srv.tls, None, &["PING"]), "PONG");
    assert_ne!(redis_cli(&certs, srv.tls, Some("rogue"), &["PING"]), "PONG");
    // The server is still up and counts the refused ones.
    let mut plain = RawClient::connect(srv.plain);
    assert_eq!(plain.cmds(&["PING"]), b"+PONG\r\n");

    // optional: no certificate is fine, a certificate must still be valid.
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-auth-clients", "optional"]),
        b"+OK\r\n"
    );
    assert_eq!(
        plain.cmds(&["CONFIG", "GET", "tls-auth-clients"]),
        b"*2\r\n$16\r\ntls-auth-clients\r\n$8\r\noptional\r\n"
    );
    assert_eq!(redis_cli(&certs, srv.tls, None, &["PING"]), "PONG");
    assert_eq!(
        redis_cli(&certs, srv.tls, Some("client"), &["PING"]),
        "PONG"
    );
    assert_ne!(redis_cli(&certs, srv.tls, Some("rogue"), &["PING"]), "PONG");

    // no: certificates are not asked for.
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-auth-clients", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(redis_cli(&certs, srv.tls, None, &["PING"]), "PONG");
    assert_eq!(
        redis_cli(&certs, srv.tls, None, &["SET", "k", "over-tls"]),
        "OK"
    );
    assert_eq!(plain.cmds(&["GET", "k"]), b"$8\r\nover-tls\r\n");
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-auth-clients", "maybe"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) must be one of the following: no, yes, optional\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_protocols_are_enforced() {
    let certs = Certs::new();
    let tls12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let tls13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let mut a = certs.server_args();
    a.extend(args(&[
        "--tls-protocols",
        "TLSv1.2",
        "--tls-auth-clients",
        "no",
    ]));
    let srv = ferrodis(true, &a);
    assert!(can_ping(srv.tls, client_config(&certs, None, tls12)).await);
    assert!(!can_ping(srv.tls, client_config(&certs, None, tls13)).await);
    // Changed at runtime: new connections follow.
    let mut plain = RawClient::connect(srv.plain);
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-protocols", "TLSv1.3"]),
        b"+OK\r\n"
    );
    assert!(!can_ping(srv.tls, client_config(&certs, None, tls12)).await);
    assert!(can_ping(srv.tls, client_config(&certs, None, tls13)).await);
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-protocols", "TLSv1.2 tlsv1.3"]),
        b"+OK\r\n"
    );
    assert!(can_ping(srv.tls, client_config(&certs, None, tls12)).await);
    assert!(can_ping(srv.tls, client_config(&certs, None, tls13)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_on_the_tls_port_is_dropped_without_harm() {
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    for req in [
        &b"PING\r\n"[..],
        b"*1\r\n$4\r\nPING\r\n",
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00][..],
        &[0u8; 4096][..],
    ] {
        let mut c = tokio::net::TcpStream::connect(("127.0.0.1", srv.tls))
            .await
            .expect("connect");
        let _ = c.write_all(req).await;
        let mut buf = vec![0u8; 1024];
        let got = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await;
        if let Ok(Ok(n)) = got {
            assert!(
                !buf[..n].starts_with(b"+PONG"),
                "plain TCP must not be served on the TLS port"
            );
        }
    }
    // A client that connects and sends nothing does not block the others.
    let _idle = tokio::net::TcpStream::connect(("127.0.0.1", srv.tls)).await;
    assert!(can_ping(srv.tls, client_config(&certs, Some("client"), BOTH)).await);
    assert_eq!(RawClient::connect(srv.plain).cmds(&["PING"]), b"+PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_only_server() {
    let certs = Certs::new();
    let srv = ferrodis(false, &certs.server_args());
    assert_eq!(srv.plain, 0);
    let cfg = client_config(&certs, Some("client"), BOTH);
    let mut s = connect(srv.tls, cfg).await.expect("handshake");
    let info = read_bulk(&mut s, b"INFO server\r\n").await;
    assert_eq!(
        info_field(&info, "tcp_port"),
        srv.tls.to_string(),
        "{}",
        show(&info)
    );
    // `port 0` means no plain listener, as in Redis.
    assert_eq!(
        exchange(&mut s, b"CONFIG GET port\r\n", 21).await,
        b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n"
    );
}

/// Sends `req` and reads one bulk reply whole.
async fn read_bulk(s: &mut Tls, req: &[u8]) -> Vec<u8> {
    let mut got = exchange(s, req, 1).await;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n") {
            let n: usize = text[1..end].parse().unwrap_or(0);
            if got.len() >= end + 2 + n + 2 {
                return got;
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return got,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_reloads_certificates_and_moves_the_port() {
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    let mut plain = RawClient::connect(srv.plain);
    let cfg = client_config(&certs, Some("client"), BOTH);
    let subject = |s: &Tls| -> Vec<u8> {
        s.get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first().map(|c| c.as_ref().to_vec()))
            .unwrap_or_default()
    };
    let first = connect(srv.tls, cfg.clone()).await.expect("handshake");
    let first_cert = subject(&first);
    let server2 = std::fs::read(certs.path("server2.crt")).expect("server2.crt");
    let server2_der = rustls_pemfile::certs(&mut &server2[..])
        .next()
        .expect("one cert")
        .expect("parse");

    // A bad file: Redis's error, and the old context stays.
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/cert.pem"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        plain.cmds(&["CONFIG", "GET", "tls-cert-file"]),
        format!(
            "*2\r\n$13\r\ntls-cert-file\r\n${}\r\n{}\r\n",
            certs.p("server.crt").len(),
            certs.p("server.crt")
        )
        .as_bytes()
    );
    assert!(can_ping(srv.tls, cfg.clone()).await);

    // New certificate and key together: new connections get it.
    let (c2, k2) = (certs.p("server2.crt"), certs.p("server2.key"));
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-cert-file", &c2, "tls-key-file", &k2]),
        b"+OK\r\n"
    );
    let second = connect(srv.tls, cfg.clone()).await.expect("handshake");
    assert_eq!(subject(&second), server2_der.as_ref());
    assert_ne!(first_cert, subject(&second));
    // The connection made before still works.
    let mut first = first;
    assert_eq!(exchange(&mut first, b"PING\r\n", 7).await, b"+PONG\r\n");

    // A key that does not match the certificate is refused.
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-key-file", &certs.p("server.key")]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-key-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );

    // tls-port moves: the old port closes, the new one serves TLS.
    let new_port = free_port();
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-port", &new_port.to_string()]),
        b"+OK\r\n"
    );
    assert!(can_ping(new_port, cfg.clone()).await);
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", srv.tls))
        .await
        .is_err());
    // 0 stops TLS listening.
    assert_eq!(plain.cmds(&["CONFIG", "SET", "tls-port", "0"]), b"+OK\r\n");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", new_port))
        .await
        .is_err());
}

/// An encrypted private key (PKCS#8, as OpenSSL 3 writes it) with tls-key-file-pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_private_key() {
    let certs = Certs::new();
    let a = args(&[
        "--tls-cert-file",
        &certs.p("server.crt"),
        "--tls-key-file",
        &certs.p("server-enc.key"),
        "--tls-key-file-pass",
        "secret",
        "--tls-ca-cert-file",
        &certs.p("ca.crt"),
    ]);
    let srv = ferrodis(true, &a);
    assert!(can_ping(srv.tls, client_config(&certs, Some("client"), BOTH)).await);
    // CONFIG SET with a wrong password fails; the right one reloads.
    let mut plain = RawClient::connect(srv.plain);
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-key-file-pass", "nope"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'tls-key-file-pass') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-key-file-pass", "secret"]),
        b"+OK\r\n"
    );
    assert!(can_ping(srv.tls, client_config(&certs, Some("client"), BOTH)).await);
}

#[test]
fn tls_port_can_be_enabled_at_runtime() {
    let certs = Certs::new();
    let mut plain_args = certs.server_args();
    plain_args.extend(args(&["--tls-auth-clients", "no"]));
    let srv = common::ferrodis(&plain_args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let mut c = srv.client();
    let port = free_port();
    assert_eq!(
        c.cmds(&["CONFIG", "SET", "tls-port", &port.to_string()]),
        b"+OK\r\n"
    );
    assert_eq!(redis_cli(&certs, port, None, &["PING"]), "PONG");
}

/// Startup with a bad TLS configuration exits non-zero with Redis's log lines.
#[test]
fn bad_tls_configuration_fails_startup_like_redis() {
    let certs = Certs::new();
    let cases: Vec<Vec<String>> = vec![
        args(&[
            "--tls-cert-file",
            "/nonexistent/server.crt",
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            "/nonexistent/server.key",
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server2.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            "/nonexistent/ca.crt",
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
        ]),
        args(&[
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
            "--tls-protocols",
            "TLSv1.4",
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
            "--tls-ciphersuites",
            "NOSUCHSUITE",
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
            "--tls-ciphers",
            "NOSUCHCIPHER",
        ]),
        args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server.key"),
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
            "--tls-dh-params-file",
            "/nonexistent/dh.pem",
        ]),
    ];
    let redis = redis_server_bin();
    for case in &cases {
        let ours = run_to_exit(common::ferrodis_bin(), case);
        let theirs = run_to_exit(&redis, case);
        assert!(
            !ours.status.success(),
            "{case:?}: Ferrodis must exit non-zero"
        );
        let want: Vec<String> = messages(&theirs)
            .into_iter()
            .skip_while(|m| !m.contains("TLS") && !m.contains("tls") && !m.contains("Failed"))
            .filter(|m| !m.starts_with("WARNING"))
            .take(2)
            .collect();
        assert_eq!(
            want.last().map(|s| s.as_str()),
            Some("Failed to configure TLS. Check logs for more info."),
            "{case:?}: reference output {:?}",
            messages(&theirs)
        );
        let got = messages(&ours);
        let tail: Vec<String> = got[got.len().saturating_sub(2)..].to_vec();
        // The mismatched key: OpenSSL and rustls word the cause alike; otherwise the
        // lines are Redis's.
        assert_eq!(tail, want, "{case:?}: ours {got:?}");
    }
    // An encrypted key with a wrong or missing tls-key-file-pass.
    for pass in ["wrong", ""] {
        let enc = args(&[
            "--tls-cert-file",
            &certs.p("server.crt"),
            "--tls-key-file",
            &certs.p("server-enc.key"),
            "--tls-key-file-pass",
            pass,
            "--tls-ca-cert-file",
            &certs.p("ca.crt"),
        ]);
        for bin in [common::ferrodis_bin(), redis.as_str()] {
            let out = run_to_exit(bin, &enc);
            assert!(!out.status.success(), "{bin} with pass {pass:?}");
            let got = messages(&out);
            assert!(
                got.iter().any(|m| m.starts_with(&format!(
                    "Failed to load private key: {}: ",
                    certs.p("server-enc.key")
                ))),
                "{bin}: {got:?}"
            );
            assert_eq!(
                got.last().map(|s| s.as_str()),
                Some("Failed to configure TLS. Check logs for more info.")
            );
        }
    }
    // Nothing to listen on at all.
    let none = run_to_exit(common::ferrodis_bin(), &args(&["--tls-port", "0"]));
    assert!(!none.status.success());
    assert!(messages(&none).contains(&"Configured to not listen anywhere, exiting.".to_string()));
}

/// CONFIG GET tls-* and CONFIG SET errors for tls directives equal the reference's.
#[test]
fn tls_directives_match_redis() {
    let certs = Certs::new();
    let a = certs.server_args();
    let ours = ferrodis(true, &a);
    let theirs = start(&redis_server_bin(), true, &a);
    let mut o = RawClient::connect(ours.plain);
    let mut t = RawClient::connect(theirs.plain);
    let sorted = |r: Vec<u8>| {
        let (_, e) = split_elements(&r);
        // tls-port differs (each server has its own).
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = e
            .chunks(2)
            .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
            .filter(|(k, _)| k != b"$8\r\ntls-port\r\n")
            .collect();
        pairs.sort();
        pairs
    };
    let cmds: &[&[&str]] = &[
        &["CONFIG", "SET", "tls-session-cache-size", "-1"],
        &["CONFIG", "SET", "tls-session-cache-timeout", "x"],
        &["CONFIG", "SET", "tls-auth-clients", "optional"],
        &["CONFIG", "SET", "tls-protocols", "TLSv1.7"],
        &[
            "CONFIG",
            "SET",
            "tls-ciphersuites",
            "TLS_AES_256_GCM_SHA384",
        ],
        &[
            "CONFIG",
            "SET",
            "tls-ciphers",
            "ECDHE-RSA-AES256-GCM-SHA384:HIGH",
        ],
        &["CONFIG", "SET", "tls-prefer-server-ciphers", "yes"],
        &["CONFIG", "SET", "tls-session-caching", "no"],
        &["CONFIG", "SET", "tls-port", "70000"],
        &["CONFIG", "SET", "tls-ca-cert-file", "/nonexistent"],
        &["CONFIG", "SET", "tls-key-file", "/nonexistent"],
        &["CONFIG", "SET", "tls-dh-params-file", "/nonexistent"],
        &["CONFIG", "SET", "tls-replication", "yes"],
        &["CONFIG", "SET", "tls-cluster", "maybe"],
    ];
    for c in cmds {
        assert_eq!(show(&o.cmds(c)), show(&t.cmds(c)), "{c:?}");
    }
    assert_eq!(
        sorted(o.cmds(&["CONFIG", "GET", "tls-*"])),
        sorted(t.cmds(&["CONFIG", "GET", "tls-*"]))
    );
    assert_eq!(
        info_field(&o.cmds(&["INFO", "server"]), "tcp_port"),
        ours.plain.to_string()
    );
}

/// Pub/Sub deliveries and blocked clients' replies are written outside the request
/// path (while idle or blocked): over TLS they must be flushed out of the TLS layer too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_and_blocking_pops_over_tls() {
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    let cfg = client_config(&certs, Some("client"), BOTH);

    let mut sub = connect(srv.tls, cfg.clone()).await.expect("handshake");
    let subscribed = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    assert_eq!(
        exchange(&mut sub, b"SUBSCRIBE ch\r\n", subscribed.len()).await,
        subscribed
    );
    let mut blocked = connect(srv.tls, cfg.clone()).await.expect("handshake");
    blocked
        .write_all(b"BLPOP list 0\r\n")
        .await
        .expect("send BLPOP");
    blocked.flush().await.expect("flush");

    let mut plain = RawClient::connect(srv.plain);
    // Wait until the BLPOP is blocked, then serve it and publish.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&plain.cmds(&["INFO", "clients"])).contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline, "BLPOP did not block");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(plain.cmds(&["PUBLISH", "ch", "hello"]), b":1\r\n");
    assert_eq!(plain.cmds(&["RPUSH", "list", "v"]), b":1\r\n");

    let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    assert_eq!(exchange(&mut sub, b"", msg.len()).await, msg);
    let popped = b"*2\r\n$4\r\nlist\r\n$1\r\nv\r\n";
    assert_eq!(exchange(&mut blocked, b"", popped.len()).await, popped);
}

/// TLS session resumption: on by default (`tls-session-caching yes`), off with `no`,
/// and not past `tls-session-cache-timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_caching_settings() {
    use rustls::HandshakeKind;
    async fn kinds(port: u16, cfg: Arc<rustls::ClientConfig>, pause_ms: u64) -> Vec<HandshakeKind> {
        let mut out = Vec::new();
        for i in 0..2 {
            if i == 1 {
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            }
            let mut s = connect(port, cfg.clone()).await.expect("handshake");
            // The session ticket comes after the handshake (TLS 1.3): read a reply.
            assert_eq!(exchange(&mut s, b"PING\r\n", 7).await, b"+PONG\r\n");
            out.push(s.get_ref().1.handshake_kind().expect("handshake done"));
        }
        out
    }
    let certs = Certs::new();
    let srv = ferrodis(true, &certs.server_args());
    let fresh = || client_config(&certs, Some("client"), BOTH);
    assert_eq!(
        kinds(srv.tls, fresh(), 0).await,
        [HandshakeKind::Full, HandshakeKind::Resumed]
    );
    let mut plain = RawClient::connect(srv.plain);
    assert_eq!(
        plain.cmds(&["CONFIG", "SET", "tls-session-cache-timeout", "1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        kinds(srv.tls, fresh(), 1_300).await,
        [HandshakeKind::Full, HandshakeKind::Full]
    );
    assert_eq!(
        plain.cmds(&[
            "CONFIG",
            "SET",
            "tls-session-cache-timeout",
            "300",
            "tls-session-caching",
            "no"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        kinds(srv.tls, fresh(), 0).await,
        [HandshakeKind::Full, HandshakeKind::Full]
    );
}
