//! The one typed `Config`: its key table, the `key = value` file, and the single setter behind
//! the file, `-o` and the options.
//!
//! Each key is declared once, in the `config_keys!` table below: its field, type, default,
//! value kind (how it is parsed, printed and checked: `config/values.rs`) and `--help` text.
//! The macro (in `config/declare.rs`) makes the struct field, `Default`, [`KEYS`] and the
//! per-key arms of [`Config::apply`], [`Config::get`] and [`Config::validate`] from it.
//!
//! To add a key: add one line to the table (a new value syntax is a new `values::Kind`),
//! then document it in `etc/ferroftpd.conf` and the README; the unit tests check the sample
//! file shows every key. Use it as `config.the_field`.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod declare;
mod values;

use declare::config_keys;
use values::{Bool, File, FileName, Listen, Maybe, Millis, Num, PasvAddress, PortRange, Secs};
use values::{Codepage, OneOf, Text, Umask, UserName, U32_MAX};

config_keys! {
    // field [as "file_key"]: type = default, value kind, "help for --help";
    listen: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)], Listen,
        "addresses to listen on, comma-separated";
    port: u16 = 21, Num(0, 65_535), "control port (0 = pick a free port)";
    root: Option<PathBuf> = None, Maybe(File), "anonymous root directory";
    /// See `auth::UserDb`.
    users: Option<PathBuf> = None, Maybe(File), "users file (name:hash:home:rw|ro)";
    anonymous: bool = false, Bool, "allow read-only anonymous logins in root (yes/no)";
    pasv_ports: Option<(u16, u16)> = None, Maybe(PortRange),
        "passive port range LO-HI (unset = the kernel's ephemeral range)";
    /// For NAT; `None`: the local address of the control connection.
    pasv_address: Option<IpAddr> = None, Maybe(PasvAddress),
        "IPv4 address advertised in PASV replies";
    max_clients: usize = 64, Num(1, U32_MAX), "control connections in total";
    max_per_ip: usize = 32, Num(1, U32_MAX), "control connections per client address";
    data_threads: usize = 8, Num(1, 256), "data transfer threads (1-256)";
    /// 0 is meaningful: fail at once with 425 when every data thread is busy.
    pool_wait: Duration = Duration::from_secs(30), Secs(0),
        "seconds a transfer waits for a data thread";
    // Socket timeouts of zero are rejected by std (`set_read_timeout`), so these start at 1.
    idle_timeout: Duration = Duration::from_secs(300), Secs(1),
        "seconds before an idle session is closed";
    login_timeout: Duration = Duration::from_secs(60), Secs(1), "seconds allowed to log in";
    data_timeout: Duration = Duration::from_secs(60), Secs(1),
        "seconds for data connect and data idle";
    data_stall_bytes: u64 = 65_536, Num(0, u64::MAX),
        "a transfer moving fewer bytes per data_stall_window ends with 426 (0 = off)";
    data_stall_window: Duration = Duration::from_secs(60), Secs(1),
        "seconds over which data_stall_bytes must move";
    max_transfers_per_ip: usize = 4, Num(0, U32_MAX),
        "transfers one client address may run at once (0 = no cap)";
    login_fail_delay as "login_fail_delay_ms": Duration = Duration::from_millis(1000),
        Millis(MAX_FAIL_DELAY_MS), "milliseconds to pause after a failed login";
    max_login_failures: u32 = 3, Num(1, U32_MAX),
        "failed logins before the connection is closed";
    umask: u32 = 0o022, Umask, "octal umask for created files";
    /// Lines separated by `'\n'` (written `\n` in the file).
    banner: Option<String> = None, Maybe(Text), "220 greeting text (\\n splits lines)";
    allow_fxp: bool = false, Bool, "allow server-to-server (FXP) transfers (yes/no)";
    max_list_entries: usize = 100_000, Num(1, U32_MAX), "most entries one listing sends";
    verbose: u8 = 0, Num(0, 2), "log level: 0 info, 1 debug, 2 trace";
    /// The server must start as root; `None` stays as it started.
    run_as: Option<String> = None, Maybe(UserName),
        "user to switch to after binding (start as root)";
    chroot: bool = false, Bool, "chroot the process into root (needs run_as) (yes/no)";
    /// The process then keeps root, for setfsuid per session.
    system_users: bool = false, Bool, "also accept /etc/passwd + /etc/shadow accounts (yes/no)";
    /// `root` is always refused.
    ftpusers: PathBuf = PathBuf::from("/etc/ftpusers"), File,
        "system user names refused login, one a line";
    pidfile: Option<PathBuf> = None, Maybe(File), "file to write the daemon's pid to";
    daemon: bool = false, Bool, "detach into the background (yes/no)";
    /// For inetd or tcpsvd, instead of listening.
    inetd: bool = false, Bool, "serve one connection on stdin/stdout (yes/no)";
    /// 0: abort running transfers at once on SIGTERM.
    shutdown_timeout: Duration = Duration::from_secs(30), Secs(0),
        "seconds running transfers may finish after SIGTERM";
    fsync: bool = true, Bool, "flush uploads to storage before 226 (yes/no)";
    atomic_uploads: bool = false, Bool,
        "upload to a temporary name, rename when complete (yes/no)";
    /// No replacing STOR or RNTO, no resume before the end of the file.
    deny_overwrite: bool = false, Bool,
        "uploads and RNTO never change existing content (yes/no)";
    keep_partial_on_enospc: bool = false, Bool,
        "keep uploads cut short by a full disk (yes/no)";
    hide_dot_files: bool = false, Bool, "listings leave out dot files (yes/no)";
    download_rate: u64 = 0, Num(0, u64::MAX),
        "bytes per second per session for downloads (0 = unlimited)";
    upload_rate: u64 = 0, Num(0, u64::MAX),
        "bytes per second per session for uploads (0 = unlimited)";
    /// Counted within `ban_window`.
    ban_after: u32 = 10, Num(0, U32_MAX),
        "failed logins from one address that ban it (0 = never)";
    ban_window: Duration = Duration::from_secs(300), Secs(1),
        "seconds over which failed logins are counted";
    ban_time: Duration = Duration::from_secs(600), Secs(1), "seconds a banned address is refused";
    syslog: bool = false, Bool, "log to syslog instead of stderr (yes/no)";
    syslog_socket: PathBuf = PathBuf::from("/dev/log"), File, "the syslog daemon's datagram socket";
    /// One wu-ftpd xferlog line per transfer; `None` logs none.
    xferlog: Option<PathBuf> = None, Maybe(File), "wu-ftpd style transfer log file";
    banner_file: Option<PathBuf> = None, Maybe(File), "file sent with the 220 greeting";
    login_message: Option<String> = None, Maybe(Text), "text sent with 230 (\\n splits lines)";
    /// `None` (the empty value in a file) disables it.
    message_file: Option<String> = Some(".message".to_string()), FileName,
        "per-directory file shown on CWD (empty = off)";
    /// IBM-037 is the common US/Canada page; 1047 is z/OS UNIX's (see `codec::ebcdic`).
    ebcdic_codepage: crate::codec::ebcdic::CodePage = crate::codec::ebcdic::CodePage::Ibm037,
        Codepage, "EBCDIC code page of TYPE E transfers: 037 or 1047";
    /// Binding port 20 needs root.
    connect_from_port_20: bool = false, Bool, "active data connections from port 20 (yes/no)";
    /// PEM or DER; FTPS (RFC 4217) is offered only when `tls_key` is set too.
    tls_cert: Option<PathBuf> = None, Maybe(File),
        "FTPS certificate chain file, leaf first (PEM or DER)";
    /// PKCS#8, PKCS#1 or SEC1; PEM or DER.
    tls_key: Option<PathBuf> = None, Maybe(File), "FTPS private key file (PEM or DER)";
    tls_required: TlsRequired = TlsRequired::No, OneOf(TlsRequired::NAMES),
        "no | login (USER only after AUTH TLS; anonymous exempt) | all (also PROT P data)";
    tls_session_reuse: TlsReuse = TlsReuse::Required, OneOf(TlsReuse::NAMES),
        "required (data connections must resume the control TLS session: 522) | optional";
    /// Implicit FTPS: TLS from the first byte, PROT P by default.
    tls_implicit_port: u16 = 0, Num(0, 65_535),
        "second port per listen address where TLS starts at connect (0 = off)";
}

/// `tls_required`: what must go through TLS (RFC 4217 §10.1 leaves the policy to the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsRequired {
    /// Nothing: clients choose.
    No,
    /// Logins: USER before AUTH TLS gets 530 (anonymous exempt: no secret to protect).
    Login,
    /// Logins, and data: a transfer under PROT C gets 521.
    All,
}

impl TlsRequired {
    /// The key's values.
    pub const NAMES: &'static [(&'static str, TlsRequired)] = &[
        ("no", TlsRequired::No),
        ("login", TlsRequired::Login),
        ("all", TlsRequired::All),
    ];
}

/// `tls_session_reuse`: whether a PROT P data connection must resume the control session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsReuse {
    /// A data connection that did not resume it gets 522 (the session goes on).
    Required,
    /// Any TLS handshake is accepted (Python's ftplib never resumes: cpython#63699).
    Optional,
}

impl TlsReuse {
    /// The key's values.
    pub const NAMES: &'static [(&'static str, TlsReuse)] = &[
        ("required", TlsReuse::Required),
        ("optional", TlsReuse::Optional),
    ];
}

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

    /// The current value of `key` in file syntax; `None` if unset or not a key.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_canonical(canonical_key(key)?)
    }

    /// Check the settings as a whole; whether `root` exists is checked at startup, not here.
    pub fn validate(&self) -> Result<(), String> {
        // Fields are public, so a Config built in code may hold values `apply` would refuse:
        // feed each one back through `apply` (one copy of every range check), unless its kind
        // checks it directly.
        for (key, _) in KEYS {
            if let Some(checked) = self.check_directly(key) {
                checked.map_err(|message| format!("{key}: {message}"))?;
            } else if let Some(text) = self.get(key) {
                Config::default().apply(key, &text)?;
            }
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
        self.validate_tls()?;
        if self.connect_from_port_20 && self.run_as.is_some() {
            // Binding port 20 needs root, which run_as gives up.
            return Err("connect_from_port_20 = yes cannot be combined with run_as".to_string());
        }
        Ok(())
    }

    /// FTPS keys that cannot work together (whether the files load is checked by `-t` and at
    /// startup).
    fn validate_tls(&self) -> Result<(), String> {
        let offered = self.tls_cert.is_some() || self.tls_key.is_some();
        if offered && !cfg!(feature = "tls") {
            return Err("tls_cert/tls_key: this build has no TLS (feature tls)".to_string());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("tls_cert and tls_key are set together".to_string());
        }
        if !offered && self.tls_required != TlsRequired::No {
            return Err("tls_required needs tls_cert and tls_key".to_string());
        }
        if !offered && self.tls_implicit_port != 0 {
            return Err("tls_implicit_port needs tls_cert and tls_key".to_string());
        }
        if self.tls_implicit_port != 0 && self.tls_implicit_port == self.port {
            return Err("tls_implicit_port must differ from port".to_string());
        }
        Ok(())
    }
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
        assert_eq!((c.tls_cert, c.tls_key), (None, None));
        assert_eq!(c.tls_required, TlsRequired::No);
        assert_eq!(c.tls_session_reuse, TlsReuse::Required);
        assert_eq!(c.tls_implicit_port, 0);
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
tls_cert = /etc/ferroftpd/cert.pem
tls_key = /etc/ferroftpd/key.der
tls_required = LOGIN
tls_session_reuse = optional
tls_implicit_port = 990
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
        assert_eq!(c.tls_cert, Some(PathBuf::from("/etc/ferroftpd/cert.pem")));
        assert_eq!(c.tls_key, Some(PathBuf::from("/etc/ferroftpd/key.der")));
        assert_eq!(c.tls_required, TlsRequired::Login);
        assert_eq!(c.tls_session_reuse, TlsReuse::Optional);
        assert_eq!(c.tls_implicit_port, 990);
        if cfg!(feature = "tls") {
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn tls_keys_are_checked_together() {
        let bad = |text: &str| {
            let c = parse_str(&format!("users = /u\n{text}"), "t").expect("parses");
            c.validate().expect_err(text)
        };
        assert!(bad("tls_cert = /c").contains("together"));
        assert!(bad("tls_key = /k").contains("together"));
        assert!(bad("tls_required = all").contains("needs tls_cert"));
        assert!(bad("tls_implicit_port = 990").contains("needs tls_cert"));
        let both = "tls_cert = /c\ntls_key = /k";
        if cfg!(feature = "tls") {
            assert!(bad(&format!("{both}\nport = 990\ntls_implicit_port = 990")).contains("differ"));
            let c = parse_str(&format!("users = /u\n{both}\ntls_required = all"), "t").unwrap();
            assert_eq!(c.validate(), Ok(()));
        } else {
            assert!(bad(both).contains("no TLS"));
        }
        let e = parse_err("tls_required = maybe");
        assert!(e.message.contains("no | login | all"), "{e}");
        let e = parse_err("tls_session_reuse = yes");
        assert!(e.message.contains("required | optional"), "{e}");
    }

    #[test]
    fn keys_table_covers_every_key_and_round_trips() {
        let c = parse_str(
            "listen = 10.0.0.1,::\nport = 0\nroot = /r\nusers = /u\nanonymous = 1\n\
             pasv_ports = 1-1\npasv_address = 10.0.0.2\nbanner = a\\\\b\\nc\n\
             run_as = nobody\npidfile = /p\nxferlog = /x\nbanner_file = /b\n\
             login_message = l\\none\nmessage_file = .msg\nupload_rate = 18446744073709551615\n\
             tls_cert = /c\ntls_key = /k\ntls_required = all\n",
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
    fn ebcdic_codepage_takes_037_or_1047() {
        use crate::codec::ebcdic::CodePage;
        assert_eq!(Config::default().ebcdic_codepage, CodePage::Ibm037);
        for (text, page) in [
            ("037", CodePage::Ibm037),
            ("IBM037", CodePage::Ibm037),
            ("1047", CodePage::Ibm1047),
            ("cp1047", CodePage::Ibm1047),
        ] {
            let c = parse_str(&format!("ebcdic_codepage = {text}"), "t").expect("parses");
            assert_eq!(c.ebcdic_codepage, page, "{text}");
        }
        let err = parse_err("ebcdic_codepage = 500");
        assert!(err.message.contains("037 or 1047"), "{}", err.message);
        assert_eq!(
            Config {
                ebcdic_codepage: CodePage::Ibm1047,
                ..Config::default()
            }
            .get("ebcdic_codepage")
            .as_deref(),
            Some("1047")
        );
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
    fn validate_names_the_key_of_a_duration_out_of_range() {
        let base = Config {
            users: Some(PathBuf::from("/etc/users")),
            ..Config::default()
        };
        let day_and_a_bit = Duration::from_secs(MAX_TIMEOUT_SECS + 1);
        let cases = [
            (
                Config {
                    idle_timeout: Duration::ZERO,
                    ..base.clone()
                },
                "idle_timeout: from 1 to 86400 seconds",
            ),
            (
                Config {
                    pool_wait: day_and_a_bit,
                    ..base.clone()
                },
                "pool_wait: at most 86400 seconds",
            ),
            (
                Config {
                    login_fail_delay: Duration::from_millis(MAX_FAIL_DELAY_MS + 1),
                    ..base.clone()
                },
                "login_fail_delay_ms: at most 60000",
            ),
            (
                Config {
                    umask: 0o1000,
                    ..base
                },
                "umask: expected an octal mask from 000 to 777, got '1000'",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(config.validate(), Err(message.to_string()));
        }
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
