//! Texts shown to clients from files: the banner file at connect, the per-directory message
//! file on CWD, and the login message, as reply lines.

use crate::jail::Jail;
use crate::vpath::VirtualPath;
use std::io::{self, Read};
use std::path::Path;

/// Most bytes of `banner_file` shown; the rest is ignored.
pub const MAX_BANNER_BYTES: u64 = 8 * 1024;

/// Most bytes of a directory's message file shown; the rest is ignored.
pub const MAX_DIR_MESSAGE_BYTES: u64 = 4 * 1024;

/// Most lines of either file shown.
pub const MAX_LINES: usize = 100;

/// The lines of `banner_file`, read once at startup (before any chroot hides it).
pub fn read_banner_file(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let file = std::fs::File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a plain file", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BANNER_BYTES).read_to_end(&mut bytes)?;
    Ok(split_lines(&bytes))
}

/// The lines of the message file `name` in the client directory `dir`, read through the jail;
/// empty when there is none or it cannot be read (a missing message is normal).
pub fn read_dir_message(jail: &Jail, dir: &VirtualPath, name: &str) -> Vec<Vec<u8>> {
    // SECURITY: config checks the name, but a `/` or `..` here would read outside `dir`.
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Vec::new();
    }
    let Ok(path) = dir.join(name.as_bytes()) else {
        return Vec::new();
    };
    // open_read refuses FIFOs and devices, so a planted `.message` cannot hang the session.
    let Ok((file, _)) = jail.open_read(&path) else {
        return Vec::new();
    };
    let mut bytes = Vec::new();
    match file.take(MAX_DIR_MESSAGE_BYTES).read_to_end(&mut bytes) {
        Ok(_) => split_lines(&bytes),
        Err(_) => Vec::new(),
    }
}

/// The lines of a configured text (`login_message`, `banner`), split at `'\n'`.
pub fn text_lines(text: &str) -> Vec<Vec<u8>> {
    split_lines(text.as_bytes())
}

/// Split at LF (dropping a CR before it), neutralise control bytes, drop trailing blank lines,
/// and keep at most [`MAX_LINES`].
fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = bytes
        .split(|&b| b == b'\n')
        .take(MAX_LINES + 1)
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.iter()
                // SECURITY: file text goes onto the control connection; terminal escapes and
                // other control bytes from a user-writable `.message` are shown as `?`.
                .map(|&b| {
                    if b < 0x20 && b != b'\t' || b == 0x7f {
                        b'?'
                    } else {
                        b
                    }
                })
                .collect()
        })
        .collect();
    lines.truncate(MAX_LINES);
    while lines
        .last()
        .is_some_and(|l| l.iter().all(|&b| b == b' ' || b == b'\t'))
    {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::TempDir;

    fn lines(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn vpath(p: &str) -> VirtualPath {
        VirtualPath::root().join(p.as_bytes()).expect("path")
    }

    #[test]
    fn splitting_and_cleaning() {
        assert_eq!(split_lines(b""), Vec::<Vec<u8>>::new());
        assert_eq!(split_lines(b"one\ntwo\n"), lines(&["one", "two"]));
        assert_eq!(
            split_lines(b"dos\r\nlines\r\n\r\n\n"),
            lines(&["dos", "lines"])
        );
        assert_eq!(
            split_lines(b"\n  indented\n\nafter blank"),
            lines(&["", "  indented", "", "after blank"])
        );
        assert_eq!(
            split_lines(b"bell\x07 esc\x1b[2J del\x7f tab\tcr\rmid \xff\xc3\xa9"),
            vec![b"bell? esc?[2J del? tab\tcr?mid \xff\xc3\xa9".to_vec()]
        );
        let many = "x\n".repeat(500);
        assert_eq!(split_lines(many.as_bytes()).len(), MAX_LINES);
        assert_eq!(
            text_lines("Welcome.\nUploads go to /incoming."),
            lines(&["Welcome.", "Uploads go to /incoming."])
        );
    }

    #[test]
    fn banner_file_is_read_and_bounded() {
        let tmp = TempDir::new("banner");
        let path = tmp.0.join("banner");
        std::fs::write(&path, "Router FTP\r\nAuthorised use only.\n").expect("write");
        assert_eq!(
            read_banner_file(&path).expect("read"),
            lines(&["Router FTP", "Authorised use only."])
        );
        let long = format!("{}\n", "y".repeat(70)).repeat(1000);
        std::fs::write(&path, long).expect("write");
        let got = read_banner_file(&path).expect("read");
        let total: usize = got.iter().map(|l| l.len() + 1).sum();
        assert!(total <= MAX_BANNER_BYTES as usize + 1, "{total}");
        assert!(read_banner_file(&tmp.0.join("missing")).is_err());
        assert!(read_banner_file(&tmp.0).is_err(), "a directory");
    }

    #[test]
    fn directory_message_through_the_jail() {
        let tmp = TempDir::new("dirmsg");
        let root = tmp.0.join("root");
        std::fs::create_dir_all(root.join("pub/empty")).expect("mkdir");
        std::fs::write(root.join("pub/.message"), "Files for release 2.1\n").expect("write");
        std::fs::write(tmp.0.join("outside"), "secret\n").expect("write");
        std::os::unix::fs::symlink("/../../outside", root.join("pub/empty/.message"))
            .expect("symlink");
        let jail = Jail::open(&root).expect("jail");

        assert_eq!(
            read_dir_message(&jail, &vpath("/pub"), ".message"),
            lines(&["Files for release 2.1"])
        );
        // A symlink pointing above the root resolves inside it, as under chroot: no message.
        assert!(read_dir_message(&jail, &vpath("/pub/empty"), ".message").is_empty());
        assert!(read_dir_message(&jail, &VirtualPath::root(), ".message").is_empty());
        for bad in ["", ".", "..", "../outside", "pub/.message"] {
            assert!(
                read_dir_message(&jail, &VirtualPath::root(), bad).is_empty(),
                "{bad}"
            );
        }
        // A directory named like the message file is not a message.
        std::fs::create_dir(root.join("pub/empty/dir.msg")).expect("mkdir");
        assert!(read_dir_message(&jail, &vpath("/pub/empty"), "dir.msg").is_empty());
    }

    #[test]
    fn directory_message_is_bounded() {
        let tmp = TempDir::new("dirbig");
        std::fs::write(tmp.0.join(".message"), "z".repeat(100_000)).expect("write");
        let jail = Jail::open(&tmp.0).expect("jail");
        let got = read_dir_message(&jail, &VirtualPath::root(), ".message");
        assert_eq!(got, vec![vec![b'z'; MAX_DIR_MESSAGE_BYTES as usize]]);
    }
}
