//! Test helpers for the jail: a scratch tree with a root and an outside, removed on drop.

use super::Jail;
use crate::error::FtpError;
use crate::vpath::VirtualPath;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A scratch tree `<tmp>/ferroftpd-jail-<pid>-<n>/{root,outside}`, removed on drop.
pub struct Scratch {
    pub base: PathBuf,
    pub root: PathBuf,
    pub outside: PathBuf,
    pub jail: Jail,
}

impl Scratch {
    pub fn new() -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base =
            std::env::temp_dir().join(format!("ferroftpd-jail-{}-{}", std::process::id(), n));
        let root = base.join("root");
        let outside = base.join("outside");
        fs::create_dir_all(&root).expect("create root");
        fs::create_dir_all(&outside).expect("create outside");
        let jail = Jail::open(&root).expect("open jail");
        Scratch {
            base,
            root,
            outside,
            jail,
        }
    }

    /// Host path of `rel` inside the root (`rel` as raw bytes).
    pub fn host(&self, rel: &[u8]) -> PathBuf {
        self.root.join(OsStr::from_bytes(rel))
    }

    pub fn write(&self, rel: &[u8], content: &[u8]) {
        fs::write(self.host(rel), content).expect("write fixture");
    }

    pub fn mkdir(&self, rel: &[u8]) {
        fs::create_dir_all(self.host(rel)).expect("mkdir fixture");
    }

    pub fn link(&self, rel: &[u8], target: &[u8]) {
        symlink(OsStr::from_bytes(target), self.host(rel)).expect("symlink fixture");
    }

    pub fn read(&self, p: &[u8]) -> Result<Vec<u8>, FtpError> {
        let (mut f, info) = self.jail.open_read(&vp(p))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out).expect("read");
        assert_eq!(u64::try_from(out.len()).ok(), Some(info.size));
        Ok(out)
    }

    pub fn root_ino(&self) -> u64 {
        fs::metadata(&self.root).expect("root meta").ino()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks.
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// A client path below the root.
pub fn vp(p: &[u8]) -> VirtualPath {
    VirtualPath::root().join(p).expect("valid path")
}

/// A reserved name as another, dead or live, instance would leave it.
pub const FOREIGN_TEMP: &[u8] = b".ferroftpd-upload.1.0123456789abcdef.0";
