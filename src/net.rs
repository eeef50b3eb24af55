//! Listening sockets, made one way for the control listener and the passive data listeners.

use std::net::{SocketAddr, TcpListener};

/// A non-blocking listening socket: SO_REUSEADDR (a restarted daemon, or a passive port whose
/// last transfer is in TIME_WAIT, can listen again, also when the kernel picks the port; Linux
/// still refuses a second listener on one port) and IPV6_V6ONLY (one socket per family, so
/// `-l ::` and `-l 0.0.0.0` coexist). Accepted sockets are blocking (accept4 does not inherit
/// O_NONBLOCK).
pub fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    // SOCK_NONBLOCK at creation (Linux 2.6.27) saves two fcntl calls per passive transfer.
    let kind = Type::STREAM.nonblocking();
    let socket = Socket::new(Domain::for_address(addr), kind, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog)?;
    Ok(socket.into())
}
