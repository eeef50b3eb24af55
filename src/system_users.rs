//! System accounts: logins checked against `/etc/passwd` and `/etc/shadow` as BusyBox keeps
//! them, with the `/etc/ftpusers` deny list.
//!
//! The files are read at every login: they are small, and a `passwd` or `adduser` on the
//! device takes effect without a reload. Only the `$1$`, `$5$` and `$6$` crypt hashes are
//! accepted (what BusyBox `passwd` and `cryptpw` write, and what static musl verifies).

use crate::auth::{check_hash, verify, Password, DUMMY_HASH};
use crate::config::read_small_file;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest account file read (a router's are a few hundred bytes).
const MAX_ACCOUNT_FILE_BYTES: u64 = 1 << 20;

/// Longest user name considered; longer ones cannot be in the files BusyBox writes.
const MAX_NAME_BYTES: usize = 64;

/// A system account that has logged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemAccount {
    /// The user name.
    pub name: String,
    /// The uid the session's filesystem access uses (never 0).
    pub uid: u32,
    /// The primary gid the session's filesystem access uses.
    pub gid: u32,
    /// The home directory from `/etc/passwd`: the session's `/`.
    pub home: PathBuf,
}

/// Where the account files are; the paths are fields so tests can use fixtures.
#[derive(Clone, Debug)]
pub struct SystemUsers {
    passwd: PathBuf,
    shadow: PathBuf,
    ftpusers: PathBuf,
}

/// An account found in the files, with the hash to check.
struct Candidate {
    account: SystemAccount,
    hash: String,
}

impl SystemUsers {
    /// Account files at these paths.
    pub fn new(passwd: PathBuf, shadow: PathBuf, ftpusers: PathBuf) -> SystemUsers {
        SystemUsers {
            passwd,
            shadow,
            ftpusers,
        }
    }

    /// The system's `/etc/passwd` and `/etc/shadow`, with this deny list (config `ftpusers`).
    pub fn system(ftpusers: PathBuf) -> SystemUsers {
        SystemUsers::new(
            PathBuf::from("/etc/passwd"),
            PathBuf::from("/etc/shadow"),
            ftpusers,
        )
    }

    /// The account if `user` may log in and `pass` is right; `None` otherwise.
    pub fn authenticate(&self, user: &[u8], pass: &Password) -> Option<SystemAccount> {
        self.authenticate_on(user, pass, today())
    }

    /// [`SystemUsers::authenticate`] with the current day (days since 1970) given.
    fn authenticate_on(&self, user: &[u8], pass: &Password, today: i64) -> Option<SystemAccount> {
        let candidate = match self.candidate(user, today) {
            Ok(c) => c,
            Err(problem) => {
                log::warn!("system users: {problem}");
                None
            }
        };
        match candidate {
            Some(c) => verify(pass, &c.hash).then_some(c.account),
            None => {
                // SECURITY: unknown, denied and locked accounts cost one crypt like real
                // ones, so response time does not tell which names exist.
                let _ = verify(pass, DUMMY_HASH);
                None
            }
        }
    }

    /// The account named `user` if it may log in at all; `Err` when a file is unusable.
    fn candidate(&self, user: &[u8], today: i64) -> Result<Option<Candidate>, String> {
        // Names with these bytes cannot be matched safely against `:`-separated lines.
        if user.is_empty()
            || user.len() > MAX_NAME_BYTES
            || user.iter().any(|&b| b == b':' || b.is_ascii_control())
        {
            return Ok(None);
        }
        let Some(entry) = self.passwd_entry(user)? else {
            return Ok(None);
        };
        let shown = entry.name.escape_debug().to_string();
        // SECURITY: any uid-0 account (root, or an alias such as `toor` or `admin`) would
        // reach the filesystem as root; refuse it whatever its name.
        if entry.uid == 0 {
            log::info!("system user '{shown}' has uid 0: refused");
            return Ok(None);
        }
        if self.denied(user)? {
            log::info!("system user '{shown}' is listed in ftpusers: refused");
            return Ok(None);
        }
        let hash = if entry.password == "x" {
            match self.shadow_hash(user, today)? {
                Some(hash) => hash,
                None => return Ok(None),
            }
        } else {
            entry.password.clone()
        };
        // `!` and `*` prefixes lock an account (passwd -l); an empty hash means "no password",
        // which an FTP server must not accept.
        if hash.is_empty() || hash.starts_with('!') || hash.starts_with('*') {
            return Ok(None);
        }
        if check_hash(&hash).is_err() {
            log::warn!(
                "system user '{shown}' has an unsupported password hash (use $6$, $5$ or $1$)"
            );
            return Ok(None);
        }
        Ok(Some(Candidate {
            account: SystemAccount {
                name: entry.name,
                uid: entry.uid,
                gid: entry.gid,
                home: entry.home,
            },
            hash,
        }))
    }

    /// The first `/etc/passwd` line for `user`, as getpwnam(3) would pick it.
    fn passwd_entry(&self, user: &[u8]) -> Result<Option<PasswdEntry>, String> {
        let text = read(&self.passwd)?;
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if fields.first() != Some(&user) {
                continue;
            }
            return Ok(parse_passwd_fields(&fields));
        }
        Ok(None)
    }

    /// The hash from `/etc/shadow` for `user`; `None` when absent or the account has expired.
    fn shadow_hash(&self, user: &[u8], today: i64) -> Result<Option<String>, String> {
        let text = read(&self.shadow)?;
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if fields.first() != Some(&user) {
                continue;
            }
            let Some(hash) = fields.get(1).and_then(|h| std::str::from_utf8(h).ok()) else {
                return Ok(None);
            };
            // Field 8: the day the account expires (shadow(5)); empty means never.
            if let Some(expire) = fields.get(7).filter(|f| !f.is_empty()) {
                match parse_decimal(expire) {
                    Some(day) if today < day => {}
                    _ => return Ok(None),
                }
            }
            return Ok(Some(hash.to_string()));
        }
        Ok(None)
    }

    /// Whether `user` may never log in: `root`, or a name in the ftpusers file.
    fn denied(&self, user: &[u8]) -> Result<bool, String> {
        // SECURITY: root is refused even when the deny list is missing.
        if user == b"root" {
            return Ok(true);
        }
        let text = match read_small_file(&self.ftpusers, MAX_ACCOUNT_FILE_BYTES) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            // Fail closed: a deny list that exists but cannot be read denies everyone.
            Err(e) => return Err(format!("{}: {e}", self.ftpusers.display())),
        };
        Ok(text
            .split(|&b| b == b'\n')
            .map(<[u8]>::trim_ascii)
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
            .any(|l| l == user))
    }
}

/// The fields of one `/etc/passwd` line that a login needs.
struct PasswdEntry {
    name: String,
    password: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// `name:password:uid:gid:gecos:home:shell`; `None` if malformed.
fn parse_passwd_fields(fields: &[&[u8]]) -> Option<PasswdEntry> {
    let [name, password, uid, gid, _gecos, home, _shell] = fields else {
        return None;
    };
    let home = PathBuf::from(std::str::from_utf8(home).ok()?);
    if !home.is_absolute() {
        return None;
    }
    Some(PasswdEntry {
        name: std::str::from_utf8(name).ok()?.to_string(),
        password: std::str::from_utf8(password).ok()?.to_string(),
        uid: u32::try_from(parse_decimal(uid)?).ok()?,
        gid: u32::try_from(parse_decimal(gid)?).ok()?,
        home,
    })
}

/// A non-negative decimal number of ASCII digits only.
fn parse_decimal(field: &[u8]) -> Option<i64> {
    if field.is_empty() || field.len() > 18 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Read an account file, with its path in the error.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    read_small_file(path, MAX_ACCOUNT_FILE_BYTES).map_err(|e| format!("{}: {e}", path.display()))
}

/// Days since 1970-01-01, UTC, as shadow(5) counts them.
fn today() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixtures made with openssl; the passwords are in the comments.
    /// `openssl passwd -6 -salt Zk3pQ9rTxY2bW7mN 'correct horse'`
    const SHA512: &str = "$6$Zk3pQ9rTxY2bW7mN$PLFlBDb8JSdHq38HJ.uk11e1UknW2dod..Fik/TsPnzBjBsQoXsuGMYn0H1Y895Aa0psNwtk4aUlkIcEjx1XO0";
    /// `openssl passwd -5 -salt sHa256sAltVaLuE0 'battery staple'`
    const SHA256: &str = "$5$sHa256sAltVaLuE0$.Y54CItxMOVUmk9ffqbw/DINbtAP4Dk/glHRoy.KW7A";
    /// `openssl passwd -1 -salt md5SaLt8 'tr0ub4dor&3'`
    const MD5: &str = "$1$md5SaLt8$95sGexamDPGd6KWwv.Tm50";

    /// A day well before the expiry dates in the fixture.
    const TODAY: i64 = 20_000;

    /// Fixture files in a fresh directory, removed on drop.
    struct Fixture {
        dir: PathBuf,
        users: SystemUsers,
    }

    impl Fixture {
        fn new(name: &str, ftpusers: Option<&str>) -> Fixture {
            let dir = std::env::temp_dir()
                .join(format!("ferroftpd-sysusers-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            let passwd = format!(
                "root:x:0:0:root:/root:/bin/sh\n\
                 daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
                 alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n\
                 bob:x:1001:100:Bob:/srv/bob:/bin/false\n\
                 carol:{MD5}:1002:1002::/home/carol:/bin/sh\n\
                 dave:x:1003:1003::/home/dave:/bin/sh\n\
                 eve:x:1004:1004::/home/eve:/bin/sh\n\
                 frank:x:1005:1005::/home/frank:/bin/sh\n\
                 toor:x:0:0:root alias:/root:/bin/sh\n\
                 mallory:x:1006:1006::/home/mallory:/bin/sh\n\
                 grace:x:1007:1007::/home/grace:/bin/sh\n\
                 henry:x:1008:1008::relative/home:/bin/sh\n\
                 ivan:x:1009:1009::/home/ivan:/bin/sh\n\
                 judy:x:4294967296:1010::/home/judy:/bin/sh\n\
                 kim:x:1011:1011::/home/kim\n\
                 alice:x:2000:2000:second alice:/home/alice2:/bin/sh\n\
                 +nisuser::::::\n"
            );
            let shadow = format!(
                "root:{SHA512}:19000:0:99999:7:::\n\
                 alice:{SHA512}:19000:0:99999:7:::\n\
                 bob:{SHA256}:19000::::::\n\
                 dave:!{SHA512}:19000:0:99999:7:::\n\
                 eve:*:19000:0:99999:7:::\n\
                 frank::19000:0:99999:7:::\n\
                 toor:{SHA512}:19000:0:99999:7:::\n\
                 mallory:{SHA512}:19000:0:99999:7:::\n\
                 grace:{SHA512}:19000:0:99999:7::{TODAY}:\n\
                 henry:{SHA512}:19000:0:99999:7:::\n\
                 ivan:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7:19000::::::\n\
                 judy:{SHA512}:19000::::::\n\
                 kim:{SHA512}:19000::::::\n"
            );
            let write = |file: &str, text: &str| {
                let path = dir.join(file);
                std::fs::write(&path, text).expect("write fixture");
                path
            };
            let passwd = write("passwd", &passwd);
            let shadow = write("shadow", &shadow);
            let ftpusers = match ftpusers {
                Some(text) => write("ftpusers", text),
                None => dir.join("no-ftpusers"),
            };
            let users = SystemUsers::new(passwd, shadow, ftpusers);
            Fixture { dir, users }
        }

        fn login(&self, user: &str, pass: &str) -> Option<SystemAccount> {
            let pass = Password::new(pass.as_bytes().to_vec());
            self.users.authenticate_on(user.as_bytes(), &pass, TODAY)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const DENY: &str = "# users who may not use FTP\n\n  mallory  \ndaemon\n#alice\n";

    #[test]
    fn shadow_hashes_of_each_type_log_in() {
        let f = Fixture::new("types", Some(DENY));
        assert_eq!(
            f.login("alice", "correct horse"),
            Some(SystemAccount {
                name: "alice".to_string(),
                uid: 1000,
                gid: 1000,
                home: PathBuf::from("/home/alice"),
            }),
            "the first passwd line wins, as with getpwnam"
        );
        let bob = f.login("bob", "battery staple").expect("bob");
        assert_eq!(
            (bob.uid, bob.gid, bob.home),
            (1001, 100, PathBuf::from("/srv/bob"))
        );
        // A hash kept in /etc/passwd itself (no shadow file entry).
        let carol = f.login("carol", "tr0ub4dor&3").expect("carol");
        assert_eq!(carol.uid, 1002);
    }

    #[test]
    fn wrong_passwords_and_unknown_names_fail() {
        let f = Fixture::new("wrong", Some(DENY));
        assert_eq!(f.login("alice", "correct horsE"), None);
        assert_eq!(f.login("alice", ""), None);
        assert_eq!(f.login("bob", "correct horse"), None);
        assert_eq!(f.login("nobody-here", "correct horse"), None);
        assert_eq!(f.login("Alice", "correct horse"), None);
        assert_eq!(f.login("", ""), None);
        assert_eq!(f.login("alice:x", "correct horse"), None);
        assert_eq!(f.login("+nisuser", ""), None);
    }

    #[test]
    fn locked_empty_and_unsupported_accounts_are_refused() {
        let f = Fixture::new("locked", Some(DENY));
        // Even the password that matches the hash behind the `!` lock.
        assert_eq!(f.login("dave", "correct horse"), None);
        assert_eq!(f.login("eve", ""), None);
        assert_eq!(f.login("eve", "*"), None);
        assert_eq!(f.login("frank", ""), None);
        assert_eq!(
            f.login("ivan", "anything"),
            None,
            "yescrypt is not supported"
        );
    }

    #[test]
    fn root_uid_0_aliases_and_ftpusers_are_refused() {
        let f = Fixture::new("deny", Some(DENY));
        assert_eq!(f.login("root", "correct horse"), None);
        assert_eq!(f.login("toor", "correct horse"), None);
        assert_eq!(f.login("mallory", "correct horse"), None);
        // A commented-out name is not denied.
        assert!(f.login("alice", "correct horse").is_some());
    }

    #[test]
    fn root_is_refused_without_an_ftpusers_file_and_others_allowed() {
        let f = Fixture::new("nolist", None);
        assert_eq!(f.login("root", "correct horse"), None);
        assert!(f.login("mallory", "correct horse").is_some());
    }

    #[test]
    fn an_unreadable_deny_list_denies_everyone() {
        let f = Fixture::new("unreadable", None);
        // A directory where the list should be: it exists but cannot be read as a file.
        std::fs::create_dir(f.dir.join("no-ftpusers")).expect("mkdir");
        assert_eq!(f.login("alice", "correct horse"), None);
    }

    #[test]
    fn expired_and_malformed_entries_are_refused() {
        let f = Fixture::new("expired", Some(DENY));
        // grace expires on day TODAY: refused that day, accepted the day before.
        assert_eq!(f.login("grace", "correct horse"), None);
        let pass = Password::new(b"correct horse".to_vec());
        assert!(f
            .users
            .authenticate_on(b"grace", &pass, TODAY - 1)
            .is_some());
        assert_eq!(f.login("henry", "correct horse"), None, "relative home");
        assert_eq!(f.login("judy", "correct horse"), None, "uid out of range");
        assert_eq!(f.login("kim", "correct horse"), None, "six fields");
    }

    #[test]
    fn missing_files_refuse_logins() {
        let f = Fixture::new("missing", None);
        let users = SystemUsers::new(
            f.dir.join("nope-passwd"),
            f.dir.join("nope-shadow"),
            f.dir.join("nope-ftpusers"),
        );
        let pass = Password::new(b"correct horse".to_vec());
        assert_eq!(users.authenticate_on(b"alice", &pass, TODAY), None);
        let no_shadow = SystemUsers::new(
            f.dir.join("passwd"),
            f.dir.join("nope-shadow"),
            f.dir.join("nope-ftpusers"),
        );
        assert_eq!(no_shadow.authenticate_on(b"alice", &pass, TODAY), None);
        // carol's hash is in passwd, so she does not need the shadow file.
        let carol = Password::new(b"tr0ub4dor&3".to_vec());
        assert!(no_shadow.authenticate_on(b"carol", &carol, TODAY).is_some());
    }

    #[test]
    fn changes_to_the_files_apply_at_the_next_login() {
        let f = Fixture::new("reload", Some(DENY));
        assert!(f.login("alice", "correct horse").is_some());
        std::fs::write(f.dir.join("ftpusers"), "alice\n").expect("write");
        assert_eq!(f.login("alice", "correct horse"), None);
    }

    #[test]
    fn system_paths() {
        let users = SystemUsers::system(PathBuf::from("/etc/ftpusers"));
        assert_eq!(users.passwd, PathBuf::from("/etc/passwd"));
        assert_eq!(users.shadow, PathBuf::from("/etc/shadow"));
        assert!(today() > 19_000, "the clock is past 2022");
    }
}
