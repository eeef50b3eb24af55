//! Startup in one function, in a fixed order: bind, open roots, load users, start the pool,
//! serve; then the main thread waits for signals (SIGHUP reload, SIGTERM/SIGINT shutdown).

use crate::auth::{Authenticator, UserDb};
use crate::config::Config;
use crate::context::{ServerContext, Settings};
use crate::data_pool::DataPool;
use crate::jail::Jail;
use crate::listener::{self, Limits};
use nix::sys::signal::{SigSet, Signal};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listen backlog: bursts of clients (and benchmarks) must not see refused connections.
const BACKLOG: i32 = 128;

/// Re-reads the configuration for SIGHUP (the same file and command-line options as at start).
pub type Reloader = Box<dyn Fn() -> Result<Config, String>>;

/// Bind one listening socket.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarting the daemon must not wait for TIME_WAIT of the previous instance.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // One socket per family: `-l ::` and `-l 0.0.0.0` can both be given.
        socket.set_only_v6(true)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Build the reloadable settings: open the anonymous root and load the users file.
pub fn load_settings(config: Config) -> Result<Settings, String> {
    let anon_jail = match (&config.anonymous, &config.root) {
        (true, Some(root)) => Some(
            Jail::open(root)
                .map_err(|e| format!("cannot open anonymous root {}: {e}", root.display()))?,
        ),
        (true, None) => return Err("anonymous access needs a root directory (-r DIR)".into()),
        (false, _) => None,
    };
    let users = match &config.users {
        Some(path) => Some(UserDb::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    if anon_jail.is_none() && users.is_none() {
        return Err("nobody can log in: give -A with -r DIR, or -U FILE".into());
    }
    let anon_root = if config.anonymous {
        config.root.clone()
    } else {
        None
    };
    let auth = Authenticator::new(users, anon_root);
    Ok(Settings {
        config,
        auth,
        anon_jail,
    })
}

/// The signals the main thread handles synchronously (blocked in every thread).
fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set
}

/// Run the server until SIGTERM/SIGINT; returns after a graceful shutdown.
pub fn run(config: Config, reload: Reloader) -> Result<(), String> {
    // Block before any thread exists so every thread inherits the mask and only the main
    // thread's sigwait sees these signals.
    let signals = handled_signals();
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let mut listeners = Vec::new();
    for ip in &config.listen {
        let addr = SocketAddr::new(*ip, config.port);
        let l = bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = l.local_addr().map_err(|e| e.to_string())?;
        listeners.push((l, bound));
    }
    let (max_clients, max_per_ip) = (config.max_clients, config.max_per_ip);
    let settings = load_settings(config)?;
    let pool = DataPool::start(settings.config.data_threads)
        .map_err(|e| format!("cannot start data threads: {e}"))?;
    let limits = Limits::new(max_clients, max_per_ip);
    let ctx = Arc::new(ServerContext::new(settings, pool).map_err(|e| e.to_string())?);
    let mut acceptors = Vec::new();
    for (listener, bound) in listeners {
        log::info!("listening on {bound}");
        let (ctx, limits) = (Arc::clone(&ctx), Arc::clone(&limits));
        let handle = std::thread::Builder::new()
            .name(format!("accept-{bound}"))
            .spawn(move || listener::accept_loop(listener, ctx, limits))
            .map_err(|e| e.to_string())?;
        acceptors.push(handle);
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGHUP) => reload_settings(&ctx, &reload),
            Ok(sig) => {
                log::info!("{sig}: shutting down");
                break;
            }
            Err(e) => return Err(format!("sigwait failed: {e}")),
        }
    }
    let deadline = ctx
        .settings()
        .config
        .data_timeout
        .max(Duration::from_secs(1));
    shutdown(&ctx, &limits, deadline);
    for a in acceptors {
        let _ = a.join();
    }
    Ok(())
}

/// SIGHUP: load the config and users file again; keep the old ones if the new are broken.
fn reload_settings(ctx: &ServerContext, reload: &Reloader) {
    let old = ctx.settings();
    let result = reload().and_then(|config| {
        if config.listen != old.config.listen || config.port != old.config.port {
            log::warn!("reload: listen addresses and port change only on restart");
        }
        if config.data_threads != old.config.data_threads {
            log::warn!("reload: data_threads changes only on restart");
        }
        load_settings(config)
    });
    match result {
        Ok(settings) => {
            ctx.replace_settings(settings);
            log::info!("SIGHUP: configuration reloaded; new logins use it");
        }
        Err(e) => log::error!("SIGHUP: reload failed, keeping the old configuration: {e}"),
    }
}

/// Stop accepting, tell idle sessions 421, let running transfers finish until `grace` ends.
fn shutdown(ctx: &ServerContext, limits: &Limits, grace: Duration) {
    ctx.shutdown.trigger();
    let deadline = Instant::now() + grace;
    // Bounded: polls every 50 ms until the sessions are gone or the deadline passes.
    while limits.active() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = limits.active();
    if left > 0 {
        log::warn!("shutdown: {left} sessions still busy at the deadline, exiting anyway");
    } else {
        log::info!("shutdown: all sessions closed");
    }
}
