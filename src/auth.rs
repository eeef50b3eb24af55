//! Who may log in: the users file of crypt(3) hashes, anonymous access, and password checks.

use crate::config::{read_text_file, ConfigError};
use crate::ffi;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A password as received from the client: never printed, zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    /// Take ownership of the password bytes (copies made before this are not covered).
    pub fn new(bytes: Vec<u8>) -> Password {
        Password(bytes)
    }

    /// The secret bytes, for verification only; never log or echo them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        ffi::zeroize_vec(&mut self.0);
    }
}

/// A logged-in identity: where its `/` is and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The user name (`anonymous` for every anonymous login).
    pub name: String,
    /// The real directory that becomes this account's `/`.
    pub home: PathBuf,
    /// Whether uploads, deletes, renames and mkdir are allowed.
    pub writable: bool,
    /// Whether this is an anonymous login.
    pub anonymous: bool,
}

/// One users-file entry.
#[derive(Clone)]
struct UserEntry {
    hash: String,
    home: PathBuf,
    writable: bool,
}

/// The users file: `name:hash:home:perms` lines, keyed by name.
#[derive(Clone)]
pub struct UserDb {
    users: HashMap<String, UserEntry>,
}

impl fmt::Debug for UserDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hashes can be cracked offline: show names only.
        let mut names: Vec<&str> = self.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("UserDb").field("users", &names).finish()
    }
}

impl UserDb {
    /// Read and parse the users file at `path`.
    pub fn load(path: &Path) -> Result<UserDb, ConfigError> {
        let text = read_text_file(path)?;
        UserDb::parse(&text, &path.display().to_string())
    }

    /// Parse users-file text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<UserDb, ConfigError> {
        let mut users: HashMap<String, UserEntry> = HashMap::new();
        let mut lines_of: HashMap<String, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let error = |message: String| ConfigError {
                file: file.to_string(),
                line,
                message,
            };
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let (name, entry) = parse_user_line(content).map_err(error)?;
            if let Some(first) = lines_of.get(&name) {
                return Err(error(format!(
                    "user '{name}' is already defined on line {first}"
                )));
            }
            lines_of.insert(name.clone(), line);
            users.insert(name, entry);
        }
        Ok(UserDb { users })
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file defines no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Every account as `(name, hash, home, writable)`, in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &str, &Path, bool)> {
        self.users
            .iter()
            .map(|(name, e)| (name.as_str(), e.hash.as_str(), e.home.as_path(), e.writable))
    }
}

/// Split `name:hash:home:perms`; the home may itself contain `:`, a hash never does.
fn parse_user_line(content: &str) -> Result<(String, UserEntry), String> {
    const SHAPE: &str = "expected name:hash:home:rw|ro";
    let mut fields = content.splitn(3, ':');
    let (Some(name), Some(hash), Some(rest)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(SHAPE.to_string());
    };
    let (home, perms) = rest.rsplit_once(':').ok_or(SHAPE)?;

    if name.is_empty() {
        return Err("empty user name".to_string());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "user name '{}' contains whitespace or control characters",
            name.escape_debug()
        ));
    }
    check_hash(hash)?;
    let home_path = PathBuf::from(home);
    if !home_path.is_absolute() {
        return Err(format!("home '{home}' is not an absolute path"));
    }
    let writable = match perms {
        "rw" => true,
        "ro" => false,
        _ => return Err(format!("permissions must be rw or ro, got '{perms}'")),
    };
    let entry = UserEntry {
        hash: hash.to_string(),
        home: home_path,
        writable,
    };
    Ok((name.to_string(), entry))
}

/// Accept only crypt(3) hashes that both glibc and static musl verify, in their exact shape,
/// so a truncated or mangled hash is reported at load time rather than as failed logins.
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    const UNSUPPORTED: &str =
        "unsupported password hash: use $6$ (SHA-512), $5$ (SHA-256) or $1$ (MD5), e.g. from `openssl passwd -6`";
    let (body, max_salt, digest_len, has_rounds) = if let Some(b) = hash.strip_prefix("$6$") {
        (b, 16, 86, true)
    } else if let Some(b) = hash.strip_prefix("$5$") {
        (b, 16, 43, true)
    } else if let Some(b) = hash.strip_prefix("$1$") {
        (b, 8, 22, false)
    } else {
        return Err(UNSUPPORTED.to_string());
    };
    let mut parts: Vec<&str> = body.split('$').collect();
    if has_rounds && parts.len() == 3 {
        let rounds = parts[0]
            .strip_prefix("rounds=")
            .ok_or("malformed password hash")?;
        // crypt(3) silently clamps rounds outside this range, and the clamped hash would
        // never match the stored one.
        match rounds.parse::<u32>() {
            Ok(n) if (1000..=999_999_999).contains(&n) && !rounds.starts_with('0') => {}
            _ => return Err("password hash rounds must be from 1000 to 999999999".to_string()),
        }
        parts.remove(0);
    }
    let [salt, digest] = parts[..] else {
        return Err("malformed password hash".to_string());
    };
    let crypt_alphabet = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    };
    if salt.len() > max_salt || !crypt_alphabet(salt) {
        return Err("malformed password hash salt".to_string());
    }
    if digest.len() != digest_len || !crypt_alphabet(digest) {
        return Err("malformed or truncated password hash".to_string());
    }
    Ok(())
}

/// Hash checked against for unknown users, so their logins cost one crypt like real ones.
/// (`openssl passwd -6 -salt DuMmYsAlT0000000` of a password nobody uses.)
pub(crate) const DUMMY_HASH: &str = "$6$DuMmYsAlT0000000$iaU3x.US7nXetPnil70S5s1pUSNGlZpgw0HdkPf80bnTZn9.q4azQ/g66UGSMonQ8La6dbMHNKSsMJIZ97Mv01";

/// Decides logins: anonymous names when enabled, otherwise the users file.
#[derive(Debug)]
pub struct Authenticator {
    users: Option<UserDb>,
    anonymous_root: Option<PathBuf>,
}

impl Authenticator {
    /// Anonymous logins are enabled exactly when `anonymous_root` is given.
    pub fn new(users: Option<UserDb>, anonymous_root: Option<PathBuf>) -> Self {
        if anonymous_root.is_some() {
            if let Some(db) = &users {
                for name in db
                    .users
                    .keys()
                    .filter(|n| Self::is_anonymous_name(n.as_bytes()))
                {
                    log::warn!("users file entry '{name}' is unreachable: anonymous is enabled");
                }
            }
        }
        Authenticator {
            users,
            anonymous_root,
        }
    }

    /// `anonymous` or `ftp`, in any ASCII case (RFC 1635).
    pub fn is_anonymous_name(name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(b"anonymous") || name.eq_ignore_ascii_case(b"ftp")
    }

    /// Whether anonymous logins are accepted.
    pub fn anonymous_enabled(&self) -> bool {
        self.anonymous_root.is_some()
    }

    /// The account for `user` if `pass` is right (any password for anonymous); else `None`.
    pub fn authenticate(&self, user: &[u8], pass: &Password) -> Option<Account> {
        if Self::is_anonymous_name(user) {
            if let Some(root) = &self.anonymous_root {
                // SECURITY: anonymous sessions are always read-only.
                return Some(Account {
                    name: "anonymous".to_string(),
                    home: root.clone(),
                    writable: false,
                    anonymous: true,
                });
            }
        }
        let found = std::str::from_utf8(user)
            .ok()
            .and_then(|name| self.users.as_ref()?.users.get_key_value(name));
        match found {
            Some((name, entry)) => verify(pass, &entry.hash).then(|| Account {
                name: name.clone(),
                home: entry.home.clone(),
                writable: entry.writable,
                anonymous: false,
            }),
            None => {
                // SECURITY: spend one crypt on unknown users too, so response time does not
                // tell an attacker which names exist.
                let _ = verify(pass, DUMMY_HASH);
                None
            }
        }
    }
}

/// Whether `pass` hashes to `stored` under crypt(3).
pub(crate) fn verify(pass: &Password, stored: &str) -> bool {
    match ffi::crypt(pass.expose(), stored.as_bytes()) {
        Some(computed) => constant_time_eq(&computed, stored.as_bytes()),
        None => false,
    }
}

/// Compare without an early exit, so timing does not show how many leading bytes matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Lengths are public (the stored hash's shape is fixed); only the contents are compared
    // in constant time.
    let mut diff = a.len() ^ b.len();
    for (i, &y) in b.iter().enumerate() {
        let x = a.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixtures generated once with openssl; the passwords are in the comments.
    /// `openssl passwd -6 -salt Zk3pQ9rTxY2bW7mN 'correct horse'`
    const SHA512: &str = "$6$Zk3pQ9rTxY2bW7mN$PLFlBDb8JSdHq38HJ.uk11e1UknW2dod..Fik/TsPnzBjBsQoXsuGMYn0H1Y895Aa0psNwtk4aUlkIcEjx1XO0";
    /// `openssl passwd -5 -salt sHa256sAltVaLuE0 'battery staple'`
    const SHA256: &str = "$5$sHa256sAltVaLuE0$.Y54CItxMOVUmk9ffqbw/DINbtAP4Dk/glHRoy.KW7A";
    /// `openssl passwd -1 -salt md5SaLt8 'tr0ub4dor&3'`
    const MD5: &str = "$1$md5SaLt8$95sGexamDPGd6KWwv.Tm50";

    use crate::test_support::TempDir;

    fn users_text() -> String {
        format!(
            "# test users\n\
             \n\
             alice:{SHA512}:/srv/alice:rw\n\
             bob:{SHA256}:/srv/bob:ro\n\
             \x20 carol:{MD5}:/srv/with:colon:ro  \n"
        )
    }

    fn db() -> UserDb {
        UserDb::parse(&users_text(), "users").expect("fixture parses")
    }

    fn pw(s: &str) -> Password {
        Password::new(s.as_bytes().to_vec())
    }

    fn parse_err(text: &str) -> ConfigError {
        UserDb::parse(text, "users").expect_err("should fail")
    }

    #[test]
    fn password_never_shows_the_secret() {
        let p = pw("hunter2");
        for shown in [
            format!("{p:?}"),
            format!("{p}"),
            format!("{p:#?}"),
            format!("{:?}", Some(&p)),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert_eq!(p.expose(), b"hunter2");
    }

    #[test]
    fn user_db_debug_hides_hashes() {
        let shown = format!("{:?}", db());
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("$6$") && !shown.contains("Zk3p"), "{shown}");
    }

    #[test]
    fn parses_the_fixture() {
        let db = db();
        assert_eq!(db.len(), 3);
        assert!(!db.is_empty());
        assert!(UserDb::parse("# nobody\n\n", "u")
            .expect("parses")
            .is_empty());
    }

    #[test]
    fn right_password_logs_in_for_each_hash_type() {
        let auth = Authenticator::new(Some(db()), None);
        assert_eq!(
            auth.authenticate(b"alice", &pw("correct horse")),
            Some(Account {
                name: "alice".to_string(),
                home: PathBuf::from("/srv/alice"),
                writable: true,
                anonymous: false,
            })
        );
        let bob = auth
            .authenticate(b"bob", &pw("battery staple"))
            .expect("bob");
        assert!(!bob.writable);
        let carol = auth
            .authenticate(b"carol", &pw("tr0ub4dor&3"))
            .expect("carol");
        assert_eq!(carol.home, PathBuf::from("/srv/with:colon"));
    }

    #[test]
    fn wrong_password_or_name_fails() {
        let auth = Authenticator::new(Some(db()), None);
        assert_eq!(auth.authenticate(b"alice", &pw("correct horsE")), None);
        assert_eq!(auth.authenticate(b"alice", &pw("")), None);
        assert_eq!(auth.authenticate(b"bob", &pw("correct horse")), None);
        assert_eq!(auth.authenticate(b"carol", &pw("tr0ub4dor&3\0")), None);
        // Names are case-sensitive.
        assert_eq!(auth.authenticate(b"Alice", &pw("correct horse")), None);
        assert_eq!(auth.authenticate(b"mallory", &pw("correct horse")), None);
        assert_eq!(auth.authenticate(b"\xff\xfe", &pw("x")), None);
        assert_eq!(auth.authenticate(b"", &pw("")), None);
        let nobody = Authenticator::new(None, None);
        assert_eq!(nobody.authenticate(b"alice", &pw("correct horse")), None);
    }

    #[test]
    fn dummy_hash_really_costs_a_crypt() {
        // If the dummy were malformed, crypt would fail fast and unknown users would answer
        // quicker than real ones.
        assert_eq!(check_hash(DUMMY_HASH), Ok(()));
        assert!(ffi::crypt(b"guess", DUMMY_HASH.as_bytes()).is_some());
    }

    #[test]
    fn anonymous_when_enabled() {
        let root = PathBuf::from("/srv/ftp");
        let auth = Authenticator::new(Some(db()), Some(root.clone()));
        assert!(auth.anonymous_enabled());
        for name in [&b"anonymous"[..], b"ftp", b"FTP", b"Anonymous"] {
            let account = auth
                .authenticate(name, &pw("me@example.org"))
                .expect("anon");
            assert_eq!(
                account,
                Account {
                    name: "anonymous".to_string(),
                    home: root.clone(),
                    writable: false,
                    anonymous: true,
                }
            );
        }
        assert!(auth.authenticate(b"ftp", &pw("")).is_some());
        // Real users still log in alongside anonymous.
        assert!(auth.authenticate(b"alice", &pw("correct horse")).is_some());
    }

    #[test]
    fn anonymous_refused_when_disabled() {
        let auth = Authenticator::new(Some(db()), None);
        assert!(!auth.anonymous_enabled());
        assert_eq!(auth.authenticate(b"anonymous", &pw("x")), None);
        assert_eq!(auth.authenticate(b"ftp", &pw("")), None);
    }

    #[test]
    fn anonymous_names() {
        assert!(Authenticator::is_anonymous_name(b"anonymous"));
        assert!(Authenticator::is_anonymous_name(b"aNoNyMoUs"));
        assert!(Authenticator::is_anonymous_name(b"Ftp"));
        assert!(!Authenticator::is_anonymous_name(b"anon"));
        assert!(!Authenticator::is_anonymous_name(b"ftpuser"));
        assert!(!Authenticator::is_anonymous_name(b" ftp"));
        assert!(!Authenticator::is_anonymous_name(b""));
    }

    #[test]
    fn parse_errors_name_the_line() {
        let cases: &[(&str, &str)] = &[
            ("alice:{SHA512}:/srv/a", "expected name:hash:home"),
            ("alice", "expected name:hash:home"),
            (":{SHA512}:/srv/a:rw", "empty user name"),
            ("al ice:{SHA512}:/srv/a:rw", "whitespace"),
            ("alice:{SHA512}:srv/a:rw", "not an absolute path"),
            ("alice:{SHA512}::rw", "not an absolute path"),
            ("alice:{SHA512}:/srv/a:wr", "rw or ro"),
            ("alice:{SHA512}:/srv/a:", "rw or ro"),
            ("alice:plaintext:/srv/a:rw", "unsupported"),
            ("alice::/srv/a:rw", "unsupported"),
            (
                "alice:$2b$10$abcdefghijklmnopqrstuu:/srv/a:rw",
                "unsupported",
            ),
            ("alice:$y$j9T$salt$hash:/srv/a:rw", "unsupported"),
            ("alice:*:/srv/a:rw", "unsupported"),
            ("alice:!{SHA512}:/srv/a:rw", "unsupported"),
            ("alice:{TRUNC}:/srv/a:rw", "truncated"),
            ("alice:$6$toolongsaltvalue17$x:/srv/a:rw", "salt"),
            ("alice:$6$rounds=10$salt$x:/srv/a:rw", "rounds"),
            ("alice:$1$rounds=5000$salt$x:/srv/a:rw", "malformed"),
        ];
        let truncated = &SHA512[..SHA512.len() - 1];
        for (line, expected) in cases {
            let line = line
                .replace("{SHA512}", SHA512)
                .replace("{TRUNC}", truncated);
            let text = format!("# header\n\nok:{MD5}:/x:ro\n{line}\n");
            let err = parse_err(&text);
            assert_eq!(err.line, 4, "{line}");
            assert!(err.message.contains(expected), "{line}: {}", err.message);
            assert!(err.to_string().starts_with("users:4: "), "{err}");
            // SECURITY: errors never echo a hash back into logs.
            assert!(!err.message.contains(&SHA512[20..]), "{}", err.message);
        }
    }

    #[test]
    fn hash_with_explicit_rounds_is_accepted_and_verifies() {
        // openssl passwd has no rounds option, so let crypt(3) itself make this one.
        let hash = ffi::crypt(b"s3cret", b"$6$rounds=1000$Zk3pQ9rTxY2bW7mN").expect("crypt");
        let hash = String::from_utf8(hash).expect("ascii");
        assert!(hash.starts_with("$6$rounds=1000$"), "{hash}");
        let db = UserDb::parse(&format!("dave:{hash}:/d:rw"), "u").expect("parses");
        let auth = Authenticator::new(Some(db), None);
        assert!(auth.authenticate(b"dave", &pw("s3cret")).is_some());
        assert!(auth.authenticate(b"dave", &pw("s3creT")).is_none());
        assert!(check_hash(&hash.replace("rounds=1000", "rounds=01000")).is_err());
    }

    #[test]
    fn duplicate_user_is_an_error() {
        let text = format!("alice:{MD5}:/a:rw\nbob:{MD5}:/b:rw\nalice:{SHA256}:/c:ro\n");
        let err = parse_err(&text);
        assert_eq!(err.line, 3);
        assert!(err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn load_reports_path_and_line() {
        let tmp = TempDir::new("load");
        let path = tmp.0.join("users");
        std::fs::write(&path, format!("alice:{SHA512}:/a:rw\nbob:{MD5}:/b:xx\n")).expect("write");
        let err = UserDb::load(&path).expect_err("bad perms");
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: permissions must be rw or ro, got 'xx'",
                path.display()
            )
        );
        std::fs::write(&path, format!("alice:{SHA512}:/a:rw\n")).expect("write");
        assert_eq!(UserDb::load(&path).map(|db| db.len()), Ok(1));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc\0", b"abc"));
    }
}
