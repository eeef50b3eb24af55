//! Per-connection state: login, jail, working directory, transfer parameters, pending data setup.

use crate::auth::Account;
use crate::codec::ebcdic::CodePage;
use crate::command::{Command, Mode, Structure, TransferType};
use crate::data_channel::DataSetup;
use crate::error::FtpError;
use crate::jail::Jail;
use crate::listing::FactSet;
use crate::representation::Representation;
use crate::vpath::VirtualPath;
use std::net::SocketAddr;
use std::time::Duration;

/// Where a connection is in the login sequence (RFC 959 §6 state diagrams).
#[derive(Debug)]
pub enum LoginState {
    /// Greeted; waiting for USER.
    Greeted,
    /// USER given; waiting for PASS.
    UserGiven(Vec<u8>),
    /// Logged in.
    LoggedIn(Account),
}

/// Transfer totals, reported by QUIT and STAT.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Files downloaded.
    pub files_down: u64,
    /// Files uploaded.
    pub files_up: u64,
    /// Bytes downloaded (file data only).
    pub bytes_down: u64,
    /// Bytes uploaded (file data only).
    pub bytes_up: u64,
    /// Data transfers of any kind, listings included.
    pub transfers: u64,
    /// Bytes over data connections of any kind.
    pub data_bytes: u64,
}

/// FTPS state of a control connection (RFC 4217); kept across logins (REIN is refused
/// under TLS, and USER while logged in keeps the connection's protection).
#[derive(Debug, Default, Clone, Copy)]
pub struct Security {
    /// The control connection is under TLS (AUTH TLS, or the implicit port).
    pub control: bool,
    /// PBSZ was given (RFC 4217 §8: before PROT).
    pub pbsz: bool,
    /// PROT P: data connections are TLS. PROT C (the default) clears it.
    pub private_data: bool,
    /// `tls_required = all` for this login: transfers under PROT C are refused (521).
    pub private_data_required: bool,
}

/// One control connection's state.
#[derive(Debug)]
pub struct Session {
    /// Login progress.
    pub login: LoginState,
    /// The logged-in account's root; `None` before login.
    pub jail: Option<Jail>,
    /// Current directory inside the jail.
    pub cwd: VirtualPath,
    /// TYPE: ASCII Non-print at login and after REIN (RFC 959 §3.1.1, §5.1).
    pub transfer_type: TransferType,
    /// STRU: File at login and after REIN (RFC 959 §3.1.2, §5.1).
    pub structure: Structure,
    /// MODE: Stream at login and after REIN (RFC 959 §3.4, §5.1).
    pub mode: Mode,
    /// Pending REST offset, consumed by the next transfer command.
    pub rest: u64,
    /// Pending RNFR source, consumed by RNTO.
    pub rename_from: Option<VirtualPath>,
    /// Data connection set up by PASV/EPSV/PORT/EPRT, consumed by the next transfer.
    pub data: Option<DataSetup>,
    /// After `EPSV ALL` only EPSV may set up data connections (RFC 2428 §4).
    pub epsv_all: bool,
    /// Client address of the control connection.
    pub peer: SocketAddr,
    /// Our address of the control connection.
    pub local: SocketAddr,
    /// Totals.
    pub stats: Stats,
    /// Failed PASS attempts on this connection.
    pub failed_logins: u32,
    /// umask applied to uploads and new directories.
    pub umask: u32,
    /// Idle timeout (SITE IDLE may lower or raise it up to the configured maximum).
    pub idle_timeout: Duration,
    /// Set by QUIT or a fatal condition: the loop ends after the current reply.
    pub quit: bool,
    /// MLST/MLSD facts chosen with `OPTS MLST`.
    pub mlst_facts: FactSet,
    /// Byte range for the next HASH (`RANG`), inclusive.
    pub hash_range: Option<(u64, u64)>,
    /// Virtual host named with HOST (RFC 7151), for the log.
    pub host: Option<Vec<u8>>,
    /// A system user's file-system identity is set on this thread (undone at logout).
    pub fs_identity: bool,
    /// The identity string an anonymous user gave as password (for the xferlog).
    pub anon_email: Vec<u8>,
    /// FTPS state.
    pub security: Security,
}

impl Session {
    /// A fresh session for a new connection.
    pub fn new(peer: SocketAddr, local: SocketAddr, umask: u32, idle_timeout: Duration) -> Self {
        Session {
            login: LoginState::Greeted,
            jail: None,
            cwd: VirtualPath::root(),
            transfer_type: TransferType::DEFAULT,
            structure: Structure::File,
            mode: Mode::Stream,
            rest: 0,
            rename_from: None,
            data: None,
            epsv_all: false,
            peer,
            local,
            stats: Stats::default(),
            failed_logins: 0,
            umask,
            idle_timeout,
            quit: false,
            mlst_facts: FactSet::default(),
            hash_range: None,
            host: None,
            fs_identity: false,
            anon_email: Vec::new(),
            security: Security::default(),
        }
    }

    /// Back to the just-greeted state (REIN, or USER while logged in); totals are kept.
    pub fn logout(&mut self) {
        self.login = LoginState::Greeted;
        self.jail = None;
        self.cwd = VirtualPath::root();
        // RFC 959 §4.1.1 REIN: "All parameters are reset to the default settings".
        self.transfer_type = TransferType::DEFAULT;
        self.structure = Structure::File;
        self.mode = Mode::Stream;
        self.rest = 0;
        self.rename_from = None;
        self.data = None;
        self.epsv_all = false;
        self.mlst_facts = FactSet::default();
        self.hash_range = None;
        self.host = None;
        self.anon_email.clear();
        self.security.private_data_required = false;
        if std::mem::take(&mut self.fs_identity) {
            // Back to the process's own identity before anyone else logs in on this thread.
            nix::unistd::setfsuid(nix::unistd::geteuid());
            nix::unistd::setfsgid(nix::unistd::getegid());
        }
    }

    /// The TYPE, STRU and MODE a transfer started now uses, with the configured code page.
    pub fn representation(&self, codepage: CodePage) -> Representation {
        Representation {
            ty: self.transfer_type,
            stru: self.structure,
            mode: self.mode,
            codepage,
        }
    }

    /// The logged-in account, if any.
    pub fn account(&self) -> Option<&Account> {
        match &self.login {
            LoginState::LoggedIn(a) => Some(a),
            _ => None,
        }
    }

    /// Whether a user is logged in.
    pub fn logged_in(&self) -> bool {
        self.account().is_some()
    }

    /// The session's jail (login is checked before any handler runs).
    pub fn jail(&self) -> Result<&Jail, FtpError> {
        self.jail.as_ref().ok_or(FtpError::NotLoggedIn)
    }

    /// Resolve a client path against the working directory.
    pub fn path(&self, arg: &[u8]) -> Result<VirtualPath, FtpError> {
        self.cwd.join(arg)
    }

    /// The one check of what this session may run, before any handler: only the login set
    /// before login (530), and nothing that writes for a read-only account (550).
    pub fn gate(&self, cmd: &Command) -> Result<(), FtpError> {
        match self.account() {
            None if !cmd.allowed_before_login() => Err(FtpError::NotLoggedIn),
            // SECURITY: decided here from the command's kind, so no handler can forget it.
            Some(a) if !a.writable && cmd.needs_write() => Err(FtpError::PermissionDenied),
            None if cmd.needs_write() => Err(FtpError::PermissionDenied),
            _ => Ok(()),
        }
    }

    /// Fail with 521 when this login must protect its data and PROT P was not given (RFC 4217
    /// §10.2, before any 150), or with 425 unless PASV/EPSV/PORT/EPRT set up the data
    /// connection (RFC 959 lists 425 for a transfer command with no usable data connection).
    pub fn require_data_setup(&self) -> Result<(), FtpError> {
        if self.security.private_data_required && !self.security.private_data {
            return Err(FtpError::ProtPrivateRequired);
        }
        match self.data {
            Some(_) => Ok(()),
            None => Err(FtpError::CantOpenData),
        }
    }

    /// Take the pending REST offset (0 if none).
    pub fn take_rest(&mut self) -> u64 {
        std::mem::take(&mut self.rest)
    }

    /// File permissions for a new file, after the session's umask.
    pub fn file_mode(&self) -> u32 {
        0o666 & !self.umask
    }

    /// Permissions for a new directory, after the session's umask.
    pub fn dir_mode(&self) -> u32 {
        0o777 & !self.umask
    }
}
