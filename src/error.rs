//! `FtpError`, the closed set of failures, and `TransferOutcome`, how a transfer ended: the one
//! table that turns each into a reply code and text.

use crate::reply::{Reply, ReplyCode};
use std::io;

/// Every way a command can fail; only [`FtpError::to_reply`] chooses codes and texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FtpError {
    /// The command line could not be understood (unknown verb, garbage).
    SyntaxError,
    /// The argument is malformed; the text says which argument.
    BadArgument(&'static str),
    /// The command is not implemented at all.
    NotImplemented,
    /// The command is known but this parameter value is not supported.
    ParameterNotImplemented,
    /// Commands arrived in the wrong order (RNTO without RNFR, PASS without USER...).
    BadSequence(&'static str),
    /// Login required, or login failed.
    NotLoggedIn,
    /// The data connection could not be set up or opened.
    CantOpenData,
    /// The client's address already runs `max_transfers_per_ip` transfers.
    TooManyTransfers,
    /// EPRT/EPSV named a network protocol we do not support (RFC 2428).
    UnsupportedProtocol,
    /// PASV on an IPv6 control connection: its reply cannot carry the address (RFC 2428).
    PasvOnIpv6,
    /// PORT/EPRT named a third host or a privileged port (bounce protection, RFC 2577).
    IllegalDataAddress,
    /// No such file or directory (also symlink loops and names outside the jail).
    NotFound,
    /// The account, the file mode or the read-only mount forbids it.
    PermissionDenied,
    /// The path names something that is not a regular file where one is needed.
    NotAFile,
    /// The path names something that is not a directory where one is needed.
    NotADirectory,
    /// The target already exists.
    AlreadyExists,
    /// RMD on a directory that still has entries.
    DirectoryNotEmpty,
    /// The name is not allowed (too long, NUL byte, reserved).
    NameNotAllowed,
    /// The REST offset lies past the end of the file (RFC 3659 §5.3: "restart marker out of
    /// range", reported by the transfer command).
    RestPastEnd,
    /// The filesystem is full (ENOSPC).
    NoSpace,
    /// Quota or file size limit exceeded (EDQUOT, EFBIG).
    ExceededStorage,
    /// A listing or other bounded resource hit its limit.
    LimitReached,
    /// The process ran out of file descriptors (EMFILE/ENFILE): a passing condition.
    OutOfResources,
    /// Any other local I/O failure.
    LocalError,
    /// SIZE in ASCII type of a file too large to scan for its wire size.
    AsciiSizeUnavailable,
    /// A SITE subcommand this server does not have.
    UnknownSiteCommand,
    /// Wrong name or password.
    LoginIncorrect,
    /// Too many failed logins on this connection, or the address is now banned: closing.
    TooManyFailedLogins,
    /// A command line longer than the limit: closing.
    LineTooLong,
    /// The idle or login timeout ran out: closing.
    IdleTimeout,
    /// The server is stopping: closing.
    ShuttingDown,
    /// A command other than ABOR, STAT or NOOP while a transfer runs, with no room to queue it.
    TransferInProgress,
    /// A new connection from an address banned after failed logins.
    AddressBanned,
    /// A new connection over `max_clients` or `max_per_ip`.
    TooManyConnections,
    /// A new connection when the process has no descriptor left for it.
    NoDescriptors,
    /// `tls_required`: USER before AUTH TLS (the same reply for every name).
    TlsRequiredForLogin,
    /// `tls_required = all`: a transfer under PROT C (RFC 4217 §10.2).
    ProtPrivateRequired,
    /// PROT S or E: no such protection with TLS (RFC 4217 §9).
    ProtLevelNotSupported,
    /// CCC: the control connection stays encrypted (rustls reads past close_notify).
    CccRefused,
}

/// How a transfer ended; [`TransferOutcome::to_reply`] gives its final reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// All data moved and the data connection closed.
    Complete(u64),
    /// Stopped by ABOR.
    Aborted(u64),
    /// The client broke the data connection, or left it idle for `data_timeout`.
    ConnectionLost(u64),
    /// The transfer moved less than the stall rule asks (`data_stall_bytes` per window).
    Stalled(u64),
    /// The data connection could not be opened.
    CantOpen,
    /// A local read/write/fsync error (disk full, I/O error...).
    LocalError(FtpError, u64),
    /// A checksum job finished: the CRC32 and the bytes hashed.
    Hashed(u32, u64),
    /// The data connection's TLS handshake failed (PROT P).
    DataTlsFailed,
    /// The data connection's TLS handshake did not resume the control connection's session
    /// (`tls_session_reuse = required`).
    DataTlsNotResumed,
}

impl FtpError {
    /// The reply sent to the client for this failure.
    pub fn to_reply(self) -> Reply {
        use FtpError::*;
        let (code, text): (ReplyCode, &str) = match self {
            SyntaxError => (
                ReplyCode::SyntaxError,
                "Syntax error, command unrecognized.",
            ),
            BadArgument(text) => (ReplyCode::ParameterSyntaxError, text),
            NotImplemented => (ReplyCode::CommandNotImplemented, "Command not implemented."),
            ParameterNotImplemented => (
                ReplyCode::ParameterNotImplemented,
                "Command not implemented for that parameter.",
            ),
            BadSequence(text) => (ReplyCode::BadSequence, text),
            NotLoggedIn => (ReplyCode::NotLoggedIn, "Please login with USER and PASS."),
            CantOpenData => (ReplyCode::CantOpenData, "Can't open data connection."),
            TooManyTransfers => (
                ReplyCode::CantOpenData,
                "Too many transfers from your address; try again later.",
            ),
            UnsupportedProtocol => (
                ReplyCode::ExtendedProtocolNotSupported,
                "Network protocol not supported, use (1,2)",
            ),
            IllegalDataAddress => (ReplyCode::SyntaxError, "Illegal PORT command."),
            PasvOnIpv6 => (
                ReplyCode::ExtendedProtocolNotSupported,
                "PASV cannot carry an IPv6 address; use EPSV.",
            ),
            NotFound => (ReplyCode::FileUnavailable, "No such file or directory."),
            PermissionDenied => (ReplyCode::FileUnavailable, "Permission denied."),
            NotAFile => (ReplyCode::FileUnavailable, "Not a regular file."),
            NotADirectory => (ReplyCode::FileUnavailable, "Not a directory."),
            AlreadyExists => (ReplyCode::FileUnavailable, "File exists."),
            DirectoryNotEmpty => (ReplyCode::FileUnavailable, "Directory not empty."),
            NameNotAllowed => (ReplyCode::FileNameNotAllowed, "File name not allowed."),
            RestPastEnd => (
                ReplyCode::InvalidRestParameter,
                "Invalid REST parameter: past the end of the file.",
            ),
            NoSpace => (
                ReplyCode::InsufficientStorage,
                "Insufficient storage space in system.",
            ),
            ExceededStorage => (ReplyCode::ExceededStorage, "Exceeded storage allocation."),
            LimitReached => (ReplyCode::FileUnavailable, "Too many entries."),
            OutOfResources => (
                ReplyCode::LocalError,
                "Server out of resources; try again later.",
            ),
            LocalError => (ReplyCode::LocalError, "Local error in processing."),
            AsciiSizeUnavailable => (
                ReplyCode::FileUnavailable,
                "SIZE not available in ASCII mode for files over 16 MiB.",
            ),
            UnknownSiteCommand => (ReplyCode::SyntaxError, "Unknown SITE command."),
            LoginIncorrect => (ReplyCode::NotLoggedIn, "Login incorrect."),
            TooManyFailedLogins => (
                ReplyCode::ServiceNotAvailable,
                "Too many failed logins. Closing control connection.",
            ),
            LineTooLong => (ReplyCode::SyntaxError, "Command line too long."),
            IdleTimeout => (
                ReplyCode::ServiceNotAvailable,
                "Timeout. Closing control connection.",
            ),
            ShuttingDown => (
                ReplyCode::ServiceNotAvailable,
                "Server shutting down. Closing control connection.",
            ),
            TransferInProgress => (
                ReplyCode::FileBusy,
                "Transfer in progress; command ignored.",
            ),
            AddressBanned => (
                ReplyCode::ServiceNotAvailable,
                "Too many failed logins from your address; try later.",
            ),
            TooManyConnections => (
                ReplyCode::ServiceNotAvailable,
                "Too many connections, try again later.",
            ),
            NoDescriptors => (
                ReplyCode::ServiceNotAvailable,
                "Server out of resources, try again later.",
            ),
            TlsRequiredForLogin => (
                ReplyCode::NotLoggedIn,
                "TLS required: send AUTH TLS before USER.",
            ),
            ProtPrivateRequired => (
                ReplyCode::ProtRefused,
                "Data connections must be protected: send PROT P.",
            ),
            ProtLevelNotSupported => (
                ReplyCode::ProtLevelNotSupported,
                "PROT level not supported by TLS; use C or P.",
            ),
            CccRefused => (
                ReplyCode::DeniedForPolicy,
                "CCC refused: the control connection stays protected.",
            ),
        };
        Reply::new(code, text)
    }

    /// Classify an errno value; never exposes OS text to the client.
    pub fn from_errno(errno: i32) -> FtpError {
        use nix::libc;
        match errno {
            libc::ENOENT | libc::ELOOP | libc::ENXIO | libc::ESTALE => FtpError::NotFound,
            libc::EACCES | libc::EPERM | libc::EROFS | libc::ETXTBSY | libc::EBUSY => {
                FtpError::PermissionDenied
            }
            libc::ENOTDIR => FtpError::NotADirectory,
            libc::EISDIR => FtpError::NotAFile,
            libc::EEXIST => FtpError::AlreadyExists,
            libc::ENOTEMPTY => FtpError::DirectoryNotEmpty,
            libc::ENAMETOOLONG | libc::EINVAL | libc::EILSEQ => FtpError::NameNotAllowed,
            libc::ENOSPC => FtpError::NoSpace,
            libc::EDQUOT | libc::EFBIG => FtpError::ExceededStorage,
            // Not the client's fault and not permanent: 451, "try again" (issue 10).
            libc::EMFILE | libc::ENFILE => FtpError::OutOfResources,
            _ => FtpError::LocalError,
        }
    }
}

impl TransferOutcome {
    /// The final reply of a transfer (226 | 425 | 426 | 451 | 452 | 552...), or of a checksum.
    pub fn to_reply(self) -> Reply {
        match self {
            TransferOutcome::Complete(_) => {
                Reply::new(ReplyCode::ClosingData, "Transfer complete.")
            }
            TransferOutcome::Aborted(_) => {
                Reply::new(ReplyCode::TransferAborted, "Transfer aborted by ABOR.")
            }
            TransferOutcome::ConnectionLost(_) => Reply::new(
                ReplyCode::TransferAborted,
                "Connection closed; transfer aborted.",
            ),
            TransferOutcome::Stalled(_) => Reply::new(
                ReplyCode::TransferAborted,
                "Data connection too slow; transfer aborted.",
            ),
            TransferOutcome::CantOpen => FtpError::CantOpenData.to_reply(),
            TransferOutcome::LocalError(e, _) => e.to_reply(),
            TransferOutcome::Hashed(crc, _) => {
                Reply::new(ReplyCode::FileStatus, format!("{crc:08x}"))
            }
            TransferOutcome::DataTlsFailed => Reply::new(
                ReplyCode::ExtendedProtocolNotSupported,
                "TLS negotiation on the data connection failed.",
            ),
            TransferOutcome::DataTlsNotResumed => Reply::new(
                ReplyCode::ExtendedProtocolNotSupported,
                "TLS session of the data connection must resume the control connection's.",
            ),
        }
    }
}

impl From<io::Error> for FtpError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(errno) => FtpError::from_errno(errno),
            None => match e.kind() {
                io::ErrorKind::NotFound => FtpError::NotFound,
                io::ErrorKind::PermissionDenied => FtpError::PermissionDenied,
                io::ErrorKind::AlreadyExists => FtpError::AlreadyExists,
                _ => FtpError::LocalError,
            },
        }
    }
}

impl From<nix::errno::Errno> for FtpError {
    fn from(e: nix::errno::Errno) -> Self {
        FtpError::from_errno(e as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc;

    #[test]
    fn errno_table() {
        let table = [
            (libc::ENOENT, 550),
            (libc::EACCES, 550),
            (libc::EROFS, 550),
            (libc::ENOTDIR, 550),
            (libc::EEXIST, 550),
            (libc::ENOTEMPTY, 550),
            (libc::ENAMETOOLONG, 553),
            (libc::ENOSPC, 452),
            (libc::EDQUOT, 552),
            (libc::EFBIG, 552),
            (libc::EIO, 451),
            (libc::EMFILE, 451),
            (libc::ENFILE, 451),
        ];
        for (errno, code) in table {
            let r = FtpError::from(io::Error::from_raw_os_error(errno)).to_reply();
            assert_eq!(r.code as u16, code, "errno {errno}");
        }
    }

    #[test]
    fn replies_never_show_os_text() {
        let r = FtpError::from(io::Error::from_raw_os_error(libc::EIO)).to_reply();
        let bytes = r.to_bytes();
        assert!(!String::from_utf8_lossy(&bytes).contains("Input/output"));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(FtpError::SyntaxError.to_reply().code as u16, 500);
        assert_eq!(FtpError::BadArgument("x").to_reply().code as u16, 501);
        assert_eq!(FtpError::NotImplemented.to_reply().code as u16, 502);
        assert_eq!(FtpError::BadSequence("x").to_reply().code as u16, 503);
        assert_eq!(
            FtpError::ParameterNotImplemented.to_reply().code as u16,
            504
        );
        assert_eq!(FtpError::UnsupportedProtocol.to_reply().code as u16, 522);
        assert_eq!(FtpError::NotLoggedIn.to_reply().code as u16, 530);
        assert_eq!(FtpError::CantOpenData.to_reply().code as u16, 425);
        assert_eq!(FtpError::TooManyTransfers.to_reply().code as u16, 425);
        assert_eq!(FtpError::OutOfResources.to_reply().code as u16, 451);
        assert_eq!(FtpError::IllegalDataAddress.to_reply().code as u16, 500);
        assert_eq!(FtpError::RestPastEnd.to_reply().code as u16, 554);
    }

    /// The replies that handlers, the connection loop and the accept loop used to write
    /// themselves (issue 11): the same bytes as before they moved into this table.
    #[test]
    fn session_and_connection_failures() {
        let table: [(FtpError, &[u8]); 11] = [
            (
                FtpError::AsciiSizeUnavailable,
                b"550 SIZE not available in ASCII mode for files over 16 MiB.\r\n",
            ),
            (
                FtpError::UnknownSiteCommand,
                b"500 Unknown SITE command.\r\n",
            ),
            (FtpError::LoginIncorrect, b"530 Login incorrect.\r\n"),
            (
                FtpError::TooManyFailedLogins,
                b"421 Too many failed logins. Closing control connection.\r\n",
            ),
            (FtpError::LineTooLong, b"500 Command line too long.\r\n"),
            (
                FtpError::IdleTimeout,
                b"421 Timeout. Closing control connection.\r\n",
            ),
            (
                FtpError::ShuttingDown,
                b"421 Server shutting down. Closing control connection.\r\n",
            ),
            (
                FtpError::TransferInProgress,
                b"450 Transfer in progress; command ignored.\r\n",
            ),
            (
                FtpError::AddressBanned,
                b"421 Too many failed logins from your address; try later.\r\n",
            ),
            (
                FtpError::TooManyConnections,
                b"421 Too many connections, try again later.\r\n",
            ),
            (
                FtpError::NoDescriptors,
                b"421 Server out of resources, try again later.\r\n",
            ),
        ];
        for (e, bytes) in table {
            assert_eq!(e.to_reply().to_bytes(), bytes, "{e:?}");
        }
    }

    #[test]
    fn transfer_outcomes() {
        use TransferOutcome::*;
        let table: [(TransferOutcome, &[u8]); 8] = [
            (Complete(5), b"226 Transfer complete.\r\n"),
            (Aborted(5), b"426 Transfer aborted by ABOR.\r\n"),
            (
                ConnectionLost(5),
                b"426 Connection closed; transfer aborted.\r\n",
            ),
            (
                Stalled(5),
                b"426 Data connection too slow; transfer aborted.\r\n",
            ),
            (CantOpen, b"425 Can't open data connection.\r\n"),
            (
                LocalError(FtpError::NoSpace, 5),
                b"452 Insufficient storage space in system.\r\n",
            ),
            (
                LocalError(FtpError::ExceededStorage, 5),
                b"552 Exceeded storage allocation.\r\n",
            ),
            (Hashed(0xbeef, 5), b"213 0000beef\r\n"),
        ];
        for (outcome, bytes) in table {
            assert_eq!(outcome.to_reply().to_bytes(), bytes, "{outcome:?}");
        }
    }
}
