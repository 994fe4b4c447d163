//! TLS (`tls-port`): the rustls server context built from the `tls-*` directives, with
//! Redis's startup and CONFIG SET errors.
//!
//! The context is rebuilt by CONFIG SET of any `tls-*` directive (new connections use
//! the new one; established ones keep theirs), as Redis's `applyTlsCfg` does. What
//! rustls cannot do differs from Redis (OpenSSL) as follows:
//! - `tls-protocols`: only TLSv1.2 and TLSv1.3 exist in rustls; `TLSv1`/`TLSv1.1` are
//!   accepted in the list and ignored, a list with neither 1.2 nor 1.3 is refused.
//! - `tls-ciphersuites` (TLS 1.3, IANA names) restricts the suites to the names rustls
//!   implements; `tls-ciphers` (TLS 1.2, OpenSSL syntax) honours explicit suite names
//!   (`ECDHE-RSA-AES256-GCM-SHA384`...) and treats OpenSSL's keywords (`HIGH`,
//!   `!aNULL`, ...) as satisfied by rustls's suites, which are all forward-secret AEAD.
//! - `tls-prefer-server-ciphers yes`: the server's suite order wins (rustls's
//!   `ignore_client_order`).
//! - `tls-session-caching` / `tls-session-cache-size`: a rustls in-memory session cache
//!   of that many entries (0, "unlimited" for OpenSSL, keeps the default 20480);
//!   `tls-session-cache-timeout` has no effect (rustls's cache is bounded by count).
//! - `tls-dh-params-file`: rustls has no finite-field DHE; the file must be readable
//!   (as in Redis) but is otherwise unused.
//! - `tls-key-file-pass` / `tls-client-key-file-pass`: encrypted private keys are
//!   refused with a clear error (decrypt them with `openssl pkey`).
//! - `tls-replication`, `tls-cluster`, `tls-client-cert-file`, `tls-client-key-file`:
//!   Ferrodis has no replication or cluster bus yet; the client certificate and key are
//!   loaded and checked as Redis does, and otherwise unused.

use std::io::BufReader;
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::server::{log, Server};

/// Redis's final startup line when the TLS context cannot be built.
pub const STARTUP_FAILED: &str = "Failed to configure TLS. Check logs for more info.";
/// Redis's CONFIG SET reason when a `tls-*` change leaves an unusable context.
pub const SET_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// The current TLS context (none until TLS is configured) and the TLS port's
/// listeners.
#[derive(Default)]
pub struct Tls {
    acceptor: RwLock<Option<TlsAcceptor>>,
    /// The accept loops of `tls-port` (aborted when CONFIG SET changes the port).
    pub(crate) listeners: parking_lot::Mutex<Vec<(tokio::task::AbortHandle, i32)>>,
    /// The TLS port listened on (0: none).
    pub port: std::sync::atomic::AtomicU64,
}

impl Tls {
    /// The context a new connection on the TLS port is accepted with.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.acceptor.read().clone()
    }

    /// Whether a context has been built.
    pub fn configured(&self) -> bool {
        self.acceptor.read().is_some()
    }

    /// Builds the context from `cfg` and makes it current; on error the previous one
    /// stays and the error (Redis's log line) is returned.
    pub fn configure(&self, cfg: &Config) -> Result<(), String> {
        let sc = build(cfg)?;
        self.install(sc);
        Ok(())
    }

    fn install(&self, sc: ServerConfig) {
        *self.acceptor.write() = Some(TlsAcceptor::from(Arc::new(sc)));
    }
}

/// CONFIG SET hook, called with the canonical names of the directives being set and
/// the configuration they produce, before it becomes current: rebuilds the context if
/// a `tls-*` setting changed and TLS is in use (Redis's `applyTlsCfg`), and moves the
/// TLS listeners if `tls-port` changed (`applyTLSPort`). On failure nothing changed
/// and the error names the directive and Redis's reason.
pub fn apply_config(srv: &Server, names: &[&str], new: &Config) -> Result<(), (String, String)> {
    let failed = |name: &str, reason: &str, why: &str| {
        log::warning(why);
        log::warning(&format!(
            "Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."
        ));
        Err((name.to_string(), reason.to_string()))
    };
    let port = new.int("tls-port").clamp(0, u16::MAX as i64) as u16;
    let port_changed = names.contains(&"tls-port")
        && u64::from(port) != srv.tls.port.load(std::sync::atomic::Ordering::Relaxed);
    let mut pending = None;
    if let Some(name) = names.iter().find(|n| is_context_directive(n)) {
        if wanted(new) {
            match build(new) {
                Ok(sc) => pending = Some(sc),
                Err(e) => return failed(name, SET_FAILED, &e),
            }
        }
    }
    if port_changed {
        if port != 0 && pending.is_none() && !srv.tls.configured() {
            match build(new) {
                Ok(sc) => pending = Some(sc),
                Err(e) => return failed("tls-port", SET_FAILED, &e),
            }
        }
        if let Some(sc) = pending.take() {
            srv.tls.install(sc);
        }
        let Some(arc) = srv.arc() else {
            return Err(("tls-port".into(), "server is shutting down".into()));
        };
        let bind = new.str("bind");
        let backlog = new.int("tcp-backlog") as i32;
        if let Err(e) = crate::server::listener::start_tls(&arc, &bind, backlog, port) {
            return failed(
                "tls-port",
                "Unable to listen on this port. Check server logs.",
                &e,
            );
        }
    }
    if let Some(sc) = pending {
        srv.tls.install(sc);
    }
    Ok(())
}

/// Whether Redis would configure TLS for `cfg` (a TLS port, or TLS for replication or
/// the cluster bus).
pub fn wanted(cfg: &Config) -> bool {
    cfg.int("tls-port") != 0 || cfg.bool("tls-replication") || cfg.bool("tls-cluster")
}

/// Directives whose change rebuilds the TLS context (Redis's `applyTlsCfg`).
pub fn is_context_directive(name: &str) -> bool {
    name.starts_with("tls-") && !matches!(name, "tls-port")
}

/// An I/O error as OpenSSL's `system library` prints it (strerror, no "(os error N)").
fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("error:80000002:system library::{}", os_text(&e)))
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let fail = |why: String| format!("Failed to load certificate: {path}: {why}");
    let pem = read_file(path).map_err(fail)?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(&pem[..]))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |why: String| format!("Failed to load private key: {path}: {why}");
    let pem = read_file(path).map_err(fail)?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("ENCRYPTED") {
        let which = if pass.is_empty() {
            "the key is encrypted and no password is configured"
        } else {
            "the key is encrypted"
        };
        return Err(fail(format!(
            "{which}; Ferrodis does not support encrypted private keys \
             (tls-key-file-pass): decrypt it with `openssl pkey -in KEY -out KEY.plain`"
        )));
    }
    match rustls_pemfile::private_key(&mut BufReader::new(&pem[..])) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(fail("no PEM private key found".into())),
        Err(e) => Err(fail(e.to_string())),
    }
}

fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let fail = |why: String| format!("Failed to configure CA certificate(s) file/directory: {why}");
    let mut roots = RootCertStore::empty();
    let mut add_pem = |pem: &[u8], strict: bool| -> Result<usize, String> {
        let mut n = 0;
        for c in rustls_pemfile::certs(&mut BufReader::new(pem)) {
            match c.map_err(|e| e.to_string()).and_then(|c| {
                roots
                    .add(c)
                    .map_err(|e| format!("error:05800088:x509 certificate routines::{e}"))
            }) {
                Ok(()) => n += 1,
                Err(e) if strict => return Err(e),
                Err(_) => {}
            }
        }
        Ok(n)
    };
    if !file.is_empty() {
        let pem = read_file(file).map_err(fail)?;
        if add_pem(&pem, true).map_err(fail)? == 0 {
            return Err(fail(
                "error:05800088:x509 certificate routines::no certificate or crl found".into(),
            ));
        }
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| fail(format!("error:80000002:system library::{}", os_text(&e))))?;
        // OpenSSL looks certificates up by their hashed names in the directory; every
        // PEM certificate in it is trusted here (files that are not PEM are skipped).
        for e in entries.flatten() {
            if let Ok(pem) = std::fs::read(e.path()) {
                let _ = add_pem(&pem, false);
            }
        }
    }
    Ok(roots)
}

/// `tls-protocols` → rustls versions. Redis's error for an unknown name.
fn protocols(spec: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut v13 = false;
    let mut v12 = false;
    for p in spec.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => {}
            "tlsv1.2" => v12 = true,
            "tlsv1.3" => v13 = true,
            _ => {
                return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into())
            }
        }
    }
    let mut out = Vec::new();
    if v13 {
        out.push(&rustls::version::TLS13);
    }
    if v12 {
        out.push(&rustls::version::TLS12);
    }
    if out.is_empty() {
        return Err(format!(
            "Failed to configure tls-protocols '{spec}': Ferrodis supports only TLSv1.2 and TLSv1.3"
        ));
    }
    Ok(out)
}

/// OpenSSL's name of a TLS 1.2 suite rustls implements (TLS 1.3 suites use the IANA
/// names, which is what rustls's names are without the `TLS13_` prefix).
fn openssl_name(s: &SupportedCipherSuite) -> String {
    let iana = format!("{:?}", s.suite());
    match iana.as_str() {
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => "ECDHE-ECDSA-AES256-GCM-SHA384".into(),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => "ECDHE-ECDSA-AES128-GCM-SHA256".into(),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-ECDSA-CHACHA20-POLY1305".into(),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => "ECDHE-RSA-AES256-GCM-SHA384".into(),
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => "ECDHE-RSA-AES128-GCM-SHA256".into(),
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-RSA-CHACHA20-POLY1305".into(),
        other => other
            .strip_prefix("TLS13_")
            .map_or(other.to_string(), |n| format!("TLS_{n}")),
    }
}

/// Whether an OpenSSL cipher-string token is a keyword or operator rather than a
/// suite name (those are satisfied by rustls's suites, see the module docs).
fn is_cipher_keyword(tok: &str) -> bool {
    const WORDS: &[&str] = &[
        "DEFAULT",
        "ALL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "COMPLEMENTOFDEFAULT",
        "COMPLEMENTOFALL",
        "eNULL",
        "NULL",
        "aNULL",
        "kECDHE",
        "ECDHE",
        "EECDH",
        "kEECDH",
        "aECDSA",
        "ECDSA",
        "aRSA",
        "RSA",
        "AESGCM",
        "AES",
        "AES128",
        "AES256",
        "CHACHA20",
        "SHA256",
        "SHA384",
        "TLSv1.2",
        "SUITEB128",
        "SUITEB192",
        "SUITEB128ONLY",
        "PSK",
        "SRP",
        "MD5",
        "RC4",
        "DES",
        "3DES",
        "EXPORT",
        "CAMELLIA",
        "SEED",
        "IDEA",
        "SHA1",
        "SHA",
        "kRSA",
        "DHE",
        "EDH",
        "kDHE",
        "kEDH",
        "ADH",
        "AECDH",
        "CBC",
        "DSS",
        "aDSS",
        "ARIA",
    ];
    if tok.starts_with(['!', '-', '+', '@']) {
        return true;
    }
    tok.split('+').all(|w| WORDS.contains(&w))
}

/// The suites `tls-ciphers` (TLS 1.2) and `tls-ciphersuites` (TLS 1.3) allow.
fn cipher_suites(
    all: &[SupportedCipherSuite],
    ciphers: &str,
    ciphersuites: &str,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let (tls13, tls12): (Vec<_>, Vec<_>) = all
        .iter()
        .copied()
        .partition(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
    let pick = |pool: &[SupportedCipherSuite], names: &[&str]| -> Vec<SupportedCipherSuite> {
        // In the order the configuration lists them (the server's preference).
        names
            .iter()
            .filter_map(|n| pool.iter().find(|s| openssl_name(s) == *n).copied())
            .collect()
    };
    let split = |s: &str| -> Vec<String> {
        s.split([':', ',', ' '])
            .filter(|t| !t.is_empty())
            .map(|t| t.to_string())
            .collect()
    };
    let mut out = Vec::new();
    if ciphersuites.trim().is_empty() {
        out.extend(tls13);
    } else {
        let names = split(ciphersuites);
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let chosen = pick(&tls13, &refs);
        if chosen.is_empty() {
            return Err(format!("Failed to configure ciphersuites: {ciphersuites}"));
        }
        out.extend(chosen);
    }
    if ciphers.trim().is_empty() {
        out.extend(tls12);
    } else {
        let names = split(ciphers);
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let chosen = pick(&tls12, &refs);
        if !chosen.is_empty() {
            out.extend(chosen);
        } else if refs.iter().any(|t| is_cipher_keyword(t)) {
            out.extend(tls12);
        } else {
            return Err(format!("Failed to configure ciphers: {ciphers}"));
        }
    }
    Ok(out)
}

/// Builds the rustls server configuration from the `tls-*` directives. Errors are the
/// line Redis logs before "Failed to configure TLS".
pub fn build(cfg: &Config) -> Result<ServerConfig, String> {
    let cert_file = cfg.str("tls-cert-file");
    let key_file = cfg.str("tls-key-file");
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = cfg.str("tls-auth-clients");
    let ca_file = cfg.str("tls-ca-cert-file");
    let ca_dir = cfg.str("tls-ca-cert-dir");
    if ca_file.is_empty()
        && ca_dir.is_empty()
        && (auth != "no" || cfg.bool("tls-replication") || cfg.bool("tls-cluster"))
    {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let certs = load_certs(&cert_file)?;
    let key = load_key(&key_file, &cfg.str("tls-key-file-pass"))?;
    let roots = if ca_file.is_empty() && ca_dir.is_empty() {
        None
    } else {
        Some(Arc::new(load_roots(&ca_file, &ca_dir)?))
    };
    // The client side (replication, cluster bus): checked as Redis checks it.
    let client_cert = cfg.str("tls-client-cert-file");
    if !client_cert.is_empty() {
        let client_key = cfg.str("tls-client-key-file");
        if client_key.is_empty() {
            return Err("No tls-client-key-file configured!".into());
        }
        load_certs(&client_cert)?;
        load_key(&client_key, &cfg.str("tls-client-key-file-pass"))?;
    }
    let dh = cfg.str("tls-dh-params-file");
    if !dh.is_empty() {
        std::fs::read(&dh).map_err(|e| format!("Failed to load {dh}: {}", os_text(&e)))?;
    }

    let versions = protocols(&cfg.str("tls-protocols"))?;
    let base = rustls::crypto::ring::default_provider();
    let suites = cipher_suites(
        &base.cipher_suites,
        &cfg.str("tls-ciphers"),
        &cfg.str("tls-ciphersuites"),
    )?;
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..base
    });
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols and ciphers: {e}"))?;
    let builder = match (auth.as_str(), roots) {
        ("no", _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(roots)) => {
            let v = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let v = if mode == "optional" {
                v.allow_unauthenticated()
            } else {
                v
            };
            let v = v.build().map_err(|e| {
                format!("Failed to configure CA certificate(s) file/directory: {e}")
            })?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut sc = builder.with_single_cert(certs, key).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => {
                "error:05800074:x509 certificate routines::key values mismatch".to_string()
            }
            other => other.to_string(),
        };
        format!("Failed to load private key: {key_file}: {why}")
    })?;
    sc.ignore_client_order = cfg.bool("tls-prefer-server-ciphers");
    sc.session_storage = if cfg.bool("tls-session-caching") {
        let size = match cfg.int("tls-session-cache-size") {
            n if n <= 0 => 20480,
            n => n as usize,
        };
        ServerSessionMemoryCache::new(size)
    } else {
        sc.send_tls13_tickets = 0;
        Arc::new(NoServerSessionStorage {})
    };
    Ok(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lists() {
        assert_eq!(protocols("").map(|v| v.len()), Ok(2));
        assert_eq!(protocols("TLSv1.2").map(|v| v.len()), Ok(1));
        assert_eq!(protocols("tlsv1.3 TLSv1.2 TLSv1").map(|v| v.len()), Ok(2));
        assert!(protocols("TLSv1.4")
            .unwrap_err()
            .starts_with("Invalid tls-protocols"));
        assert!(protocols("TLSv1 TLSv1.1").is_err());
    }

    #[test]
    fn cipher_selection() {
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        let n12 = all
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .count();
        let n13 = all.len() - n12;
        let names = |v: &[SupportedCipherSuite]| v.iter().map(openssl_name).collect::<Vec<_>>();
        let v = cipher_suites(&all, "", "TLS_CHACHA20_POLY1305_SHA256").unwrap();
        assert_eq!(v.len(), 1 + n12);
        assert!(names(&v).contains(&"TLS_CHACHA20_POLY1305_SHA256".to_string()));
        let v = cipher_suites(&all, "ECDHE-RSA-AES128-GCM-SHA256:HIGH", "").unwrap();
        assert_eq!(v.len(), n13 + 1);
        assert_eq!(
            cipher_suites(&all, "HIGH:!aNULL", "").unwrap().len(),
            all.len()
        );
        assert_eq!(
            cipher_suites(&all, "FOO", "").unwrap_err(),
            "Failed to configure ciphers: FOO"
        );
        assert_eq!(
            cipher_suites(&all, "", "FOO").unwrap_err(),
            "Failed to configure ciphersuites: FOO"
        );
    }
}
