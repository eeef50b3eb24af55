//! The `ferroftpd` binary: parse the command line, set up logging, run.

#![deny(unsafe_code)]

use ferroftpd::cli::{self, CliAction};
use ferroftpd::hash_password::HashError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let action = match cli::parse_args(&args) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("ferroftpd: {msg}");
            eprintln!("Try 'ferroftpd --help'.");
            return ExitCode::from(2);
        }
    };
    match action {
        CliAction::Help(text) | CliAction::Version(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        CliAction::HashPassword(method) => match ferroftpd::hash_password::run(method) {
            Ok(hash) => {
                println!("{hash}");
                ExitCode::SUCCESS
            }
            Err(HashError::Interrupted(sig)) => {
                // The shell convention for "killed by SIGn", after the terminal is restored.
                ExitCode::from(128u8.saturating_add(sig as u8))
            }
            Err(HashError::Failed(msg)) => {
                eprintln!("ferroftpd: {msg}");
                ExitCode::FAILURE
            }
        },
        CliAction::CheckConfig(config) => {
            // Not an error: the server runs, serving fewer clients (see fdlimit).
            if !config.inetd {
                let listeners = config.listen.len();
                if let Some(w) = ferroftpd::fdlimit::coverage_warning(config.max_clients, listeners)
                {
                    eprintln!("ferroftpd: warning: {w}");
                }
            }
            if let Ok(Some(w)) = ferroftpd::ftps::check(&config) {
                eprintln!("ferroftpd: warning: {w}");
            }
            println!("ferroftpd: configuration OK");
            ExitCode::SUCCESS
        }
        CliAction::CheckFailed(problems) => {
            eprint!("{problems}");
            if !problems.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
        CliAction::Run(config) => {
            if config.inetd {
                // Under inetd stderr can be the client's socket: log lines must not reach it.
                let _ = ferroftpd::daemon::detach_stderr_from_connection();
            }
            init_logging(&config);
            log_panics();
            // Test switch: behave as on Linux 3.10, where newer syscalls do not exist. Before
            // any thread starts, so every thread inherits the filter.
            #[cfg(feature = "test-hooks")]
            if std::env::var_os("FERROFTPD_OLD_KERNEL").is_some_and(|v| v == "1") {
                if let Err(e) = ferroftpd::oldkernel::deny_new_syscalls() {
                    log::error!("FERROFTPD_OLD_KERNEL=1: cannot install the filter: {e}");
                    return ExitCode::FAILURE;
                }
                log::info!("FERROFTPD_OLD_KERNEL=1: syscalls newer than Linux 3.10 answer ENOSYS");
            }
            // SIGHUP re-reads the same file with the same command-line options on top.
            let reload: ferroftpd::startup::Reloader =
                Box::new(move || match cli::parse_args(&args) {
                    Ok(CliAction::Run(c)) => Ok(c),
                    Ok(_) => Err("unexpected command line on reload".into()),
                    Err(e) => Err(e),
                });
            match ferroftpd::startup::run(config, reload) {
                Ok(()) => ExitCode::SUCCESS,
                Err(msg) => {
                    log::error!("{msg}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(config: &ferroftpd::config::Config) {
    let level = match config.verbose {
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    if config.syslog {
        match ferroftpd::syslog::init(&config.syslog_socket, level) {
            Ok(()) => return,
            Err(e) => eprintln!("ferroftpd: {e}; logging to stderr"),
        }
    }
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    // FERROFTPD_LOG=debug and the like still override the level, for debugging a device.
    if let Ok(spec) = std::env::var("FERROFTPD_LOG") {
        builder.parse_filters(&spec);
    }
    builder.format(|buf, record| {
        use std::io::Write;
        writeln!(buf, "ferroftpd: {:<5} {}", record.level(), record.args())
    });
    builder.init();
}

/// Panics go through the logger (syslog on a device, where stderr may be /dev/null), keeping
/// the standard "panicked at" wording that log watchers and the tests look for.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::error!("thread '{name}' panicked at {location}: {payload}");
    }));
}
