//! Startup in one function, in a fixed order: bind (or take systemd's sockets), open roots, load users, start the pool,
//! serve; then the main thread waits for signals (SIGHUP reload, SIGTERM/SIGINT shutdown).

use crate::auth::{Authenticator, UserDb};
use crate::ban::Bans;
use crate::config::Config;
use crate::connection::{self, ControlConn};
use crate::context::{ServerContext, Settings};
use crate::daemon::{self, PidFile};
use crate::data_channel;
use crate::data_pool::DataPool;
use crate::fdlimit;
use crate::ftps::Ftps;
use crate::jail::Jail;
use crate::listener::{self, Limits};
use crate::messages;
use crate::net;
use crate::privilege;
use crate::system_users::SystemUsers;
use crate::systemd;
use crate::xferlog::XferLog;
use nix::sys::signal::{SigSet, Signal};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listen backlog: bursts of clients (and benchmarks) must not see refused connections.
const BACKLOG: i32 = 128;

/// Re-reads the configuration for SIGHUP (the same file and command-line options as at start).
pub type Reloader = Box<dyn Fn() -> Result<Config, String>>;

/// Build the reloadable settings: open the anonymous root, load the users file, open the
/// xferlog, read the banner file. `chroot_root` is the process root after a chroot (paths
/// under it are seen from inside).
pub fn load_settings(config: Config, chroot_root: Option<&Path>) -> Result<Settings, String> {
    let seen = |p: &Path| privilege::inside_chroot(p, chroot_root);
    let anon_jail = match (&config.anonymous, &config.root) {
        (true, Some(root)) => Some(
            Jail::open(&seen(root))
                .map_err(|e| format!("cannot open anonymous root {}: {e}", root.display()))?,
        ),
        (true, None) => return Err("anonymous access needs a root directory (-r DIR)".into()),
        (false, _) => None,
    };
    let users = match &config.users {
        Some(path) => Some(UserDb::load(&seen(path)).map_err(|e| e.to_string())?),
        None => None,
    };
    let system_users = config
        .system_users
        .then(|| SystemUsers::system(config.ftpusers.clone()));
    if anon_jail.is_none() && users.is_none() && system_users.is_none() {
        return Err("nobody can log in: give -A with -r DIR, -U FILE, or system_users".into());
    }
    let anon_root = if config.anonymous {
        config.root.clone()
    } else {
        None
    };
    let xferlog = match &config.xferlog {
        Some(path) => Some(
            XferLog::open(&seen(path))
                .map_err(|e| format!("cannot open xferlog {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let banner_lines = match &config.banner_file {
        Some(path) => Some(
            messages::read_banner_file(&seen(path))
                .map_err(|e| format!("cannot read banner_file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let auth = Authenticator::new(users, anon_root);
    Ok(Settings {
        config,
        auth,
        anon_jail,
        system_users,
        xferlog,
        banner_lines,
        chroot_root: chroot_root.map(Path::to_path_buf),
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

/// Give up what the process does not need, once everything outside a chroot is open.
fn drop_privileges(config: &Config) -> Result<Option<PathBuf>, String> {
    if config.system_users {
        // Sessions switch their thread's file-system identity; the process keeps root, but
        // not root's supplementary groups (they would apply to every session).
        privilege::clear_supplementary_groups()?;
        return Ok(None);
    }
    let Some(user) = &config.run_as else {
        return Ok(None);
    };
    let chroot_dir = if config.chroot {
        config.root.clone()
    } else {
        None
    };
    privilege::drop_privileges(user, chroot_dir.as_deref())?;
    log::info!(
        "running as {user}{}",
        if chroot_dir.is_some() {
            ", chrooted"
        } else {
            ""
        }
    );
    Ok(chroot_dir)
}

/// Open everything the sessions need from outside a chroot (the FTPS certificate too), then
/// give up privileges.
fn settings_then_privileges(config: Config) -> Result<(Settings, Option<Ftps>), String> {
    // The passive port default comes from /proc, which a chroot hides.
    data_channel::load_default_ports();
    let ftps = Ftps::load(&config)?;
    let mut settings = load_settings(config, None)?;
    settings.chroot_root = drop_privileges(&settings.config)?;
    if let (Some(ftps), Some(root)) = (&ftps, &settings.chroot_root) {
        ftps.after_chroot(&settings.config, root);
    }
    Ok((settings, ftps))
}

/// Run the server until SIGTERM/SIGINT; returns after a graceful shutdown.
pub fn run(config: Config, reload: Reloader) -> Result<(), String> {
    // An upload past a file size limit must fail with EFBIG (552), not kill every session.
    crate::ffi::ignore_sigxfsz().map_err(|e| format!("cannot ignore SIGXFSZ: {e}"))?;
    // The service manager's variables are taken (and removed from the environment) before any
    // thread exists, whatever the mode.
    let activated = systemd::take_listen_fds();
    let notifier = systemd::Notifier::take_from_env().map(Arc::new);
    let watchdog = systemd::take_watchdog_interval();
    if config.inetd {
        // inetd mode serves stdin (systemd: Accept=yes with StandardInput=socket); a passed
        // connection socket in fd 3 is the same connection and not a listener.
        return run_inetd(config);
    }
    let activated = activated?;
    // Block before any thread exists so every thread inherits the mask and only the main
    // thread's sigwait sees these signals.
    let signals = handled_signals();
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    raise_descriptor_limit();
    let listeners = match activated {
        Some(sockets) => {
            log::info!(
                "socket activation: {} socket(s) from the service manager; `listen` and `port` are ignored",
                sockets.len()
            );
            sockets
                .into_iter()
                .map(|s| {
                    let from = s.name.map_or_else(String::new, |n| format!(" ({n})"));
                    // A socket on tls_implicit_port is the implicit FTPS one.
                    let implicit =
                        config.tls_implicit_port != 0 && s.addr.port() == config.tls_implicit_port;
                    (
                        s.listener,
                        s.addr,
                        format!(" from the service manager{from}"),
                        implicit,
                    )
                })
                .collect()
        }
        None => bind_listeners(&config)?,
    };
    // Under Type=notify the manager follows the process it started: a fork would look like an
    // exit, and the child's READY=1 would be refused (NotifyAccess=main).
    let daemon = config.daemon && notifier.is_none();
    if config.daemon && !daemon {
        log::info!("NOTIFY_SOCKET is set: staying in the foreground, `daemon` is ignored");
    }
    // Fork after bind (port errors reach the terminal) and before any thread.
    let detached = if daemon {
        Some(daemon::daemonize().map_err(|e| format!("cannot daemonize: {e}"))?)
    } else {
        None
    };
    // Written by the child, after the listeners are bound; removed when `run` returns.
    let _pidfile = match &config.pidfile {
        Some(path) => {
            Some(PidFile::acquire(path).map_err(|e| format!("pidfile {}: {e}", path.display()))?)
        }
        None => None,
    };
    let (max_clients, max_per_ip) = (config.max_clients, config.max_per_ip);
    let bans = Bans::new(config.ban_after, config.ban_window, config.ban_time);
    let startup_config = config.clone();
    let (settings, ftps) = settings_then_privileges(config)?;
    let pool = DataPool::start(settings.config.data_threads)
        .map_err(|e| format!("cannot start data threads: {e}"))?;
    let ctx = ServerContext::new(settings, pool, bans).map_err(|e| e.to_string())?;
    let ctx = Arc::new(ctx.with_ftps(ftps));
    let liveness = Arc::new(systemd::Liveness::default());
    // Everything but the sessions is open now (each accept loop adds its spare).
    let max_clients = clients_covered(max_clients, listeners.len());
    let limits = Limits::new(max_clients, max_per_ip);
    let mut acceptors = Vec::new();
    let mut serving = Vec::new();
    for (listener, bound, origin, implicit_tls) in listeners {
        let origin = if implicit_tls {
            format!("{origin} (implicit FTPS)")
        } else {
            origin
        };
        log::info!("listening on {bound}{origin}");
        serving.push(bound.to_string());
        let (ctx, limits) = (Arc::clone(&ctx), Arc::clone(&limits));
        // Counted before the thread starts, so the watchdog never sees a loop missing.
        let alive = liveness.enter();
        let handle = std::thread::Builder::new()
            .name(format!("accept-{bound}"))
            .spawn(move || {
                let _alive = alive;
                listener::accept_loop(listener, ctx, limits, implicit_tls)
            })
            .map_err(|e| e.to_string())?;
        acceptors.push(handle);
    }
    if let Some(d) = detached {
        d.ready()
            .map_err(|e| format!("cannot finish daemonizing: {e}"))?;
    }
    let stop_watchdog = Arc::new(AtomicBool::new(false));
    if let Some(n) = &notifier {
        n.ready(&format!("serving on {}", serving.join(", ")));
        if let Some(interval) = watchdog {
            let expected = acceptors.len();
            let (n, live, stop) = (
                Arc::clone(n),
                Arc::clone(&liveness),
                Arc::clone(&stop_watchdog),
            );
            // Detached: it ends by itself at shutdown (or when an accept loop has died).
            systemd::start_watchdog(n, interval, live, expected, stop)
                .map_err(|e| format!("cannot start the watchdog thread: {e}"))?;
        }
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGHUP) => {
                if let Some(n) = &notifier {
                    n.reloading();
                }
                let status = match reload_settings(&ctx, &reload, &startup_config) {
                    Ok(()) => "configuration reloaded".to_string(),
                    Err(e) => format!("reload failed, old configuration kept: {e}"),
                };
                if let Some(n) = &notifier {
                    n.ready(&status);
                }
            }
            Ok(sig) => {
                log::info!("{sig}: shutting down");
                break;
            }
            Err(e) => return Err(format!("sigwait failed: {e}")),
        }
    }
    stop_watchdog.store(true, Ordering::SeqCst);
    if let Some(n) = &notifier {
        n.stopping();
    }
    let grace = ctx.settings().config.shutdown_timeout;
    shutdown(&ctx, &limits, grace);
    for a in acceptors {
        let _ = a.join();
    }
    Ok(())
}

/// A listening socket: (listener, bound address, origin for the log, implicit FTPS).
type Listening = (TcpListener, SocketAddr, String, bool);

/// Bind a listener for each `listen` address on `port`, and on `tls_implicit_port` if set.
fn bind_listeners(config: &Config) -> Result<Vec<Listening>, String> {
    let mut listeners = Vec::new();
    let implicit = (config.tls_implicit_port != 0).then_some(config.tls_implicit_port);
    for (port, implicit_tls) in [(Some(config.port), false), (implicit, true)] {
        let Some(port) = port else { continue };
        for ip in &config.listen {
            let addr = SocketAddr::new(*ip, port);
            let l =
                net::listen(addr, BACKLOG).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let bound = l.local_addr().map_err(|e| e.to_string())?;
            listeners.push((l, bound, String::new(), implicit_tls));
        }
    }
    Ok(listeners)
}

/// inetd/tcpsvd mode: one session on stdin/stdout, then exit.
fn run_inetd(config: Config) -> Result<(), String> {
    raise_descriptor_limit();
    let threads = config.data_threads.min(2);
    let (settings, ftps) = settings_then_privileges(config)?;
    // One session per process: two data threads are plenty (a transfer and a checksum).
    let pool = DataPool::start(threads).map_err(|e| format!("cannot start data threads: {e}"))?;
    let bans = Bans::new(0, Duration::from_secs(1), Duration::from_secs(1));
    let ctx = ServerContext::new(settings, pool, bans).map_err(|e| e.to_string())?;
    let ctx = Arc::new(ctx.with_ftps(ftps));
    let mut conn =
        ControlConn::from_stdio().map_err(|e| format!("inetd: bad stdin/stdout: {e}"))?;
    // inetd's service on the implicit FTPS port (990) speaks TLS from the first byte.
    let implicit = ctx.settings().config.tls_implicit_port;
    conn.implicit_tls = implicit != 0 && conn.local.port() == implicit;
    log::info!("{}: inetd session", conn.peer);
    connection::serve(conn, ctx);
    Ok(())
}

/// Raise the soft descriptor limit to the hard one (see `fdlimit`); a failure only costs
/// sessions, so it is logged, not fatal.
fn raise_descriptor_limit() {
    match fdlimit::raise_to_hard() {
        Ok((before, after)) if before < after => {
            log::info!("file descriptor limit raised from {before} to {after}");
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot raise the file descriptor limit: {e}"),
    }
}

/// `max_clients`, lowered to the sessions the descriptor limit covers, so that a client past
/// them gets 421 at once and every admitted session still has the descriptors for a
/// transfer (rather than all sessions failing PASV and RETR once the table is full).
fn clients_covered(max_clients: usize, listeners: usize) -> usize {
    let Some(limit) = fdlimit::soft_limit() else {
        return max_clients;
    };
    let in_use = fdlimit::open_count() + listeners as u64;
    let covered = fdlimit::sessions_covered(limit, in_use);
    if covered >= max_clients as u64 {
        return max_clients;
    }
    // At least one: a server that admits nobody would look dead rather than starved.
    let lowered = usize::try_from(covered).unwrap_or(usize::MAX).max(1);
    log::warn!(
        "the file descriptor limit {limit} ({in_use} in use) covers {covered} sessions of \
         {} descriptors: serving at most {lowered} clients, not max_clients = {max_clients}; \
         raise the limit (ulimit -n) to at least {}",
        fdlimit::SESSION_FDS,
        fdlimit::needed(max_clients, listeners)
    );
    lowered
}

/// SIGHUP: load the config and users file again; keep the old ones if the new are broken
/// (the error is returned after it is logged).
fn reload_settings(ctx: &ServerContext, reload: &Reloader, startup: &Config) -> Result<(), String> {
    let old = ctx.settings();
    let result = reload().and_then(|mut config| {
        // What the process became at startup cannot change without a restart.
        let fixed = [
            (
                "listen/port",
                config.listen != startup.listen || config.port != startup.port,
            ),
            ("data_threads", config.data_threads != startup.data_threads),
            (
                "run_as/chroot",
                config.run_as != startup.run_as || config.chroot != startup.chroot,
            ),
            ("system_users", config.system_users != startup.system_users),
            (
                "daemon/inetd/pidfile",
                config.daemon != startup.daemon || config.pidfile != startup.pidfile,
            ),
            ("syslog", config.syslog != startup.syslog),
            (
                "tls_cert/tls_key/tls_implicit_port (the files are read again)",
                config.tls_cert != startup.tls_cert
                    || config.tls_key != startup.tls_key
                    || config.tls_implicit_port != startup.tls_implicit_port,
            ),
            ("ban_*", config.ban_after != startup.ban_after),
        ];
        for (what, changed) in fixed {
            if changed {
                log::warn!("reload: {what} changes only on restart; keeping the old value");
            }
        }
        config.run_as.clone_from(&startup.run_as);
        config.chroot = startup.chroot;
        config.system_users = startup.system_users;
        (config.tls_cert, config.tls_key) = (startup.tls_cert.clone(), startup.tls_key.clone());
        config.tls_implicit_port = startup.tls_implicit_port;
        load_settings(config, old.chroot_root.as_deref())
    });
    if let Some(ftps) = &ctx.ftps {
        // The pair is read again even when the configuration is broken: a renewal is the
        // usual reason for a SIGHUP.
        match ftps.reload() {
            Ok(()) => log::info!("SIGHUP: TLS certificate reloaded; new connections present it"),
            Err(e) => log::error!("SIGHUP: TLS certificate not reloaded, keeping the old one: {e}"),
        }
    }
    match result {
        Ok(settings) => {
            ctx.replace_settings(settings);
            log::info!("SIGHUP: configuration reloaded; new logins use it");
            Ok(())
        }
        Err(e) => {
            log::error!("SIGHUP: reload failed, keeping the old configuration: {e}");
            Err(e)
        }
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
