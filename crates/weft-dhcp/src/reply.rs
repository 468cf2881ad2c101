//! The answer to one request, pure: what a DHCP server on a VM's TAP says.
//!
//! Only a client whose hardware address has a lease is answered: the guest
//! NIC weft made. Anything else (another MAC, a malformed datagram, a
//! message type a server never answers) gets silence.

use std::net::Ipv4Addr;

use crate::lease::Lease;
use crate::message::{Message, MessageType, OP_REPLY, OP_REQUEST, opt};

/// What to send for `request`, given the leases of the interface it came
/// in on and the server's address (option 54), or None.
pub fn answer(request: &Message, leases: &[Lease], server_id: Ipv4Addr) -> Option<Message> {
    if request.op != OP_REQUEST {
        return None;
    }
    let lease = leases.iter().find(|l| l.mac == request.chaddr)?;
    let ours = lease.address.addr();
    let kind = request.message_type().ok()?;
    let reply_kind = match kind {
        MessageType::Discover => MessageType::Offer,
        MessageType::Request => {
            // Selecting another server's offer: not for us to answer.
            if let Some(server) = request.address_option(opt::SERVER_ID)
                && server != server_id
            {
                return None;
            }
            // INIT-REBOOT / SELECTING name the address in option 50;
            // RENEWING / REBINDING in ciaddr.
            let asked = request
                .address_option(opt::REQUESTED_ADDRESS)
                .unwrap_or(request.ciaddr);
            if asked == ours {
                MessageType::Ack
            } else {
                MessageType::Nak
            }
        }
        MessageType::Inform => MessageType::Ack,
        // A release or decline changes nothing: the address stays the
        // NIC's until weft detaches it. Replies are never answered.
        MessageType::Release
        | MessageType::Decline
        | MessageType::Offer
        | MessageType::Ack
        | MessageType::Nak => return None,
    };
    let mut options = match reply_kind {
        MessageType::Nak => Default::default(),
        _ => lease.options(),
    };
    if kind == MessageType::Inform {
        // RFC 2131 §3.4: no lease times in an answer to INFORM.
        for code in [opt::LEASE_TIME, opt::RENEWAL_TIME, opt::REBINDING_TIME] {
            options.remove(&code);
        }
    }
    options.insert(opt::MESSAGE_TYPE, vec![reply_kind.code()]);
    options.insert(opt::SERVER_ID, server_id.octets().to_vec());
    let yiaddr = match (kind, reply_kind) {
        (MessageType::Inform, _) | (_, MessageType::Nak) => Ipv4Addr::UNSPECIFIED,
        _ => ours,
    };
    Some(Message {
        op: OP_REPLY,
        xid: request.xid,
        secs: 0,
        flags: request.flags,
        ciaddr: request.ciaddr,
        yiaddr,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: request.giaddr,
        chaddr: request.chaddr,
        options,
    })
}

#[cfg(test)]
mod tests;
