//! The command line: getopts options layered over the config file, and `--help` with defaults.

use crate::auth::UserDb;
use crate::config::{self, Config, KEYS};
use crate::hash_password::Method;
use crate::messages;
use getopts::{HasArg, Matches, Occur, Options};
use std::path::Path;

/// What the binary should do after reading its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum CliAction {
    /// Print this help text to stdout and exit 0.
    Help(String),
    /// Print this version line to stdout and exit 0.
    Version(String),
    /// `-t`: the config and users file are fine; say so and exit 0.
    CheckConfig(Config),
    /// `-t`: these problems (one a line) go to stderr, and the exit status is 1.
    CheckFailed(String),
    /// Start the server with this validated config.
    Run(Config),
    /// `--hash-password`: read a password, print its crypt(3) hash made with this method.
    HashPassword(Method),
}

/// What an option does with the config.
#[derive(Clone, Copy)]
enum Does {
    /// Sets this key from the option's value; the values of a repeatable one together form one
    /// list, set where the last of them stands.
    Set(&'static str),
    /// Sets this key to this value.
    SetTo(&'static str, &'static str),
    /// Read by [`parse_args`] or [`build_config`] itself.
    Other,
}

/// One command-line option.
struct Opt {
    short: &'static str,
    long: &'static str,
    /// The value's name in `--help`; empty for a flag.
    hint: &'static str,
    occur: Occur,
    does: Does,
    /// `--help` text; `{default}` becomes the key's default (`on`/`off` for a flag).
    help: &'static str,
}

const fn opt(
    short: &'static str,
    long: &'static str,
    hint: &'static str,
    occur: Occur,
    does: Does,
    help: &'static str,
) -> Opt {
    Opt {
        short,
        long,
        hint,
        occur,
        does,
        help,
    }
}

use Does::{Other, Set, SetTo};
use Occur::{Multi as MANY, Optional as ONCE};

/// Every option, in `--help` order.
#[rustfmt::skip]
const OPTIONS: &[Opt] = &[
    opt("l", "listen", "ADDR", MANY, Set("listen"),
        "address to listen on; repeat for more; replaces the config list (default {default})"),
    opt("p", "port", "PORT", ONCE, Set("port"),
        "control port, 0 picks a free one (default {default})"),
    opt("r", "root", "DIR", ONCE, Set("root"),
        "anonymous root directory (default {default})"),
    opt("U", "users", "FILE", ONCE, Set("users"),
        "users file, lines name:hash:home:rw|ro (default {default})"),
    opt("A", "anonymous", "", ONCE, SetTo("anonymous", "yes"),
        "allow read-only anonymous logins in the root directory (default {default})"),
    opt("", "pasv-ports", "LO-HI", ONCE, Set("pasv_ports"),
        "passive port range (default: any free port)"),
    opt("", "pasv-address", "ADDR", ONCE, Set("pasv_address"),
        "IPv4 address to advertise in PASV replies, for NAT (default: the local address)"),
    opt("", "max-clients", "N", ONCE, Set("max_clients"),
        "control connections in total (default {default})"),
    opt("", "max-per-ip", "N", ONCE, Set("max_per_ip"),
        "control connections per client address (default {default})"),
    opt("", "data-threads", "N", ONCE, Set("data_threads"),
        "data transfer threads, 1-256 (default {default})"),
    opt("", "allow-fxp", "", ONCE, SetTo("allow_fxp", "yes"),
        "allow server-to-server (FXP) transfers (default {default})"),
    opt("c", "config", "FILE", ONCE, Other,
        "read settings from FILE (key = value lines) before the options"),
    opt("o", "option", "KEY=VALUE", MANY, Other,
        "set any config key (see the list below); repeatable"),
    // -f wins over `daemon = yes` in a shared config file (inittab respawn needs it).
    opt("f", "foreground", "", ONCE, SetTo("daemon", "no"),
        "stay in the foreground, for inittab respawn or a supervisor (default; overrides daemon)"),
    opt("d", "daemon", "", ONCE, SetTo("daemon", "yes"),
        "detach into the background once the ports are bound (default {default})"),
    opt("i", "inetd", "", ONCE, SetTo("inetd", "yes"),
        "serve one connection on stdin/stdout, for inetd or tcpsvd (default {default})"),
    opt("P", "pidfile", "FILE", ONCE, Set("pidfile"),
        "write the daemon's pid to FILE (default {default})"),
    opt("t", "test-config", "", ONCE, Other,
        "check the config and users file, print problems, exit 0 if fine or 1"),
    opt("v", "verbose", "", MANY, Other,
        "more logging: -v debug, -vv trace (raises `verbose`)"),
    opt("", "hash-password", "", ONCE, Other,
        "read a password (asked twice, without echo, on a terminal; one line from a pipe), \
         print its hash for the users file, exit"),
    opt("", "hash-method", "METHOD", ONCE, Other,
        "hash of --hash-password: sha512 ($6$), sha256 ($5$) or md5 ($1$) (default sha512)"),
    opt("h", "help", "", ONCE, Other, "print this help and exit"),
    opt("V", "version", "", ONCE, Other, "print the version and exit"),
];

/// The default of `key` as the help shows it.
fn default_of(key: &str) -> String {
    Config::default()
        .get(key)
        .unwrap_or_else(|| "unset".to_string())
}

/// The `--help` text of `opt`, with its key's default filled in.
fn describe(opt: &Opt) -> String {
    let default = match opt.does {
        Set(key) => default_of(key),
        SetTo(key, _) => match default_of(key).as_str() {
            "yes" => "on".to_string(),
            "no" => "off".to_string(),
            other => other.to_string(),
        },
        Other => return opt.help.to_string(),
    };
    opt.help.replace("{default}", &default)
}

fn options() -> Options {
    let mut o = Options::new();
    for opt in OPTIONS {
        let has_arg = if opt.hint.is_empty() {
            HasArg::No
        } else {
            HasArg::Yes
        };
        o.opt(
            opt.short,
            opt.long,
            &describe(opt),
            opt.hint,
            has_arg,
            opt.occur,
        );
    }
    o
}

fn help_text(opts: &Options) -> String {
    let brief = "Usage: ferroftpd [options]\n\n\
        A small, confined FTP server for embedded Linux. It runs in the foreground unless -d\n\
        is given; -i serves one connection from inetd or tcpsvd.\n\
        Settings start from the defaults, then the -c file, then the options in the order\n\
        given (a later option wins; all -l together replace the listen list).";
    let mut text = opts.usage(brief);
    text.push_str("\nConfig keys (`key = value` in the -c file, or -o key=value; `-` or `_`):\n");
    let width = KEYS.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, description) in KEYS {
        text.push_str(&format!(
            "    {key:<width$}  {description} (default {})\n",
            default_of(key)
        ));
    }
    text
}

/// Turn the arguments (without argv\[0\]) into an action; `Err` is a usage message (exit 2).
pub fn parse_args(args: &[String]) -> Result<CliAction, String> {
    let opts = options();
    let matches = opts.parse(args).map_err(|e| format!("{e} (try --help)"))?;
    if let Some(extra) = matches.free.first() {
        return Err(format!("unexpected argument '{extra}' (try --help)"));
    }
    if matches.opt_present("daemon") && matches.opt_present("inetd") {
        return Err("-d (--daemon) and -i (--inetd) exclude each other".to_string());
    }
    if matches.opt_present("help") {
        return Ok(CliAction::Help(help_text(&opts)));
    }
    if matches.opt_present("version") {
        return Ok(CliAction::Version(format!(
            "ferroftpd {}",
            env!("CARGO_PKG_VERSION")
        )));
    }
    if matches.opt_present("hash-password") {
        let method = match matches.opt_str("hash-method") {
            Some(name) => Method::parse(&name)
                .ok_or_else(|| format!("--hash-method: '{name}' is not sha512, sha256 or md5"))?,
            None => Method::Sha512,
        };
        return Ok(CliAction::HashPassword(method));
    }
    if matches.opt_present("hash-method") {
        return Err("--hash-method needs --hash-password".to_string());
    }
    let config = build_config(&matches);
    if matches.opt_present("test-config") {
        return Ok(match config.and_then(check) {
            Ok(config) => CliAction::CheckConfig(config),
            Err(problems) => CliAction::CheckFailed(problems),
        });
    }
    let config = config?;
    config.validate()?;
    Ok(CliAction::Run(config))
}

/// One setting taken from the command line, to be applied in command-line order.
enum Setting {
    /// Set `key` to `value`; `label` names the option in errors.
    Key {
        label: String,
        key: String,
        value: String,
    },
    /// One `-v`.
    Verbose,
}

/// Options grouped in one argument (`-fd`) share its position; they apply in this order, so
/// `-f` beats `-d`, `-o` beats a flag, and `-v` beats `-o`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grouped {
    Value,
    FlagOn,
    FlagOff,
    List,
    Option,
    Verbose,
}

/// Defaults, then the `-c` file, then every option in the order it was given.
fn build_config(m: &Matches) -> Result<Config, String> {
    let mut config = match m.opt_str("config") {
        Some(path) => config::load(Path::new(&path)).map_err(|e| e.to_string())?,
        None => Config::default(),
    };

    let mut settings: Vec<(usize, Grouped, Setting)> = Vec::new();
    let set = |label: String, key: &str, value: String| Setting::Key {
        label,
        key: key.to_string(),
        value,
    };
    for opt in OPTIONS {
        let label = format!("--{}", opt.long);
        match opt.does {
            Set(key) if opt.occur == MANY => {
                // All -l together form the new list, placed where the last one stood.
                let given = m.opt_strs_pos(opt.long);
                if let Some((pos, _)) = given.last() {
                    let values: Vec<&str> = given.iter().map(|(_, v)| v.as_str()).collect();
                    let setting = set(label, key, values.join(","));
                    settings.push((*pos, Grouped::List, setting));
                }
            }
            Set(key) => {
                for (pos, value) in m.opt_strs_pos(opt.long) {
                    settings.push((pos, Grouped::Value, set(label.clone(), key, value)));
                }
            }
            SetTo(key, value) => {
                let group = if value == "no" {
                    Grouped::FlagOff
                } else {
                    Grouped::FlagOn
                };
                for pos in m.opt_positions(opt.long) {
                    settings.push((pos, group, set(label.clone(), key, value.to_string())));
                }
            }
            Other => {}
        }
    }
    for (pos, arg) in m.opt_strs_pos("option") {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!("-o '{arg}': expected KEY=VALUE"));
        };
        let setting = set(format!("-o '{arg}'"), key.trim(), value.trim().to_string());
        settings.push((pos, Grouped::Option, setting));
    }
    for pos in m.opt_positions("verbose") {
        settings.push((pos, Grouped::Verbose, Setting::Verbose));
    }
    settings.sort_by_key(|(pos, group, _)| (*pos, *group));

    for (_, _, setting) in settings {
        match setting {
            Setting::Key { label, key, value } => {
                config
                    .apply(&key, &value)
                    .map_err(|message| format!("{label}: {message}"))?;
            }
            Setting::Verbose => config.verbose = (config.verbose + 1).min(2),
        }
    }
    Ok(config)
}

/// The `-t` checks beyond parsing: cross-field validation, the users file, the `run_as` user,
/// the banner file and the FTPS certificate and key.
fn check(config: Config) -> Result<Config, String> {
    let mut problems = Vec::new();
    if let Err(e) = config.validate() {
        problems.push(e);
    }
    if let Some(path) = &config.users {
        match UserDb::load(path) {
            Ok(db) if db.is_empty() && !config.anonymous => {
                problems.push(format!("{}: defines no user", path.display()));
            }
            Ok(_) => {}
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Some(name) = &config.run_as {
        // The same lookup privilege::drop_privileges makes at startup.
        match nix::unistd::User::from_name(name) {
            Ok(Some(user)) if user.uid.is_root() => {
                problems.push(format!("run_as: user '{name}' has uid 0"));
            }
            Ok(Some(_)) => {}
            Ok(None) => problems.push(format!("run_as: no user '{name}' in /etc/passwd")),
            Err(e) => problems.push(format!("run_as: cannot look up '{name}': {e}")),
        }
    }
    if let Some(path) = &config.banner_file {
        if let Err(e) = messages::read_banner_file(path) {
            problems.push(format!("banner_file: {e}"));
        }
    }
    // The files parse, and the key matches the certificate (its expiry: a warning, in main).
    if let Err(e) = crate::ftps::check(&config) {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    // `openssl passwd -1 -salt md5SaLt8 'tr0ub4dor&3'`
    const MD5: &str = "$1$md5SaLt8$95sGexamDPGd6KWwv.Tm50";

    use crate::test_support::TempDir;

    fn parse(args: &[&str]) -> Result<CliAction, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_args(&args)
    }

    /// Parse arguments that must give `Run`; adds `-U /u` so validation passes.
    fn run(args: &[&str]) -> Config {
        let mut all = vec!["-U", "/u"];
        all.extend_from_slice(args);
        match parse(&all) {
            Ok(CliAction::Run(c)) => c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn help_lists_every_option_key_and_default() {
        let Ok(CliAction::Help(text)) = parse(&["--help"]) else {
            panic!("help");
        };
        for needle in [
            "--listen",
            "--port",
            "--root",
            "--users",
            "--anonymous",
            "--pasv-ports",
            "--pasv-address",
            "--max-clients",
            "--max-per-ip",
            "--data-threads",
            "--allow-fxp",
            "--config",
            "--option",
            "--foreground",
            "--daemon",
            "--inetd",
            "--pidfile",
            "--test-config",
            "--verbose",
            "--help",
            "--version",
            "--hash-password",
            "--hash-method",
            "(default 21)",
            "(default 64)",
            "(default 32)",
            "(default 8)",
            "(default 0.0.0.0)",
            "overrides daemon",
        ] {
            assert!(text.contains(needle), "missing {needle}");
        }
        for (key, _) in KEYS {
            assert!(text.contains(&format!("    {key} ")), "missing key {key}");
        }
        assert!(text.contains("(default 300)") && text.contains("(default 022)"));
        // -h wins over everything else, even values that would not parse.
        assert!(matches!(parse(&["-p", "x", "-h"]), Ok(CliAction::Help(_))));
    }

    #[test]
    fn hash_password_options() {
        assert_eq!(
            parse(&["--hash-password"]),
            Ok(CliAction::HashPassword(Method::Sha512))
        );
        assert_eq!(
            parse(&["--hash-password", "--hash-method", "md5"]),
            Ok(CliAction::HashPassword(Method::Md5))
        );
        assert_eq!(
            parse(&["--hash-method=sha256", "--hash-password"]),
            Ok(CliAction::HashPassword(Method::Sha256))
        );
        let err = parse(&["--hash-password", "--hash-method", "des"]).expect_err("des");
        assert!(err.contains("'des'"), "{err}");
        let err = parse(&["-U", "/u", "--hash-method", "md5"]).expect_err("alone");
        assert!(err.contains("needs --hash-password"), "{err}");
    }

    #[test]
    fn version() {
        assert_eq!(
            parse(&["-V"]),
            Ok(CliAction::Version(format!(
                "ferroftpd {}",
                env!("CARGO_PKG_VERSION")
            )))
        );
    }

    #[test]
    fn every_option_sets_its_key() {
        let c = run(&[
            "-l",
            "127.0.0.1",
            "-p",
            "2121",
            "-r",
            "/srv",
            "-A",
            "--pasv-ports",
            "5000-5010",
            "--pasv-address",
            "192.0.2.1",
            "--max-clients",
            "9",
            "--max-per-ip",
            "3",
            "--data-threads",
            "2",
            "--allow-fxp",
            "-f",
            "-v",
        ]);
        assert_eq!(c.listen, vec![ip("127.0.0.1")]);
        assert_eq!(c.port, 2121);
        assert_eq!(c.root, Some(PathBuf::from("/srv")));
        assert_eq!(c.users, Some(PathBuf::from("/u")));
        assert!(c.anonymous);
        assert_eq!(c.pasv_ports, Some((5000, 5010)));
        assert_eq!(c.pasv_address, Some(ip("192.0.2.1")));
        assert_eq!(c.max_clients, 9);
        assert_eq!(c.max_per_ip, 3);
        assert_eq!(c.data_threads, 2);
        assert!(c.allow_fxp);
        assert_eq!(c.verbose, 1);
    }

    #[test]
    fn process_mode_options() {
        let c = run(&["-d", "-P", "/var/run/ferroftpd.pid"]);
        assert!(c.daemon && !c.inetd);
        assert_eq!(c.pidfile, Some(PathBuf::from("/var/run/ferroftpd.pid")));
        let c = run(&["--inetd"]);
        assert!(c.inetd && !c.daemon);
        assert!(run(&["--daemon", "--pidfile", "/p"]).daemon);
        // -f turns daemon off wherever it was set before it, file or option.
        assert!(!run(&["-o", "daemon=yes", "-f"]).daemon);
        let tmp = TempDir::new("modes");
        let conf = tmp.file("c.conf", "users = /u\ndaemon = yes\n");
        match parse(&["-c", &conf, "--foreground"]) {
            Ok(CliAction::Run(c)) => assert!(!c.daemon),
            other => panic!("{other:?}"),
        }
        match parse(&["-c", &conf]) {
            Ok(CliAction::Run(c)) => assert!(c.daemon),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn daemon_and_inetd_together_are_refused() {
        for args in [
            &["-d", "-i"][..],
            &["-i", "-d"],
            &["-di"],
            &["-t", "-d", "-i"],
        ] {
            let mut all = vec!["-U", "/u"];
            all.extend_from_slice(args);
            let err = parse(&all).expect_err("exclusive");
            assert!(err.contains("exclude"), "{err}");
        }
        // Also when one of them comes from the config file.
        let err = parse(&["-U", "/u", "-o", "daemon=yes", "-i"]).expect_err("exclusive");
        assert!(err.contains("exclude"), "{err}");
        let err = parse(&["-U", "/u", "-i", "-P", "/p"]).expect_err("pidfile");
        assert!(err.contains("pidfile"), "{err}");
    }

    #[test]
    fn no_options_at_all_needs_a_login_method() {
        let err = parse(&[]).expect_err("nobody can log in");
        assert!(err.contains("nobody can log in"), "{err}");
        assert_eq!(
            parse(&["-U", "/u"]),
            Ok(CliAction::Run(Config {
                users: Some(PathBuf::from("/u")),
                ..Config::default()
            }))
        );
    }

    #[test]
    fn listen_is_repeatable_and_replaces_the_file_list() {
        let tmp = TempDir::new("listen");
        let conf = tmp.file("c.conf", "listen = 10.0.0.1, 10.0.0.2\nusers = /u\n");
        match parse(&["-c", &conf]) {
            Ok(CliAction::Run(c)) => assert_eq!(c.listen, vec![ip("10.0.0.1"), ip("10.0.0.2")]),
            other => panic!("{other:?}"),
        }
        match parse(&["-c", &conf, "-l", "::1", "--listen", "127.0.0.1"]) {
            Ok(CliAction::Run(c)) => assert_eq!(c.listen, vec![ip("::1"), ip("127.0.0.1")]),
            other => panic!("{other:?}"),
        }
        let err = parse(&["-U", "/u", "-l", "::1", "-l", "::1"]).expect_err("dup");
        assert!(err.starts_with("--listen: "), "{err}");
    }

    #[test]
    fn options_override_the_config_file() {
        let tmp = TempDir::new("precedence");
        let conf = tmp.file(
            "c.conf",
            "port = 2121\nmax_clients = 5\nusers = /etc/u\nverbose = 1\n",
        );
        let Ok(CliAction::Run(c)) = parse(&["-p", "3000", "-c", &conf, "-o", "max-per-ip=4"])
        else {
            panic!("run");
        };
        assert_eq!(c.port, 3000, "option beats file, wherever -c stands");
        assert_eq!(c.max_clients, 5, "file beats default");
        assert_eq!(c.max_per_ip, 4);
        assert_eq!(c.data_threads, 8, "default kept");
        assert_eq!(c.users, Some(PathBuf::from("/etc/u")));
        assert_eq!(c.verbose, 1);
    }

    #[test]
    fn later_options_win() {
        assert_eq!(run(&["-p", "1", "-o", "port=2"]).port, 2);
        assert_eq!(run(&["-o", "port=2", "-p", "1"]).port, 1);
        assert!(!run(&["-A", "-r", "/r", "-o", "anonymous=no"]).anonymous);
        assert_eq!(run(&["-o", "verbose=0", "-v"]).verbose, 1);
        assert_eq!(run(&["-v", "-o", "verbose=0"]).verbose, 0);
        assert_eq!(run(&["-vvvv"]).verbose, 2, "saturates at trace");
    }

    #[test]
    fn options_grouped_in_one_argument_keep_their_precedence() {
        // Grouped options share one position: -f beats -d, -o beats a flag, -v beats -o.
        assert!(!run(&["-fd"]).daemon);
        assert!(!run(&["-df"]).daemon);
        assert!(run(&["-fo", "daemon=yes"]).daemon);
        assert!(!run(&["-Ao", "anonymous=no"]).anonymous);
        assert_eq!(run(&["-vo", "verbose=0"]).verbose, 1);
        assert_eq!(run(&["-Al", "::1", "-r", "/r"]).listen, vec![ip("::1")]);
    }

    #[test]
    fn option_table_names_real_keys_and_fills_in_defaults() {
        for opt in OPTIONS {
            if let Set(key) | SetTo(key, _) = opt.does {
                assert!(KEYS.iter().any(|(k, _)| *k == key), "--{}: {key}", opt.long);
            }
            assert!(!describe(opt).contains("{default}"), "--{}", opt.long);
        }
        let help = |long: &str| OPTIONS.iter().find(|o| o.long == long).map(describe);
        assert!(help("anonymous").is_some_and(|h| h.ends_with("(default off)")));
        assert!(help("port").is_some_and(|h| h.ends_with("(default 21)")));
        assert!(help("pidfile").is_some_and(|h| h.ends_with("(default unset)")));
    }

    #[test]
    fn option_flag_sets_any_key() {
        let c = run(&[
            "-o",
            "idle_timeout=10",
            "-o",
            "login-fail-delay-ms = 5",
            "--option",
            "banner=Hi\\nthere",
            "-oumask=077",
        ]);
        assert_eq!(c.idle_timeout, Duration::from_secs(10));
        assert_eq!(c.login_fail_delay, Duration::from_millis(5));
        assert_eq!(c.banner.as_deref(), Some("Hi\nthere"));
        assert_eq!(c.umask, 0o077);
    }

    #[test]
    fn option_flag_errors() {
        assert_eq!(
            parse(&["-o", "prot=21"]),
            Err("-o 'prot=21': unknown key 'prot'".to_string())
        );
        assert_eq!(
            parse(&["-o", "port"]),
            Err("-o 'port': expected KEY=VALUE".to_string())
        );
        let err = parse(&["-o", "umask=999"]).expect_err("bad umask");
        assert!(err.starts_with("-o 'umask=999': umask: "), "{err}");
    }

    #[test]
    fn bad_port_is_an_error() {
        for bad in ["65536", "abc", "-1", ""] {
            let err = parse(&["-U", "/u", "-p", bad]).expect_err(bad);
            assert!(err.starts_with("--port: port: "), "{err}");
        }
        assert!(parse(&["-p"]).is_err(), "missing value");
    }

    #[test]
    fn usage_errors() {
        let err = parse(&["--no-such-option"]).expect_err("unknown");
        assert!(
            err.contains("no-such-option") && err.contains("--help"),
            "{err}"
        );
        let err = parse(&["-U", "/u", "stray"]).expect_err("free argument");
        assert!(err.contains("'stray'"), "{err}");
        assert!(
            parse(&["-p", "1", "-p", "2"]).is_err(),
            "single-valued option twice"
        );
    }

    #[test]
    fn config_file_errors_name_file_and_line() {
        let tmp = TempDir::new("conffile");
        let conf = tmp.file("bad.conf", "port = 21\nbogus = 1\n");
        assert_eq!(
            parse(&["-c", &conf]),
            Err(format!("{conf}:2: unknown key 'bogus'"))
        );
        let missing = tmp.0.join("missing.conf").display().to_string();
        let err = parse(&["-c", &missing]).expect_err("missing");
        assert!(err.starts_with(&format!("{missing}: ")), "{err}");
    }

    #[test]
    fn test_config_passes_a_good_setup() {
        let tmp = TempDir::new("check-ok");
        let users = tmp.file("users", &format!("carol:{MD5}:/srv/carol:rw\n"));
        match parse(&["-t", "-U", &users]) {
            Ok(CliAction::CheckConfig(c)) => {
                assert_eq!(c.users.as_deref(), Some(Path::new(&users)))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["-t", "-A", "-r", "/srv"]),
            Ok(CliAction::CheckConfig(_))
        ));
    }

    #[test]
    fn test_config_checks_run_as_and_banner_file() {
        let tmp = TempDir::new("check-device");
        let banner = tmp.file("banner", "Hello\n");
        assert!(matches!(
            parse(&[
                "-t",
                "-A",
                "-r",
                "/srv",
                "-o",
                &format!("banner_file={banner}")
            ]),
            Ok(CliAction::CheckConfig(_))
        ));
        let missing = tmp.0.join("no-banner").display().to_string();
        match parse(&[
            "-t",
            "-A",
            "-r",
            "/srv",
            "-o",
            &format!("banner_file={missing}"),
        ]) {
            Ok(CliAction::CheckFailed(msg)) => assert!(msg.starts_with("banner_file: "), "{msg}"),
            other => panic!("{other:?}"),
        }
        for (user, needle) in [("no-such-user-ferroftpd", "no user"), ("root", "uid 0")] {
            match parse(&["-t", "-A", "-r", "/srv", "-o", &format!("run_as={user}")]) {
                Ok(CliAction::CheckFailed(msg)) => assert!(msg.contains(needle), "{msg}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn test_config_reports_users_file_and_validation_problems() {
        let tmp = TempDir::new("check-bad");
        let users = tmp.file(
            "users",
            &format!("carol:{MD5}:/srv/carol:rw\ndan:$y$x$y:/d:rw\n"),
        );
        match parse(&["--test-config", "-U", &users]) {
            Ok(CliAction::CheckFailed(msg)) => {
                assert!(msg.starts_with(&format!("{users}:2: unsupported")), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        // Validation and the users file are both reported, one a line.
        match parse(&["-t", "-U", &users, "-o", "anonymous=yes"]) {
            Ok(CliAction::CheckFailed(msg)) => {
                let lines: Vec<&str> = msg.lines().collect();
                assert_eq!(lines.len(), 2, "{msg}");
                assert!(lines[0].contains("needs root"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        let empty = tmp.file("empty", "# nobody yet\n");
        match parse(&["-t", "-U", &empty]) {
            Ok(CliAction::CheckFailed(msg)) => assert!(msg.contains("defines no user"), "{msg}"),
            other => panic!("{other:?}"),
        }
        // Config file and option errors under -t are check failures too, not usage errors.
        let conf = tmp.file("bad.conf", "max_clients = 0\n");
        match parse(&["-t", "-c", &conf]) {
            Ok(CliAction::CheckFailed(msg)) => {
                assert!(msg.starts_with(&format!("{conf}:1: ")), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["-t", "-p", "x"]),
            Ok(CliAction::CheckFailed(_))
        ));
        // A missing users file is found by -t (Run leaves that to startup).
        let missing = tmp.0.join("nope").display().to_string();
        assert!(matches!(
            parse(&["-t", "-U", &missing]),
            Ok(CliAction::CheckFailed(_))
        ));
    }
}
