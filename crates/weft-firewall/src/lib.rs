//! weft-firewall: weft's nftables rules on one host — isolation between
//! weft networks and masquerade of their egress — kept in one table,
//! `inet weft`, that weft owns whole and never reaches outside of.
//!
//! The agent describes every network present on the host ([`NetworkRules`]:
//! name, subnets, interfaces, internal or not) and calls [`Firewall::apply`]
//! after every change (network created or removed, and at start-up).
//! [`ruleset()`] turns the description into one nft JSON batch that replaces
//! the table atomically; `apply` sends it only when the table differs from
//! it, so re-applying the same networks (an agent restart) leaves the
//! table — handles included — byte-identical. The chains and rules are
//! described in the [`mod@ruleset`] module's documentation:
//!
//! * forward: from a network's interfaces, traffic to another weft
//!   network's addresses or interfaces is dropped, traffic within the
//!   network accepted; internal networks reach nothing outside themselves
//!   and nothing outside reaches them.
//! * input: from a network's interfaces to the host's addresses on another
//!   network: dropped.
//! * postrouting (nat): non-internal networks' traffic leaving through a
//!   non-weft interface to a non-weft address is masqueraded.
//!
//! Rules match interface *names* (`iifname`, with nft wildcards for veth
//! prefixes), so they can be applied before the interfaces exist and keep
//! working as workloads come and go.

mod error;
mod model;
mod nft;
pub mod ruleset;

pub use error::FirewallError;
pub use model::{IfMatch, NetworkRules};
pub use nft::{Applied, Firewall};
pub use ruleset::{listed_objects, ruleset, table_objects};
