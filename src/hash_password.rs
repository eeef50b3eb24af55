//! `ferroftpd --hash-password`: read a password (twice and without echo on a terminal, one
//! line otherwise) and make a crypt(3) hash with a random salt for the users file.
//!
//! The hash comes from the same libc `crypt_r` that checks logins ([`crate::ffi::crypt`]), so
//! a hash it prints is one this build accepts; musl and glibc both make `$6$`, `$5$` and `$1$`.

use crate::ffi;
use nix::poll::{self, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, LocalFlags, SetArg, Termios};
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

/// Longest password accepted: musl's SHA-crypt refuses keys over 256 bytes.
const MAX_PASSWORD: usize = 256;

/// The crypt alphabet of salts and hashes: 64 characters, so 6 random bits pick one.
const SALT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A crypt(3) method that `--hash-method` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `$6$`, SHA-512-crypt: the default, as /etc/shadow uses it.
    Sha512,
    /// `$5$`, SHA-256-crypt.
    Sha256,
    /// `$1$`, MD5-crypt: only for tools that know nothing newer.
    Md5,
}

impl Method {
    /// The method named `sha512`, `sha256` or `md5` (as `cryptpw -m` spells them).
    pub fn parse(name: &str) -> Option<Method> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha512" => Some(Method::Sha512),
            "sha256" => Some(Method::Sha256),
            "md5" => Some(Method::Md5),
            _ => None,
        }
    }

    /// The `$id$` the hash starts with.
    fn prefix(self) -> &'static str {
        match self {
            Method::Sha512 => "$6$",
            Method::Sha256 => "$5$",
            Method::Md5 => "$1$",
        }
    }

    /// Salt characters: the most each method uses (16 for SHA-crypt, 8 for MD5-crypt).
    fn salt_len(self) -> usize {
        match self {
            Method::Sha512 | Method::Sha256 => 16,
            Method::Md5 => 8,
        }
    }
}

/// Why no hash was printed.
#[derive(Debug, PartialEq, Eq)]
pub enum HashError {
    /// A signal (Ctrl-C) ended the prompt; the terminal has been restored.
    Interrupted(Signal),
    /// Anything else, as a message.
    Failed(String),
}

impl From<io::Error> for HashError {
    fn from(e: io::Error) -> HashError {
        HashError::Failed(e.to_string())
    }
}

/// Read the password from standard input and return its hash.
pub fn run(method: Method) -> Result<String, HashError> {
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    let mut password = if nix::unistd::isatty(fd).unwrap_or(false) {
        read_from_terminal(fd)?
    } else {
        read_line(&mut stdin.lock())?
    };
    let result = hash(&password, method);
    ffi::zeroize_vec(&mut password);
    result.map_err(HashError::Failed)
}

/// Hash `password` with `method` and a fresh random salt.
pub fn hash(password: &[u8], method: Method) -> Result<String, String> {
    if password.is_empty() {
        return Err("empty password".to_string());
    }
    let mut random = vec![0u8; method.salt_len()];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let setting = format!("{}{}", method.prefix(), salt(&random));
    let hashed = ffi::crypt(password, setting.as_bytes())
        .ok_or_else(|| format!("this C library cannot make {} hashes", method.prefix()))?;
    String::from_utf8(hashed).map_err(|_| "crypt(3) returned a non-text hash".to_string())
}

/// A salt of one alphabet character per random byte. Unbiased: 256 is a multiple of 64, so
/// the low 6 bits of a uniform byte are uniform over the alphabet.
fn salt(random: &[u8]) -> String {
    random
        .iter()
        .map(|b| char::from(SALT_ALPHABET[usize::from(b & 63)]))
        .collect()
}

/// One line from a pipe or file, without its line end; at most [`MAX_PASSWORD`] bytes.
fn read_line(input: &mut impl BufRead) -> Result<Vec<u8>, HashError> {
    let mut line = Vec::new();
    // Bounded: a line end (CR LF) beyond the longest password is still seen.
    let limit = MAX_PASSWORD as u64 + 2;
    input.take(limit).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > MAX_PASSWORD {
        ffi::zeroize_vec(&mut line);
        return Err(HashError::Failed(format!(
            "password longer than {MAX_PASSWORD} bytes"
        )));
    }
    Ok(line)
}

/// The terminal's settings and the signal mask, put back on drop (every return path).
struct TerminalGuard<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
    old_mask: SigSet,
}

impl Drop for TerminalGuard<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
        let _ = self.old_mask.thread_set_mask();
    }
}

/// The signals that would end (or, Ctrl-Z, stop) the process with echo still off; they are
/// read from a signalfd instead, so the terminal is restored first, and any of them ends the
/// prompt.
fn interrupting_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGTSTP,
    ] {
        set.add(sig);
    }
    set
}

/// Ask twice with echo off; both entries must match.
fn read_from_terminal(fd: BorrowedFd<'_>) -> Result<Vec<u8>, HashError> {
    let signals = interrupting_signals();
    let old_mask = signals
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| HashError::Failed(format!("cannot block signals: {e}")))?;
    let saved = match termios::tcgetattr(fd) {
        Ok(t) => t,
        Err(e) => {
            let _ = old_mask.thread_set_mask();
            return Err(HashError::Failed(format!(
                "cannot read terminal settings: {e}"
            )));
        }
    };
    let guard = TerminalGuard {
        fd,
        saved,
        old_mask,
    };
    let sigfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| HashError::Failed(format!("signalfd: {e}")))?;
    let mut quiet = guard.saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    // TCSANOW, not TCSAFLUSH: a password typed ahead (or pasted) must not be thrown away.
    termios::tcsetattr(fd, SetArg::TCSANOW, &quiet)
        .map_err(|e| HashError::Failed(format!("cannot turn off echo: {e}")))?;
    let mut first = prompt_and_read(fd, &sigfd, "Password: ")?;
    let mut second = match prompt_and_read(fd, &sigfd, "Retype password: ") {
        Ok(p) => p,
        Err(e) => {
            ffi::zeroize_vec(&mut first);
            return Err(e);
        }
    };
    drop(guard);
    let same = first == second;
    ffi::zeroize_vec(&mut second);
    if !same {
        ffi::zeroize_vec(&mut first);
        return Err(HashError::Failed("the passwords do not match".to_string()));
    }
    Ok(first)
}

/// Prompt on stderr and read one line from the terminal, or stop at a signal.
fn prompt_and_read(
    fd: BorrowedFd<'_>,
    sigfd: &SignalFd,
    prompt: &str,
) -> Result<Vec<u8>, HashError> {
    let mut err = io::stderr();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    let mut line = Vec::new();
    let result = read_terminal_line(fd, sigfd, &mut line);
    // Echo is off, so the user's Enter did not move to the next line.
    let _ = err.write_all(b"\n");
    match result {
        Ok(()) => Ok(line),
        Err(e) => {
            ffi::zeroize_vec(&mut line);
            Err(e)
        }
    }
}

/// Fill `line` from the terminal up to a newline (or end of input), unless a signal comes.
fn read_terminal_line(
    fd: BorrowedFd<'_>,
    sigfd: &SignalFd,
    line: &mut Vec<u8>,
) -> Result<(), HashError> {
    // Bounded: each round reads at least a byte, ends the line, or returns.
    for _ in 0..=MAX_PASSWORD + 1 {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll::poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(HashError::Failed(format!("poll: {e}"))),
            Ok(_) => {}
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            if let Ok(Some(info)) = sigfd.read_signal() {
                let sig = Signal::try_from(i32::try_from(info.ssi_signo).unwrap_or(0))
                    .unwrap_or(Signal::SIGINT);
                return Err(HashError::Interrupted(sig));
            }
        }
        if fds[0].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let mut buf = [0u8; 64];
        let n = match nix::unistd::read(fd, &mut buf) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(e) => return Err(HashError::Failed(format!("cannot read the terminal: {e}"))),
        };
        let chunk = &buf[..n];
        let end = chunk.iter().position(|&b| b == b'\n');
        line.extend_from_slice(&chunk[..end.unwrap_or(n)]);
        buf.fill(0);
        if line.len() > MAX_PASSWORD {
            return Err(HashError::Failed(format!(
                "password longer than {MAX_PASSWORD} bytes"
            )));
        }
        if end.is_some() || n == 0 {
            return Ok(());
        }
    }
    Err(HashError::Failed(
        "no end of line from the terminal".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names() {
        assert_eq!(Method::parse("sha512"), Some(Method::Sha512));
        assert_eq!(Method::parse("SHA-256"), Some(Method::Sha256));
        assert_eq!(Method::parse("md5"), Some(Method::Md5));
        assert_eq!(Method::parse("des"), None);
        assert_eq!(Method::parse("yescrypt"), None);
    }

    #[test]
    fn salt_uses_the_crypt_alphabet_evenly() {
        let all: Vec<u8> = (0..=255).collect();
        let s = salt(&all);
        assert_eq!(s.len(), 256);
        for c in SALT_ALPHABET {
            // Each of the 64 characters stands for exactly 4 of the 256 byte values.
            assert_eq!(
                s.bytes().filter(|b| b == c).count(),
                4,
                "{}",
                char::from(*c)
            );
        }
    }

    #[test]
    fn hashes_verify_with_crypt_and_salts_differ() {
        for (method, prefix, salt_len) in [
            (Method::Sha512, "$6$", 16),
            (Method::Sha256, "$5$", 16),
            (Method::Md5, "$1$", 8),
        ] {
            let h = hash(b"pass word", method).expect("hash");
            assert!(h.starts_with(prefix), "{h}");
            let salt = &h[3..3 + salt_len];
            assert!(salt.bytes().all(|b| SALT_ALPHABET.contains(&b)), "{h}");
            assert_eq!(h.as_bytes()[3 + salt_len], b'$', "{h}");
            assert_eq!(
                ffi::crypt(b"pass word", h.as_bytes()).as_deref(),
                Some(h.as_bytes())
            );
            assert_ne!(
                ffi::crypt(b"pass worD", h.as_bytes()).as_deref(),
                Some(h.as_bytes())
            );
            assert_ne!(hash(b"pass word", method).expect("again"), h, "fresh salt");
        }
        assert!(hash(b"", Method::Sha512).is_err());
        assert!(hash(b"a\0b", Method::Sha512).is_err());
    }

    #[test]
    fn a_line_from_a_pipe() {
        let read = |bytes: &[u8]| read_line(&mut &bytes[..]);
        assert_eq!(read(b"secret\nmore"), Ok(b"secret".to_vec()));
        assert_eq!(read(b"with space\r\n"), Ok(b"with space".to_vec()));
        assert_eq!(read(b"no newline"), Ok(b"no newline".to_vec()));
        assert_eq!(read(b""), Ok(Vec::new()));
        assert_eq!(read(&[b'x'; MAX_PASSWORD]), Ok(vec![b'x'; MAX_PASSWORD]));
        assert!(read(&[b'x'; MAX_PASSWORD + 1]).is_err());
    }
}
