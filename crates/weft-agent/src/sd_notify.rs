//! Readiness for systemd (`Type=notify`): one datagram, `READY=1`, to the
//! socket systemd names in `NOTIFY_SOCKET`. Written here rather than taken
//! from a crate: the protocol is this one send, and the crates for it pull
//! in more than they save.

use std::ffi::OsStr;
use std::os::unix::net::UnixDatagram;

/// Tell systemd the service is ready; nothing when not run by systemd.
pub fn ready() {
    if let Some(socket) = std::env::var_os("NOTIFY_SOCKET")
        && let Err(err) = notify(&socket, "READY=1")
    {
        tracing::warn!(error = %err, "tell systemd the service is ready");
    }
}

/// Send `state` to the notification socket at `socket` (a path, or an
/// abstract name starting with '@').
pub fn notify(socket: &OsStr, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let bytes = socket.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), std::path::Path::new(socket))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
