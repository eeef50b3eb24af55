//! Small downloads finished by the control thread itself, without waiting on the client.
//!
//! A 4 KiB RETR or a short listing handed to the data pool costs two thread hand-offs
//! (control -> worker -> control), more than the transfer itself. So when the client is
//! already connected to the passive port and the payload is at most [`INLINE_MAX`], the
//! control thread writes it with the data socket non-blocking: the kernel takes what fits in
//! the socket buffer and nothing ever waits on the client, so ABOR/STAT/NOOP stay answerable.
//! Whatever did not fit goes to the pool on the same connection, as any transfer does.

use crate::error::{FtpError, TransferOutcome};
use crate::transfer::Payload;
use nix::errno::Errno;
use std::io::{self, Write};
use std::net::TcpStream;

/// Largest payload tried inline: small enough that reading it from a slow flash disk keeps
/// the control thread busy for milliseconds at most.
pub const INLINE_MAX: u64 = 64 * 1024;

/// Calls per attempt: a stream that accepts a few bytes at a time goes to the pool.
const MAX_CALLS: usize = 8;

/// How far an inline attempt got.
#[derive(Debug)]
pub enum Inline {
    /// Finished: everything sent, or the connection failed.
    Done(TransferOutcome),
    /// The socket buffer filled first: what is left to send, and the bytes already sent.
    Rest(Payload, u64),
}

/// Whether `payload` may be tried inline: a binary download or a listing of at most
/// [`INLINE_MAX`] bytes, and no rate limit (the pool's loops pace transfers).
pub fn eligible(payload: &Payload, rate: u64) -> bool {
    if rate > 0 {
        return false;
    }
    match payload {
        // Only plain binary stream goes by sendfile; every other representation is encoded.
        Payload::SendFile {
            rep, offset, size, ..
        } if rep.is_plain_binary() => size.saturating_sub(*offset) <= INLINE_MAX,
        Payload::SendBytes(bytes) => bytes.len() as u64 <= INLINE_MAX,
        _ => false,
    }
}

/// Send as much of `payload` as the non-blocking `stream` takes (accept_pending makes it
/// so). The stream is left blocking again when there is a rest, ready for a pool worker.
pub fn send(payload: Payload, stream: &TcpStream) -> Inline {
    let result = match payload {
        Payload::SendFile {
            file,
            offset,
            rep,
            size,
        } if rep.is_plain_binary() => send_file(stream, &file, offset, size).map_err(|sent| {
            let rest = Payload::SendFile {
                file,
                offset: offset + sent,
                rep,
                size,
            };
            (rest, sent)
        }),
        Payload::SendBytes(mut bytes) => send_bytes(stream, &bytes).map_err(|sent| {
            bytes.drain(..usize::try_from(sent).unwrap_or(0));
            (Payload::SendBytes(bytes), sent)
        }),
        other => Err((other, 0)),
    };
    match result {
        Ok(outcome) => Inline::Done(outcome),
        Err((rest, sent)) => match stream.set_nonblocking(false) {
            Ok(()) => Inline::Rest(rest, sent),
            Err(_) => Inline::Done(TransferOutcome::ConnectionLost(sent)),
        },
    }
}

/// sendfile up to `size`, the length at open (`Ok`), or `Err(bytes sent)` when the socket is
/// full or sendfile does not work for this file (the pool then copies by hand). Stopping at
/// the size announced in the 150 saves a last call that would only confirm EOF; a file that
/// shrank meanwhile ends early, as at EOF.
fn send_file(
    stream: &TcpStream,
    file: &std::fs::File,
    offset: u64,
    size: u64,
) -> Result<TransferOutcome, u64> {
    // off64_t: 64-bit offsets on 32-bit targets too (see transfer::send_binary).
    let (Ok(start), Ok(end)) = (
        nix::libc::off64_t::try_from(offset),
        nix::libc::off64_t::try_from(size),
    ) else {
        return Err(0);
    };
    let mut off = start;
    let sent = |off: nix::libc::off64_t| u64::try_from(off - start).unwrap_or(0);
    for _ in 0..MAX_CALLS {
        let left = u64::try_from(end - off).unwrap_or(0);
        if left == 0 {
            return Ok(TransferOutcome::Complete(sent(off)));
        }
        let want = INLINE_MAX.saturating_sub(sent(off)).min(left);
        if want == 0 {
            break;
        }
        let want = usize::try_from(want).unwrap_or(0);
        match nix::sys::sendfile::sendfile64(stream, file, Some(&mut off), want) {
            Ok(0) => return Ok(TransferOutcome::Complete(sent(off))),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN | Errno::EINVAL | Errno::ENOSYS) => break,
            Err(Errno::EIO) => {
                return Ok(TransferOutcome::LocalError(FtpError::LocalError, sent(off)))
            }
            Err(_) => return Ok(TransferOutcome::ConnectionLost(sent(off))),
        }
    }
    Err(sent(off))
}

/// Write `bytes` (`Ok` when all went out), or `Err(bytes written)` when the socket is full.
fn send_bytes(mut stream: &TcpStream, bytes: &[u8]) -> Result<TransferOutcome, u64> {
    let mut sent = 0;
    for _ in 0..MAX_CALLS {
        if sent == bytes.len() {
            break;
        }
        match stream.write(&bytes[sent..]) {
            Ok(0) => return Ok(TransferOutcome::ConnectionLost(sent as u64)),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(sent as u64),
            Err(_) => return Ok(TransferOutcome::ConnectionLost(sent as u64)),
        }
    }
    if sent == bytes.len() {
        Ok(TransferOutcome::Complete(sent as u64))
    } else {
        Err(sent as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Mode, Structure};
    use crate::representation::Representation;
    use crate::test_support::TempDir;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    /// A connected loopback pair (server side, client side); `client_rcvbuf` makes it narrow.
    fn pair(client_rcvbuf: Option<usize>) -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        if let Some(size) = client_rcvbuf {
            // Set before connecting so the advertised window stays small.
            client.set_recv_buffer_size(size).unwrap();
        }
        client
            .connect(&listener.local_addr().unwrap().into())
            .unwrap();
        let (server, _) = listener.accept().unwrap();
        // As accept_pending hands it over.
        server.set_nonblocking(true).unwrap();
        if client_rcvbuf.is_some() {
            // And a small send buffer: loopback would otherwise queue the whole payload.
            socket2::SockRef::from(&server)
                .set_send_buffer_size(4096)
                .unwrap();
        }
        (server, client.into())
    }

    fn file_payload(dir: &TempDir, data: &[u8], offset: u64) -> Payload {
        let path = dir.0.join("f");
        std::fs::write(&path, data).unwrap();
        Payload::SendFile {
            file: std::fs::File::open(&path).unwrap(),
            offset,
            rep: Representation::IMAGE,
            size: data.len() as u64,
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn only_small_binary_unthrottled_downloads_qualify() {
        let dir = TempDir::new("inline-eligible");
        assert!(eligible(&file_payload(&dir, &[1; 4096], 0), 0));
        assert!(!eligible(&file_payload(&dir, &[1; 4096], 0), 1000));
        let big = vec![1; INLINE_MAX as usize + 1];
        assert!(!eligible(&file_payload(&dir, &big, 0), 0));
        // REST near the end leaves a small rest.
        assert!(eligible(&file_payload(&dir, &big, 2), 0));
        let Payload::SendFile { file, .. } = file_payload(&dir, b"x\n", 0) else {
            unreachable!()
        };
        let ascii = Payload::SendFile {
            file,
            offset: 0,
            rep: Representation::DEFAULT,
            size: 2,
        };
        assert!(!eligible(&ascii, 0));
        // Binary, but framed: not on the sendfile path.
        for (stru, mode) in [
            (Structure::Record, Mode::Stream),
            (Structure::File, Mode::Block),
            (Structure::File, Mode::Compressed),
        ] {
            let framed = Payload::SendFile {
                file: std::fs::File::open(dir.0.join("f")).unwrap(),
                offset: 0,
                rep: Representation {
                    stru,
                    mode,
                    ..Representation::IMAGE
                },
                size: 2,
            };
            assert!(!eligible(&framed, 0), "{stru:?} {mode:?}");
        }
        assert!(eligible(&Payload::SendBytes(vec![b'x'; 100]), 0));
        assert!(!eligible(&Payload::SendBytes(big), 0));
    }

    #[test]
    fn a_small_file_is_sent_whole_from_the_offset() {
        let dir = TempDir::new("inline-file");
        let data = pattern(5000);
        let (server, mut client) = pair(None);
        match send(file_payload(&dir, &data, 1000), &server) {
            Inline::Done(TransferOutcome::Complete(4000)) => {}
            other => panic!("{other:?}"),
        }
        drop(server);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, &data[1000..]);
    }

    #[test]
    fn a_file_that_grew_after_open_is_sent_as_announced() {
        let dir = TempDir::new("inline-grown");
        let data = pattern(100);
        let payload = file_payload(&dir, &data, 0);
        // Appended after the 150 announced 100 bytes: not part of this download.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.0.join("f"))
            .unwrap();
        f.write_all(&[b'+'; 50]).unwrap();
        let (server, mut client) = pair(None);
        match send(payload, &server) {
            Inline::Done(TransferOutcome::Complete(100)) => {}
            other => panic!("{other:?}"),
        }
        drop(server);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn a_full_socket_leaves_the_rest_for_the_pool() {
        let dir = TempDir::new("inline-rest");
        let data = pattern(INLINE_MAX as usize);
        for payload in [
            file_payload(&dir, &data, 0),
            Payload::SendBytes(data.clone()),
        ] {
            let (server, mut client) = pair(Some(2048));
            // The client reads nothing yet: only a window's worth can go out now.
            let (rest, sent) = match send(payload, &server) {
                Inline::Rest(rest, sent) => (rest, sent),
                other => panic!("{other:?}"),
            };
            assert!(sent < data.len() as u64, "sent {sent}");
            // Blocking again, ready for a worker: finish the rest the plain way.
            let mut server = server;
            match rest {
                Payload::SendFile { file, offset, .. } => {
                    assert_eq!(offset, sent);
                    let mut f = file;
                    use std::io::{Seek, SeekFrom};
                    f.seek(SeekFrom::Start(offset)).unwrap();
                    let t = std::thread::spawn(move || {
                        std::io::copy(&mut f, &mut server).unwrap();
                    });
                    let mut got = Vec::new();
                    client.read_to_end(&mut got).unwrap();
                    t.join().unwrap();
                    assert!(got == data, "file bytes differ");
                }
                Payload::SendBytes(bytes) => {
                    assert_eq!(bytes.len() as u64, data.len() as u64 - sent);
                    let t = std::thread::spawn(move || server.write_all(&bytes).unwrap());
                    let mut got = Vec::new();
                    client.read_to_end(&mut got).unwrap();
                    t.join().unwrap();
                    assert!(got == data, "listing bytes differ");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
