//! Listening sockets (`bind`, `port`, `tcp-backlog`) and the accept loop, which
//! enforces `maxclients` and protected mode before a connection gets its task.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::server::client::ClientInfo;
use crate::server::{connection, log, Server};
use crate::util::time::now_ms;

/// Redis's reply to a non-loopback client while protected mode is active.
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

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

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6
                    .to_ipv4_mapped()
                    .map(|v4| v4.is_loopback())
                    .unwrap_or(false)
        }
    }
}

/// Accepts connections forever on one listener.
pub async fn accept_loop(srv: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if srv.shutting_down.load(Ordering::Relaxed) {
            continue;
        }
        let srv = srv.clone();
        tokio::spawn(async move { admit(srv, stream, peer).await });
    }
}

async fn admit(srv: Arc<Server>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    srv.stats
        .total_connections_received
        .fetch_add(1, Ordering::Relaxed);
    let maxclients = srv.hot.maxclients.load(Ordering::Relaxed) as usize;
    if srv.clients.len() >= maxclients {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let protected = {
        let c = srv.config.read();
        c.bool("protected-mode")
    };
    if protected && srv.hot.requirepass.read().is_none() && !is_loopback(peer.ip()) {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(PROTECTED_MODE_ERROR.as_bytes()).await;
        return;
    }
    let laddr = stream.local_addr().unwrap_or(peer);
    let fd = stream.as_raw_fd();
    let id = srv.clients.next_id();
    let info = Arc::new(ClientInfo::new(id, peer, laddr, fd, now_ms()));
    srv.clients.add(info.clone());
    connection::serve(srv.clone(), stream, info).await;
    srv.clients.remove(id);
}
