//! weft-dhcp: DHCPv4 for weft's VMs. A guest whose image runs a DHCP
//! client (busybox `udhcpc`, dhclient, systemd-networkd) gets the address
//! weft assigned its NIC, the router, the network's DNS responder and
//! domain, the MTU and the routes, from the agent on the host side of its
//! TAP (or on the bridge its TAP is a port of).
//!
//! - [`message`]: the wire format, decode and encode; pure, and never
//!   panics on what a guest sends (a guest is outside input).
//! - [`lease`]: what one NIC is given, and the options that say it
//!   (classless static routes per RFC 3442).
//! - [`reply`]: the answer to a request, pure: only a MAC with a lease
//!   gets one.
//! - [`responder`]: a socket per interface and a thread that answers.
//!
//! Written here rather than with a DHCP crate: the header and the dozen
//! options weft sends are a few hundred lines, and the one maintained crate
//! (dhcproto) brings a second version of hickory's protocol crate.

pub mod lease;
pub mod message;
pub mod reply;
pub mod responder;

pub use lease::{Lease, StaticRoute};
pub use message::{DhcpError, Message, MessageType};
pub use reply::answer;
pub use responder::{Responder, ResponderError};
