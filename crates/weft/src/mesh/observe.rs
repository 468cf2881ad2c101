//! What every host has now, as `weft-mesh` wants it: networks, configured
//! peers, attachments, the mesh's DNS names, and the mesh's services.

use super::host::HostConn;
use super::{Mesh, NAMES_SOURCE};
use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_mesh::plan::DnsRecord;
use weft_mesh::{HostState, NetworkState, PeerState, ServiceState};
use weft_model::PublicKey;

#[derive(Deserialize)]
struct NetworkJson {
    name: String,
    mode: String,
    subnet: String,
    block: String,
    listen_port: u16,
    public_key: String,
    internal: bool,
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
    let nets: Vec<NetworkJson> = json(&host.weft(&["network", "ls"])?, "network list")?;
    let atts: Vec<AttachmentJson> = json(&host.weft(&["attachments"])?, "attachments")?;
    let mut state = HostState::default();
    for n in nets.into_iter().filter(|n| n.mode == "wireguard") {
        let peers: Vec<PeerJson> = json(&host.weft(&["peer", "ls", &n.name])?, "peers")?;
        let names: Vec<NameJson> = json(
            &host.weft(&["names", "get", &n.name, "--source", NAMES_SOURCE])?,
            "names",
        )?;
        let mut dns: Vec<DnsRecord> = names
            .iter()
            .flat_map(|r| {
                r.addresses
                    .iter()
                    .filter_map(|a| a.parse::<IpAddr>().ok())
                    .map(|address| DnsRecord {
                        name: format!("{}.{}", r.name, mesh.file.domain),
                        address,
                    })
            })
            .collect();
        dns.sort();
        let attachments: BTreeMap<String, IpAddr> = atts
            .iter()
            .filter(|a| a.network == n.name)
            .filter_map(|a| Some((a.id.clone(), a.address.split('/').next()?.parse().ok()?)))
            .collect();
        let peers = peers
            .iter()
            .map(|p| {
                Ok(PeerState {
                    public_key: key(&p.public_key)?,
                    endpoint: Some(p.endpoint.clone()),
                    allowed_ips: p
                        .allowed_ips
                        .iter()
                        .filter_map(|a| a.parse().ok())
                        .collect(),
                    keepalive: (p.keepalive != 0).then_some(p.keepalive),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        state.networks.insert(
            n.name.clone(),
            NetworkState {
                subnet: n
                    .subnet
                    .parse()
                    .with_context(|| format!("subnet of {}", n.name))?,
                block: n
                    .block
                    .parse()
                    .with_context(|| format!("block of {}", n.name))?,
                listen_port: n.listen_port,
                mode: n.mode,
                public_key: key(&n.public_key)?,
                internal: Some(n.internal),
                peers,
                attachments,
                dns: Some(dns),
            },
        );
    }
    for svc in services(mesh, host)? {
        if svc.running {
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
