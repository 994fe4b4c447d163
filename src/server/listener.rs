//! Listening sockets (`bind`, `port`, `tcp-backlog`) and the accept loop, which
//! enforces `maxclients` and protected mode before a connection gets its task.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::server::client::ClientInfo;
use crate::server::connection::Stream;
use crate::server::{connection, log, Server};
use crate::util::time::now_ms;

/// Redis's reply to a non-loopback client while protected mode is active.
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Creates the listening sockets for `bind` and `port`. An address prefixed with `-`
/// is optional (its failure is ignored), as in Redis's default `* -::*`.
pub fn bind_all(bind: &str, port: u16, backlog: i32) -> Result<Vec<TcpListener>, String> {
    let mut out = Vec::new();
    for spec in bind.split_whitespace() {
        let (optional, addr) = match spec.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, spec),
        };
        let ip: IpAddr = match addr {
            "*" => IpAddr::from([0u8, 0, 0, 0]),
            "::*" => IpAddr::from([0u16; 8]),
            other => match other.parse() {
                Ok(ip) => ip,
                Err(_) if optional => continue,
                Err(_) => return Err(format!("Invalid bind address '{other}'")),
            },
        };
        match listen(SocketAddr::new(ip, port), backlog) {
            Ok(l) => out.push(l),
            Err(e) if optional => {
                log::verbose(&format!("Skipping optional bind address {addr}: {e}"));
            }
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {addr}:{port}: {e}"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("Failed listening on all addresses".into());
    }
    Ok(out)
}

fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // Like Redis: the IPv6 socket does not also take IPv4, so `* ::*` can coexist.
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    TcpListener::from_std(sock.into())
}

/// Whether protected mode lets `ip` in: Redis 7.0 compares the peer's address text
/// with "127.0.0.1" and "::1" (`clientAcceptHandler`), so only those two count as
/// local; other 127.x.y.z addresses and IPv4-mapped forms do not.
pub fn is_local_for_protected_mode(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// Sets `SO_KEEPALIVE` and the probe timing as Redis's `anetKeepAlive`: first probe
/// after `secs` idle seconds, then every `secs / 3` (at least 1), 3 probes. 0 leaves
/// keepalive off.
pub fn set_keepalive(stream: &TcpStream, secs: i64) -> std::io::Result<()> {
    if secs <= 0 {
        return Ok(());
    }
    let secs = secs.min(i32::MAX as i64) as u64;
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)))
        .with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&ka)
}

/// Accepts connections forever on one listener; `tls` for the `tls-port` listeners
/// (the TLS handshake runs in the connection's task, with the context current at
/// accept time).
pub async fn accept_loop(srv: Arc<Server>, listener: TcpListener, tls: bool) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            // The socket was shut down (the TLS port moved).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if srv.shutting_down.load(Ordering::Relaxed) {
            continue;
        }
        let srv = srv.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let keepalive = srv.config.read().int("tcp-keepalive");
            if let Err(e) = set_keepalive(&stream, keepalive) {
                log::verbose(&format!("Setting TCP keepalive: {e}"));
            }
            let laddr = stream.local_addr().unwrap_or(peer);
            let fd = stream.as_raw_fd();
            srv.stats
                .total_connections_received
                .fetch_add(1, Ordering::Relaxed);
            if !tls {
                return admit(srv, stream, peer, laddr, fd).await;
            }
            let Some(acceptor) = srv.tls.acceptor() else {
                return;
            };
            match acceptor.accept(stream).await {
                Ok(s) => admit(srv, s, peer, laddr, fd).await,
                Err(e) => log::warning(&format!("Error accepting a client connection: {e}")),
            }
        });
    }
}

/// Binds the `tls-port` listeners on the `bind` addresses and starts their accept
/// loops, replacing those of a previous port; port 0 only stops them. The TLS context
/// must be configured first. The error is the line to log.
pub fn start_tls(srv: &Arc<Server>, bind: &str, backlog: i32, port: u16) -> Result<(), String> {
    let listeners = if port == 0 {
        Vec::new()
    } else {
        bind_all(bind, port, backlog)?
    };
    let actual = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(port, |a| a.port());
    let mut handles = srv.tls.listeners.lock();
    for (h, fd) in handles.drain(..) {
        // Stop listening now, as Redis closes the old sockets before CONFIG SET
        // replies (the task itself ends when the runtime next polls it).
        // SAFETY: `fd` is the listening socket owned by the task `h`, which is not
        // aborted yet, so the descriptor is open and still that socket.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
        h.abort();
    }
    for l in listeners {
        let fd = l.as_raw_fd();
        let h = tokio::spawn(accept_loop(srv.clone(), l, true)).abort_handle();
        handles.push((h, fd));
    }
    srv.tls.port.store(actual as u64, Ordering::Relaxed);
    Ok(())
}

async fn admit<S: Stream>(
    srv: Arc<Server>,
    mut stream: S,
    peer: SocketAddr,
    laddr: SocketAddr,
    fd: i32,
) {
    let maxclients = srv.hot.maxclients.load(Ordering::Relaxed) as usize;
    if srv.clients.len() >= maxclients {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        let _ = stream.flush().await;
        return;
    }
    let protected = srv.config.read().bool("protected-mode");
    // Redis 7.0: protected mode applies whatever `bind` says, when the default user has
    // no password (requirepass unset).
    if protected && srv.hot.requirepass.read().is_none() && !is_local_for_protected_mode(peer.ip())
    {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(PROTECTED_MODE_ERROR.as_bytes()).await;
        let _ = stream.flush().await;
        return;
    }
    let id = srv.clients.next_id();
    let info = Arc::new(ClientInfo::new(id, peer, laddr, fd, now_ms()));
    srv.clients.add(info.clone());
    connection::serve(srv.clone(), stream, info).await;
    srv.clients.remove(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_127_0_0_1_and_ipv6_loopback_are_local() {
        let local = |s: &str| is_local_for_protected_mode(s.parse().expect("an address"));
        assert!(local("127.0.0.1"));
        assert!(local("::1"));
        assert!(!local("127.0.0.2"));
        assert!(!local("127.1.2.3"));
        assert!(!local("::ffff:127.0.0.1"));
        assert!(!local("0.0.0.0"));
        assert!(!local("10.0.0.1"));
    }
}
