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
//! startup:  ignore SIGXFSZ (past `ulimit -f`: EFBIG and 552, not death) -> bind listeners (or
//!           take systemd's, LISTEN_FDS) -> open the anonymous root (Jail) -> load users
//!           -> DataPool::start -> listener::accept_loop -> READY=1 (NOTIFY_SOCKET)
//! accept:   Limits::admit(peer) -> 421, or a "ctl-<peer>" thread running connection::serve
//!           (a panic is caught there: that connection closes, the daemon lives on)
//! session:  220 -> loop { blocking read (SO_RCVTIMEO = idle/login time left; SIGTERM
//!           wakes it with shutdown(SHUT_RD)) -> LineReader -> command::parse
//!           -> commands::execute: Session::gate (login set; no write for a read-only
//!           account) -> handler(&mut Control) -> Result<Reply, FtpError> -> Reply::write_to }
//! PASV:     data_channel::open_passive: random port of pasv_ports or of the kernel's
//!           ephemeral range, bound with SO_REUSEADDR (TIME_WAIT ports reused) -> 227
//! RETR:     session.path(arg) -> jail.open_read (regular files only) -> REST offset (554
//!           past the end; STOR and APPE check it on the open fd in jail.open_write)
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
//! - a command is **parsed** in [`command`] (pure, table-tested), **gated** once in
//!   [`session::Session::gate`] (what the login state and the account allow, decided from the
//!   command's kind), **dispatched** in [`commands`], and **handled** in `commands/<group>.rs`;
//! - [`connection`] runs one control connection's loop (reads, timeouts, 421 at shutdown);
//!   handlers never see it: they get the handle [`control::Control`] (session, settings,
//!   replies, transfers with ABOR/STAT/NOOP answered meanwhile), which unit tests build over a
//!   socket pair;
//! - every file system access goes through [`jail`] (chroot semantics for `..` and symlinks,
//!   fd-relative `*at` calls, works on Linux 3.x), with client paths normalised by [`vpath`];
//! - every failure becomes a reply in one table, [`error`]: [`error::FtpError::to_reply`] and
//!   [`error::TransferOutcome::to_reply`]; reply codes are named in [`reply::ReplyCode`], and
//!   the wire format lives in [`reply::Reply::to_bytes`];
//! - data connections and their security checks (PORT bounce, PASV peer) are in
//!   [`data_channel`], over the listening sockets of [`net`] (which the [`listener`] uses
//!   too); the worker pool in [`data_pool`]; a job and its outcome in [`transfer`], its copy
//!   loops in `transfer/downloads.rs` (sendfile, ASCII, TLS) and `transfer/uploads.rs`; small
//!   downloads that skip the pool in [`inline_send`];
//! - RFC 959's types, structures and modes (ASCII's CRLF, EBCDIC, ASA carriage control,
//!   STRU R, MODE B and C with restart markers) are pure codecs over caller-owned buffers in
//!   [`codec`], chained for a transfer's TYPE/STRU/MODE by [`representation`] (which
//!   `transfer.rs` calls for all but plain binary and plain ASCII stream transfers; the 110
//!   replies to an upload's restart markers go worker -> `Progress` -> the control thread);
//! - logins in [`auth`] (crypt(3) hashes); settings in [`config`] (each key declared once, on
//!   one line of its `config_keys!` table: field, default, parser, printer, help) and [`cli`]
//!   (one options table);
//!   `--hash-password` in [`hash_password`];
//! - every `unsafe` block (libc calls the `nix` crate does not wrap) is in [`ffi`], behind safe
//!   functions: the crate denies `unsafe_code` everywhere else;
//! - systemd's socket activation and readiness notifications (no libsystemd) in [`systemd`],
//!   called from [`startup`].
//! - FTPS (RFC 4217): the building blocks (certificates, per-session rustls configs, the TLS
//!   stream, AUTH) in `tls` (cargo feature `tls`, on by default); what the server sees of
//!   them in both builds in [`ftps`] (certificate loaded at startup and on SIGHUP, `-t`);
//!   the control connection's plain-or-TLS stream in [`control_io`] (the connection loop
//!   switches it after AUTH's 234, dropping the plaintext read behind the AUTH line); a data
//!   connection's in [`data_stream`] (PROT P: TLS on the worker, 522 without resumption,
//!   close_notify; sendfile only when plain); AUTH, PBSZ, PROT, CCC in `commands/security.rs`.
//! - chroot, the identity change and how paths look after a chroot are in [`privilege`].
//! - modules only use modules below them: `tests/module_graph.rs` fails on an import cycle
//!   (top: `main`, [`startup`], [`listener`], [`connection`], [`commands`]; then
//!   [`control`], [`session`], the transfer and file system layers; [`error`], [`reply`] and
//!   the pure parsers at the bottom).
//! - the properties the fuzz targets (`tests/fuzz/`) and the corpus replay test check are in
//!   [`fuzz_checks`].
//!
//! # Feature `test-hooks` (off by default)
//!
//! Test instruments that the shipped binary must not carry, code or strings. `make test`, the
//! qemu and old-kernel stages and CI build with it (`cargo build --features test-hooks`); a
//! plain `cargo build --release` or `make cross` leaves it out. Each switch also needs its
//! environment variable at run time:
//! - `FERROFTPD_TEST_HOOKS` (any value): `SITE PANIC` panics its session, which proves a panic
//!   closes that connection only (tests/robustness.rs);
//! - `FERROFTPD_OLD_KERNEL=1`: the process sees Linux 3.10, syscalls added since answer ENOSYS
//!   (`oldkernel`, a seccomp filter; `make oldkernel-test`).
//!
//! The tests that use them fail, never skip, against a server built without the feature.

#![deny(unsafe_code)]

pub mod auth;
pub mod ban;
pub mod cli;
pub mod codec;
pub mod command;
pub mod commands;
pub mod config;
pub mod connection;
pub mod context;
pub mod control;
pub mod control_io;
pub mod daemon;
pub mod data_channel;
pub mod data_pool;
pub mod data_stream;
pub mod error;
pub mod fdlimit;
pub mod ffi;
pub mod file_info;
pub mod ftps;
pub mod fuzz_checks;
pub mod hash_password;
pub mod inline_send;
pub mod jail;
pub mod line_reader;
pub mod listener;
pub mod listing;
pub mod messages;
pub mod net;
#[cfg(feature = "test-hooks")]
pub mod oldkernel;
pub mod privilege;
pub mod ratelimit;
pub mod reply;
pub mod representation;
pub mod session;
pub mod startup;
pub mod syslog;
pub mod system_users;
pub mod systemd;
#[cfg(test)]
mod test_support;
pub mod timefmt;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transfer;
pub mod vpath;
pub mod xferlog;
