//! Transfer parameter commands (RFC 959 §4.1.2): TYPE, STRU, MODE, and the data connection's
//! setup, PORT/EPRT and PASV/EPSV; ABOR with no transfer running drops that setup.

use crate::command::{EpsvArg, Format, Mode, Structure, TransferType};
use crate::control::Control;
use crate::data_channel::{self, DataSetup};
use crate::error::FtpError;
use crate::reply::{Reply, ReplyCode};
use std::net::{IpAddr, SocketAddr};

/// TYPE A [N|T|C], E [N|T|C], I, L 8 (other byte sizes and page structure are refused by
/// the parser). A type without a format is Non-print again (RFC 959 §4.1.2).
pub fn set_type(ctl: &mut Control, t: TransferType) -> Result<Reply, FtpError> {
    ctl.session.transfer_type = t;
    let base = match t {
        TransferType::Ascii(_) => "Switching to ASCII mode",
        TransferType::Ebcdic(_) => "Switching to EBCDIC mode",
        TransferType::Binary => "Switching to Binary mode",
    };
    let format = match t.format() {
        Format::NonPrint => "",
        Format::Telnet => ", Telnet format effectors",
        Format::Carriage => ", ASA carriage control",
    };
    Ok(Reply::new(ReplyCode::CommandOk, format!("{base}{format}.")))
}

/// STRU F|R.
pub fn stru(ctl: &mut Control, s: Structure) -> Result<Reply, FtpError> {
    ctl.session.structure = s;
    let letter = match s {
        Structure::File => 'F',
        Structure::Record => 'R',
    };
    Ok(Reply::new(
        ReplyCode::CommandOk,
        format!("Structure set to {letter}."),
    ))
}

/// MODE S|B|C.
pub fn mode(ctl: &mut Control, m: Mode) -> Result<Reply, FtpError> {
    ctl.session.mode = m;
    let letter = match m {
        Mode::Stream => 'S',
        Mode::Block => 'B',
        Mode::Compressed => 'C',
    };
    Ok(Reply::new(
        ReplyCode::CommandOk,
        format!("Mode set to {letter}."),
    ))
}

fn refuse_after_epsv_all(ctl: &Control) -> Result<(), FtpError> {
    if ctl.session.epsv_all {
        return Err(FtpError::BadSequence(
            "Only EPSV is allowed after EPSV ALL.",
        ));
    }
    Ok(())
}

/// PORT / EPRT: connect back to the client for the next transfer.
pub fn active(ctl: &mut Control, target: SocketAddr) -> Result<Reply, FtpError> {
    refuse_after_epsv_all(ctl)?;
    let local_ip = ctl.session.local.ip().to_canonical();
    if target.is_ipv4() != local_ip.is_ipv4() && !ctl.settings.config.allow_fxp {
        return Err(FtpError::UnsupportedProtocol);
    }
    data_channel::check_active_target(
        target,
        ctl.session.peer.ip(),
        ctl.settings.config.allow_fxp,
    )?;
    ctl.session.data = Some(DataSetup::Active { target, local_ip });
    Ok(Reply::new(
        ReplyCode::CommandOk,
        "PORT command successful. Consider using PASV.",
    ))
}

/// Open a passive listener on the control connection's local address.
fn open_listener(ctl: &mut Control) -> Result<u16, FtpError> {
    // Drop any previous setup first so its port is free again.
    ctl.session.data = None;
    let local_ip = ctl.session.local.ip().to_canonical();
    let listener = data_channel::open_passive(local_ip, ctl.settings.config.pasv_ports)
        .map_err(|_| FtpError::CantOpenData)?;
    let port = listener
        .local_addr()
        .map_err(|_| FtpError::CantOpenData)?
        .port();
    ctl.session.data = Some(DataSetup::Passive {
        listener,
        peer: ctl.session.peer.ip(),
    });
    Ok(port)
}

/// PASV: 227 with h1,h2,h3,h4,p1,p2.
pub fn pasv(ctl: &mut Control) -> Result<Reply, FtpError> {
    refuse_after_epsv_all(ctl)?;
    let shown = match ctl.settings.config.pasv_address {
        Some(addr) => addr,
        None => ctl.session.local.ip().to_canonical(),
    };
    let IpAddr::V4(v4) = shown else {
        // RFC 2428 §1: PASV is replaced by EPSV; its reply cannot describe an IPv6 address.
        return Err(FtpError::PasvOnIpv6);
    };
    let port = open_listener(ctl)?;
    let o = v4.octets();
    Ok(Reply::new(
        ReplyCode::EnteringPassive,
        format!(
            "Entering Passive Mode ({},{},{},{},{},{}).",
            o[0],
            o[1],
            o[2],
            o[3],
            port >> 8,
            port & 0xFF
        ),
    ))
}

/// EPSV [1|2|ALL] (RFC 2428 §3).
pub fn epsv(ctl: &mut Control, arg: EpsvArg) -> Result<Reply, FtpError> {
    let family = if ctl.session.local.ip().to_canonical().is_ipv4() {
        1
    } else {
        2
    };
    match arg {
        EpsvArg::All => {
            ctl.session.epsv_all = true;
            return Ok(Reply::new(ReplyCode::CommandOk, "EPSV ALL ok."));
        }
        EpsvArg::Protocol(p) if p != family => return Err(FtpError::UnsupportedProtocol),
        _ => {}
    }
    let port = open_listener(ctl)?;
    Ok(Reply::new(
        ReplyCode::EnteringExtendedPassive,
        format!("Entering Extended Passive Mode (|||{port}|)"),
    ))
}

/// ABOR with no transfer running: close any pending data setup (RFC 959: 225).
pub fn abor_idle(ctl: &mut Control) -> Result<Reply, FtpError> {
    ctl.session.data = None;
    Ok(Reply::new(
        ReplyCode::DataOpenNoTransfer,
        "No transfer to ABOR.",
    ))
}
