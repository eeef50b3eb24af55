//! Logging to the local syslog daemon: RFC 3164 lines over a Unix datagram socket.
//!
//! Format: `<PRI>Mmm dd hh:mm:ss ferroftpd[pid]: message`, facility `daemon`, the time in UTC
//! (the device has no time zone database; BusyBox syslogd accepts the stamp or stamps itself
//! with `-t`). Sending never blocks the server: the socket is non-blocking and a message the
//! daemon cannot take at once is dropped. A failed send reconnects once (syslogd restarted).

use crate::timefmt;
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::fmt::Write as _;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest datagram sent, header included (RFC 3164 §4.1 allows 1024 bytes).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Facility `daemon` (RFC 3164 §4.1.1), already multiplied by 8.
const FACILITY_DAEMON: u8 = 3 << 3;

/// Month abbreviations of the RFC 3164 TIMESTAMP.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A [`log::Log`] that sends each record to a syslog socket.
#[derive(Debug)]
pub struct Syslog {
    /// The daemon's socket (`/dev/log`).
    path: PathBuf,
    /// Records above this level are dropped.
    level: LevelFilter,
    /// The connected socket; `None` until the next message reconnects.
    socket: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    /// A logger for the socket at `path`; it connects on the first message.
    pub fn new(path: &Path, level: LevelFilter) -> Syslog {
        Syslog {
            path: path.to_path_buf(),
            level,
            socket: Mutex::new(None),
        }
    }

    /// Connect now, so a wrong path is reported at startup rather than never.
    pub fn connect(&self) -> io::Result<()> {
        let socket = connect(&self.path)?;
        *self.lock() = Some(socket);
        Ok(())
    }

    /// Send one formatted message; never blocks, drops it if the daemon is busy or absent.
    fn send(&self, message: &[u8]) {
        let mut guard = self.lock();
        for attempt in 0..2 {
            if guard.is_none() {
                match connect(&self.path) {
                    Ok(s) => *guard = Some(s),
                    // No daemon (or a chroot hides it): the message is lost, as with syslog(3).
                    Err(_) => return,
                }
            }
            let Some(socket) = guard.as_ref() else {
                return;
            };
            match socket.send(message) {
                Ok(_) => return,
                // The daemon's queue is full: drop rather than stall a session.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => return,
                // Anything else (ECONNREFUSED after a syslogd restart): reconnect, once.
                Err(_) => {
                    *guard = None;
                    if attempt == 1 {
                        return;
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<UnixDatagram>> {
        // A panic while holding the lock leaves at worst a stale socket, which the next
        // failed send replaces.
        self.socket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A non-blocking datagram socket connected to `path`.
fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

impl Log for Syslog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let text = record.args().to_string();
        // Read the pid each time: the logger may be installed before the daemonize fork.
        let pid = std::process::id();
        self.send(format_message(record.level(), now, pid, &text).as_bytes());
    }

    fn flush(&self) {}
}

/// Install a [`Syslog`] logger for `socket` as the global logger, at `level`.
///
/// Fails, installing nothing, when the socket cannot be reached now (so the caller can fall
/// back to stderr and say why) or a logger is already installed.
pub fn init(socket: &Path, level: LevelFilter) -> Result<(), String> {
    let logger = Syslog::new(socket, level);
    logger
        .connect()
        .map_err(|e| format!("cannot reach syslog at {}: {e}", socket.display()))?;
    log::set_logger(Box::leak(Box::new(logger)))
        .map_err(|_| "a logger is already installed".to_string())?;
    log::set_max_level(level);
    Ok(())
}

/// Syslog severity (RFC 3164 §4.1.1) for a log level.
fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// One datagram: `<PRI>Mmm dd hh:mm:ss ferroftpd[pid]: text`, at most [`MAX_MESSAGE_BYTES`].
pub fn format_message(level: Level, now: i64, pid: u32, text: &str) -> String {
    let (_, month, day, hour, min, sec) = timefmt::civil_from_unix(now);
    let month_name = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    let pri = FACILITY_DAEMON | severity(level);
    // The day is space-padded to two characters (RFC 3164 §4.1.2).
    let mut out =
        format!("<{pri}>{month_name} {day:>2} {hour:02}:{min:02}:{sec:02} ferroftpd[{pid}]: ");
    for c in text.chars() {
        // SECURITY: messages carry client input (user names, paths); a newline or other
        // control character must not forge a second log line.
        // Control characters are C0, DEL and C1, all below 0x100: `\xNN` is 4 bytes.
        let piece_len = if c.is_control() { 4 } else { c.len_utf8() };
        if out.len() + piece_len > MAX_MESSAGE_BYTES {
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A syslog "daemon": a bound datagram socket in a fresh directory, removed on drop.
    struct FakeSyslogd {
        dir: PathBuf,
        socket: UnixDatagram,
    }

    impl FakeSyslogd {
        fn new(name: &str) -> FakeSyslogd {
            let dir = std::env::temp_dir()
                .join(format!("ferroftpd-syslog-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            let socket = UnixDatagram::bind(dir.join("log")).expect("bind");
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            FakeSyslogd { dir, socket }
        }

        fn path(&self) -> PathBuf {
            self.dir.join("log")
        }

        fn recv(&self) -> String {
            let mut buf = [0u8; 4096];
            let n = self.socket.recv(&mut buf).expect("a message arrives");
            String::from_utf8(buf[..n].to_vec()).expect("utf-8")
        }

        fn nothing_waiting(&self) -> bool {
            self.socket.set_nonblocking(true).expect("nonblocking");
            let mut buf = [0u8; 16];
            let empty = self.socket.recv(&mut buf).is_err();
            self.socket.set_nonblocking(false).expect("blocking");
            empty
        }
    }

    impl Drop for FakeSyslogd {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn emit(logger: &Syslog, level: Level, text: &str) {
        logger.log(
            &Record::builder()
                .args(format_args!("{text}"))
                .level(level)
                .target("ferroftpd")
                .build(),
        );
    }

    #[test]
    fn message_format_matches_rfc_3164() {
        // 2023-11-14 22:13:20 UTC
        assert_eq!(
            format_message(Level::Info, 1_700_000_000, 42, "listening on 0.0.0.0:21"),
            "<30>Nov 14 22:13:20 ferroftpd[42]: listening on 0.0.0.0:21"
        );
        // 1970-01-01 00:00:00 UTC: the day is padded with a space.
        assert_eq!(
            format_message(Level::Error, 0, 7, "x"),
            "<27>Jan  1 00:00:00 ferroftpd[7]: x"
        );
    }

    #[test]
    fn severities_under_facility_daemon() {
        let pri = |level| {
            let m = format_message(level, 0, 1, "");
            m[1..m.find('>').expect("pri")]
                .parse::<u8>()
                .expect("number")
        };
        assert_eq!(pri(Level::Error), 27);
        assert_eq!(pri(Level::Warn), 28);
        assert_eq!(pri(Level::Info), 30);
        assert_eq!(pri(Level::Debug), 31);
        assert_eq!(pri(Level::Trace), 31);
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let m = format_message(
            Level::Warn,
            0,
            1,
            "user 'a\nJan  1 00:00:00 evil: x\r\0\u{1b}'",
        );
        assert!(
            !m.contains('\n') && !m.contains('\r') && !m.contains('\0'),
            "{m}"
        );
        assert!(
            m.ends_with("user 'a\\x0aJan  1 00:00:00 evil: x\\x0d\\x00\\x1b'"),
            "{m}"
        );
    }

    #[test]
    fn long_messages_are_cut_to_1_kib_on_a_char_boundary() {
        let m = format_message(Level::Info, 0, 1, &"é".repeat(2000));
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.len() > MAX_MESSAGE_BYTES - 2);
        let m = format_message(Level::Info, 0, 1, &"\n".repeat(2000));
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.len() > MAX_MESSAGE_BYTES - 4);
    }

    #[test]
    fn records_arrive_at_the_socket() {
        let daemon = FakeSyslogd::new("arrive");
        let logger = Syslog::new(&daemon.path(), LevelFilter::Info);
        logger.connect().expect("connect");
        emit(&logger, Level::Warn, "disk full");
        let got = daemon.recv();
        let tag = format!(" ferroftpd[{}]: disk full", std::process::id());
        assert!(got.starts_with("<28>") && got.ends_with(&tag), "{got}");
        // "<28>Mmm dd hh:mm:ss" is 19 bytes, then the tag.
        assert_eq!(got.len(), 19 + tag.len(), "{got}");
        // Below the level: nothing is sent.
        emit(&logger, Level::Debug, "noise");
        assert!(daemon.nothing_waiting());
    }

    #[test]
    fn a_restarted_daemon_gets_the_next_message() {
        let first = FakeSyslogd::new("restart");
        let path = first.path();
        let logger = Syslog::new(&path, LevelFilter::Trace);
        emit(&logger, Level::Info, "one");
        assert!(first.recv().ends_with("one"));
        drop(first);
        // Gone: the message is dropped, quietly.
        emit(&logger, Level::Info, "lost");
        let second = FakeSyslogd::new("restart");
        emit(&logger, Level::Info, "two");
        assert!(second.recv().ends_with("two"));
    }

    #[test]
    fn a_full_daemon_queue_never_blocks_the_sender() {
        let daemon = FakeSyslogd::new("full");
        let logger = Syslog::new(&daemon.path(), LevelFilter::Info);
        // Nobody reads: the socket queue fills after a few messages and the rest are dropped.
        // A blocking send would hang here forever; the generous bound only turns that hang
        // into a failure (it is not a speed assertion: emulators and loaded machines are slow).
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..2000 {
                    emit(
                        &logger,
                        Level::Info,
                        &format!("message {i} {}", "x".repeat(900)),
                    );
                }
                let _ = done.send(());
            });
            assert!(finished.recv_timeout(Duration::from_secs(120)).is_ok());
        });
        assert!(daemon.recv().contains("message 0 "));
    }

    #[test]
    fn no_daemon_at_all_is_quiet_and_connect_reports_it() {
        let logger = Syslog::new(Path::new("/nonexistent/ferroftpd/log"), LevelFilter::Info);
        emit(&logger, Level::Error, "nobody hears this");
        assert!(logger.connect().is_err());
        let err = init(Path::new("/nonexistent/ferroftpd/log"), LevelFilter::Info)
            .expect_err("unreachable socket");
        assert!(err.contains("/nonexistent/ferroftpd/log"), "{err}");
    }
}
