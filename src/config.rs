//! The one typed `Config`: its defaults, the `key = value` file, and the single setter behind both.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every setting of the server; [`Config::default`] holds the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `listen`: addresses to bind, one listener each (comma-separated in a file).
    pub listen: Vec<IpAddr>,
    /// `port`: control port; 0 picks a free port.
    pub port: u16,
    /// `root`: the anonymous root directory.
    pub root: Option<PathBuf>,
    /// `users`: the users file (see `auth::UserDb`).
    pub users: Option<PathBuf>,
    /// `anonymous`: allow `anonymous`/`ftp` logins, read-only, in `root`.
    pub anonymous: bool,
    /// `pasv_ports` `LO-HI`: passive ports to choose from; `None`: the kernel's ephemeral range.
    pub pasv_ports: Option<(u16, u16)>,
    /// `pasv_address`: IPv4 address advertised in PASV replies (for NAT); `None` = local address.
    pub pasv_address: Option<IpAddr>,
    /// `max_clients`: control connections in total.
    pub max_clients: usize,
    /// `max_per_ip`: control connections from one client address.
    pub max_per_ip: usize,
    /// `data_threads`: size of the data transfer pool.
    pub data_threads: usize,
    /// `pool_wait` (seconds): how long a transfer waits for a free data thread before 425.
    pub pool_wait: Duration,
    /// `idle_timeout` (seconds): a control connection idle this long is closed.
    pub idle_timeout: Duration,
    /// `login_timeout` (seconds): time allowed from connect to a successful login.
    pub login_timeout: Duration,
    /// `data_timeout` (seconds): data connect/accept, and a data connection idle this long.
    pub data_timeout: Duration,
    /// `data_stall_bytes`: a transfer moving fewer bytes than this in `data_stall_window` is
    /// ended with 426; 0 turns the rule off.
    pub data_stall_bytes: u64,
    /// `data_stall_window` (seconds): the span `data_stall_bytes` is measured over.
    pub data_stall_window: Duration,
    /// `max_transfers_per_ip`: data pool jobs one client address may run at once; 0 = no cap.
    pub max_transfers_per_ip: usize,
    /// `login_fail_delay_ms` (milliseconds): pause after each failed login.
    pub login_fail_delay: Duration,
    /// `max_login_failures`: failed logins before 421 and close.
    pub max_login_failures: u32,
    /// `umask` (octal): applied to created files and directories.
    pub umask: u32,
    /// `banner`: text of the 220 greeting; lines separated by `'\n'` (written `\n` in the file).
    pub banner: Option<String>,
    /// `allow_fxp`: allow data connections to or from an address other than the client's.
    pub allow_fxp: bool,
    /// `max_list_entries`: most entries one LIST/NLST/MLSD sends.
    pub max_list_entries: usize,
    /// `verbose`: log level, 0 info, 1 debug, 2 trace.
    pub verbose: u8,
    /// `run_as`: user to become after binding (the server must start as root); `None` stays.
    pub run_as: Option<String>,
    /// `chroot`: chroot(2) the whole process into `root` at startup (needs `run_as`).
    pub chroot: bool,
    /// `system_users`: also accept `/etc/passwd` + `/etc/shadow` accounts (the process keeps root).
    pub system_users: bool,
    /// `ftpusers`: system user names refused login, one a line (`root` is always refused).
    pub ftpusers: PathBuf,
    /// `pidfile`: file the daemon writes its pid to; `None` writes none.
    pub pidfile: Option<PathBuf>,
    /// `daemon`: detach into the background once the listeners are bound.
    pub daemon: bool,
    /// `inetd`: serve the one connection on stdin/stdout (inetd, tcpsvd) instead of listening.
    pub inetd: bool,
    /// `shutdown_timeout` (seconds): how long running transfers may finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `fsync`: flush an uploaded file to storage before replying 226.
    pub fsync: bool,
    /// `atomic_uploads`: upload under a temporary name, renamed into place only when complete.
    pub atomic_uploads: bool,
    /// `deny_overwrite`: uploads and renames never change existing content (no replacing STOR
    /// or RNTO, no resume before the end of the file).
    pub deny_overwrite: bool,
    /// `keep_partial_on_enospc`: keep, rather than undo, an upload cut short by a full disk.
    pub keep_partial_on_enospc: bool,
    /// `hide_dot_files`: listings leave out names starting with `.`.
    pub hide_dot_files: bool,
    /// `download_rate` (bytes per second, per session): 0 is unlimited.
    pub download_rate: u64,
    /// `upload_rate` (bytes per second, per session): 0 is unlimited.
    pub upload_rate: u64,
    /// `ban_after`: failed logins from one address within `ban_window` that ban it; 0 never bans.
    pub ban_after: u32,
    /// `ban_window` (seconds): how far back failed logins are counted for `ban_after`.
    pub ban_window: Duration,
    /// `ban_time` (seconds): how long a banned address is refused.
    pub ban_time: Duration,
    /// `syslog`: log to the local syslog daemon instead of stderr.
    pub syslog: bool,
    /// `syslog_socket`: the syslog daemon's datagram socket.
    pub syslog_socket: PathBuf,
    /// `xferlog`: append one wu-ftpd xferlog line per transfer to this file; `None` logs none.
    pub xferlog: Option<PathBuf>,
    /// `banner_file`: file whose lines are sent with the 220 greeting.
    pub banner_file: Option<PathBuf>,
    /// `login_message`: text sent with the 230 reply; lines separated by `'\n'`.
    pub login_message: Option<String>,
    /// `message_file`: per-directory file shown on CWD into it; `None` (empty value) disables.
    pub message_file: Option<String>,
    /// `connect_from_port_20`: active-mode data connections come from port 20 (needs root).
    pub connect_from_port_20: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
            port: 21,
            root: None,
            users: None,
            anonymous: false,
            pasv_ports: None,
            pasv_address: None,
            max_clients: 64,
            max_per_ip: 32,
            data_threads: 8,
            pool_wait: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(60),
            data_stall_bytes: 65_536,
            data_stall_window: Duration::from_secs(60),
            max_transfers_per_ip: 4,
            login_fail_delay: Duration::from_millis(1000),
            max_login_failures: 3,
            umask: 0o022,
            banner: None,
            allow_fxp: false,
            max_list_entries: 100_000,
            verbose: 0,
            run_as: None,
            chroot: false,
            system_users: false,
            ftpusers: PathBuf::from("/etc/ftpusers"),
            pidfile: None,
            daemon: false,
            inetd: false,
            shutdown_timeout: Duration::from_secs(30),
            fsync: true,
            atomic_uploads: false,
            deny_overwrite: false,
            keep_partial_on_enospc: false,
            hide_dot_files: false,
            download_rate: 0,
            upload_rate: 0,
            ban_after: 10,
            ban_window: Duration::from_secs(300),
            ban_time: Duration::from_secs(600),
            syslog: false,
            syslog_socket: PathBuf::from("/dev/log"),
            xferlog: None,
            banner_file: None,
            login_message: None,
            message_file: Some(".message".to_string()),
            connect_from_port_20: false,
        }
    }
}

/// Every key [`Config::apply`] accepts (canonical `_` spelling) with a one-line description.
pub const KEYS: &[(&str, &str)] = &[
    ("listen", "addresses to listen on, comma-separated"),
    ("port", "control port (0 = pick a free port)"),
    ("root", "anonymous root directory"),
    ("users", "users file (name:hash:home:rw|ro)"),
    (
        "anonymous",
        "allow read-only anonymous logins in root (yes/no)",
    ),
    (
        "pasv_ports",
        "passive port range LO-HI (unset = the kernel's ephemeral range)",
    ),
    ("pasv_address", "IPv4 address advertised in PASV replies"),
    ("max_clients", "control connections in total"),
    ("max_per_ip", "control connections per client address"),
    ("data_threads", "data transfer threads (1-256)"),
    ("pool_wait", "seconds a transfer waits for a data thread"),
    ("idle_timeout", "seconds before an idle session is closed"),
    ("login_timeout", "seconds allowed to log in"),
    ("data_timeout", "seconds for data connect and data idle"),
    (
        "data_stall_bytes",
        "a transfer moving fewer bytes per data_stall_window ends with 426 (0 = off)",
    ),
    (
        "data_stall_window",
        "seconds over which data_stall_bytes must move",
    ),
    (
        "max_transfers_per_ip",
        "transfers one client address may run at once (0 = no cap)",
    ),
    (
        "login_fail_delay_ms",
        "milliseconds to pause after a failed login",
    ),
    (
        "max_login_failures",
        "failed logins before the connection is closed",
    ),
    ("umask", "octal umask for created files"),
    ("banner", "220 greeting text (\\n splits lines)"),
    (
        "allow_fxp",
        "allow server-to-server (FXP) transfers (yes/no)",
    ),
    ("max_list_entries", "most entries one listing sends"),
    ("verbose", "log level: 0 info, 1 debug, 2 trace"),
    ("run_as", "user to switch to after binding (start as root)"),
    (
        "chroot",
        "chroot the process into root (needs run_as) (yes/no)",
    ),
    (
        "system_users",
        "also accept /etc/passwd + /etc/shadow accounts (yes/no)",
    ),
    ("ftpusers", "system user names refused login, one a line"),
    ("pidfile", "file to write the daemon's pid to"),
    ("daemon", "detach into the background (yes/no)"),
    ("inetd", "serve one connection on stdin/stdout (yes/no)"),
    (
        "shutdown_timeout",
        "seconds running transfers may finish after SIGTERM",
    ),
    ("fsync", "flush uploads to storage before 226 (yes/no)"),
    (
        "atomic_uploads",
        "upload to a temporary name, rename when complete (yes/no)",
    ),
    (
        "deny_overwrite",
        "uploads and RNTO never change existing content (yes/no)",
    ),
    (
        "keep_partial_on_enospc",
        "keep uploads cut short by a full disk (yes/no)",
    ),
    ("hide_dot_files", "listings leave out dot files (yes/no)"),
    (
        "download_rate",
        "bytes per second per session for downloads (0 = unlimited)",
    ),
    (
        "upload_rate",
        "bytes per second per session for uploads (0 = unlimited)",
    ),
    (
        "ban_after",
        "failed logins from one address that ban it (0 = never)",
    ),
    ("ban_window", "seconds over which failed logins are counted"),
    ("ban_time", "seconds a banned address is refused"),
    ("syslog", "log to syslog instead of stderr (yes/no)"),
    ("syslog_socket", "the syslog daemon's datagram socket"),
    ("xferlog", "wu-ftpd style transfer log file"),
    ("banner_file", "file sent with the 220 greeting"),
    ("login_message", "text sent with 230 (\\n splits lines)"),
    (
        "message_file",
        "per-directory file shown on CWD (empty = off)",
    ),
    (
        "connect_from_port_20",
        "active data connections from port 20 (yes/no)",
    ),
];

/// Keys holding a `Duration`, which `validate` checks without a text round trip.
const DURATION_KEYS: &[&str] = &[
    "pool_wait",
    "idle_timeout",
    "login_timeout",
    "data_timeout",
    "data_stall_window",
    "login_fail_delay_ms",
    "shutdown_timeout",
    "ban_window",
    "ban_time",
];
/// Largest timeout in seconds: a day, so `Instant + timeout` can never overflow.
const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Largest login failure delay in milliseconds.
const MAX_FAIL_DELAY_MS: u64 = 60_000;
/// Largest config or users file read; either is a few KiB, and a bound stops `/dev/zero`.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// A problem in a config or users file, located as `file:line` (line 0: the whole file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file's name as given.
    pub file: String,
    /// 1-based line number; 0 when the problem is the file itself (unreadable, too big).
    pub line: usize,
    /// What is wrong, without the `file:line: ` prefix.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read the config file at `path`, starting from [`Config::default`].
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = read_text_file(path)?;
    parse_str(&text, &path.display().to_string())
}

/// Parse config text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    // (canonical key, line) of every key set so far: a key set twice is a mistake to report.
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |message: String| ConfigError {
            file: file.to_string(),
            line,
            message,
        };
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let Some((key, value)) = content.split_once('=') else {
            return Err(error("expected 'key = value'".to_string()));
        };
        let (key, value) = (key.trim(), value.trim());
        let Some(canonical) = canonical_key(key) else {
            return Err(error(format!("unknown key '{key}'")));
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == canonical) {
            return Err(error(format!("{canonical} is already set on line {first}")));
        }
        seen.push((canonical, line));
        config.apply(canonical, value).map_err(error)?;
    }
    Ok(config)
}

/// Read a small UTF-8 text file (config or users), with errors located by line.
pub(crate) fn read_text_file(path: &Path) -> Result<String, ConfigError> {
    let file = path.display().to_string();
    let bytes = read_small_file(path, MAX_FILE_BYTES).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    text_from_bytes(bytes, &file)
}

/// The text of a config or users file read as `bytes`; `file` names it in errors, which give
/// the line of the first byte that is not UTF-8.
pub fn text_from_bytes(bytes: Vec<u8>, file: &str) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        ConfigError {
            file: file.to_string(),
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
            message: "not valid UTF-8".to_string(),
        }
    })
}

/// Read a whole server-side file of at most `max` bytes (config, users, system account files);
/// a larger one is an error rather than silently cut.
pub(crate) fn read_small_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

/// The canonical (`_`) spelling of `key`, which may use `-` as in the long options.
fn canonical_key(key: &str) -> Option<&'static str> {
    let wanted = key.replace('-', "_");
    KEYS.iter().map(|(k, _)| *k).find(|k| *k == wanted)
}

impl Config {
    /// Set one key from its text value; the only setter, shared by the file, `-o` and options.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let Some(key) = canonical_key(key) else {
            return Err(format!("unknown key '{key}'"));
        };
        self.apply_canonical(key, value)
            .map_err(|message| format!("{key}: {message}"))
    }

    fn apply_canonical(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "listen" => self.listen = parse_listen(value)?,
            "port" => self.port = parse_u16(value, 0)?,
            "root" => self.root = Some(parse_path(value)?),
            "users" => self.users = Some(parse_path(value)?),
            "anonymous" => self.anonymous = parse_bool(value)?,
            "pasv_ports" => self.pasv_ports = Some(parse_port_range(value)?),
            "pasv_address" => self.pasv_address = Some(parse_pasv_address(value)?),
            "max_clients" => self.max_clients = parse_usize(value, 1, u32::MAX.into())?,
            "max_per_ip" => self.max_per_ip = parse_usize(value, 1, u32::MAX.into())?,
            "data_threads" => self.data_threads = parse_usize(value, 1, 256)?,
            // 0 is meaningful here: fail at once with 425 when every data thread is busy.
            "pool_wait" => self.pool_wait = parse_secs(value, 0)?,
            // Socket timeouts of zero are rejected by std (set_read_timeout), so start at 1.
            "idle_timeout" => self.idle_timeout = parse_secs(value, 1)?,
            "login_timeout" => self.login_timeout = parse_secs(value, 1)?,
            "data_timeout" => self.data_timeout = parse_secs(value, 1)?,
            "data_stall_bytes" => self.data_stall_bytes = parse_uint(value, 0, u64::MAX)?,
            "data_stall_window" => self.data_stall_window = parse_secs(value, 1)?,
            "max_transfers_per_ip" => {
                self.max_transfers_per_ip = parse_usize(value, 0, u32::MAX.into())?;
            }
            "login_fail_delay_ms" => {
                let ms = parse_uint(value, 0, MAX_FAIL_DELAY_MS)?;
                self.login_fail_delay = Duration::from_millis(ms);
            }
            "max_login_failures" => {
                self.max_login_failures = parse_uint(value, 1, u32::MAX.into())?
                    .try_into()
                    .map_err(|_| "out of range".to_string())?;
            }
            "umask" => self.umask = parse_umask(value)?,
            "banner" => self.banner = Some(parse_banner(value)?),
            "allow_fxp" => self.allow_fxp = parse_bool(value)?,
            "max_list_entries" => self.max_list_entries = parse_usize(value, 1, u32::MAX.into())?,
            "verbose" => {
                self.verbose = parse_uint(value, 0, 2)?
                    .try_into()
                    .map_err(|_| "out of range".to_string())?;
            }
            "run_as" => self.run_as = Some(parse_user_name(value)?),
            "chroot" => self.chroot = parse_bool(value)?,
            "system_users" => self.system_users = parse_bool(value)?,
            "ftpusers" => self.ftpusers = parse_path(value)?,
            "pidfile" => self.pidfile = Some(parse_path(value)?),
            "daemon" => self.daemon = parse_bool(value)?,
            "inetd" => self.inetd = parse_bool(value)?,
            // 0: abort running transfers at once on SIGTERM.
            "shutdown_timeout" => self.shutdown_timeout = parse_secs(value, 0)?,
            "fsync" => self.fsync = parse_bool(value)?,
            "atomic_uploads" => self.atomic_uploads = parse_bool(value)?,
            "deny_overwrite" => self.deny_overwrite = parse_bool(value)?,
            "keep_partial_on_enospc" => self.keep_partial_on_enospc = parse_bool(value)?,
            "hide_dot_files" => self.hide_dot_files = parse_bool(value)?,
            "download_rate" => self.download_rate = parse_uint(value, 0, u64::MAX)?,
            "upload_rate" => self.upload_rate = parse_uint(value, 0, u64::MAX)?,
            "ban_after" => {
                self.ban_after = parse_uint(value, 0, u32::MAX.into())?
                    .try_into()
                    .map_err(|_| "out of range".to_string())?;
            }
            "ban_window" => self.ban_window = parse_secs(value, 1)?,
            "ban_time" => self.ban_time = parse_secs(value, 1)?,
            "syslog" => self.syslog = parse_bool(value)?,
            "syslog_socket" => self.syslog_socket = parse_path(value)?,
            "xferlog" => self.xferlog = Some(parse_path(value)?),
            "banner_file" => self.banner_file = Some(parse_path(value)?),
            "login_message" => self.login_message = Some(parse_banner(value)?),
            "message_file" => self.message_file = parse_message_file(value)?,
            "connect_from_port_20" => self.connect_from_port_20 = parse_bool(value)?,
            _ => return Err("unknown key".to_string()),
        }
        Ok(())
    }

    /// The current value of `key` in file syntax; `None` if unset or not a key.
    pub fn get(&self, key: &str) -> Option<String> {
        let key = canonical_key(key)?;
        let secs = |d: &Duration| d.as_secs().to_string();
        Some(match key {
            "listen" => {
                let parts: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
                parts.join(",")
            }
            "port" => self.port.to_string(),
            "root" => self.root.as_ref()?.display().to_string(),
            "users" => self.users.as_ref()?.display().to_string(),
            "anonymous" => yes_no(self.anonymous),
            "pasv_ports" => {
                let (lo, hi) = self.pasv_ports?;
                format!("{lo}-{hi}")
            }
            "pasv_address" => self.pasv_address?.to_string(),
            "max_clients" => self.max_clients.to_string(),
            "max_per_ip" => self.max_per_ip.to_string(),
            "data_threads" => self.data_threads.to_string(),
            "pool_wait" => secs(&self.pool_wait),
            "idle_timeout" => secs(&self.idle_timeout),
            "login_timeout" => secs(&self.login_timeout),
            "data_timeout" => secs(&self.data_timeout),
            "data_stall_bytes" => self.data_stall_bytes.to_string(),
            "data_stall_window" => secs(&self.data_stall_window),
            "max_transfers_per_ip" => self.max_transfers_per_ip.to_string(),
            "login_fail_delay_ms" => self.login_fail_delay.as_millis().to_string(),
            "max_login_failures" => self.max_login_failures.to_string(),
            "umask" => format!("{:03o}", self.umask),
            "banner" => escape_banner(self.banner.as_deref()?),
            "allow_fxp" => yes_no(self.allow_fxp),
            "max_list_entries" => self.max_list_entries.to_string(),
            "verbose" => self.verbose.to_string(),
            "run_as" => self.run_as.clone()?,
            "chroot" => yes_no(self.chroot),
            "system_users" => yes_no(self.system_users),
            "ftpusers" => self.ftpusers.display().to_string(),
            "pidfile" => self.pidfile.as_ref()?.display().to_string(),
            "daemon" => yes_no(self.daemon),
            "inetd" => yes_no(self.inetd),
            "shutdown_timeout" => secs(&self.shutdown_timeout),
            "fsync" => yes_no(self.fsync),
            "atomic_uploads" => yes_no(self.atomic_uploads),
            "deny_overwrite" => yes_no(self.deny_overwrite),
            "keep_partial_on_enospc" => yes_no(self.keep_partial_on_enospc),
            "hide_dot_files" => yes_no(self.hide_dot_files),
            "download_rate" => self.download_rate.to_string(),
            "upload_rate" => self.upload_rate.to_string(),
            "ban_after" => self.ban_after.to_string(),
            "ban_window" => secs(&self.ban_window),
            "ban_time" => secs(&self.ban_time),
            "syslog" => yes_no(self.syslog),
            "syslog_socket" => self.syslog_socket.display().to_string(),
            "xferlog" => self.xferlog.as_ref()?.display().to_string(),
            "banner_file" => self.banner_file.as_ref()?.display().to_string(),
            "login_message" => escape_banner(self.login_message.as_deref()?),
            // Empty is the file syntax for "disabled", so it round-trips through `apply`.
            "message_file" => self.message_file.clone().unwrap_or_default(),
            "connect_from_port_20" => yes_no(self.connect_from_port_20),
            _ => return None,
        })
    }

    /// Check the settings as a whole; whether `root` exists is checked at startup, not here.
    pub fn validate(&self) -> Result<(), String> {
        // Fields are public, so a Config built in code may hold values `apply` would refuse:
        // feed each one back through `apply`, which keeps one copy of every range check.
        // Durations are checked directly: a sub-second value set in code (tests) is fine.
        for (key, _) in KEYS.iter().filter(|(k, _)| !DURATION_KEYS.contains(k)) {
            if let Some(value) = self.get(key) {
                Config::default().apply(key, &value)?;
            }
        }
        let max = Duration::from_secs(MAX_TIMEOUT_SECS);
        for (key, d) in [
            ("pool_wait", self.pool_wait),
            ("shutdown_timeout", self.shutdown_timeout),
        ] {
            if d > max {
                return Err(format!("{key}: at most {MAX_TIMEOUT_SECS} seconds"));
            }
        }
        for (key, d) in [
            ("idle_timeout", self.idle_timeout),
            ("login_timeout", self.login_timeout),
            ("data_timeout", self.data_timeout),
            ("data_stall_window", self.data_stall_window),
            ("ban_window", self.ban_window),
            ("ban_time", self.ban_time),
        ] {
            if d.is_zero() || d > max {
                return Err(format!("{key}: from 1 to {MAX_TIMEOUT_SECS} seconds"));
            }
        }
        if self.login_fail_delay > Duration::from_millis(MAX_FAIL_DELAY_MS) {
            return Err(format!("login_fail_delay_ms: at most {MAX_FAIL_DELAY_MS}"));
        }
        if self.anonymous && self.root.is_none() {
            return Err(
                "anonymous = yes needs root (-r), the anonymous root directory".to_string(),
            );
        }
        if !self.anonymous && self.users.is_none() && !self.system_users {
            return Err(
                "nobody can log in: set users (-U), system_users = yes, or anonymous = yes (-A) \
                 with root (-r)"
                    .to_string(),
            );
        }
        self.validate_modes()
    }

    /// The combinations of process settings that cannot work together.
    fn validate_modes(&self) -> Result<(), String> {
        if self.daemon && self.inetd {
            return Err("daemon (-d) and inetd (-i) exclude each other".to_string());
        }
        if self.inetd && self.pidfile.is_some() {
            // Every inetd-started process would fight over the one file.
            return Err("pidfile (-P) cannot be used with inetd (-i)".to_string());
        }
        if self.chroot && self.root.is_none() {
            return Err("chroot = yes needs root, the directory to chroot into".to_string());
        }
        if self.chroot && self.run_as.is_none() {
            // SECURITY: a process still running as root can leave a chroot again.
            return Err("chroot = yes needs run_as: root can leave a chroot".to_string());
        }
        if self.system_users && self.run_as.is_some() {
            // setfsuid per session needs the process to stay root.
            return Err("system_users = yes cannot be combined with run_as".to_string());
        }
        if self.connect_from_port_20 && self.run_as.is_some() {
            // Binding port 20 needs root, which run_as gives up.
            return Err("connect_from_port_20 = yes cannot be combined with run_as".to_string());
        }
        Ok(())
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!(
            "expected yes/no/true/false/on/off/1/0, got '{value}'"
        )),
    }
}

/// A decimal whole number in `min..=max`; digits only (no sign, no spaces inside).
fn parse_uint(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let bad = || format!("expected a whole number from {min} to {max}, got '{value}'");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

fn parse_usize(value: &str, min: u64, max: u64) -> Result<usize, String> {
    // max is at most u32::MAX, which fits usize on the 32-bit targets too.
    usize::try_from(parse_uint(value, min, max)?).map_err(|_| format!("'{value}' is too large"))
}

fn parse_u16(value: &str, min: u16) -> Result<u16, String> {
    let n = parse_uint(value, min.into(), u16::MAX.into())?;
    u16::try_from(n).map_err(|_| format!("'{value}' is too large"))
}

fn parse_secs(value: &str, min: u64) -> Result<Duration, String> {
    parse_uint(value, min, MAX_TIMEOUT_SECS).map(Duration::from_secs)
}

fn parse_path(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err("expected a path".to_string());
    }
    if value.contains('\0') {
        return Err("a path cannot contain NUL".to_string());
    }
    Ok(PathBuf::from(value))
}

fn parse_ip(value: &str) -> Result<IpAddr, String> {
    // Accept the bracketed IPv6 form people copy from URLs: [::1].
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse::<IpAddr>()
        .map_err(|_| format!("expected an IP address, got '{value}'"))
}

fn parse_listen(value: &str) -> Result<Vec<IpAddr>, String> {
    let mut addrs: Vec<IpAddr> = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!(
                "expected comma-separated IP addresses, got '{value}'"
            ));
        }
        let addr = parse_ip(part)?;
        // Two listeners on one address would fail to bind at startup; say so now.
        if addrs.contains(&addr) {
            return Err(format!("{addr} is listed twice"));
        }
        addrs.push(addr);
    }
    Ok(addrs)
}

fn parse_port_range(value: &str) -> Result<(u16, u16), String> {
    let bad = || format!("expected LO-HI with 1 <= LO <= HI <= 65535, got '{value}'");
    let (lo, hi) = value.split_once('-').ok_or_else(bad)?;
    let lo = parse_u16(lo.trim(), 1).map_err(|_| bad())?;
    let hi = parse_u16(hi.trim(), 1).map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn parse_pasv_address(value: &str) -> Result<IpAddr, String> {
    let addr = parse_ip(value)?;
    // The 227 reply (RFC 959) can only carry an IPv4 address; EPSV (RFC 2428) carries none.
    match addr {
        IpAddr::V4(v4) if !v4.is_unspecified() => Ok(addr),
        IpAddr::V4(_) => Err("0.0.0.0 cannot be advertised to clients".to_string()),
        IpAddr::V6(_) => Err(format!(
            "PASV replies carry only IPv4 addresses, got '{value}'"
        )),
    }
}

fn parse_umask(value: &str) -> Result<u32, String> {
    let bad = || format!("expected an octal mask from 000 to 777, got '{value}'");
    if value.is_empty() || !value.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    match u32::from_str_radix(value, 8) {
        Ok(mask) if mask <= 0o777 => Ok(mask),
        _ => Err(bad()),
    }
}

/// A user name as BusyBox `adduser` allows it: letters, digits, `.`, `_`, `-`, not `-` first.
fn parse_user_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && !value.starts_with('-')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!(
            "expected a user name, got '{}'",
            value.escape_debug()
        ))
    }
}

/// A plain file name (no `/`, not `.` or `..`); empty means disabled.
fn parse_message_file(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    // SECURITY: the name is joined to client directories; a `/` or `..` would reach elsewhere.
    if value == "." || value == ".." || value.contains('/') || value.chars().any(char::is_control) {
        return Err(format!(
            "expected a file name without '/', got '{}'",
            value.escape_debug()
        ));
    }
    Ok(Some(value.to_string()))
}

/// Turn `\n` into a line break and `\\` into one backslash; other text is kept as written.
fn parse_banner(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("expected text".to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.clone().next() {
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        } else if c.is_control() {
            // SECURITY: a raw CR or other control byte could forge reply lines on the wire.
            return Err("control characters are not allowed (use \\n for a new line)".to_string());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// The inverse of [`parse_banner`].
fn escape_banner(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    use crate::test_support::TempDir;

    fn applied(key: &str, value: &str) -> Result<Config, String> {
        let mut c = Config::default();
        c.apply(key, value).map(|()| c)
    }

    fn parse_err(text: &str) -> ConfigError {
        parse_str(text, "test.conf").expect_err("should fail")
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::default();
        assert_eq!(c.listen, vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]);
        assert_eq!(c.port, 21);
        assert_eq!(c.root, None);
        assert_eq!(c.users, None);
        assert!(!c.anonymous);
        assert_eq!(c.pasv_ports, None);
        assert_eq!(c.pasv_address, None);
        assert_eq!(c.max_clients, 64);
        assert_eq!(c.max_per_ip, 32);
        assert_eq!(c.data_threads, 8);
        assert_eq!(c.pool_wait, Duration::from_secs(30));
        assert_eq!(c.idle_timeout, Duration::from_secs(300));
        assert_eq!(c.login_timeout, Duration::from_secs(60));
        assert_eq!(c.data_timeout, Duration::from_secs(60));
        assert_eq!(c.data_stall_bytes, 65_536);
        assert_eq!(c.data_stall_window, Duration::from_secs(60));
        assert_eq!(c.max_transfers_per_ip, 4);
        assert_eq!(c.login_fail_delay, Duration::from_millis(1000));
        assert_eq!(c.max_login_failures, 3);
        assert_eq!(c.umask, 0o022);
        assert_eq!(c.banner, None);
        assert!(!c.allow_fxp);
        assert_eq!(c.max_list_entries, 100_000);
        assert_eq!(c.verbose, 0);
        assert_eq!(c.run_as, None);
        assert!(!c.chroot);
        assert!(!c.system_users);
        assert_eq!(c.ftpusers, PathBuf::from("/etc/ftpusers"));
        assert_eq!(c.pidfile, None);
        assert!(!c.daemon);
        assert!(!c.inetd);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        assert!(c.fsync);
        assert!(!c.atomic_uploads);
        assert!(!c.deny_overwrite);
        assert!(!c.keep_partial_on_enospc);
        assert!(!c.hide_dot_files);
        assert_eq!((c.download_rate, c.upload_rate), (0, 0));
        assert_eq!(c.ban_after, 10);
        assert_eq!(c.ban_window, Duration::from_secs(300));
        assert_eq!(c.ban_time, Duration::from_secs(600));
        assert!(!c.syslog);
        assert_eq!(c.syslog_socket, PathBuf::from("/dev/log"));
        assert_eq!(c.xferlog, None);
        assert_eq!(c.banner_file, None);
        assert_eq!(c.login_message, None);
        assert_eq!(c.message_file.as_deref(), Some(".message"));
        assert!(!c.connect_from_port_20);
    }

    #[test]
    fn every_key_is_parsed_from_a_file() {
        let text = "\
# a full config
listen = 127.0.0.1, ::1
port = 2121
root = /srv/ftp
users = /etc/ferroftpd/users
anonymous = yes
pasv_ports = 50000-50100
pasv_address = 203.0.113.7
max_clients = 10
max_per_ip = 2
data_threads = 4
pool_wait = 5
idle_timeout = 120
login_timeout = 20
data_timeout = 15
data_stall_bytes = 0
data_stall_window = 30
max_transfers_per_ip = 2
login_fail_delay_ms = 250
max_login_failures = 5
umask = 027
banner = Welcome\\nto ferroftpd
allow_fxp = on
max_list_entries = 5000
verbose = 2
run_as = ftp
chroot = yes
system_users = no
ftpusers = /etc/ferroftpd/ftpusers
pidfile = /var/run/ferroftpd.pid
daemon = yes
inetd = no
shutdown_timeout = 0
fsync = no
atomic_uploads = yes
deny_overwrite = yes
keep_partial_on_enospc = yes
hide_dot_files = yes
download_rate = 1048576
upload_rate = 65536
ban_after = 0
ban_window = 60
ban_time = 3600
syslog = yes
syslog_socket = /tmp/log.sock
xferlog = /var/log/xferlog
banner_file = /etc/issue.ftp
login_message = Hello\\nthere
message_file = README.txt
connect_from_port_20 = no
";
        let c = parse_str(text, "full.conf").expect("parses");
        assert_eq!(
            c.listen,
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert_eq!(c.port, 2121);
        assert_eq!(c.root, Some(PathBuf::from("/srv/ftp")));
        assert_eq!(c.users, Some(PathBuf::from("/etc/ferroftpd/users")));
        assert!(c.anonymous);
        assert_eq!(c.pasv_ports, Some((50000, 50100)));
        assert_eq!(
            c.pasv_address,
            Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)))
        );
        assert_eq!(c.max_clients, 10);
        assert_eq!(c.max_per_ip, 2);
        assert_eq!(c.data_threads, 4);
        assert_eq!(c.pool_wait, Duration::from_secs(5));
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.login_timeout, Duration::from_secs(20));
        assert_eq!(c.data_timeout, Duration::from_secs(15));
        assert_eq!(c.data_stall_bytes, 0);
        assert_eq!(c.data_stall_window, Duration::from_secs(30));
        assert_eq!(c.max_transfers_per_ip, 2);
        assert_eq!(c.login_fail_delay, Duration::from_millis(250));
        assert_eq!(c.max_login_failures, 5);
        assert_eq!(c.umask, 0o027);
        assert_eq!(c.banner.as_deref(), Some("Welcome\nto ferroftpd"));
        assert!(c.allow_fxp);
        assert_eq!(c.max_list_entries, 5000);
        assert_eq!(c.verbose, 2);
        assert_eq!(c.run_as.as_deref(), Some("ftp"));
        assert!(c.chroot);
        assert!(!c.system_users);
        assert_eq!(c.ftpusers, PathBuf::from("/etc/ferroftpd/ftpusers"));
        assert_eq!(c.pidfile, Some(PathBuf::from("/var/run/ferroftpd.pid")));
        assert!(c.daemon);
        assert!(!c.inetd);
        assert_eq!(c.shutdown_timeout, Duration::ZERO);
        assert!(!c.fsync);
        assert!(c.atomic_uploads && c.deny_overwrite && c.keep_partial_on_enospc);
        assert!(c.hide_dot_files);
        assert_eq!((c.download_rate, c.upload_rate), (1_048_576, 65_536));
        assert_eq!(c.ban_after, 0);
        assert_eq!(c.ban_window, Duration::from_secs(60));
        assert_eq!(c.ban_time, Duration::from_secs(3600));
        assert!(c.syslog);
        assert_eq!(c.syslog_socket, PathBuf::from("/tmp/log.sock"));
        assert_eq!(c.xferlog, Some(PathBuf::from("/var/log/xferlog")));
        assert_eq!(c.banner_file, Some(PathBuf::from("/etc/issue.ftp")));
        assert_eq!(c.login_message.as_deref(), Some("Hello\nthere"));
        assert_eq!(c.message_file.as_deref(), Some("README.txt"));
        assert!(!c.connect_from_port_20);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn keys_table_covers_every_key_and_round_trips() {
        let c = parse_str(
            "listen = 10.0.0.1,::\nport = 0\nroot = /r\nusers = /u\nanonymous = 1\n\
             pasv_ports = 1-1\npasv_address = 10.0.0.2\nbanner = a\\\\b\\nc\n\
             run_as = nobody\npidfile = /p\nxferlog = /x\nbanner_file = /b\n\
             login_message = l\\none\nmessage_file = .msg\nupload_rate = 18446744073709551615\n",
            "t",
        )
        .expect("parses");
        let mut rebuilt = Config::default();
        for (key, _) in KEYS {
            let value = c.get(key).expect("every key is set here");
            rebuilt.apply(key, &value).expect("own output parses");
        }
        assert_eq!(rebuilt, c);
        assert_eq!(c.banner.as_deref(), Some("a\\b\nc"));
    }

    #[test]
    fn dashes_and_underscores_are_the_same_key() {
        let c = parse_str("max-clients = 7\nlogin-fail-delay-ms=0", "t").expect("parses");
        assert_eq!(c.max_clients, 7);
        assert_eq!(c.login_fail_delay, Duration::ZERO);
        assert_eq!(applied("max-per-ip", "3").map(|c| c.max_per_ip), Ok(3));
    }

    #[test]
    fn booleans_accept_all_spellings() {
        for v in ["yes", "true", "on", "1", "YES", "True"] {
            assert_eq!(
                applied("allow_fxp", v).map(|c| c.allow_fxp),
                Ok(true),
                "{v}"
            );
        }
        for v in ["no", "false", "off", "0", "No"] {
            let mut c = Config {
                allow_fxp: true,
                ..Config::default()
            };
            c.apply("allow_fxp", v).expect(v);
            assert!(!c.allow_fxp, "{v}");
        }
        for v in ["", "y", "2", "enabled"] {
            assert!(applied("anonymous", v).is_err(), "{v}");
        }
    }

    #[test]
    fn bad_values_are_rejected_with_the_key_named() {
        let cases = [
            ("listen", ""),
            ("listen", "1.2.3.4,"),
            ("listen", "localhost"),
            ("listen", "1.2.3.4, 1.2.3.4"),
            ("port", "65536"),
            ("port", "-1"),
            ("port", "+21"),
            ("port", "2 1"),
            ("port", "0x15"),
            ("root", ""),
            ("users", ""),
            ("pasv_ports", "0-10"),
            ("pasv_ports", "2000-1000"),
            ("pasv_ports", "1000"),
            ("pasv_ports", "1000-70000"),
            ("pasv_address", "::1"),
            ("pasv_address", "0.0.0.0"),
            ("pasv_address", "example.com"),
            ("max_clients", "0"),
            ("max_per_ip", "0"),
            ("max_per_ip", "99999999999"),
            ("data_threads", "0"),
            ("data_threads", "257"),
            ("pool_wait", "86401"),
            ("idle_timeout", "0"),
            ("login_timeout", "0"),
            ("data_timeout", "0"),
            ("data_timeout", "1.5"),
            ("data_stall_window", "0"),
            ("data_stall_window", "86401"),
            ("data_stall_bytes", "-1"),
            ("data_stall_bytes", "1k"),
            ("max_transfers_per_ip", "-1"),
            ("max_transfers_per_ip", "99999999999"),
            ("login_fail_delay_ms", "60001"),
            ("max_login_failures", "0"),
            ("umask", "888"),
            ("umask", "1000"),
            ("umask", ""),
            ("umask", "0o22"),
            ("banner", ""),
            ("banner", "bell\u{7}"),
            ("max_list_entries", "0"),
            ("verbose", "3"),
            ("run_as", ""),
            ("run_as", "-x"),
            ("run_as", "a b"),
            ("run_as", "root:0"),
            ("run_as", "../etc"),
            ("chroot", "maybe"),
            ("ftpusers", ""),
            ("pidfile", ""),
            ("daemon", "2"),
            ("shutdown_timeout", "86401"),
            ("download_rate", "-1"),
            ("upload_rate", "18446744073709551616"),
            ("ban_after", "4294967296"),
            ("ban_window", "0"),
            ("ban_time", "0"),
            ("syslog_socket", ""),
            ("xferlog", ""),
            ("banner_file", ""),
            ("login_message", ""),
            ("login_message", "a\rb"),
            ("message_file", "a/b"),
            ("message_file", ".."),
            ("message_file", "."),
            ("message_file", "x\ty"),
        ];
        for (key, value) in cases {
            let err = applied(key, value).expect_err(&format!("{key} = {value:?}"));
            assert!(err.starts_with(&format!("{key}: ")), "{err}");
        }
    }

    #[test]
    fn accepted_edge_values() {
        assert_eq!(applied("port", "0").map(|c| c.port), Ok(0));
        assert_eq!(applied("port", "65535").map(|c| c.port), Ok(65535));
        assert_eq!(
            applied("pasv_ports", "1 - 65535").map(|c| c.pasv_ports),
            Ok(Some((1, 65535)))
        );
        assert_eq!(
            applied("pasv_ports", "2121-2121").map(|c| c.pasv_ports),
            Ok(Some((2121, 2121)))
        );
        assert_eq!(applied("umask", "0").map(|c| c.umask), Ok(0));
        assert_eq!(applied("umask", "777").map(|c| c.umask), Ok(0o777));
        assert_eq!(applied("umask", "0022").map(|c| c.umask), Ok(0o022));
        assert_eq!(
            applied("pool_wait", "0").map(|c| c.pool_wait),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            applied("listen", "[::1]").map(|c| c.listen),
            Ok(vec![IpAddr::V6(Ipv6Addr::LOCALHOST)])
        );
        assert_eq!(
            applied("data_threads", "256").map(|c| c.data_threads),
            Ok(256)
        );
        assert_eq!(
            applied("banner", "C:\\dir").map(|c| c.banner),
            Ok(Some("C:\\dir".to_string()))
        );
    }

    #[test]
    fn empty_message_file_disables_and_round_trips() {
        let c = applied("message_file", "").expect("empty is allowed");
        assert_eq!(c.message_file, None);
        assert_eq!(c.get("message_file").as_deref(), Some(""));
        assert_eq!(
            applied("message_file", &c.get("message_file").unwrap_or_default()),
            Ok(c)
        );
        assert_eq!(
            parse_str("message_file =\n", "t").map(|c| c.message_file),
            Ok(None)
        );
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let err = parse_err("# comment\n\nport = 21\nprot = 22\n");
        assert_eq!(err.line, 4);
        assert_eq!(err.to_string(), "test.conf:4: unknown key 'prot'");
        assert_eq!(
            Config::default().apply("nope", "1"),
            Err("unknown key 'nope'".to_string())
        );
    }

    #[test]
    fn bad_value_is_reported_with_file_and_line() {
        let err = parse_err("port = 21\n\n  max_clients = zero\n");
        assert_eq!(err.file, "test.conf");
        assert_eq!(err.line, 3);
        assert_eq!(
            err.to_string(),
            "test.conf:3: max_clients: expected a whole number from 1 to 4294967295, got 'zero'"
        );
    }

    #[test]
    fn line_without_equals_and_empty_key_are_errors() {
        assert_eq!(parse_err("port 21").line, 1);
        assert_eq!(parse_err("\n= 5").line, 2);
    }

    #[test]
    fn duplicate_key_is_an_error_even_spelled_differently() {
        let err = parse_err("max_clients = 5\nmax-clients = 6\n");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn comments_blank_lines_whitespace_and_crlf() {
        let text = "# top comment\r\n\r\n   # indented comment\r\n\tport\t=\t2121  \r\n  \n";
        let c = parse_str(text, "t").expect("parses");
        assert_eq!(c.port, 2121);
        // '#' inside a value is not a comment: only full-line comments exist.
        let c = parse_str("banner = Ticket #42", "t").expect("parses");
        assert_eq!(c.banner.as_deref(), Some("Ticket #42"));
        assert!(parse_str("port = 21 # trailing", "t").is_err());
    }

    #[test]
    fn empty_text_is_the_default() {
        assert_eq!(parse_str("", "t"), Ok(Config::default()));
    }

    #[test]
    fn config_error_display_format() {
        let e = ConfigError {
            file: "/etc/x.conf".to_string(),
            line: 12,
            message: "oops".to_string(),
        };
        assert_eq!(e.to_string(), "/etc/x.conf:12: oops");
        let whole = ConfigError { line: 0, ..e };
        assert_eq!(whole.to_string(), "/etc/x.conf: oops");
    }

    #[test]
    fn validate_needs_a_way_to_log_in() {
        let mut c = Config::default();
        assert!(c.validate().is_err());
        c.anonymous = true;
        assert!(c.validate().unwrap_err().contains("root"));
        c.root = Some(PathBuf::from("/srv"));
        assert_eq!(c.validate(), Ok(()));
        let mut c = Config {
            users: Some(PathBuf::from("/etc/users")),
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
        c.root = Some(PathBuf::from("/srv"));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn validate_refuses_modes_that_cannot_work_together() {
        let base = Config {
            anonymous: true,
            root: Some(PathBuf::from("/srv/ftp")),
            ..Config::default()
        };
        let refused = [
            ("daemon = yes\ninetd = yes", "exclude"),
            ("inetd = yes\npidfile = /run/f.pid", "pidfile"),
            ("chroot = yes", "run_as"),
            ("system_users = yes\nrun_as = ftp", "system_users"),
            ("connect_from_port_20 = yes\nrun_as = ftp", "port_20"),
        ];
        for (text, needle) in refused {
            let mut c = base.clone();
            for line in text.lines() {
                let (k, v) = line.split_once(" = ").expect("k = v");
                c.apply(k, v).expect("each value is fine alone");
            }
            let err = c.validate().expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
        let no_root = Config {
            chroot: true,
            run_as: Some("ftp".to_string()),
            users: Some(PathBuf::from("/u")),
            ..Config::default()
        };
        assert!(no_root.validate().unwrap_err().contains("root"));
        let accepted = [
            "daemon = yes\npidfile = /run/f.pid",
            "inetd = yes",
            "chroot = yes\nrun_as = ftp",
            "system_users = yes",
            "connect_from_port_20 = yes",
        ];
        for text in accepted {
            let mut c = base.clone();
            for line in text.lines() {
                let (k, v) = line.split_once(" = ").expect("k = v");
                c.apply(k, v).expect("value");
            }
            assert_eq!(c.validate(), Ok(()), "{text}");
        }
        // System accounts alone are a way to log in.
        let system = Config {
            system_users: true,
            ..Config::default()
        };
        assert_eq!(system.validate(), Ok(()));
    }

    #[test]
    fn the_sample_config_in_etc_parses_and_documents_every_key() {
        let text = include_str!("../etc/ferroftpd.conf");
        let c = parse_str(text, "etc/ferroftpd.conf").expect("sample parses");
        assert_eq!(c.validate(), Ok(()));
        for (key, _) in KEYS {
            let documented = text.lines().any(|line| {
                let line = line.trim_start_matches('#').trim_start();
                line.split_once('=').is_some_and(|(k, _)| k.trim() == *key)
            });
            assert!(documented, "etc/ferroftpd.conf does not show '{key} = ...'");
        }
        // Every commented-out `key = value` line must parse too, so uncommenting one works.
        for (index, line) in text.lines().enumerate() {
            let Some(body) = line.strip_prefix("# ") else {
                continue;
            };
            let Some((k, v)) = body.split_once(" = ") else {
                continue;
            };
            if canonical_key(k.trim()).is_some() {
                let mut scratch = Config::default();
                let result = scratch.apply(k.trim(), v.trim());
                assert_eq!(result, Ok(()), "etc/ferroftpd.conf:{}", index + 1);
            }
        }
    }

    #[test]
    fn the_sample_users_file_in_etc_parses_with_its_examples() {
        let text = include_str!("../etc/ferroftpd.users");
        let db = crate::auth::UserDb::parse(text, "etc/ferroftpd.users").expect("parses");
        assert!(db.is_empty(), "the sample must not ship an active account");
        let examples: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(":$"))
            .collect();
        assert!(examples.len() >= 2, "examples are shown");
        let db = crate::auth::UserDb::parse(&examples.join("\n"), "examples").expect("examples");
        assert_eq!(db.len(), examples.len());
    }

    #[test]
    fn validate_catches_out_of_range_fields_set_in_code() {
        let base = Config {
            users: Some(PathBuf::from("/etc/users")),
            ..Config::default()
        };
        let bad = [
            Config {
                listen: Vec::new(),
                ..base.clone()
            },
            Config {
                data_threads: 0,
                ..base.clone()
            },
            Config {
                data_threads: 1000,
                ..base.clone()
            },
            Config {
                pasv_ports: Some((10, 5)),
                ..base.clone()
            },
            Config {
                umask: 0o1777,
                ..base.clone()
            },
            Config {
                idle_timeout: Duration::ZERO,
                ..base.clone()
            },
            Config {
                verbose: 9,
                ..base.clone()
            },
            Config {
                data_timeout: Duration::from_secs(MAX_TIMEOUT_SECS + 1),
                ..base.clone()
            },
            Config {
                data_stall_window: Duration::ZERO,
                ..base.clone()
            },
            Config {
                banner: Some("a\rb".to_string()),
                ..base.clone()
            },
            Config {
                ban_window: Duration::ZERO,
                ..base.clone()
            },
            Config {
                shutdown_timeout: Duration::from_secs(MAX_TIMEOUT_SECS + 1),
                ..base.clone()
            },
            Config {
                run_as: Some("a:b".to_string()),
                ..base.clone()
            },
            Config {
                message_file: Some("../x".to_string()),
                ..base.clone()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
        assert_eq!(base.validate(), Ok(()));
        // Sub-second timeouts set in code (as tests do) are valid.
        let quick = Config {
            idle_timeout: Duration::from_millis(200),
            ..base
        };
        assert_eq!(quick.validate(), Ok(()));
    }

    #[test]
    fn load_reads_a_file_and_reports_its_path() {
        let tmp = TempDir::new("load");
        let dir = &tmp.0;
        let good = dir.join("good.conf");
        std::fs::write(&good, "port = 2121\n").expect("write");
        assert_eq!(load(&good).map(|c| c.port), Ok(2121));

        let bad = dir.join("bad.conf");
        std::fs::write(&bad, "port = 2121\nport = 1\n").expect("write");
        let err = load(&bad).expect_err("duplicate");
        assert_eq!(
            err.to_string().split(": ").next(),
            Some(format!("{}:2", bad.display()).as_str())
        );

        let latin1 = dir.join("latin1.conf");
        std::fs::write(&latin1, b"port = 21\nbanner = caf\xe9\n").expect("write");
        let err = load(&latin1).expect_err("not utf-8");
        assert_eq!((err.line, err.message.as_str()), (2, "not valid UTF-8"));

        let missing = dir.join("missing.conf");
        let err = load(&missing).expect_err("missing");
        assert_eq!(err.line, 0);
        assert!(err
            .to_string()
            .starts_with(&format!("{}: cannot read", missing.display())));
    }

    #[test]
    fn text_from_bytes_locates_the_first_bad_byte() {
        assert_eq!(
            text_from_bytes(b"a\nb\n".to_vec(), "x"),
            Ok("a\nb\n".to_string())
        );
        let err = text_from_bytes(b"a\nb\nc\xff\nd\xfe\n".to_vec(), "x.conf").expect_err("bad");
        assert_eq!(err.to_string(), "x.conf:3: not valid UTF-8");
    }
}
