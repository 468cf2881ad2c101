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
mod tests {
    use super::*;
    use crate::output::one_line;

    /// A host whose agent answers with canned JSON.
    struct Canned {
        networks: &'static str,
        attachments: &'static str,
        peers: &'static str,
        names: &'static str,
        /// What `weft service-status` prints.
        services: &'static str,
    }

    impl HostConn for Canned {
        fn name(&self) -> &str {
            "h1"
        }
        fn weft(&self, args: &[&str]) -> Result<String> {
            Ok(match args[0] {
                "network" => self.networks,
                "attachments" => self.attachments,
                "peer" => self.peers,
                "names" => self.names,
                other => panic!("unexpected weft {other}"),
            }
            .to_string())
        }
        fn sh(&self, script: &str) -> Result<String> {
            assert!(script.contains("service-status"), "{script}");
            Ok(self.services.into())
        }
        fn sh_net(&self, _script: &str) -> Result<String> {
            unreachable!("observing runs nothing in the host's namespace")
        }
        fn weft_bin(&self) -> String {
            "weft".into()
        }
        fn mesh_dir(&self, _mesh: &Mesh) -> String {
            "/nonexistent".into()
        }
        fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
            cmd.to_vec()
        }
    }

    const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const NETWORKS: &str = r#"[{"name": "blue", "interface": "wg0", "mode": "wireguard",
        "subnet": "10.42.0.0/16", "block": "10.42.1.0/24", "listen_port": 51820,
        "public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "internal": false}]"#;
    const ATTACHMENTS: &str = r#"[{"network": "blue", "id": "web", "address": "10.42.1.2/24"}]"#;
    const PEERS: &str = r#"[{"public_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
        "endpoint": "192.0.2.2:51820", "allowed_ips": ["10.42.2.0/24"], "keepalive": 25}]"#;
    const NAMES: &str = r#"[{"name": "web", "addresses": ["10.42.1.2"]}]"#;

    fn mesh() -> Mesh {
        let file = weft_mesh::ValidMesh::parse(
            "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, ssh: root@192.0.2.1}]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Mesh {
            file,
            dir: "/nonexistent".into(),
        }
    }

    fn observe_canned(host: Canned) -> Result<HostState> {
        super::host(&mesh(), &host)
    }

    fn good() -> Canned {
        Canned {
            networks: NETWORKS,
            attachments: ATTACHMENTS,
            peers: PEERS,
            names: NAMES,
            services: "[]",
        }
    }

    #[test]
    fn a_well_formed_host_is_read_whole() {
        let state = observe_canned(good()).unwrap();
        let blue = &state.networks["blue"];
        assert_eq!(blue.public_key.unwrap().to_base64(), KEY);
        assert_eq!(blue.attachments["web"].to_string(), "10.42.1.2");
        assert_eq!(blue.peers[0].allowed_ips[0].to_string(), "10.42.2.0/24");
        let dns = blue.dns.as_ref().unwrap();
        assert_eq!(dns[0].name, "web.mesh.local");
        assert_eq!(dns[0].address.to_string(), "10.42.1.2");
    }

    /// Anything the agent reports that cannot be read stops the
    /// observation with an error naming the host, the network and its
    /// interface, and the value; it is never dropped.
    #[test]
    fn unreadable_addresses_are_errors_naming_host_interface_and_value() {
        let cases = [
            (
                Canned {
                    peers: r#"[{"public_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
                        "endpoint": "192.0.2.2:51820",
                        "allowed_ips": ["10.42.2.0/24", "10.42.3.0/33"], "keepalive": 0}]"#,
                    ..good()
                },
                "allowed IP of peer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
                "\"10.42.3.0/33\"",
            ),
            (
                Canned {
                    attachments: r#"[{"network": "blue", "id": "web", "address": "10.42.1.x/24"}]"#,
                    ..good()
                },
                "address of attachment web",
                "\"10.42.1.x\"",
            ),
            (
                Canned {
                    names: r#"[{"name": "web", "addresses": ["10.42.1.2", "nonsense"]}]"#,
                    ..good()
                },
                "address of DNS name web",
                "\"nonsense\"",
            ),
        ];
        for (host, what, value) in cases {
            let err = observe_canned(host).expect_err(what);
            let line = one_line(&err);
            assert!(
                line.starts_with(&format!(
                    "observe h1: network blue (wg0): {what}: cannot read {value}: "
                )),
                "{line}"
            );
        }
    }

    /// An ended process is observed (with the fingerprint it ran with), so
    /// the plan does not start it again; a service that is neither running
    /// nor ended is not, so it is started.
    #[test]
    fn ended_processes_are_observed_vanished_services_are_not() {
        let state = observe_canned(Canned {
            services: r#"[
                {"name": "web", "fingerprint": "f1", "running": true, "exit": null},
                {"name": "job", "fingerprint": "f2", "running": false, "exit": "exited with code 0"},
                {"name": "gone", "fingerprint": "f3", "running": false, "exit": null}
            ]"#,
            ..good()
        })
        .unwrap();
        let observed: Vec<(&str, &str)> = state
            .services
            .iter()
            .map(|(name, s)| (name.as_str(), s.fingerprint.as_str()))
            .collect();
        assert_eq!(observed, [("job", "f2"), ("web", "f1")]);
    }
}
