//! What every host has now, as `weft-mesh` wants it: networks, configured
//! peers, attachments, the mesh's DNS names, and the mesh's services.

use super::host::HostConn;
use super::{Mesh, NAMES_SOURCE};
use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use weft_mesh::plan::DnsRecord;
use weft_mesh::{HostState, NetworkState, PeerState, ServiceState, VtepState};
use weft_model::PublicKey;

#[derive(Deserialize)]
struct NetworkJson {
    name: String,
    #[serde(default)]
    interface: String,
    mode: String,
    subnet: String,
    block: String,
    listen_port: u16,
    public_key: String,
    internal: bool,
    #[serde(default)]
    vni: u32,
    /// `over:NETWORK` for a VXLAN network inside WireGuard.
    #[serde(default)]
    underlay: String,
}

#[derive(Deserialize)]
struct PeerJson {
    public_key: String,
    endpoint: String,
    allowed_ips: Vec<String>,
    keepalive: u16,
}

#[derive(Deserialize)]
struct AttachmentJson {
    network: String,
    id: String,
    address: String,
}

#[derive(Deserialize)]
struct NameJson {
    name: String,
    addresses: Vec<String>,
}

/// A service as its supervisor left it (see `weft service-status`).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct ServiceJson {
    pub name: String,
    pub fingerprint: String,
    pub running: bool,
    #[serde(default)]
    pub exit: Option<String>,
    /// Why a container is neither running nor exited (`image missing`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

fn json<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).with_context(|| format!("read {what}"))
}

fn key(text: &str) -> Result<PublicKey> {
    Ok(PublicKey::from_base64(text)?)
}

/// Observe one host. A host that cannot be reached is an error: leaving it
/// out would make the others drop their peers to it.
pub fn host(mesh: &Mesh, host: &dyn HostConn) -> Result<HostState> {
    observe(mesh, host).with_context(|| format!("observe {}", host.name()))
}

fn observe(mesh: &Mesh, host: &dyn HostConn) -> Result<HostState> {
    let nets: Vec<NetworkJson> = json(&host.weft(&["network", "ls"])?, "network list")?;
    let atts: Vec<AttachmentJson> = json(&host.weft(&["attachments"])?, "attachments")?;
    let mut state = HostState::default();
    // Bridge networks are never the mesh's (a mesh file has none).
    for n in nets
        .into_iter()
        .filter(|n| n.mode == "wireguard" || n.mode == "vxlan")
    {
        let peers: Vec<PeerJson> = json(&host.weft(&["peer", "ls", &n.name])?, "peers")?;
        let names: Vec<NameJson> = json(
            &host.weft(&["names", "get", &n.name, "--source", NAMES_SOURCE])?,
            "names",
        )?;
        let name = n.name.clone();
        let network = network_state(n, &peers, &names, &atts, mesh.file.domain.as_str())?;
        state.networks.insert(name, network);
    }
    for svc in services(mesh, host)? {
        // A process that ended is still there for the plan: it ran as
        // defined and is not run again (not by this `up`'s next round, not
        // by the next `up`) unless its definition changes. Only a service
        // that is neither running nor ended (its namespace or supervisor
        // gone) is started anew.
        if svc.running || svc.exit.is_some() {
            state.services.insert(
                svc.name.clone(),
                ServiceState {
                    fingerprint: svc.fingerprint,
                },
            );
        }
    }
    Ok(state)
}

/// Parse one value the agent reported; the error names the value and
/// where it was found (`what`).
fn parse<T>(text: &str, what: impl FnOnce() -> String) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse()
        .with_context(|| format!("{}: cannot read {text:?}", what()))
}

/// One network of a host as `weft-mesh` wants it. Every value must be
/// read: the planner removes what it does not see, so an address skipped
/// here would become a peer, an attachment or a DNS name deleted there.
fn network_state(
    n: NetworkJson,
    peers: &[PeerJson],
    names: &[NameJson],
    atts: &[AttachmentJson],
    domain: &str,
) -> Result<NetworkState> {
    let network = if n.interface.is_empty() {
        format!("network {}", n.name)
    } else {
        format!("network {} ({})", n.name, n.interface)
    };
    let mut dns = Vec::new();
    for r in names {
        for a in &r.addresses {
            dns.push(DnsRecord {
                name: format!("{}.{domain}", r.name),
                address: parse(a, || format!("{network}: address of DNS name {}", r.name))?,
            });
        }
    }
    dns.sort();
    let mut attachments = BTreeMap::new();
    for a in atts.iter().filter(|a| a.network == n.name) {
        // The agent shows an attachment's address with its prefix length.
        let address = a.address.split('/').next().unwrap_or_default();
        let what = || format!("{network}: address of attachment {}", a.id);
        attachments.insert(a.id.clone(), parse(address, what)?);
    }
    // A VXLAN network's peers have no key: they are its VTEPs.
    let (vteps, peers): (Vec<&PeerJson>, Vec<&PeerJson>) =
        peers.iter().partition(|p| p.public_key.is_empty());
    let vteps = vteps
        .into_iter()
        .map(|p| {
            let address = parse(&p.endpoint, || format!("{network}: address of a VTEP"))?;
            let block = p
                .allowed_ips
                .first()
                .map(|b| parse(b, || format!("{network}: block of VTEP {address}")))
                .transpose()?;
            Ok(VtepState { address, block })
        })
        .collect::<Result<Vec<_>>>()?;
    let peers = peers
        .into_iter()
        .map(|p| {
            let public_key =
                key(&p.public_key).with_context(|| format!("{network}: public key of a peer"))?;
            let allowed_ips = p
                .allowed_ips
                .iter()
                .map(|a| parse(a, || format!("{network}: allowed IP of peer {public_key}")))
                .collect::<Result<Vec<_>>>()?;
            Ok(PeerState {
                public_key,
                endpoint: Some(p.endpoint.clone()),
                allowed_ips,
                keepalive: (p.keepalive != 0).then_some(p.keepalive),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(NetworkState {
        subnet: parse(&n.subnet, || format!("{network}: subnet"))?,
        block: parse(&n.block, || format!("{network}: block"))?,
        listen_port: n.listen_port,
        public_key: match n.public_key.as_str() {
            "" if n.mode == "vxlan" => None,
            text => Some(key(text).with_context(|| format!("{network}: public key"))?),
        },
        vni: (n.vni != 0).then_some(n.vni),
        over: n.underlay.strip_prefix("over:").map(str::to_string),
        vteps,
        mode: n.mode,
        internal: Some(n.internal),
        peers,
        attachments,
        dns: Some(dns),
    })
}

/// The mesh's services on a host, running or not.
pub fn services(mesh: &Mesh, host: &dyn HostConn) -> Result<Vec<ServiceJson>> {
    let dir = mesh.services_dir(host);
    let out = host.sh(&format!(
        "{} service-status --dir {}",
        super::host::quote(&host.weft_bin()),
        super::host::quote(&dir)
    ))?;
    json(&out, "service status")
}

#[cfg(test)]
mod tests;
