//! Uploads: the data connection into the file — the plain loop (CRLF -> LF in ASCII) and the
//! RFC 959 pipeline's input and output for every other TYPE, STRU and MODE; fsync before 226.

use super::*;
use std::io::{Read, Write};

/// Upload: read the data connection, write the file (CRLF -> LF in ASCII), fsync at the end.
pub(super) fn receive(
    mut file: File,
    ascii: bool,
    sync: bool,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
) -> Result<(), CopyError> {
    // ASCII needs half the buffer for the converted copy; binary reads into all of it.
    let split = if ascii { buf.len() / 2 } else { buf.len() };
    let (input, output) = buf.split_at_mut(split);
    let len = throttle.chunk(input.len());
    let mut crlf = CrlfToLf::default();
    let mut unflushed = 0usize;
    loop {
        let (n, next) = fill(stream, &mut input[..len], progress, throttle);
        // What arrived is written even when the connection failed: a client resumes an
        // interrupted upload from the size it finds (REST + STOR, lftp's reput).
        let data = if ascii {
            let m = crlf.convert(&input[..n], output);
            &output[..m]
        } else {
            &input[..n]
        };
        file.write_all(data)
            .map_err(|e| CopyError::Local(e.into()))?;
        unflushed += data.len();
        if sync && unflushed >= WRITEBACK_STEP {
            // Overlap the disk with the network; failure only loses the overlap, the final
            // fsync still decides.
            let _ = crate::ffi::start_writeback(&file);
            unflushed = 0;
        }
        match next {
            Filled::More => {}
            Filled::End => break,
            Filled::Failed(e) => return Err(e),
        }
    }
    file.write_all(crlf.finish())
        .map_err(|e| CopyError::Local(e.into()))?;
    if progress.is_aborted() {
        return Err(CopyError::Net);
    }
    if sync {
        // The 226 promises the bytes are on disk (a router may lose power any time).
        file.sync_data().map_err(|e| CopyError::Local(e.into()))?;
    }
    Ok(())
}

/// How the connection stood after [`fill`].
enum Filled {
    /// More may come.
    More,
    /// The upload is complete (end of stream; under TLS, after close_notify).
    End,
    /// The connection failed or was cut short, the stall rule broken, or ABOR given.
    Failed(CopyError),
}

/// Read until at least half of `buf` is full, the upload ends or the connection fails; the
/// bytes read, and which. One file write per half buffer rather than per read: under TLS a
/// read brings one record (16 KiB at most), and a write per record cost 10% more server CPU
/// for a 1 GiB PROT P upload (bench machine, 4 runs each). The rate limit and the stall rule
/// still see every read, so a trickle is cut as before.
fn fill(
    stream: &mut DataStream,
    buf: &mut [u8],
    progress: &Progress,
    throttle: &mut Throttle,
) -> (usize, Filled) {
    let mut n = 0;
    while n == 0 || n < buf.len() / 2 {
        match stream.read(&mut buf[n..]) {
            Ok(0) => return (n, Filled::End),
            Ok(m) => {
                n += m;
                progress.add(m as u64);
                if let Err(e) = throttle.after(m, progress) {
                    return (n, Filled::Failed(e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (n, Filled::Failed(CopyError::Net)),
        }
    }
    (n, Filled::More)
}

/// The data socket as the pipeline's input: counts progress, paces, stops at ABOR.
struct NetIn<'a> {
    stream: &'a mut DataStream,
    progress: &'a Progress,
    throttle: &'a mut Throttle,
    failure: Option<CopyError>,
}

impl Read for NetIn<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.is_aborted() {
            self.failure = Some(CopyError::Net);
            return Err(io::Error::other("aborted"));
        }
        let len = self.throttle.chunk(buf.len());
        let n = self.stream.read(&mut buf[..len]).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failure = Some(CopyError::Net);
            }
        })?;
        self.progress.add(n as u64);
        if let Err(e) = self.throttle.after(n, self.progress) {
            self.failure = Some(e);
            return Err(io::Error::other("transfer stopped"));
        }
        Ok(n)
    }
}

/// The upload's file as the pipeline's output: starts writeback as it goes when the upload
/// will be synced.
struct FileOut<'a> {
    file: &'a File,
    sync: bool,
    unflushed: usize,
}

impl Write for FileOut<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (&*self.file).write(buf)?;
        self.unflushed += n;
        if self.sync && self.unflushed >= WRITEBACK_STEP {
            // As in `receive`: overlap the disk with the network.
            let _ = crate::ffi::start_writeback(self.file);
            self.unflushed = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Upload in any TYPE, STRU and MODE but the plain ones: through the pipeline, restart
/// markers passed to `mark`; fsync at the end as `receive` does.
#[allow(clippy::too_many_arguments)]
pub(super) fn receive_coded(
    file: File,
    rep: Representation,
    base: u64,
    sync: bool,
    stream: &mut DataStream,
    progress: &Progress,
    throttle: &mut Throttle,
    buf: &mut [u8],
    mark: &mut dyn FnMut(Marker, u64),
) -> Result<(), CopyError> {
    let mut input = NetIn {
        stream,
        progress,
        throttle,
        failure: None,
    };
    let out = FileOut {
        file: &file,
        sync,
        unflushed: 0,
    };
    match representation::receive(rep, &mut input, out, base, buf, mark) {
        Ok(()) => {}
        Err(PipeError::Write(e)) => return Err(CopyError::Local(e.into())),
        Err(PipeError::Read(_)) => return Err(input.failure.take().unwrap_or(CopyError::Net)),
        Err(PipeError::Decode(e)) => {
            log::info!("upload data broke its transfer mode's encoding: {e}");
            return Err(CopyError::Net);
        }
    }
    if progress.is_aborted() {
        return Err(CopyError::Net);
    }
    if sync {
        // The 226 promises the bytes are on disk.
        file.sync_data().map_err(|e| CopyError::Local(e.into()))?;
    }
    Ok(())
}
