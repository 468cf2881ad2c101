//! weft-firewall: weft's nftables rules on one host — isolation between
//! weft networks and masquerade of their egress — kept in one table,
//! `inet weft`, that weft owns whole and never reaches outside of.
//!
//! The agent describes every network present on the host ([`NetworkRules`]:
//! name, subnets, interfaces, internal or not) and calls [`Firewall::apply`]
//! after every change (network created or removed, and at start-up).
//! [`ruleset()`] turns the description into the table it needs (a
//! [`Table`] value, no I/O); [`changes()`] compares it with what
//! [`Listed::parse`] read from nft and gives the one nft transaction that
//! changes only what differs: a new network adds its two chains and its
//! elements in the shared sets, and no other network's chain or rule is
//! touched. Re-applying the same networks (an agent restart) sends
//! nothing, so the table — handles included — stays byte-identical. The
//! chains and rules are described in the [`mod@ruleset`] module's
//! documentation:
//!
//! * forward: from a network's interfaces, traffic to another weft
//!   network's addresses or interfaces is dropped, traffic within the
//!   network accepted; internal networks reach nothing outside themselves
//!   and nothing outside reaches them.
//! * input: from a network's interfaces to the host's addresses on another
//!   network: dropped. A VXLAN network's packets are taken only from its
//!   VTEPs, and on a network inside WireGuard only through its interface
//!   ([`mod@vxlan`]).
//! * no workload answers DHCP or advertises itself as a router: dropped
//!   where it enters a bridge (table `bridge weft`) and when routed into a
//!   weft network.
//! * postrouting (nat): non-internal networks' traffic leaving through a
//!   non-weft interface to a non-weft address is masqueraded.
//!
//! The table's size grows linearly with the networks: per network two
//! chains of a few rules and a few set elements; what networks share is
//! looked up in sets and verdict maps. Rules match interface *names*
//! (`iifname`, with nft wildcards for veth prefixes), so they can be applied
//! before the interfaces exist and keep working as workloads come and go:
//! attaching a workload changes nothing in the table. (On a bridge network
//! it adds its port's two pins to table `bridge weft`:
//! [`Firewall::apply_ports`].)

mod bridge;
mod changes;
mod error;
mod generation;
mod model;
mod nft;
mod nft_json;
mod rogue_servers;
pub mod ruleset;
mod set_elements;
mod table;
pub mod vxlan;

pub use changes::{ChangeKind, Changes, changes};
pub use error::FirewallError;
pub use model::{
    BridgePort, BridgePorts, HostServices, IfMatch, LocalGateway, NetworkRules, VxlanSources,
};
pub use nft::{Applied, Firewall};
pub use ruleset::ruleset;
pub use table::{Listed, Table};
