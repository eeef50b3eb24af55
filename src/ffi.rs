//! The one audited place for `unsafe`: libc `crypt_r(3)`, volatile zeroing of secrets, `fork(2)`,
//! `sync_file_range(2)`, `flock(2)`, `renameat2(2)` with `RENAME_NOREPLACE`, ignoring `SIGXFSZ`,
//! owning a descriptor inherited from the service manager, and (feature `test-hooks` only)
//! installing a seccomp filter.
//!
//! The crate denies `unsafe_code` (src/lib.rs); this module alone allows it. Each block says
//! why it is sound in a `SAFETY:` comment, and each function here is a safe wrapper.

#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};
use std::io;

mod sys {
    use std::ffi::{c_char, c_void};

    // glibc moved crypt_r() into libcrypt (libxcrypt on current distributions); musl keeps it
    // in libc itself, so a static musl binary needs no extra library.
    #[cfg_attr(target_env = "gnu", link(name = "crypt"))]
    extern "C" {
        pub fn crypt_r(
            key: *const c_char,
            setting: *const c_char,
            data: *mut c_void,
        ) -> *mut c_char;
    }
}

/// Bytes reserved for `struct crypt_data`, which each libc sizes differently: musl's is 260
/// bytes, libxcrypt's 32 KiB, the classic glibc one 128 KiB.
const CRYPT_DATA_BYTES: usize = if cfg!(target_env = "musl") {
    4096
} else {
    132 * 1024
};

/// A private anonymous mapping for crypt_r's work area. Not the heap: glibc's allocator would
/// keep (and calloc would dirty) 132 KiB in every thread arena that ever logged someone in,
/// where a mapping costs only the pages crypt_r touches. Its pages start zeroed (as
/// `initialized = 0` requires) and leave with `munmap`, key-derived state included.
struct CryptArea {
    ptr: *mut std::ffi::c_void,
}

impl CryptArea {
    fn new() -> Option<CryptArea> {
        use nix::libc;
        // SAFETY: an anonymous private mapping with no address hint and no fd touches no
        // existing memory; the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CRYPT_DATA_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(CryptArea { ptr })
    }
}

impl Drop for CryptArea {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the start of a live mapping of CRYPT_DATA_BYTES made in `new`, and
        // no reference into it outlives this struct (crypt_r's result is copied out first).
        unsafe { nix::libc::munmap(self.ptr, CRYPT_DATA_BYTES) };
    }
}

/// Hash `key` with the crypt(3) `setting` (`$6$salt`, or a whole stored hash); `None` on failure.
/// Uses `crypt_r` with a work area per call, so logins on different threads hash in parallel.
pub fn crypt(key: &[u8], setting: &[u8]) -> Option<Vec<u8>> {
    // A NUL would silently truncate the C string: refuse rather than hash a shorter key.
    if key.contains(&0) || setting.contains(&0) {
        return None;
    }
    let mut key_c = Vec::with_capacity(key.len() + 1);
    key_c.extend_from_slice(key);
    key_c.push(0);
    let mut setting_c = Vec::with_capacity(setting.len() + 1);
    setting_c.extend_from_slice(setting);
    setting_c.push(0);
    let area = CryptArea::new();

    // SAFETY: both strings are NUL-terminated with no interior NUL and outlive the call; the
    // area is a zeroed, page-aligned mapping at least as large as this libc's struct
    // crypt_data (see CRYPT_DATA_BYTES), used by nothing else. crypt_r returns NULL or a
    // pointer to a NUL-terminated string inside the area, copied out before it is unmapped.
    let result = area.as_ref().and_then(|area| unsafe {
        let out = sys::crypt_r(
            key_c.as_ptr().cast::<c_char>(),
            setting_c.as_ptr().cast::<c_char>(),
            area.ptr,
        );
        if out.is_null() {
            None
        } else {
            Some(CStr::from_ptr(out).to_bytes().to_vec())
        }
    });
    drop(area);
    zeroize_vec(&mut key_c);
    // libxcrypt and musl report failure as a string starting with '*' ("*0", "*1") rather
    // than NULL; such a string must never be compared with a stored hash.
    // musl instead returns "x" for an unusable setting, and silently falls back to DES for an
    // unknown `$id$`: only an output in the method the setting asked for counts.
    let prefix = method_prefix(setting)?;
    match result {
        Some(hash) if hash.starts_with(prefix) && hash.len() > prefix.len() => Some(hash),
        _ => None,
    }
}

/// The `$id$` a modular crypt setting starts with (`$6$` for `$6$salt$...`); `None` for DES
/// or anything else without one, which no supported hash uses.
fn method_prefix(setting: &[u8]) -> Option<&[u8]> {
    let rest = setting.strip_prefix(b"$")?;
    let end = rest.iter().position(|&b| b == b'$')?;
    Some(&setting[..end + 2])
}

/// Overwrite a vector's whole allocation (length and spare capacity) with zeros, then empty it.
pub fn zeroize_vec(buf: &mut Vec<u8>) {
    let ptr = buf.as_mut_ptr();
    for i in 0..buf.capacity() {
        // SAFETY: `ptr` points to an allocation of `capacity()` bytes owned by `buf`, and `i` is
        // below it; writing a `u8` into spare capacity is allowed (it is only uninitialised
        // memory). Volatile writes keep the compiler from eliding stores to memory about to
        // be freed.
        unsafe { std::ptr::write_volatile(ptr.add(i), 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    buf.clear();
}

/// Which side of [`fork_single_threaded`] the caller is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forked {
    /// The original process; the child's pid.
    Parent(i32),
    /// The new process.
    Child,
}

/// `fork(2)`, refused unless the process has exactly one thread.
pub fn fork_single_threaded() -> io::Result<Forked> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(io::Error::other(format!(
            "refusing to fork a process with {threads} threads (fork before spawning any)"
        )));
    }
    // SAFETY: fork() in a multithreaded process leaves the child with only async-signal-safe
    // functions until exec (another thread may have held the allocator's or stdio's lock).
    // The process has exactly one thread, counted just above; no thread can appear in
    // between, since the only thread that could spawn one is this one. With one thread the
    // child is an ordinary copy of the process and may do anything.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child.as_raw())),
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Err(e) => Err(e.into()),
    }
}

/// Threads of this process, counted in `/proc/self/task`.
fn thread_count() -> io::Result<usize> {
    // Fail closed: without /proc the single-thread precondition cannot be checked.
    let entries = std::fs::read_dir("/proc/self/task").map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot count threads in /proc/self/task (is /proc mounted?): {e}"),
        )
    })?;
    Ok(entries.filter(Result::is_ok).count())
}

/// Start writing back the dirty pages of `file` without waiting (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE` over the whole file): an upload's final fsync then has little left
/// to do, and dirty memory stays small on a device with little RAM.
pub fn start_writeback(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on a valid, open descriptor borrowed for the call; offset 0 and
    // length 0 mean "to the end of the file"; no memory is passed.
    let rc = unsafe {
        nix::libc::sync_file_range(file.as_raw_fd(), 0, 0, nix::libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Take an exclusive `flock(2)` on `fd` without waiting: `Ok(true)` locked, `Ok(false)` another
/// open file description holds a lock, `Err` when the file system cannot lock. The lock is
/// never released explicitly: it ends when the last descriptor of this open file closes,
/// or when the process dies, however it dies.
pub fn try_lock_exclusive(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<bool> {
    use nix::libc;
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: plain syscall on a valid descriptor borrowed for the call; no memory passed.
        let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// Rename `old` in `old_dir` to `new` in `new_dir` only if `new` does not exist, atomically
/// (`renameat2(2)` with `RENAME_NOREPLACE`): EEXIST if it does. ENOSYS before Linux 3.15,
/// EINVAL where the file system does not offer the flag. A raw syscall: nix wraps renameat2
/// only for glibc, and musl has a wrapper only since 1.2.5.
pub fn rename_noreplace(
    old_dir: std::os::fd::BorrowedFd<'_>,
    old: &[u8],
    new_dir: std::os::fd::BorrowedFd<'_>,
    new: &[u8],
) -> io::Result<()> {
    use nix::libc;
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    let c =
        |name: &[u8]| CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let (old, new) = (c(old)?, c(new)?);
    // SAFETY: both names are NUL-terminated strings that outlive the call, the descriptors are
    // borrowed open for its duration, and the flags argument is a plain integer; the kernel
    // reads nothing else.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Take ownership of descriptor `fd`, inherited from the process that started us (socket
/// activation passes sockets from fd 3 on); an error if no such descriptor is open.
///
/// Call it once per inherited number, before anything else could open a file with that number:
/// at startup, before any thread exists.
pub fn own_inherited_fd(fd: std::os::fd::RawFd) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // 0-2 belong to std's stdin, stdout and stderr, which would close them a second time.
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(nix::libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; any int is a valid argument (EBADF
    // for one that is not open).
    if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (checked just above) and was passed to this process alone; per the
    // contract above nothing else in the process holds or will close this number, so the
    // OwnedFd is its only owner.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Ignore `SIGXFSZ` for the whole process. Under a file size limit (`ulimit -f`,
/// RLIMIT_FSIZE, common on devices) a write past it raises SIGXFSZ, whose default action kills
/// the process: every session would die for one upload. Ignored, the write fails with EFBIG
/// instead and only that upload ends (552).
pub fn ignore_sigxfsz() -> io::Result<()> {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installs SIG_IGN, not a handler, so no code runs in signal context; the
    // disposition is process-wide and nothing in this program sets another one for SIGXFSZ.
    unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) }
        .map(|_| ())
        .map_err(io::Error::from)
}

/// Set `PR_SET_NO_NEW_PRIVS` on the calling thread: neither it nor any program it executes can
/// gain privileges again. An unprivileged [`install_seccomp_filter`] requires it.
#[cfg(feature = "test-hooks")]
pub fn set_no_new_privs() -> io::Result<()> {
    use nix::libc;
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory of ours.
    // It is required before an unprivileged PR_SET_SECCOMP and only ever removes privileges.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Install the classic-BPF `program` as a seccomp filter (`SECCOMP_MODE_FILTER`) of the calling
/// thread and of the threads and processes it creates afterwards; it cannot be removed. Needs
/// [`set_no_new_privs`] first (or CAP_SYS_ADMIN). EINVAL for a program over `u16::MAX`
/// instructions, and from a kernel without CONFIG_SECCOMP_FILTER or under qemu-user.
#[cfg(feature = "test-hooks")]
pub fn install_seccomp_filter(program: &[nix::libc::sock_filter]) -> io::Result<()> {
    use nix::libc;
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        // The C struct's pointer is `*mut`, but the kernel only reads the program.
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, a valid array of `len` instructions that outlives the
    // call; the kernel copies the program before returning and keeps no pointer into our memory.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Syscalls made directly, past libc and its fallbacks, so that a test sees exactly what the
/// kernel (or a seccomp filter) answers: the old-kernel filter's test in src/oldkernel.rs.
#[cfg(all(test, feature = "test-hooks"))]
pub(crate) mod raw {
    use nix::libc;
    use std::ffi::CStr;
    use std::io;

    fn check(rc: libc::c_long) -> io::Result<libc::c_long> {
        if rc == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }

    /// `getrandom(2)` into `buf`, no flags: the number of bytes written.
    pub fn getrandom(buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`, which is that long and
        // borrowed mutably for the call.
        let rc = unsafe { libc::syscall(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), 0) };
        check(rc).map(|n| n as usize)
    }

    /// `statx(2)` of `path` (relative to the working directory), basic fields, result discarded.
    pub fn statx(path: &CStr) -> io::Result<()> {
        let mut buf = [0u64; 32]; // >= sizeof(struct statx) = 256
                                  // SAFETY: the path is NUL-terminated (a CStr); `buf` has room for a struct statx and is
                                  // 8-byte aligned, as the struct's u64 fields need.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_statx,
                libc::AT_FDCWD,
                path.as_ptr(),
                0,
                0x7ff, // STATX_BASIC_STATS
                buf.as_mut_ptr(),
            )
        };
        check(rc).map(drop)
    }

    /// `close_range(2)` of a range no descriptor can be in (`u32::MAX..=u32::MAX`): whether the
    /// call exists, without closing anything.
    pub fn close_range_of_nothing() -> io::Result<()> {
        // SAFETY: plain integer arguments, no memory passed. Descriptors are ints below
        // RLIMIT_NOFILE, so none is numbered u32::MAX: nothing owned elsewhere (an OwnedFd, std's
        // stdio) is closed behind its owner's back.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, 0) };
        check(rc).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Generated once with `openssl passwd -6 -salt Zk3pQ9rTxY2bW7mN 'correct horse'`.
    const SHA512: &str = "$6$Zk3pQ9rTxY2bW7mN$PLFlBDb8JSdHq38HJ.uk11e1UknW2dod..Fik/TsPnzBjBsQoXsuGMYn0H1Y895Aa0psNwtk4aUlkIcEjx1XO0";

    #[test]
    fn crypt_reproduces_a_known_hash() {
        let out = crypt(b"correct horse", SHA512.as_bytes());
        assert_eq!(out.as_deref(), Some(SHA512.as_bytes()));
    }

    #[test]
    fn crypt_with_wrong_key_differs() {
        let out = crypt(b"wrong", SHA512.as_bytes()).expect("hash");
        assert_ne!(out, SHA512.as_bytes());
    }

    #[test]
    fn crypt_refuses_nul_bytes() {
        assert_eq!(crypt(b"a\0b", SHA512.as_bytes()), None);
        assert_eq!(crypt(b"ab", b"$6$salt\0"), None);
    }

    #[test]
    fn crypt_rejects_an_invalid_setting() {
        // "*" as a setting makes crypt fail; libxcrypt returns "*0" and glibc NULL.
        assert_eq!(crypt(b"x", b"*"), None);
        assert_eq!(crypt(b"x", b"$9$nosuchmethod$"), None);
    }

    #[test]
    fn crypt_is_safe_from_many_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..3 {
                        let out = crypt(b"correct horse", SHA512.as_bytes());
                        assert_eq!(out.as_deref(), Some(SHA512.as_bytes()));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
    }

    #[test]
    fn zeroize_clears_contents_and_spare_capacity() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"secret");
        zeroize_vec(&mut v);
        assert!(v.is_empty());
        assert!(v.capacity() >= 16);
        // Reading back through the spare capacity shows zeros.
        let spare: Vec<u8> = v
            .spare_capacity_mut()
            .iter()
            .take(6)
            // SAFETY: zeroize_vec wrote a zero into every byte of the allocation, so these
            // spare-capacity bytes are initialised.
            .map(|b| unsafe { b.assume_init() })
            .collect();
        assert_eq!(spare, vec![0u8; 6]);
    }

    #[test]
    fn flock_is_exclusive_between_open_files_of_one_process() {
        use std::os::fd::AsFd;
        let path = std::env::temp_dir().join(format!("ferroftpd-flock-{}", std::process::id()));
        let a = std::fs::File::create(&path).expect("create");
        let b = std::fs::File::open(&path).expect("open");
        assert!(try_lock_exclusive(a.as_fd()).expect("lock a"));
        // Another open file description, even in this process, sees the lock.
        assert!(!try_lock_exclusive(b.as_fd()).expect("lock b"));
        // A duplicate shares the lock: it is released only when both are closed.
        let a2 = a.try_clone().expect("dup");
        drop(a);
        assert!(!try_lock_exclusive(b.as_fd()).expect("lock b while a dup lives"));
        drop(a2);
        assert!(try_lock_exclusive(b.as_fd()).expect("lock b after close"));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn rename_noreplace_refuses_a_taken_name() {
        use std::fs;
        use std::os::fd::AsFd;
        let dir = std::env::temp_dir().join(format!("ferroftpd-rnr-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("a"), b"A").expect("a");
        fs::write(dir.join("b"), b"B").expect("b");
        let d = fs::File::open(&dir).expect("open dir");
        let (fd, cleanup) = (d.as_fd(), || fs::remove_dir_all(&dir));
        match rename_noreplace(fd, b"a", fd, b"b") {
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => {}
            // An old kernel or a file system without the flag: the jail falls back.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::ENOSYS | nix::libc::EINVAL)
                ) =>
            {
                eprintln!("SKIP: renameat2(RENAME_NOREPLACE) unavailable here: {e}");
                let _ = cleanup();
                return;
            }
            other => panic!("rename onto a taken name: {other:?}"),
        }
        assert_eq!(fs::read(dir.join("a")).ok().as_deref(), Some(&b"A"[..]));
        assert_eq!(fs::read(dir.join("b")).ok().as_deref(), Some(&b"B"[..]));
        rename_noreplace(fd, b"a", fd, b"c").expect("rename to a free name");
        assert_eq!(fs::read(dir.join("c")).ok().as_deref(), Some(&b"A"[..]));
        assert!(!dir.join("a").exists());
        let nul = rename_noreplace(fd, b"c\0x", fd, b"d").expect_err("NUL in a name");
        assert_eq!(nul.raw_os_error(), Some(nix::libc::EINVAL));
        let _ = cleanup();
    }

    #[test]
    fn fork_is_refused_with_threads_running() {
        // The test harness runs this on a thread of its own, so there are at least two.
        let other = std::thread::spawn(|| std::thread::park_timeout(Duration::from_secs(5)));
        assert!(thread_count().expect("count") >= 2);
        let err = fork_single_threaded().expect_err("must refuse");
        assert!(err.to_string().contains("threads"), "{err}");
        other.thread().unpark();
        other.join().expect("thread");
    }
}
