//! Command handlers, grouped by concern; `execute` runs the session's gate and then the one
//! table from `Command` to handler.
//!
//! - `login`: USER, PASS, ACCT, REIN, QUIT, HOST
//! - `navigation`: PWD, CWD, CDUP
//! - `files`: MKD, RMD, DELE, RNFR, RNTO, SITE CHMOD
//! - `info`: SYST, HELP, STAT, FEAT, OPTS, LANG, NOOP, SIZE, MDTM, ALLO, SMNT, SITE
//! - `facts`: MLST, MLSD, MFMT
//! - `checksum`: HASH, RANG, XCRC
//! - `parameters`: TYPE, STRU, MODE, PORT, EPRT, PASV, EPSV, ABOR (no transfer running)
//! - `list`: LIST, NLST, STAT path
//! - `transfers`: REST, RETR, STOR, STOU, APPE
//! - `security`: AUTH, PBSZ, PROT, CCC (FTPS)

mod checksum;
mod facts;
mod files;
mod info;
mod list;
mod login;
mod navigation;
mod parameters;
mod security;
#[cfg(test)]
mod tests;
mod transfers;

use crate::command::{Command, SiteCommand};
use crate::control::Control;
use crate::error::FtpError;
use crate::reply::Reply;

/// Run one parsed command and produce its final reply: the session's gate first (login,
/// write permission), then its handler. The only way to a handler.
pub fn execute(ctl: &mut Control, cmd: Command) -> Result<Reply, FtpError> {
    ctl.session.gate(&cmd)?;
    dispatch(ctl, cmd)
}

/// The table from command to handler.
fn dispatch(ctl: &mut Control, cmd: Command) -> Result<Reply, FtpError> {
    match cmd {
        Command::User(name) => login::user(ctl, name),
        Command::Pass(pass) => login::pass(ctl, pass),
        Command::Acct => login::acct(ctl),
        Command::Rein => login::rein(ctl),
        Command::Quit => login::quit(ctl),
        Command::Pwd => navigation::pwd(ctl),
        Command::Cwd(path) => navigation::cwd(ctl, &path),
        Command::Cdup => navigation::cwd(ctl, b".."),
        Command::Mkd(path) => files::mkd(ctl, &path),
        Command::Rmd(path) => files::rmd(ctl, &path),
        Command::Dele(path) => files::dele(ctl, &path),
        Command::Rnfr(path) => files::rnfr(ctl, &path),
        Command::Rnto(path) => files::rnto(ctl, &path),
        Command::Site(SiteCommand::Chmod(mode, path)) => files::chmod(ctl, mode, &path),
        Command::Site(sub) => info::site(ctl, sub),
        Command::Syst => info::syst(),
        Command::Help(arg) => info::help(arg.as_deref()),
        Command::Stat(None) => info::stat(ctl),
        Command::Stat(Some(path)) => list::stat_path(ctl, &path),
        Command::Feat => info::feat(ctl),
        Command::Opts(arg) => info::opts(ctl, &arg),
        Command::Lang(tag) => info::lang(tag.as_deref()),
        Command::Host(name) => login::host(ctl, name),
        Command::Mlst(path) => facts::mlst(ctl, path.as_deref()),
        Command::Mlsd(path) => facts::mlsd(ctl, path.as_deref()),
        Command::Mfmt(secs, nsec, path) => facts::mfmt(ctl, secs, nsec, &path),
        Command::Hash(path) => checksum::hash(ctl, &path),
        Command::Rang(start, end) => checksum::rang(ctl, start, end),
        Command::Xcrc(path, start, end) => checksum::xcrc(ctl, &path, start, end),
        Command::Noop => info::noop(),
        Command::Size(path) => info::size(ctl, &path),
        Command::Mdtm(path) => info::mdtm(ctl, &path),
        Command::Allo => info::allo(),
        Command::Smnt => Err(FtpError::NotImplemented),
        Command::Type(t) => parameters::set_type(ctl, t),
        Command::Stru(s) => parameters::stru(ctl, s),
        Command::Mode(m) => parameters::mode(ctl, m),
        Command::Port(addr) | Command::Eprt(addr) => parameters::active(ctl, addr),
        Command::Pasv => parameters::pasv(ctl),
        Command::Epsv(arg) => parameters::epsv(ctl, arg),
        Command::Rest(offset) => transfers::rest(ctl, offset),
        Command::Retr(path) => transfers::retr(ctl, &path),
        Command::Stor(path) => transfers::stor(ctl, &path, transfers::StoreKind::Replace),
        Command::Appe(path) => transfers::stor(ctl, &path, transfers::StoreKind::Append),
        Command::Stou(hint) => transfers::stou(ctl, hint.as_deref()),
        Command::List(arg) => list::list(ctl, arg.as_deref(), true),
        Command::Nlst(arg) => list::list(ctl, arg.as_deref(), false),
        Command::Abor => parameters::abor_idle(ctl),
        Command::Auth(mechanism) => security::auth(ctl, &mechanism),
        Command::Pbsz(_) => security::pbsz(ctl),
        Command::Prot(level) => security::prot(ctl, &level),
        Command::Ccc => security::ccc(ctl),
    }
}
