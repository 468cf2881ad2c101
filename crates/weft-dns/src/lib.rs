//! weft-dns: a DNS responder per weft network.
//!
//! Each network has a [`Zone`] — `<name>.<domain>` for every workload and
//! host on the network, on every host — fed by any number of sources (the
//! local agent, peer agents, the mesh file, the control plane), each
//! replacing only its own records. [`DnsServer::start`] serves a zone on
//! UDP and TCP at the network's gateway address on this host:
//!
//! * A for IPv4 and AAAA for IPv6 records, case-insensitively, as an
//!   authoritative answer with a short TTL;
//! * NXDOMAIN (authoritative, with the zone's SOA) for unknown names in the
//!   domain; NOERROR with no answer (and the SOA) for a known name without
//!   records of the asked type;
//! * bare single labels (`web.`) answered like `web.<domain>`; an address
//!   query (A, AAAA, ANY) for an unknown one is NXDOMAIN and never
//!   forwarded (dnsmasq's `domain-needed`), other types for it (a TLD's
//!   DS, NS, SOA) are forwarded like any other name;
//! * other names forwarded to the host's resolvers ([`host_upstreams`]) —
//!   over UDP, again over TCP when the answer was truncated — or, for
//!   internal networks (no upstream), REFUSED and never forwarded;
//! * every TCP connection in its own task with an idle timeout, so a client
//!   holding a connection open delays nobody (CVE-2024-8418).
//!
//! Transport, message decoding and encoding are hickory-server's; this
//! crate decides the answers.

mod error;
mod forward;
mod handler;
mod resolv;
mod server;
mod zone;

pub mod fuzzing;

pub use error::DnsError;
pub use resolv::host_upstreams;
pub use server::{DnsHandle, DnsOptions, DnsServer};
pub use zone::{ClientLinks, Zone, ZoneAnswer};
