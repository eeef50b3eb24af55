//! Giving up root: one function that changes identity in a fixed order and then proves it, how
//! a path is seen after its chroot, and the per-thread filesystem identity that system-user
//! sessions use instead.

use nix::errno::Errno;
use nix::unistd::{self, Gid, Uid, User};
use std::path::{Path, PathBuf};

/// How a path outside the process is seen after a chroot into `chroot_root`.
pub fn inside_chroot(path: &Path, chroot_root: Option<&Path>) -> PathBuf {
    match chroot_root.and_then(|r| path.strip_prefix(r).ok()) {
        Some(rest) => Path::new("/").join(rest),
        None => path.to_path_buf(),
    }
}

/// Become `run_as` for good, after an optional chroot into `chroot_dir`; the process must be
/// root. Call it once, before any session starts (threads already running change too, since
/// the C library applies set*id calls to every thread).
///
/// Order: resolve the user from `/etc/passwd` (before the chroot hides it), chroot and chdir
/// `/`, `setgroups([gid])`, `setresgid`, `setresuid`, then check that root cannot be regained.
/// Open everything needed from outside the chroot first: listeners, root directories, the
/// pid file, the xferlog, the syslog socket, `/dev/null`.
pub fn drop_privileges(run_as: &str, chroot_dir: Option<&Path>) -> Result<(), String> {
    let user = User::from_name(run_as)
        .map_err(|e| format!("run_as: cannot look up user '{run_as}': {e}"))?
        .ok_or_else(|| format!("run_as: no user '{run_as}' in /etc/passwd"))?;
    let (uid, gid) = (user.uid, user.gid);
    // SECURITY: "dropping" to a uid-0 account would keep every privilege.
    if uid.is_root() {
        return Err(format!("run_as: user '{run_as}' has uid 0"));
    }
    if !unistd::geteuid().is_root() {
        return Err(format!(
            "run_as = {run_as} needs ferroftpd to be started as root"
        ));
    }
    if let Some(dir) = chroot_dir {
        unistd::chroot(dir).map_err(|e| format!("cannot chroot to {}: {e}", dir.display()))?;
        // SECURITY: a cwd left outside the new root would be a way out of it.
        unistd::chdir("/").map_err(|e| format!("cannot chdir to / after chroot: {e}"))?;
    }
    // Groups before ids: once the uid is not 0, setgroups and setresgid are refused.
    unistd::setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
    unistd::setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
    unistd::setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))?;
    verify_dropped(uid, gid)
}

/// Check that every id is the target and that root can no longer be taken back.
fn verify_dropped(uid: Uid, gid: Gid) -> Result<(), String> {
    let root_uid = Uid::from_raw(0);
    let root_gid = Gid::from_raw(0);
    // SECURITY: the decisive test: if the kernel still lets us become root, nothing was
    // dropped (a saved uid of 0, or a capability left over).
    match unistd::setresuid(root_uid, root_uid, root_uid) {
        Err(Errno::EPERM) => {}
        Ok(()) => return Err("privilege drop failed: root could be regained".to_string()),
        Err(e) => return Err(format!("privilege check: setresuid(0) failed oddly: {e}")),
    }
    match unistd::setresgid(root_gid, root_gid, root_gid) {
        Err(Errno::EPERM) => {}
        Ok(()) => return Err("privilege drop failed: group root could be regained".to_string()),
        Err(e) => return Err(format!("privilege check: setresgid(0) failed oddly: {e}")),
    }
    let r = unistd::getresuid().map_err(|e| format!("getresuid: {e}"))?;
    if [r.real, r.effective, r.saved] != [uid; 3] {
        return Err("privilege drop failed: a user id was not changed".to_string());
    }
    let g = unistd::getresgid().map_err(|e| format!("getresgid: {e}"))?;
    if [g.real, g.effective, g.saved] != [gid; 3] {
        return Err("privilege drop failed: a group id was not changed".to_string());
    }
    let groups = unistd::getgroups().map_err(|e| format!("getgroups: {e}"))?;
    if groups.iter().any(|&g| g != gid) {
        return Err("privilege drop failed: supplementary groups remain".to_string());
    }
    Ok(())
}

/// Drop every supplementary group of the process; call once at startup, before any thread,
/// when `system_users` is on (see [`set_thread_fs_identity`]).
pub fn clear_supplementary_groups() -> Result<(), String> {
    unistd::setgroups(&[]).map_err(|e| format!("cannot clear supplementary groups: {e}"))?;
    let groups = unistd::getgroups().map_err(|e| format!("getgroups: {e}"))?;
    if groups.is_empty() {
        Ok(())
    } else {
        Err("supplementary groups remain after setgroups([])".to_string())
    }
}

/// Make the calling thread reach the filesystem as `uid`/`gid` (Linux `setfsuid`/`setfsgid`),
/// for a session of a system user; the rest of the process is unchanged.
///
/// What it buys: every open, create, rename and delete this thread makes is checked by the
/// kernel against the user's uid and gid, as if the user did it, and new files belong to the
/// user. When the fsuid leaves 0 the kernel also clears this thread's filesystem capabilities
/// (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`, `CAP_CHOWN`, `CAP_FSETID`, ...),
/// so root's override of file permissions is gone too.
///
/// What it costs: the process stays root. Its real, effective and saved uids stay 0 and it
/// keeps every other capability, because it needs them to switch the next session's thread.
/// Signals, `bind`, `ptrace`, `setuid` and other non-file checks still see root, and the
/// thread could switch itself back. So this is access control for correct code, not a
/// privilege boundary: a bug that lets a client run code in the server runs it as root. The
/// jail still confines paths; `run_as` (which cannot be combined with `system_users`) is the
/// option that gives a real boundary.
///
/// Groups: the fsgid replaces only the primary group. Supplementary groups belong to the
/// whole process, so it must have none ([`clear_supplementary_groups`] at startup) or each
/// session would also have root's groups; this function refuses to run otherwise. A system
/// user's own supplementary groups do not apply.
///
/// Call it at the start of the session thread, before opening the user's home as a `Jail`;
/// filesystem work done on other threads (the data pool) does not run as the user, so do all
/// path operations (open, rename, unlink) on the session thread.
pub fn set_thread_fs_identity(uid: u32, gid: u32) -> Result<(), String> {
    // SECURITY: a uid-0 session would have root's file access through the jail.
    if uid == 0 {
        return Err("refusing a filesystem identity of uid 0".to_string());
    }
    let groups = unistd::getgroups().map_err(|e| format!("getgroups: {e}"))?;
    if !groups.is_empty() {
        return Err(
            "the process has supplementary groups; clear them at startup first".to_string(),
        );
    }
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    unistd::setfsgid(gid);
    unistd::setfsuid(uid);
    // Both calls report failure only by returning the old value, so set again and read the
    // value they return: it is the identity now in force.
    let now_gid = unistd::setfsgid(gid);
    let now_uid = unistd::setfsuid(uid);
    if now_uid != uid || now_gid != gid {
        return Err(format!(
            "setfsuid/setfsgid to {uid}/{gid} did not take (now {now_uid}/{now_gid})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::PathBuf;
    use std::process::Command;

    /// Set in the re-executed test process that may change its identity.
    const CHILD_ENV: &str = "FERROFTPD_PRIVILEGE_CHILD";

    /// The unprivileged account the root tests switch to.
    const NOBODY: &str = "nobody";

    /// Run one test of this module in a fresh process of the test binary, with `CHILD_ENV`
    /// set to `dir`, so the identity changes never touch the main test process.
    fn run_child(test: &str, dir: &Path) {
        let exe = std::env::current_exe().expect("test binary");
        let out = Command::new(exe)
            .args(["--exact", test, "--test-threads=1", "--nocapture"])
            .env(CHILD_ENV, dir)
            .output()
            .expect("spawn test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{test} failed in the child:\n{text}");
        assert!(text.contains("1 passed"), "{test} did not run:\n{text}");
    }

    /// The directory handed to a child test, or `None` in the ordinary test run.
    fn child_dir() -> Option<PathBuf> {
        std::env::var_os(CHILD_ENV).map(PathBuf::from)
    }

    use crate::test_support::TempDir;

    /// Whether the root-only tests can run here; prints the skip line otherwise.
    fn have_root(test: &str) -> bool {
        if !unistd::geteuid().is_root() {
            println!("SKIP {test}: needs root");
            return false;
        }
        if User::from_name(NOBODY).ok().flatten().is_none() {
            println!("SKIP {test}: no user '{NOBODY}'");
            return false;
        }
        true
    }

    #[test]
    fn unknown_and_uid_0_users_are_refused_before_any_change() {
        let err = drop_privileges("no-such-user-ferroftpd", None).expect_err("unknown");
        assert!(err.contains("no user"), "{err}");
        let err = drop_privileges("root", Some(Path::new("/nonexistent"))).expect_err("root");
        assert!(err.contains("uid 0"), "{err}");
        // Nothing changed: whoever we were, we still are.
        let r = unistd::getresuid().expect("getresuid");
        assert_eq!(r.real, r.effective);
    }

    #[test]
    fn without_root_the_drop_is_refused() {
        if unistd::geteuid().is_root() {
            println!("SKIP without_root_the_drop_is_refused: running as root");
            return;
        }
        let err = drop_privileges(NOBODY, None).expect_err("not root");
        assert!(err.contains("started as root"), "{err}");
    }

    #[test]
    fn fs_identity_refuses_uid_0() {
        let err = set_thread_fs_identity(0, 0).expect_err("uid 0");
        assert!(err.contains("uid 0"), "{err}");
    }

    #[test]
    fn drop_privileges_as_root_in_a_child_process() {
        if !have_root("drop_privileges_as_root_in_a_child_process") {
            return;
        }
        let jail = TempDir::new("chroot");
        std::fs::write(jail.0.join("marker"), "inside\n").expect("marker");
        run_child("privilege::tests::child_drops_privileges", &jail.0);
    }

    #[test]
    fn child_drops_privileges() {
        let Some(dir) = child_dir() else {
            return; // Only meaningful when re-executed by the test above.
        };
        let nobody = User::from_name(NOBODY)
            .expect("lookup")
            .expect("nobody exists");
        drop_privileges(NOBODY, Some(&dir)).expect("drop");

        // Inside the chroot: the marker is at the top, the host's files are gone.
        assert_eq!(
            std::fs::read_to_string("/marker").expect("marker"),
            "inside\n"
        );
        assert_eq!(std::env::current_dir().expect("cwd"), Path::new("/"));
        // As nobody: the root-owned 0755 directory cannot be written.
        assert!(std::fs::write("/new", "x").is_err());
        let r = unistd::getresuid().expect("getresuid");
        assert_eq!([r.real, r.effective, r.saved], [nobody.uid; 3]);
        let g = unistd::getresgid().expect("getresgid");
        assert_eq!([g.real, g.effective, g.saved], [nobody.gid; 3]);
        assert_eq!(
            unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)),
            Err(Errno::EPERM)
        );
        assert_eq!(unistd::setuid(Uid::from_raw(0)), Err(Errno::EPERM));
        // Threads started after the drop run as nobody too.
        let uid = std::thread::spawn(unistd::geteuid).join().expect("thread");
        assert_eq!(uid, nobody.uid);
        // A second drop is refused: we are no longer root.
        assert!(drop_privileges(NOBODY, None).is_err());
    }

    #[test]
    fn thread_fs_identity_as_root_in_a_child_process() {
        if !have_root("thread_fs_identity_as_root_in_a_child_process") {
            return;
        }
        let tmp = TempDir::new("fsuid");
        let nobody = User::from_name(NOBODY)
            .expect("lookup")
            .expect("nobody exists");
        let own = tmp.0.join("own");
        std::fs::create_dir(&own).expect("mkdir");
        unistd::chown(&own, Some(nobody.uid), Some(nobody.gid)).expect("chown");
        std::fs::write(tmp.0.join("secret"), "root only\n").expect("write");
        std::fs::set_permissions(tmp.0.join("secret"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        run_child("privilege::tests::child_sets_thread_fs_identity", &tmp.0);
    }

    #[test]
    fn child_sets_thread_fs_identity() {
        let Some(dir) = child_dir() else {
            return; // Only meaningful when re-executed by the test above.
        };
        let nobody = User::from_name(NOBODY)
            .expect("lookup")
            .expect("nobody exists");
        let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());

        // With root's supplementary groups still in place, the switch is refused.
        if !unistd::getgroups().expect("getgroups").is_empty() {
            let err = set_thread_fs_identity(uid, gid).expect_err("groups");
            assert!(err.contains("supplementary"), "{err}");
        }
        clear_supplementary_groups().expect("clear groups");

        let session_dir = dir.clone();
        std::thread::spawn(move || {
            set_thread_fs_identity(uid, gid).expect("switch");
            // Root's override is gone for this thread: a 0600 root file is unreadable, a
            // root-owned 0755 directory unwritable.
            assert!(std::fs::read(session_dir.join("secret")).is_err());
            assert!(std::fs::write(session_dir.join("by-session"), "x").is_err());
            // The user's own directory is writable, and new files belong to the user.
            let file = session_dir.join("own/upload");
            std::fs::write(&file, "data").expect("user may write here");
            let meta = std::fs::metadata(&file).expect("stat");
            assert_eq!((meta.uid(), meta.gid()), (uid, gid));
            // Setting it again (the next login on a reused thread) works the same.
            set_thread_fs_identity(uid, gid).expect("again");
        })
        .join()
        .expect("session thread");

        // Other threads, this one included, are still root on the filesystem.
        assert!(unistd::geteuid().is_root());
        std::fs::read(dir.join("secret")).expect("root still reads");
        std::fs::write(dir.join("by-root"), "x").expect("root still writes");
    }
}
