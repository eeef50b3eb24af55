//! Downloads: the bytes of a file onto the data connection — sendfile for plain binary (and
//! binary block mode on a plain socket), a read/write loop for ASCII and under TLS, and the
//! socket as the RFC 959 pipeline's output.

use super::*;
use std::io::Write;
use std::os::fd::AsRawFd;

pub(super) fn write_net(stream: &mut DataStream, data: &[u8]) -> Result<(), CopyError> {
    stream.write_all(data).map_err(|_| CopyError::Net)
}

/// Binary download with sendfile(2): no copy through user space (a plain socket only; TLS
/// data is copied through rustls with the worker's buffer).
pub(super) fn send_binary(
    file: &File,
    offset: u64,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut Vec<u8>,
) -> Result<(), CopyError> {
    use nix::errno::Errno;
    use std::io::Seek;
    let Some(socket) = stream.plain() else {
        let mut f = file.try_clone().map_err(|e| CopyError::Local(e.into()))?;
        f.seek(io::SeekFrom::Start(offset))
            .map_err(|e| CopyError::Local(e.into()))?;
        return send_copy(&mut f, stream, progress, throttle, scratch(buf), false);
    };
    // off64_t: a 64-bit offset even on 32-bit glibc, where off_t would wrap past 2 GiB.
    let mut off: nix::libc::off64_t =
        i64::try_from(offset).map_err(|_| CopyError::Local(FtpError::LocalError))?;
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let chunk = throttle.chunk(SENDFILE_CHUNK);
        match nix::sys::sendfile::sendfile64(socket, file, Some(&mut off), chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                progress.add(n as u64);
                throttle.after(n, progress)?;
            }
            Err(Errno::EINTR) => continue,
            // sendfile unsupported for this file (some FUSE/proc files): copy by hand.
            Err(Errno::EINVAL | Errno::ENOSYS) => {
                let start = u64::try_from(off).unwrap_or(offset);
                let mut f = file.try_clone().map_err(|e| CopyError::Local(e.into()))?;
                f.seek(io::SeekFrom::Start(start))
                    .map_err(|e| CopyError::Local(e.into()))?;
                return send_copy(&mut f, stream, progress, throttle, scratch(buf), false);
            }
            Err(Errno::EIO) => return Err(CopyError::Local(FtpError::LocalError)),
            Err(_) => return Err(CopyError::Net),
        }
    }
}

/// Binary block-mode download: each block's 3-byte header is sent with MSG_MORE, so it leaves
/// in one segment with the `sendfile` of its up to 65535 bytes that follows; restart markers
/// between blocks every `MARKER_EVERY` bytes. Where sendfile does not work for the file, the
/// rest is read and written. The size at open is the plan (the header counts bytes before
/// they are sent): a file that shrinks meanwhile ends the transfer with 451.
pub(super) fn send_blocks(
    file: &File,
    offset: u64,
    size: u64,
    stream: &TcpStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut Vec<u8>,
) -> Result<(), CopyError> {
    use crate::codec::block;
    use nix::sys::socket::{send, MsgFlags};
    // nix names no MSG_MORE; the kernel has had it since 2.4.4.
    let more = MsgFlags::from_bits_retain(nix::libc::MSG_MORE);
    let send_all = |bytes: &[u8], flags: MsgFlags| -> Result<(), CopyError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match send(stream.as_raw_fd(), rest, flags) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Err(CopyError::Net),
            }
        }
        progress.add(bytes.len() as u64);
        Ok(())
    };
    let (mut pos, mut last_marker) = (offset, offset);
    let mut by_sendfile = true;
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let (count, desc) = representation::binary_block(pos, size);
        let header = block::header(desc, count as u16);
        send_all(&header, more)?;
        let mut left = count;
        while left > 0 {
            if progress.is_aborted() {
                return Err(CopyError::Net);
            }
            let n = if by_sendfile {
                match sendfile_at(stream, file, pos, throttle.chunk(left)) {
                    Ok(n) => n,
                    Err(SendfileError::Unsupported) => {
                        by_sendfile = false;
                        continue;
                    }
                    Err(SendfileError::Copy(e)) => return Err(e),
                }
            } else {
                let chunk = scratch(buf);
                let want = left.min(chunk.len());
                let n = read_at(file, pos, &mut chunk[..want])?;
                if n > 0 {
                    (&*stream)
                        .write_all(&chunk[..n])
                        .map_err(|_| CopyError::Net)?;
                }
                n
            };
            if n == 0 {
                // The file shrank below the count its header announced.
                return Err(CopyError::Local(FtpError::LocalError));
            }
            pos += n as u64;
            left -= n;
            progress.add(n as u64);
            throttle.after(n, progress)?;
        }
        if desc == crate::codec::Descriptor::EOF {
            return Ok(());
        }
        if representation::marker_due(pos, last_marker) {
            let marker = Marker::from_offset(pos);
            let m = marker.as_bytes();
            let mut unit = [0u8; block::HEADER_LEN + crate::codec::MAX_MARKER];
            unit[..block::HEADER_LEN].copy_from_slice(&block::header(
                crate::codec::Descriptor::RESTART,
                m.len() as u16,
            ));
            unit[block::HEADER_LEN..block::HEADER_LEN + m.len()].copy_from_slice(m);
            send_all(&unit[..block::HEADER_LEN + m.len()], more)?;
            last_marker = pos;
        }
    }
}

enum SendfileError {
    /// sendfile does not work for this file: copy by hand.
    Unsupported,
    Copy(CopyError),
}

/// One sendfile call of up to `len` bytes from file offset `pos`.
fn sendfile_at(
    stream: &TcpStream,
    file: &File,
    pos: u64,
    len: usize,
) -> Result<usize, SendfileError> {
    use nix::errno::Errno;
    let mut off: nix::libc::off64_t = i64::try_from(pos)
        .map_err(|_| SendfileError::Copy(CopyError::Local(FtpError::LocalError)))?;
    loop {
        return match nix::sys::sendfile::sendfile64(stream, file, Some(&mut off), len) {
            Ok(n) => Ok(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EINVAL | Errno::ENOSYS) => Err(SendfileError::Unsupported),
            Err(Errno::EIO) => Err(SendfileError::Copy(CopyError::Local(FtpError::LocalError))),
            Err(_) => Err(SendfileError::Copy(CopyError::Net)),
        };
    }
}

/// pread into `buf`: the bytes read (0 at the end of the file).
fn read_at(file: &File, pos: u64, buf: &mut [u8]) -> Result<usize, CopyError> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, pos) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Local(e.into())),
        }
    }
}

/// Download by read and write: ASCII type sends every LF as CRLF (RFC 959 §3.1.1.1); binary
/// type comes here only where sendfile cannot be used.
pub(super) fn send_copy(
    file: &mut File,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
    ascii: bool,
) -> Result<(), CopyError> {
    // ASCII input takes a third of the buffer so the doubled worst case fits in the rest.
    let split = if ascii { buf.len() / 3 } else { buf.len() };
    let (input, output) = buf.split_at_mut(split);
    let len = throttle.chunk(input.len());
    loop {
        if progress.is_aborted() {
            return Err(CopyError::Net);
        }
        let n = read_file(file, &mut input[..len])?;
        if n == 0 {
            return Ok(());
        }
        let data: &[u8] = if ascii {
            let m = lf_to_crlf(&input[..n], output);
            &output[..m]
        } else {
            &input[..n]
        };
        write_net(stream, data)?;
        progress.add(data.len() as u64);
        throttle.after(data.len(), progress)?;
    }
}

/// The data socket as the pipeline's output: counts progress, paces, stops at ABOR.
pub(super) struct NetOut<'a> {
    pub(super) stream: &'a mut DataStream,
    pub(super) progress: &'a Progress,
    pub(super) throttle: &'a mut Throttle,
    /// Why the last write failed, for the outcome (the pipeline sees an `io::Error`).
    pub(super) failure: Option<CopyError>,
}

impl NetOut<'_> {
    fn account(&mut self, written: io::Result<usize>) -> io::Result<usize> {
        let n = written.inspect_err(|_| self.failure = Some(CopyError::Net))?;
        self.progress.add(n as u64);
        if let Err(e) = self.throttle.after(n, self.progress) {
            self.failure = Some(e);
            return Err(io::Error::other("transfer stopped"));
        }
        Ok(n)
    }

    fn check_abort(&mut self) -> io::Result<()> {
        if self.progress.is_aborted() {
            self.failure = Some(CopyError::Net);
            return Err(io::Error::other("aborted"));
        }
        Ok(())
    }
}

impl Write for NetOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_abort()?;
        let len = self.throttle.chunk(buf.len());
        let written = self.stream.write(&buf[..len]);
        self.account(written)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if self.throttle.limiter.is_some() {
            // Paced: one piece at a time, each at most a chunk.
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.write(first);
        }
        self.check_abort()?;
        let written = self.stream.write_vectored(bufs);
        self.account(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
