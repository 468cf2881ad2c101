//! Only weft hands out addresses on its networks: what a DHCP server or an
//! IPv6 router sends — DHCP answers to a client's port, router
//! advertisements — is dropped when it comes from a workload's or VM's
//! side, so a workload running `udhcpd` (or answering faster than weft's
//! responder) cannot give its neighbours a lease that routes them through
//! itself.
//!
//! The match is the destination, not the source port: a client's raw
//! socket (busybox `udhcpc`'s filter, for one) takes any datagram to its
//! port 68, whatever port it came from. No workload has a reason to send
//! to a DHCP client's port (68, or 546 for DHCPv6) or to advertise itself
//! as a router.
//!
//! Two places, so that it holds whether or not `br_netfilter` hands
//! bridged frames to the `inet` hooks:
//!
//! * table `bridge weft`, prerouting: from every workload and VM port on a
//!   bridge and from every VXLAN device (which carries other hosts'
//!   workloads' frames), before the frame is switched anywhere;
//! * table `inet weft`, forward: DHCP answers routed into a weft
//!   network's interfaces (routed veths and TAPs, WireGuard, bridges).
//!   Router advertisements are never routed (link-local, hop limit 255).
//!
//! weft's own DHCP responder sends from the host (the output path), which
//! neither rule sees.

use serde_json::{Value, json};

/// DHCP's client port (BOOTP).
pub const DHCP_CLIENT_PORT: u16 = 68;
/// DHCPv6's client port.
pub const DHCPV6_CLIENT_PORT: u16 = 546;

/// `udp dport { 68, 546 }`: an answer to a DHCP client.
pub(crate) fn to_dhcp_client() -> Value {
    json!({"match": {"op": "==",
        "left": {"payload": {"protocol": "udp", "field": "dport"}},
        "right": {"set": [DHCP_CLIENT_PORT, DHCPV6_CLIENT_PORT]}}})
}

/// `icmpv6 type nd-router-advert`.
pub(crate) fn router_advertisement() -> Value {
    json!({"match": {"op": "==",
        "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
        "right": "nd-router-advert"}})
}

/// `udp dport { 68, 546 } oifname @interfaces counter drop`: no DHCP
/// answer is routed into a weft network (set `interfaces`), from its own
/// workloads or from anywhere else.
pub(crate) fn dhcp_routed_in(chain: &str, interfaces: &str) -> Value {
    crate::nft_json::raw_rule(
        chain,
        vec![
            to_dhcp_client(),
            json!({"match": {"op": "==", "left": {"meta": {"key": "oifname"}},
                             "right": format!("@{interfaces}")}}),
            crate::nft_json::counter(),
            json!({"drop": null}),
        ],
    )
}
