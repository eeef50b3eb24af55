//! ferroftpd: a small, confined FTP server for embedded Linux.
//!
//! # Architecture, as built
//!
//! Blocking `std::net` I/O, one small-stack OS thread per control connection, and a fixed pool
//! of data threads that run transfers, so a control thread stays free to answer ABOR, STAT and
//! NOOP while its transfer runs.
//!
//! ```text
//! main -> cli::parse_args (defaults <- -c file <- options) -> startup::run
//! startup:  bind listeners -> open the anonymous root (Jail) -> load users -> DataPool::start
//!           -> listener::accept_loop
//! accept:   Limits::admit(peer) -> 421, or a "ctl-<peer>" thread running control::serve
//!           (a panic is caught there: that connection closes, the daemon lives on)
//! control:  220 -> loop { blocking read (SO_RCVTIMEO = idle/login time left; SIGTERM
//!           wakes it with shutdown(SHUT_RD)) -> LineReader -> command::parse -> login gate
//!           -> commands::dispatch -> Result<Reply, FtpError> -> Reply::write_to }
//! PASV:     data_channel::open_passive: random port of pasv_ports or of the kernel's
//!           ephemeral range, bound with SO_REUSEADDR (TIME_WAIT ports reused) -> 227
//! RETR:     session.path(arg) -> jail.open_read (regular files only) -> REST offset
//!           -> Control::run_transfer:
//!              <= 64 KiB binary/listing and the passive client already connected:
//!                150 -> inline_send (non-blocking, on the control thread) -> 226
//!                (whatever the socket did not take goes on to the pool, below)
//!              otherwise: DataPool::submit (bounded wait, else 425) -> 150
//!           -> poll(control socket, job's completion pipe): ABOR/STAT/NOOP served meanwhile
//!           worker: DataSetup::connect (peer checks) -> sendfile / copy loop -> close socket
//!           -> outcome -> 226 | 426 | 451 | 452
//! ```
//!
//! Where to look:
//! - a command is **parsed** in [`command`] (pure, table-tested), **dispatched** in
//!   [`commands`], and **handled** in `commands/<group>.rs`;
//! - every file system access goes through [`jail`] (chroot semantics for `..` and symlinks,
//!   fd-relative `*at` calls, works on Linux 3.x), with client paths normalised by [`vpath`];
//! - every failure becomes a reply in one table, [`error::FtpError::to_reply`]; reply codes are
//!   named in [`reply::ReplyCode`], and the wire format lives in [`reply::Reply::to_bytes`];
//! - data connections and their security checks (PORT bounce, PASV peer) are in
//!   [`data_channel`]; the worker pool in [`data_pool`]; the copy loops in [`transfer`];
//!   small downloads that skip the pool in [`inline_send`];
//! - logins in [`auth`] (crypt(3) hashes, the only `unsafe` is in [`ffi`]); settings in
//!   [`config`] and [`cli`];
//! - FTPS building blocks (certificates, per-session rustls configs, the TLS stream, AUTH)
//!   in `tls` (cargo feature `tls`, on by default; not wired into the control loop yet).

pub mod auth;
pub mod ban;
pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod context;
pub mod control;
pub mod daemon;
pub mod data_channel;
pub mod data_pool;
pub mod error;
pub mod ffi;
pub mod file_info;
pub mod inline_send;
pub mod jail;
pub mod line_reader;
pub mod listener;
pub mod listing;
pub mod messages;
pub mod oldkernel;
pub mod privilege;
pub mod ratelimit;
pub mod reply;
pub mod session;
pub mod startup;
pub mod syslog;
pub mod system_users;
#[cfg(test)]
mod test_support;
pub mod timefmt;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transfer;
pub mod vpath;
pub mod xferlog;
