//! `VirtualPath`: a client path as raw bytes, normalised lexically and never above `/`.

use crate::error::FtpError;

/// Longest normalised path accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Most components a normalised path may have.
pub const MAX_COMPONENTS: usize = 256;

/// An absolute, normalised path inside the jail: starts with `/`, no `.`/`..`, no empty names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualPath(Vec<u8>);

impl VirtualPath {
    /// The jail root, `/`.
    pub fn root() -> VirtualPath {
        VirtualPath(vec![b'/'])
    }

    /// Resolve `arg` (absolute, or relative to `self`) lexically into a new path.
    pub fn join(&self, arg: &[u8]) -> Result<VirtualPath, FtpError> {
        // SECURITY: a NUL would cut the name short at the syscall boundary.
        if arg.contains(&0) {
            return Err(FtpError::NameNotAllowed);
        }
        let mut parts: Vec<&[u8]> = if arg.first() == Some(&b'/') {
            Vec::new()
        } else {
            self.components().collect()
        };
        for name in arg.split(|&b| b == b'/') {
            match name {
                b"" | b"." => {}
                // SECURITY: `..` at the root stays at the root, as under chroot.
                b".." => {
                    parts.pop();
                }
                _ => parts.push(name),
            }
        }
        if parts.len() > MAX_COMPONENTS {
            return Err(FtpError::NameNotAllowed);
        }
        let len = parts.iter().map(|p| p.len() + 1).sum::<usize>().max(1);
        if len > MAX_PATH_BYTES {
            return Err(FtpError::NameNotAllowed);
        }
        if parts.is_empty() {
            return Ok(VirtualPath::root());
        }
        let mut out = Vec::with_capacity(len);
        for p in parts {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        Ok(VirtualPath(out))
    }

    /// The normalised bytes: always starts with `/`, no trailing `/` except for the root.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The names from the root down; never empty, `.` or `..`.
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.0.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }

    /// The containing directory; `None` for the root.
    pub fn parent(&self) -> Option<VirtualPath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.iter().rposition(|&b| b == b'/')?;
        if cut == 0 {
            Some(VirtualPath::root())
        } else {
            Some(VirtualPath(self.0[..cut].to_vec()))
        }
    }

    /// The last name; `None` for the root.
    pub fn file_name(&self) -> Option<&[u8]> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.iter().rposition(|&b| b == b'/')?;
        Some(&self.0[cut + 1..])
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.0 == b"/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: &[u8], arg: &[u8]) -> Result<Vec<u8>, FtpError> {
        let base = VirtualPath::root().join(base)?;
        base.join(arg).map(|p| p.as_bytes().to_vec())
    }

    #[test]
    fn traversal_table() {
        let table: &[(&[u8], &[u8], &[u8])] = &[
            (b"/", b"", b"/"),
            (b"/", b".", b"/"),
            (b"/", b"..", b"/"),
            (b"/", b"/", b"/"),
            (b"/", b"//", b"/"),
            (b"/", b"../../etc/passwd", b"/etc/passwd"),
            (b"/pub", b"../../etc/passwd", b"/etc/passwd"),
            (b"/a/b/c", b"../../etc/passwd", b"/a/etc/passwd"),
            (b"/a/b", b"/../..", b"/"),
            (b"/a/b", b"/..", b"/"),
            (b"/a", b"a/./b//c/", b"/a/a/b/c"),
            (b"/", b"a/./b//c/", b"/a/b/c"),
            (b"/x", b"/a/b/../c", b"/a/c"),
            (b"/x", b"..", b"/"),
            (b"/x/y", b"..", b"/x"),
            (b"/x/y", b".", b"/x/y"),
            (b"/x", b"...", b"/x/..."),
            (b"/x", b"..a/a..", b"/x/..a/a.."),
            (b"/", b"..\\..", b"/..\\.."),
            (b"/", b"a\\..\\..\\etc", b"/a\\..\\..\\etc"),
            (b"/", b"////a////b////", b"/a/b"),
            (b"/", b"a/../../../../b", b"/b"),
            (b"/", b"\xff\xfe/\xc3(", b"/\xff\xfe/\xc3("),
            (b"/", b" lead and trail ", b"/ lead and trail "),
            (b"/", b"a/b/../../..", b"/"),
        ];
        for (base, arg, want) in table {
            let got = at(base, arg);
            assert_eq!(
                got.as_deref(),
                Ok(*want),
                "{} + {}",
                String::from_utf8_lossy(base),
                String::from_utf8_lossy(arg)
            );
        }
    }

    #[test]
    fn nul_refused() {
        let root = VirtualPath::root();
        assert_eq!(root.join(b"a\0b"), Err(FtpError::NameNotAllowed));
        assert_eq!(root.join(b"\0"), Err(FtpError::NameNotAllowed));
        assert_eq!(root.join(b"../\0/.."), Err(FtpError::NameNotAllowed));
    }

    #[test]
    fn length_limits() {
        let root = VirtualPath::root();
        // Exactly at the byte limit: '/' plus 4095 name bytes.
        let name = vec![b'a'; MAX_PATH_BYTES - 1];
        let p = root.join(&name).expect("at the limit");
        assert_eq!(p.as_bytes().len(), MAX_PATH_BYTES);
        let name = vec![b'a'; MAX_PATH_BYTES];
        assert_eq!(root.join(&name), Err(FtpError::NameNotAllowed));
        // Relative joins count the base too.
        assert_eq!(p.join(b"b"), Err(FtpError::NameNotAllowed));
        // Very long input that normalises to something short is fine.
        let mut long = b"x/../".repeat(10_000);
        long.extend_from_slice(b"ok");
        assert_eq!(root.join(&long).map(|p| p.0), Ok(b"/ok".to_vec()));
    }

    #[test]
    fn component_limit() {
        let root = VirtualPath::root();
        let at_limit = b"a/".repeat(MAX_COMPONENTS);
        let p = root.join(&at_limit).expect("at the limit");
        assert_eq!(p.components().count(), MAX_COMPONENTS);
        assert_eq!(p.join(b"b"), Err(FtpError::NameNotAllowed));
        assert!(p.join(b"../b").is_ok());
        let over = b"a/".repeat(MAX_COMPONENTS + 1);
        assert_eq!(root.join(&over), Err(FtpError::NameNotAllowed));
    }

    #[test]
    fn components_parent_file_name() {
        let root = VirtualPath::root();
        assert!(root.is_root());
        assert_eq!(root.as_bytes(), b"/");
        assert_eq!(root.components().count(), 0);
        assert_eq!(root.parent(), None);
        assert_eq!(root.file_name(), None);

        let p = root.join(b"a/b\xff/c").expect("valid");
        assert!(!p.is_root());
        let names: Vec<&[u8]> = p.components().collect();
        assert_eq!(names, vec![&b"a"[..], &b"b\xff"[..], &b"c"[..]]);
        assert_eq!(p.file_name(), Some(&b"c"[..]));
        let up = p.parent().expect("has parent");
        assert_eq!(up.as_bytes(), b"/a/b\xff");
        let top = root.join(b"a").expect("valid");
        assert_eq!(top.parent(), Some(VirtualPath::root()));
        assert_eq!(top.file_name(), Some(&b"a"[..]));
    }

    #[test]
    fn components_never_dots_or_empty() {
        let root = VirtualPath::root();
        for arg in [&b"./a/../.././b/./"[..], b"//..//x//.//", b"a/..."] {
            let p = root.join(arg).expect("valid");
            for c in p.components() {
                assert!(!c.is_empty() && c != b"." && c != b"..");
                assert!(!c.contains(&b'/'));
            }
            assert!(p.as_bytes().starts_with(b"/"));
            assert!(p.is_root() || !p.as_bytes().ends_with(b"/"));
        }
    }
}
