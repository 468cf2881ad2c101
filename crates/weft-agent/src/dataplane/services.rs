//! The services the data plane runs for workloads: each network's DNS
//! responder with the records endpoint peers fetch this host's names from
//! ([`ServicesPlan`], the names as [`Records`] per source), and the DHCP
//! responders that answer VMs' NICs ([`DhcpPlan`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_dhcp::Lease;

/// DNS names of one network from one source: label -> addresses.
pub type Records = BTreeMap<String, Vec<IpAddr>>;

/// Where the records of this host's workloads come from.
pub const LOCAL_SOURCE: &str = "local";

/// Where the records a peer's agent serves come from: `peer:<its key>`.
pub const PEER_SOURCE_PREFIX: &str = "peer:";

pub fn peer_source(key: &weft_model::PublicKey) -> String {
    format!("{PEER_SOURCE_PREFIX}{key}")
}

/// Where the records a remote VTEP's agent serves come from:
/// `vtep:<address>`.
pub fn vtep_source(address: &IpAddr) -> String {
    format!("vtep:{address}")
}

/// DNS port of every network's responder.
pub const DNS_PORT: u16 = 53;

/// Where peers fetch a host's names (one JSON document of [`Records`] per
/// connection), on its address in the network (so only through the tunnel).
pub const RECORDS_PORT: u16 = 7945;

/// A network's services on this host: its DNS responder (and the endpoint
/// peers fetch this host's records from), on the host's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicesPlan {
    pub network: String,
    pub domain: String,
    pub listen: IpAddr,
    /// Internal networks never forward names upstream.
    pub internal: bool,
}

/// Which DHCP responder answers which leases: by interface (a routed
/// network's TAP, or a bridge with VMs on it).
pub type DhcpPlan = BTreeMap<String, Vec<Lease>>;
