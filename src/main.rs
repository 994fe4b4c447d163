//! `ferrodis-server`: starts the server with `redis-server`'s command line:
//! `ferrodis-server [/path/to/redis.conf] [--directive value ...]`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferrodis::config::Config;
use ferrodis::server::{cron, listener, log, Server, ShutdownRequest};
use ferrodis::{VERSION, VERSION_REDIS};

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn usage() -> ! {
    eprintln!(
        "Usage: ./ferrodis-server [/path/to/redis.conf] [options] [-]\n       ./ferrodis-server - (read config from stdin)\n       ./ferrodis-server -v or --version\n       ./ferrodis-server -h or --help\n\nExamples:\n       ./ferrodis-server (run the server with default conf)\n       ./ferrodis-server /etc/redis/6379.conf\n       ./ferrodis-server --port 7777\n       ./ferrodis-server /etc/myredis.conf --loglevel verbose -"
    );
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!(
                    "Ferrodis server v={VERSION} (Redis-compatible v={VERSION_REDIS}) bits=64"
                );
                return;
            }
            "-h" | "--help" => usage(),
            _ => {}
        }
    }
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if config.bool("daemonize") {
        eprintln!("Ferrodis does not daemonize itself; run it under a supervisor (daemonize no).");
        std::process::exit(1);
    }
    if let Err(e) = log::init(&config.str("loglevel"), &config.str("logfile")) {
        eprintln!("Can't open the log file: {e}");
        std::process::exit(1);
    }
    log::warning("oO0OoO0OoO0Oo Ferrodis is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "Ferrodis version={VERSION}, redis_version={VERSION_REDIS}, bits=64, pid={}, just started",
        std::process::id()
    ));
    match &config.file {
        Some(f) => log::warning(&format!("Configuration loaded from {f}")),
        None => log::warning("Warning: no config file specified, using the default config. In order to specify a config file use ferrodis-server /path/to/redis.conf"),
    }

    let port = config.int("port") as u16;
    let bind = config.str("bind");
    let backlog = config.int("tcp-backlog") as i32;
    let tls_wanted = ferrodis::server::tls::wanted(&config);
    let srv = Server::new(config);
    if tls_wanted {
        let built = srv.tls.configure(&srv.config.read());
        if let Err(e) = built {
            log::warning(&e);
            log::warning(ferrodis::server::tls::STARTUP_FAILED);
            std::process::exit(1);
        }
    }
    if let Err(e) = ferrodis::acl::startup(&srv) {
        for line in e.lines() {
            log::warning(line);
        }
        std::process::exit(1);
    }
    // The AOF's writer thread (fsync, rewrites); idle until the AOF is on.
    if let Err(e) = ferrodis::persistence::aof::spawn_writer(&srv) {
        log::warning(&format!("Can't start the AOF thread: {e}"));
        std::process::exit(1);
    }

    let threads = srv.config.read().int("worker-threads") as usize;
    let runtime = match build_runtime(threads) {
        Ok(r) => r,
        Err(e) => {
            log::warning(&format!("Failed to start the runtime: {e}"));
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(srv, bind, port, backlog));
    std::process::exit(code);
}

/// The I/O runtime: `worker-threads` tokio workers (0, the default: one per core).
/// 1 selects a single-threaded runtime, Redis's model, which is the most efficient when
/// the process is confined to one core (as benchmarks that pin servers do).
fn build_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = Some(threads).filter(|&n| n > 0);
    match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .thread_name("ferrodis-io")
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("ferrodis-io")
            .build(),
    }
}

async fn run(srv: Arc<Server>, bind: String, port: u16, backlog: i32) -> i32 {
    let tls_port = srv.config.read().int("tls-port") as u16;
    if port == 0 && tls_port == 0 {
        // As Redis (no unix socket support): nothing to listen on.
        log::warning("Configured to not listen anywhere, exiting.");
        return 1;
    }
    // `port 0`: no plain TCP listener (a TLS-only server), as in Redis.
    let listeners = if port == 0 {
        Vec::new()
    } else {
        match listener::bind_all(&bind, port, backlog) {
            Ok(l) => l,
            Err(e) => {
                log::warning(&e);
                return 1;
            }
        }
    };
    if tls_port != 0 {
        if let Err(e) = listener::start_tls(&srv, &bind, backlog, tls_port) {
            log::warning(&e);
            return 1;
        }
    }
    let actual = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(port);
    // INFO's tcp_port and this line show the TLS port on a TLS-only server, as Redis.
    let shown = if actual != 0 {
        actual as u64
    } else {
        srv.tls.port.load(Ordering::Relaxed)
    };
    srv.port.store(shown, Ordering::Relaxed);
    log::notice(&format!("Running mode=standalone, port={shown}."));
    log::notice("Server initialized");
    // Clients may connect while the dataset loads: they get -LOADING until it is in.
    if ferrodis::persistence::has_data_to_load(&srv) {
        srv.persistence.loading.store(true, Ordering::SeqCst);
    }
    for l in listeners {
        tokio::spawn(listener::accept_loop(srv.clone(), l, false));
    }
    match ferrodis::server::metrics::start(&srv).await {
        Ok(Some(addr)) => log::notice(&format!("Metrics endpoint on http://{addr}/metrics")),
        Ok(None) => {}
        Err(e) => {
            log::warning(&e);
            return 1;
        }
    }
    let s = srv.clone();
    let load = tokio::task::spawn_blocking(move || ferrodis::persistence::load_at_startup(&s));
    tokio::select! {
        r = load => match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log::warning(&e);
                return 1;
            }
            Err(e) => {
                log::warning(&format!("Loading the dataset failed: {e}"));
                return 1;
            }
        },
        _ = wait_for_shutdown(&srv) => {
            // As Redis: a shutdown while loading exits without saving.
            log::warning("User requested shutdown while loading the dataset, exiting without saving.");
            return 0;
        }
    }
    if let Err(e) = cron::spawn(srv.clone()) {
        log::warning(&format!("Can't start the background thread: {e}"));
        return 1;
    }
    log::notice("Ready to accept connections tcp");

    loop {
        let req = wait_for_shutdown(&srv).await;
        if let Some(sig) = req.signal {
            log::warning(&format!("Received {sig} scheduling shutdown..."));
        }
        log::warning("User requested shutdown...");
        let bg = &srv.persistence.bg;
        if bg.kind() != ferrodis::persistence::bgsave::Kind::None {
            // As Redis kills its child: the background snapshot stops (its temporary
            // file is removed) before the final save.
            log::warning("There is a background snapshot in progress. Stopping it!");
            bg.abort();
            let s = srv.clone();
            let _ = tokio::task::spawn_blocking(move || {
                s.persistence
                    .bg
                    .wait_idle(std::time::Duration::from_secs(30))
            })
            .await;
        }
        if final_save_wanted(&srv, &req) {
            log::notice("Saving the final RDB snapshot before exiting.");
            let s = srv.clone();
            let saved = tokio::task::spawn_blocking(move || {
                ferrodis::persistence::snapshot::save_exclusive(&s).is_ok()
            })
            .await
            .unwrap_or(false);
            if !saved && !req.force {
                // As Redis: a failed final save cancels the shutdown (FORCE overrides).
                log::warning("Error trying to save the DB, can't exit.");
                continue;
            }
        }
        break;
    }
    ferrodis::persistence::aof::shutdown(&srv);
    srv.shutting_down.store(true, Ordering::SeqCst);
    for c in srv.clients.snapshot() {
        c.kill();
    }
    log::warning("Ferrodis is now ready to exit, bye bye...");
    0
}

/// Whether shutting down saves the dataset first: SHUTDOWN SAVE / NOSAVE decide, and
/// otherwise (plain SHUTDOWN, signals) it saves when save points are configured, as
/// Redis does; `shutdown-on-sigterm` / `shutdown-on-sigint` can force either way.
fn final_save_wanted(srv: &Server, req: &ShutdownRequest) -> bool {
    let c = srv.config.read();
    let by_signal = match req.signal {
        Some("SIGTERM") => c.str("shutdown-on-sigterm"),
        Some("SIGINT") => c.str("shutdown-on-sigint"),
        _ => String::new(),
    };
    match (req.save, by_signal.as_str()) {
        (Some(s), _) => s,
        (None, "save") => true,
        (None, "nosave") => false,
        _ => !c.save_points().is_empty(),
    }
}

/// Waits for SIGINT, SIGTERM or a SHUTDOWN command.
async fn wait_for_shutdown(srv: &Server) -> ShutdownRequest {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        _ => {
            srv.shutdown.notified().await;
            return srv.shutdown_request.lock().take().unwrap_or_default();
        }
    };
    tokio::select! {
        _ = int.recv() => ShutdownRequest { signal: Some("SIGINT"), ..Default::default() },
        _ = term.recv() => ShutdownRequest { signal: Some("SIGTERM"), ..Default::default() },
        _ = srv.shutdown.notified() => srv.shutdown_request.lock().take().unwrap_or_default(),
    }
}
