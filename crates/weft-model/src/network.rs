//! Network modes and defaults.

use crate::error::ModelError;
use ipnet::IpNet;
use std::fmt;

/// How a network carries traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Routed and encrypted between hosts: one WireGuard interface per
    /// network, a block of the subnet per host.
    #[default]
    Wireguard,
    /// One host's L2 bridge with a gateway address (the flatnet seed).
    Bridge,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Wireguard, Mode::Bridge];

    /// Parse a mode name; empty means the default.
    pub fn parse(text: &str) -> Result<Mode, ModelError> {
        match text {
            "" | "wireguard" => Ok(Mode::Wireguard),
            "bridge" => Ok(Mode::Bridge),
            other => Err(ModelError::invalid(
                "mode",
                other,
                "expected wireguard or bridge",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Wireguard => "wireguard",
            Mode::Bridge => "bridge",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The DNS domain of a network when none is given.
pub const DEFAULT_DOMAIN: &str = "mesh.local";

/// The prefix length of a host's block when none is given.
pub const DEFAULT_BLOCK_PREFIX_V4: u8 = 24;
pub const DEFAULT_BLOCK_PREFIX_V6: u8 = 64;

/// The host block when none is given: the whole subnet for a bridge (it
/// lives on one host); for WireGuard the subnet's first /24 (/64 for IPv6),
/// or the whole subnet when it is smaller than that.
pub fn default_block(mode: Mode, subnet: &IpNet) -> IpNet {
    let prefix = match subnet {
        IpNet::V4(_) => DEFAULT_BLOCK_PREFIX_V4,
        IpNet::V6(_) => DEFAULT_BLOCK_PREFIX_V6,
    };
    if mode == Mode::Bridge || subnet.prefix_len() >= prefix {
        return *subnet;
    }
    IpNet::new(subnet.network(), prefix).expect("a longer prefix of a valid network is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("").unwrap(), Mode::Wireguard);
        assert_eq!(Mode::parse("bridge").unwrap(), Mode::Bridge);
        let err = Mode::parse("vlan").unwrap_err().to_string();
        assert!(err.contains("mode") && err.contains("vlan"), "{err}");
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()).unwrap(), m);
        }
    }

    #[test]
    fn default_blocks() {
        let n = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(
            default_block(Mode::Wireguard, &n("10.42.0.0/16")),
            n("10.42.0.0/24")
        );
        assert_eq!(
            default_block(Mode::Wireguard, &n("10.42.7.0/28")),
            n("10.42.7.0/28")
        );
        assert_eq!(
            default_block(Mode::Bridge, &n("10.88.0.0/16")),
            n("10.88.0.0/16")
        );
        assert_eq!(
            default_block(Mode::Wireguard, &n("fd00::/48")),
            n("fd00::/64")
        );
    }
}
