//! The control plane's vocabulary: tenants, their keys and tokens, hosts,
//! networks and the blocks hosts get in them. Typed values checked once at
//! the edge; no I/O.

mod id;
pub mod logs;
mod site;
mod vm;
mod vxlan;

pub use id::{HostId, TenantId, random_id};
pub use site::{MAX_LABELS, Site, SiteSpec, validate_site_name};
pub use vm::{
    MAX_NICS, ReportedNic, RunReport, RunRequest, Vm, VmError, VmNicSpec, VmRun, VmSpec,
    check_nics, check_placement, validate_vm_id,
};
pub use vxlan::{FIRST_ASSIGNED_VNI, VxlanRequest, VxlanSpec, assign_vni};

use ipnet::IpNet;
use serde::Serialize;
use weft_model::ModelError;

/// A name people give (tenants, hosts): a DNS label, lowercase letters,
/// digits and '-', 1–63 characters, not starting or ending with '-'.
pub fn validate_label(field: &'static str, text: &str) -> Result<(), ModelError> {
    if text.is_empty() || text.len() > 63 {
        return Err(ModelError::invalid(
            field,
            text,
            "must be 1 to 63 characters",
        ));
    }
    let ok = text
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
    if !ok || text.starts_with('-') || text.ends_with('-') {
        return Err(ModelError::invalid(
            field,
            text,
            "use lowercase letters, digits and '-' (not first or last)",
        ));
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: i64,
}

/// An API key as listed: its id, never its hash or text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub tenant: TenantId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub tenant: TenantId,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: u32,
    /// The site the hosts it enrolls join (none: no site).
    pub site: Option<String>,
}

/// What a token's redemption registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHost {
    pub id: HostId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Host {
    pub id: HostId,
    pub tenant: TenantId,
    pub name: String,
    pub created_at: i64,
    /// Set when the host was deleted: its certificate is refused from then on.
    pub revoked_at: Option<i64>,
    /// Its underlay address, as its connection to the control plane came from.
    pub endpoint: Option<String>,
    /// The weft version it reported.
    pub version: Option<String>,
    /// Its last report (heartbeat).
    pub last_seen: Option<i64>,
    /// Its peers by health state, as last reported.
    pub peer_health: std::collections::BTreeMap<String, u32>,
    /// Its peer links, as last reported (the dashboard's topology).
    pub peer_links: Vec<PeerLink>,
    /// The site it is in, if any.
    pub site: Option<String>,
}

/// One peer link of a host, as it reported it: the peer is named by its
/// public key on the network (the API resolves it to a host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PeerLink {
    pub network: String,
    pub public_key: String,
    /// healthy, degraded, unhealthy or disconnected.
    pub health: String,
    /// Unix seconds of the last handshake, if any.
    pub last_handshake: Option<i64>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub endpoint: Option<String>,
}

/// What a host reports: its address, version, and per network the public
/// key and listen port it made (never a private key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostReport {
    pub endpoint: String,
    pub version: String,
    pub keys: Vec<NetworkKey>,
    /// Peers by health state (not desired state: no revision moves for it).
    pub peer_health: std::collections::BTreeMap<String, u32>,
    /// Its peer links, when the report carries them (`None`: unchanged,
    /// the stored ones stay).
    pub peer_links: Option<Vec<PeerLink>>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NetworkKey {
    pub network: String,
    pub public_key: String,
    pub listen_port: u16,
}

/// A host's key on one network, as stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HostKey {
    pub host: HostId,
    #[serde(flatten)]
    pub key: NetworkKey,
    /// When the host first reported this key (Unix seconds): its age. A
    /// report repeating the key keeps it; a new key (a rotation) resets
    /// it. None: reported before the control plane kept it.
    pub since: Option<i64>,
}

/// Modes the control plane hands out. Bridge networks live on one host
/// and are made there (`weft network create --mode bridge`), not here;
/// VXLAN networks belong to a site ([`VxlanSpec`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Wireguard,
    Vxlan,
}

impl Mode {
    /// The mode of a request to `POST /v1/networks`.
    pub fn parse(text: &str) -> Result<Mode, ModelError> {
        match text {
            "" | "wireguard" => Ok(Mode::Wireguard),
            "vxlan" => Err(ModelError::invalid(
                "mode",
                text,
                "a VXLAN network belongs to a site: POST /v1/sites/{site}/vxlan-networks",
            )),
            other => Err(ModelError::invalid(
                "mode",
                other,
                "the control plane makes wireguard networks (bridges are per host)",
            )),
        }
    }

    /// The mode as a store keeps it.
    pub fn from_stored(text: &str) -> Option<Mode> {
        match text {
            "wireguard" => Some(Mode::Wireguard),
            "vxlan" => Some(Mode::Vxlan),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Wireguard => "wireguard",
            Mode::Vxlan => "vxlan",
        }
    }
}

/// A network as a tenant asks for it, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: IpNet,
    pub mode: Mode,
    pub internal: bool,
    pub domain: String,
    /// The prefix length of each host's block.
    pub block_prefix: u8,
    /// A VXLAN network's site and settings (mode `vxlan`).
    pub vxlan: Option<VxlanSpec>,
}

impl NetworkSpec {
    /// Check a request's fields; each error names its field. `domain` empty
    /// means the default, `block_prefix` `None` a /24 (/64 for IPv6) or the
    /// whole subnet when it is smaller.
    pub fn new(
        name: &str,
        subnet: &str,
        mode: &str,
        internal: bool,
        domain: &str,
        block_prefix: Option<u8>,
    ) -> Result<NetworkSpec, ModelError> {
        weft_model::names::validate_network_name(name)?;
        let subnet = weft_model::addressing::parse_cidr("subnet", subnet)?;
        weft_model::addressing::validate_subnet(&subnet)?;
        let mode = Mode::parse(mode)?;
        let domain = if domain.is_empty() {
            weft_model::network::DEFAULT_DOMAIN.to_string()
        } else {
            weft_model::names::validate_domain(domain)?;
            domain.to_string()
        };
        let default =
            weft_model::network::default_block(weft_model::Mode::Wireguard, &subnet).prefix_len();
        let block_prefix = block_prefix.unwrap_or(default);
        let max = subnet.max_prefix_len();
        if block_prefix < subnet.prefix_len() || block_prefix > max {
            return Err(ModelError::invalid(
                "block_prefix",
                block_prefix,
                format!(
                    "must be between the subnet's /{} and /{max}",
                    subnet.prefix_len()
                ),
            ));
        }
        let block = IpNet::new(subnet.network(), block_prefix).map_err(|_| {
            ModelError::invalid("block_prefix", block_prefix, "not a prefix of the subnet")
        })?;
        if weft_model::addressing::capacity(&block) < 2 {
            return Err(ModelError::invalid(
                "block_prefix",
                block_prefix,
                "a block must hold the host and at least one workload",
            ));
        }
        Ok(NetworkSpec {
            name: name.to_string(),
            subnet,
            mode,
            internal,
            domain,
            block_prefix,
            vxlan: None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Network {
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: NetworkSpec,
    pub created_at: i64,
}

/// Which hosts are in a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkHosts {
    /// Every live host of the tenant, those enrolled later too.
    pub all: bool,
    /// The hosts in it now, with their blocks.
    pub blocks: Vec<HostBlock>,
}

/// A host's share of a network's subnet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HostBlock {
    pub network: String,
    pub host: HostId,
    pub block: IpNet,
}

#[cfg(test)]
mod tests;
