//! Startup in one function, in a fixed order: bind, open roots, load users, start the pool,
//! then serve.

use crate::auth::{Authenticator, UserDb};
use crate::config::Config;
use crate::context::ServerContext;
use crate::data_pool::DataPool;
use crate::jail::Jail;
use crate::listener::{self, Limits};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// Listen backlog: bursts of clients (and benchmarks) must not see refused connections.
const BACKLOG: i32 = 128;

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

/// Run the server until the process is stopped.
pub fn run(config: Config) -> Result<(), String> {
    let mut listeners = Vec::new();
    for ip in &config.listen {
        let addr = SocketAddr::new(*ip, config.port);
        let l = bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = l.local_addr().map_err(|e| e.to_string())?;
        listeners.push((l, bound));
    }
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
    let pool = DataPool::start(config.data_threads)
        .map_err(|e| format!("cannot start data threads: {e}"))?;
    let limits = Limits::new(config.max_clients, config.max_per_ip);
    let ctx = Arc::new(ServerContext {
        config,
        auth,
        pool,
        anon_jail,
    });
    let mut last = None;
    for (listener, bound) in listeners {
        log::info!("listening on {bound}");
        if let Some(prev) = last.replace(listener) {
            let (ctx, limits) = (Arc::clone(&ctx), Arc::clone(&limits));
            std::thread::Builder::new()
                .name("accept".into())
                .spawn(move || listener::accept_loop(prev, ctx, limits))
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some(listener) = last {
        listener::accept_loop(listener, ctx, limits);
    }
    Ok(())
}
