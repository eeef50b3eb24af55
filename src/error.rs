//! `FtpError`, the closed set of failures, and the one table that turns each into a reply.

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
}
