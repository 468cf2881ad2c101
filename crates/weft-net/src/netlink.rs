//! The rtnetlink socket and its request/dump core.
//!
//! Synchronous on purpose (like netavark's `network/netlink.rs`): a netlink
//! socket stays bound to the namespace of the thread that created it, so a
//! handle for another namespace is made once on a thread inside it and can
//! then be used from anywhere, with no runtime involved.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlaBuffer, NlasIterator,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{NetError, Result};
use crate::netns::Netns;

/// Big enough for any dump datagram the kernel builds by default (it caps
/// them at 32 KiB); larger ones are still read whole, see `recv_datagram`.
const RECV_BUFFER: usize = 64 * 1024;
/// How often a dump is restarted when the kernel flags it inconsistent
/// (NLM_F_DUMP_INTR: the table changed while being dumped).
const DUMP_ATTEMPTS: usize = 5;
/// `struct nlmsghdr`.
const NETLINK_HEADER_LEN: usize = 16;
/// `NLMSGERR_ATTR_MSG`: the human-readable extended-ACK text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// An rtnetlink socket bound to one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
    /// The namespace the socket lives in, when not the creator's own; added to
    /// error messages.
    origin: Option<String>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("origin", &self.origin)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// What the kernel answered to one request.
struct Reply {
    messages: Vec<RouteNetlinkMessage>,
    /// A dump's table changed while it was being read (NLM_F_DUMP_INTR).
    interrupted: bool,
}

impl Netlink {
    /// A socket in the calling thread's namespace.
    pub fn new() -> Result<Netlink> {
        Netlink::open(None)
    }

    /// A socket in `ns`, opened on a short-lived thread inside it.
    pub fn in_netns(ns: &Netns) -> Result<Netlink> {
        let origin = ns.origin().to_owned();
        ns.run(move || Netlink::open(Some(origin)))?
    }

    fn open(origin: Option<String>) -> Result<Netlink> {
        let op = match &origin {
            Some(ns) => format!("open rtnetlink socket in {ns}"),
            None => "open rtnetlink socket".to_owned(),
        };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| NetError::os(&op, e))?;
        socket.bind_auto().map_err(|e| NetError::os(&op, e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| NetError::os(&op, e))?;
        // Best effort: without them errors just lose the kernel's explanation.
        if let Err(e) = socket.set_ext_ack(true).and(socket.set_cap_ack(true)) {
            tracing::debug!("netlink extended ACKs unavailable: {e}");
        }
        Ok(Netlink {
            socket,
            seq: 0,
            origin,
        })
    }

    /// `what`, plus the namespace when this socket is not in the caller's own.
    pub(crate) fn describe(&self, what: impl std::fmt::Display) -> String {
        match &self.origin {
            Some(ns) => format!("{what} in {ns}"),
            None => what.to_string(),
        }
    }

    /// Sends a request (NLM_F_ACK is added) and waits for the kernel's ACK;
    /// returns whatever it answered before the ACK (the object for a GET).
    pub(crate) fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        op: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        Ok(self.exchange(message, NLM_F_ACK | flags, op)?.messages)
    }

    /// Runs a dump to NLMSG_DONE, restarting it when the kernel reports that
    /// the table changed underneath.
    pub(crate) fn dump(
        &mut self,
        message: RouteNetlinkMessage,
        op: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_ATTEMPTS {
            let reply = self.exchange(message.clone(), NLM_F_DUMP, op)?;
            if !reply.interrupted {
                return Ok(reply.messages);
            }
            tracing::debug!("{op}: dump interrupted, retrying");
        }
        Err(NetError::os(
            format!("{op}: table kept changing during {DUMP_ATTEMPTS} dumps"),
            io::Error::from_raw_os_error(libc::EINTR),
        ))
    }

    fn exchange(&mut self, message: RouteNetlinkMessage, flags: u16, op: &str) -> Result<Reply> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.send(&bytes).map_err(|e| NetError::os(op, e))?;

        let mut reply = Reply {
            messages: Vec::new(),
            interrupted: false,
        };
        loop {
            let datagram = self.recv_datagram().map_err(|e| NetError::os(op, e))?;
            let mut offset = 0;
            while offset < datagram.len() {
                let rest = &datagram[offset..];
                let length = NetlinkBuffer::new_checked(rest)
                    .map_err(|source| NetError::Decode {
                        op: op.to_owned(),
                        source,
                    })?
                    .length() as usize;
                // new_checked guarantees a sane length of at least one header.
                offset += length.next_multiple_of(4);
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..length])
                    .map_err(|source| NetError::Decode {
                    op: op.to_owned(),
                    source,
                })?;
                if message.header.sequence_number != seq {
                    // Left over from an earlier request that failed midway.
                    continue;
                }
                reply.interrupted |= message.header.flags & NLM_F_DUMP_INTR != 0;
                match message.payload {
                    NetlinkPayload::InnerMessage(inner) => reply.messages.push(inner),
                    NetlinkPayload::Done(done) if done.code < 0 => {
                        return Err(NetError::os(op, io::Error::from_raw_os_error(-done.code)));
                    }
                    NetlinkPayload::Done(_) => return Ok(reply),
                    NetlinkPayload::Error(err) => match err.code {
                        None => return Ok(reply),
                        Some(code) => {
                            return Err(NetError::Os {
                                op: op.to_owned(),
                                ext_ack: ext_ack_message(message.header.flags, &err.header),
                                source: io::Error::from_raw_os_error(-code.get()),
                            });
                        }
                    },
                    NetlinkPayload::Overrun(_) => {
                        return Err(NetError::os(
                            op,
                            io::Error::from_raw_os_error(libc::ENOBUFS),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let sent = retry_on_eintr(|| self.socket.send(bytes, 0))?;
        if sent != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("netlink send wrote {sent} of {} bytes", bytes.len()),
            ));
        }
        Ok(())
    }

    /// Reads one whole datagram, whatever its size: peek its length first
    /// (MSG_TRUNC makes recv report the real size), then read it.
    fn recv_datagram(&self) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(RECV_BUFFER);
        let size = retry_on_eintr(|| {
            buf.clear();
            self.socket.recv(&mut buf, libc::MSG_PEEK | libc::MSG_TRUNC)
        })?;
        if size > buf.capacity() {
            buf = Vec::with_capacity(size);
        }
        retry_on_eintr(|| {
            buf.clear();
            self.socket.recv(&mut buf, 0)
        })?;
        Ok(buf)
    }
}

fn retry_on_eintr<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The extended-ACK text of an NLMSG_ERROR, if the kernel attached one.
/// `payload` is what follows the error code: the offending request's header
/// (and body, unless the ACK was capped), then the TLVs.
fn ext_ack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        NETLINK_HEADER_LEN
    } else {
        let request = NetlinkBuffer::new_checked(payload).ok()?;
        (request.length() as usize).next_multiple_of(4)
    };
    NlasIterator::new(payload.get(echoed..)?)
        .filter_map(|nla: std::result::Result<NlaBuffer<&[u8]>, _>| nla.ok())
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let text = nla.value();
            let text = text.split(|&b| b == 0).next().unwrap_or(text);
            String::from_utf8_lossy(text).into_owned()
        })
}

#[cfg(test)]
mod tests;
