//! Test switch that makes this process see a Linux 3.10 kernel: later syscalls fail with ENOSYS.
//!
//! Routers and NAS boxes still run 3.x and 4.x kernels, so nothing in ferroftpd (or in std, or
//! in musl) may need a syscall newer than 3.10 without a fallback. Development machines run new
//! kernels, where the fallback paths never execute. `deny_new_syscalls` installs a seccomp-BPF
//! filter that answers every syscall added after 3.10 with ENOSYS, exactly what an old kernel
//! says, so the whole test suite can exercise the fallbacks (startup calls it when
//! `FERROFTPD_OLD_KERNEL=1`).
//!
//! Denied:
//! * by name, the 3.11..4.20 additions: sched_{set,get}attr (3.14), renameat2 (3.15), seccomp,
//!   getrandom, memfd_create (3.17), bpf (3.18), execveat (3.19), userfaultfd, membarrier (4.3),
//!   mlock2 (4.4), copy_file_range (4.5), preadv2, pwritev2 (4.6), pkey_* (4.9), statx (4.11),
//!   io_pgetevents (4.18);
//! * by range, everything numbered 403 and up (plus the o32 base of 4000 on MIPS): since 5.1 all
//!   architectures share one numbering, 403..=423 being the 32-bit time64 calls (clock_gettime64,
//!   futex_time64, ...) and 424.. the rest: pidfd_*, io_uring_*, clone3, close_range, openat2,
//!   faccessat2, epoll_pwait2, futex_waitv, fchmodat2 and whatever comes next;
//! * on x86_64, every x32-ABI syscall (their numbers carry bit 30 and bypass the checks above);
//! * every syscall made with another architecture's calling convention (the numbers would mean
//!   something else), e.g. `int 0x80` from an x86_64 process.
//!
//! And one flag: `openat` with `O_TMPFILE` (3.11) answers EISDIR, as 3.10 does (it ignores the
//! unknown flag and refuses to open a directory for writing), so the named-temporary fallback
//! of atomic uploads runs. Only `openat` is checked: it is the only open the jail makes.
//!
//! Allowed although new: rseq (4.18). glibc registers the main thread with rseq before `main`,
//! and then treats a failed registration of a later thread as fatal ("rseq registration
//! failed", abort). A real old kernel refuses the main thread too, and glibc then never asks
//! again; the filter, installed after startup, cannot recreate that, so it leaves rseq alone.
//! musl does not use rseq.
//!
//! Limits: the filter covers the calling thread and the threads and processes it creates
//! afterwards, so call it first thing in `main`, before any thread exists. It cannot be removed.
//! qemu-user refuses seccomp filters (EINVAL): it would have to filter its own host syscalls.
//! 32-bit x86, here only a test vehicle, keeps its own 4.3 additions (the direct socket calls
//! that replaced socketcall) allowed.

use nix::libc;
use std::io;

type SockFilter = libc::sock_filter;

/// `AUDIT_ARCH_*` from linux/audit.h: the ELF machine, `__AUDIT_ARCH_64BIT` (0x8000_0000) and
/// `__AUDIT_ARCH_LE` (0x4000_0000). The libc crate does not export these.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E); // EM_X86_64 = 62
#[cfg(target_arch = "x86")]
const AUDIT_ARCH: Option<u32> = Some(0x4000_0003); // EM_386 = 3
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(if cfg!(target_endian = "little") {
    0xC000_00B7
} else {
    0x8000_00B7
}); // EM_AARCH64 = 183
#[cfg(target_arch = "arm")]
const AUDIT_ARCH: Option<u32> = Some(if cfg!(target_endian = "little") {
    0x4000_0028
} else {
    0x0000_0028
}); // EM_ARM = 40
#[cfg(target_arch = "mips")]
const AUDIT_ARCH: Option<u32> = Some(if cfg!(target_endian = "little") {
    0x4000_0008
} else {
    0x0000_0008
}); // EM_MIPS = 8, o32
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "mips"
)))]
const AUDIT_ARCH: Option<u32> = None;

/// Offset of this ABI's syscall numbers: 4000 for MIPS o32, 0 elsewhere. pidfd_send_signal is
/// the first syscall of 5.1, numbered 424 on every architecture.
const NR_BASE: libc::c_long = libc::SYS_pidfd_send_signal - 424;
/// First number of the shared 5.1+ block: the 32-bit time64 calls start at 403.
const FIRST_UNIFIED: libc::c_long = NR_BASE + 403;
/// End of the ordinary syscall space. Above it live arch-private calls that old kernels have
/// too (ARM's cacheflush and set_tls at 0xf0000..) and must stay allowed.
const END_UNIFIED: libc::c_long = NR_BASE + 1024;

/// io_pgetevents (4.18), and rseq, which stays allowed (module docs). libc 0.2 lacks both for
/// 32-bit musl, so they are spelled out from the kernel's arch/*/tbl files.
#[cfg(target_arch = "x86_64")]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [333, 334];
#[cfg(target_arch = "x86")]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [385, 386];
#[cfg(target_arch = "aarch64")]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [292, 293];
#[cfg(target_arch = "arm")]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [399, 398];
#[cfg(target_arch = "mips")]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [4368, 4367];
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "mips"
)))]
const IO_PGETEVENTS_RSEQ: [libc::c_long; 2] = [-1, -1];

/// Syscalls of Linux 3.11 to 4.20, before the numbering was unified in 5.1.
const NEW_BEFORE_5_1: [libc::c_long; 19] = [
    libc::SYS_sched_setattr,
    libc::SYS_sched_getattr,
    libc::SYS_renameat2,
    libc::SYS_seccomp,
    libc::SYS_getrandom,
    libc::SYS_memfd_create,
    libc::SYS_bpf,
    libc::SYS_execveat,
    libc::SYS_userfaultfd,
    libc::SYS_membarrier,
    libc::SYS_mlock2,
    libc::SYS_copy_file_range,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_pkey_mprotect,
    libc::SYS_pkey_alloc,
    libc::SYS_pkey_free,
    libc::SYS_statx,
    IO_PGETEVENTS_RSEQ[0],
];

/// x86_64's `__X32_SYSCALL_BIT`.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: Option<u32> = Some(0x4000_0000);
#[cfg(not(target_arch = "x86_64"))]
const X32_SYSCALL_BIT: Option<u32> = None;

/// Install the filter on the calling thread (see the module docs). Errors: `Unsupported` on an
/// architecture without a table here; the prctl error otherwise (EINVAL under qemu-user or
/// on a kernel built without CONFIG_SECCOMP_FILTER).
pub fn deny_new_syscalls() -> io::Result<()> {
    let Some(arch) = AUDIT_ARCH else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no syscall table for this architecture",
        ));
    };
    let program = filter_program(arch);
    crate::ffi::set_no_new_privs()?;
    crate::ffi::install_seccomp_filter(&program)
}

/// Where a conditional jump goes.
#[derive(Clone, Copy)]
enum To {
    Next,
    /// Over this many following instructions.
    Skip(usize),
    Allow,
    Deny,
    Eisdir,
}

/// `__O_TMPFILE`: the bit `O_TMPFILE` adds to `O_DIRECTORY`.
const TMPFILE_BIT: u32 = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u32;
/// Offset of the low 32 bits of `args[2]` (openat's flags) in `struct seccomp_data`: the
/// arguments are 64-bit from offset 16 on every architecture.
const OFFSET_ARG2_LOW: u32 = if cfg!(target_endian = "little") {
    32
} else {
    36
};

/// A BPF instruction before its jump offsets are known.
struct Insn {
    code: u32,
    k: u32,
    jt: To,
    jf: To,
}

fn stmt(code: u32, k: u32) -> Insn {
    Insn {
        code,
        k,
        jt: To::Next,
        jf: To::Next,
    }
}

fn jump(code: u32, k: u32, jt: To, jf: To) -> Insn {
    Insn {
        code: libc::BPF_JMP | code | libc::BPF_K,
        k,
        jt,
        jf,
    }
}

/// The classic-BPF program over `struct seccomp_data { int nr; u32 arch; ... }`.
fn filter_program(arch: u32) -> Vec<SockFilter> {
    const OFFSET_NR: u32 = 0;
    const OFFSET_ARCH: u32 = 4;
    let load_word = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;

    let mut body = vec![
        stmt(load_word, OFFSET_ARCH),
        jump(libc::BPF_JEQ, arch, To::Next, To::Deny),
        stmt(load_word, OFFSET_NR),
    ];
    if let Some(bit) = X32_SYSCALL_BIT {
        body.push(jump(libc::BPF_JSET, bit, To::Deny, To::Next));
    }
    // openat(.., O_TMPFILE): EISDIR, as on 3.10; any other openat is allowed.
    body.push(jump(
        libc::BPF_JEQ,
        libc::SYS_openat as u32,
        To::Next,
        To::Skip(2),
    ));
    body.push(stmt(load_word, OFFSET_ARG2_LOW));
    body.push(jump(libc::BPF_JSET, TMPFILE_BIT, To::Eisdir, To::Allow));
    for nr in &NEW_BEFORE_5_1 {
        if *nr >= 0 {
            body.push(jump(libc::BPF_JEQ, *nr as u32, To::Deny, To::Next));
        }
    }
    // FIRST_UNIFIED <= nr < END_UNIFIED (unsigned: a negative nr is above END_UNIFIED)
    body.push(jump(
        libc::BPF_JGE,
        FIRST_UNIFIED as u32,
        To::Next,
        To::Allow,
    ));
    body.push(jump(libc::BPF_JGE, END_UNIFIED as u32, To::Allow, To::Deny));

    let allow = body.len();
    let deny = allow + 1;
    let eisdir = allow + 2;
    body.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    body.push(stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ERRNO | (libc::ENOSYS as u32 & libc::SECCOMP_RET_DATA),
    ));
    body.push(stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ERRNO | (libc::EISDIR as u32 & libc::SECCOMP_RET_DATA),
    ));

    let offset = |at: usize, to: To| -> u8 {
        let target = match to {
            To::Next => at + 1,
            To::Skip(n) => at + 1 + n,
            To::Allow => allow,
            To::Deny => deny,
            To::Eisdir => eisdir,
        };
        u8::try_from(target - at - 1).expect("BPF jumps are forward and under 256")
    };
    body.iter()
        .enumerate()
        .map(|(at, insn)| SockFilter {
            code: insn.code as u16,
            jt: offset(at, insn.jt),
            jf: offset(at, insn.jf),
            k: insn.k,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi;
    use nix::errno::Errno;
    use nix::fcntl::{openat, OFlag, AT_FDCWD};
    use nix::sys::stat::Mode;

    /// Runs the program on a fake `seccomp_data`, like the kernel would.
    fn run(program: &[SockFilter], arch: u32, nr: u32) -> u32 {
        run_args(program, arch, nr, 0)
    }

    /// [`run`] with the low word of `args[2]` (openat's flags).
    fn run_args(program: &[SockFilter], arch: u32, nr: u32, arg2: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = &program[pc];
            let code = u32::from(insn.code);
            pc += 1;
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                acc = match insn.k {
                    0 => nr,
                    4 => arch,
                    k if k == OFFSET_ARG2_LOW => arg2,
                    k => panic!("unexpected load offset {k}"),
                };
            } else if code == libc::BPF_RET | libc::BPF_K {
                return insn.k;
            } else {
                let taken = match code & !libc::BPF_JMP {
                    c if c == libc::BPF_JEQ => acc == insn.k,
                    c if c == libc::BPF_JGE => acc >= insn.k,
                    c if c == libc::BPF_JSET => acc & insn.k != 0,
                    other => panic!("unexpected BPF code {other:#x}"),
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
        }
    }

    #[test]
    fn program_denies_new_and_allows_old_syscalls() {
        let Some(arch) = AUDIT_ARCH else { return };
        let program = filter_program(arch);
        let deny = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let verdict = |nr: libc::c_long| run(&program, arch, nr as u32);
        for nr in [
            libc::SYS_statx,
            libc::SYS_getrandom,
            libc::SYS_openat2,
            libc::SYS_copy_file_range,
            libc::SYS_close_range,
            libc::SYS_clone3,
            libc::SYS_pidfd_open,
            libc::SYS_faccessat2,
            libc::SYS_memfd_create,
            libc::SYS_renameat2,
            libc::SYS_preadv2,
            libc::SYS_pwritev2,
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
            libc::SYS_epoll_pwait2,
            IO_PGETEVENTS_RSEQ[0],
            NR_BASE + 403, // clock_gettime64 on 32-bit
            NR_BASE + 422, // futex_time64 on 32-bit
        ] {
            assert_eq!(verdict(nr), deny, "syscall {nr} must be denied");
        }
        for nr in [
            libc::SYS_openat,
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_close,
            libc::SYS_sendfile,
            libc::SYS_fstat,
            libc::SYS_futex,
            libc::SYS_clone,
            libc::SYS_exit_group,
            libc::SYS_prctl,
            IO_PGETEVENTS_RSEQ[1], // rseq: see the module docs
        ] {
            assert_eq!(
                verdict(nr),
                libc::SECCOMP_RET_ALLOW,
                "syscall {nr} must pass"
            );
        }
        // O_TMPFILE is a flag of an old syscall: EISDIR, as Linux 3.10 answers it.
        let openat = libc::SYS_openat as u32;
        let eisdir = libc::SECCOMP_RET_ERRNO | libc::EISDIR as u32;
        let tmpfile = libc::O_TMPFILE | libc::O_WRONLY;
        assert_eq!(run_args(&program, arch, openat, tmpfile as u32), eisdir);
        let plain = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        assert_eq!(
            run_args(&program, arch, openat, plain as u32),
            libc::SECCOMP_RET_ALLOW
        );
        // Another ABI's numbers mean other calls: denied whatever the number.
        assert_eq!(
            run(&program, arch ^ 0x4000_0000, libc::SYS_openat as u32),
            deny
        );
        if let Some(bit) = X32_SYSCALL_BIT {
            assert_eq!(run(&program, arch, bit | libc::SYS_read as u32), deny);
        } else {
            // nr -1 (a syscall skipped by a tracer) is no "new" syscall: the kernel answers it.
            assert_eq!(run(&program, arch, u32::MAX), libc::SECCOMP_RET_ALLOW);
        }
    }

    /// Installs the real filter on a fresh thread (a filter binds only its thread, so the rest of
    /// the test binary is untouched) and checks what the kernel answers.
    #[test]
    fn filter_makes_new_syscalls_enosys_and_keeps_old_ones() {
        let outcome = std::thread::spawn(|| -> Result<(), String> {
            if let Err(e) = deny_new_syscalls() {
                // qemu-user answers EINVAL for any seccomp filter. Native x86_64 (where CI runs
                // this for real) has no such excuse.
                if e.raw_os_error() == Some(libc::EINVAL) && !cfg!(target_arch = "x86_64") {
                    eprintln!("SKIP oldkernel filter test: seccomp refused ({e}); emulator?");
                    return Ok(());
                }
                return Err(format!("deny_new_syscalls: {e}"));
            }
            let want_enosys = |name: &str, r: io::Result<()>| match r {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(()),
                other => Err(format!("{name}: {other:?}, want ENOSYS")),
            };
            let mut buf = [0u8; 16];
            want_enosys("getrandom", ffi::raw::getrandom(&mut buf).map(drop))?;
            want_enosys("statx", ffi::raw::statx(c"/"))?;
            want_enosys("close_range", ffi::raw::close_range_of_nothing())?;
            let dir = openat(
                AT_FDCWD,
                "/",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("openat: {e}"))?;
            let tmpfile = OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
            match openat(&dir, ".", tmpfile, Mode::from_bits_truncate(0o600)) {
                Err(Errno::EISDIR) => {}
                other => return Err(format!("openat(O_TMPFILE): {other:?}, want EISDIR")),
            }
            // std's own fallbacks (statx -> fstatat, getrandom -> /dev/urandom) keep working.
            std::fs::metadata("/").map_err(|e| format!("std::fs::metadata: {e}"))?;
            let _ = std::collections::hash_map::RandomState::new();
            Ok(())
        })
        .join()
        .expect("filter thread panicked");
        outcome.unwrap();
    }
}
