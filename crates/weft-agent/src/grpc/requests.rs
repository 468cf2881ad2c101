//! Requests into the agent's typed specs. Everything that can be checked
//! without the agent's state is checked here, once, and every error names
//! the field; the agent's methods keep the checks that need its state.

use crate::attachments::{AttachmentSpec, MAX_QUEUES, VmNicSpec};
use crate::dataplane::Records;
use crate::dns_names::NamesSpec;
use crate::error::AgentError;
use crate::networks::{KindSpec, NetworkSpec, VxlanSpec};
use crate::peers::{Endpoint, PeerSpec};
use crate::records::Underlay;
use crate::vxlan::VtepSpec;
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::names::{Domain, Ifname, NetworkName, WorkloadId, WorkloadName};
use weft_model::{Mode, ModelError, PrivateKey, PublicKey, addressing, network, peer};
use weft_proto::agent as pb;

/// An optional field: empty means "not given".
fn given(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

impl TryFrom<pb::AddNetworkRequest> for NetworkSpec {
    type Error = AgentError;

    fn try_from(r: pb::AddNetworkRequest) -> Result<Self, AgentError> {
        let name = NetworkName::new(&r.name)?;
        let mode = Mode::parse(&r.mode)?;
        let domain = Domain::new(given(&r.domain).unwrap_or(network::DEFAULT_DOMAIN))?;
        let subnet = addressing::parse_cidr("subnet", &r.subnet)?;
        addressing::validate_subnet(&subnet)?;
        let block = match given(&r.block) {
            None => network::default_block(mode, &subnet),
            Some(text) => addressing::parse_cidr("block", text)?,
        };
        addressing::validate_block(&subnet, &block)?;
        // The block is of the subnet's family (checked just above).
        let (IpNet::V4(subnet), IpNet::V4(block)) = (subnet, block) else {
            return Err(ModelError::invalid(
                "subnet",
                subnet,
                "IPv6 networks are not supported yet",
            )
            .into());
        };
        let vxlan_given = r.vni != 0
            || r.vxlan_port != 0
            || r.mtu != 0
            || !r.local.is_empty()
            || !r.underlay.is_empty()
            || !r.over.is_empty();
        if mode != Mode::Vxlan && vxlan_given {
            return Err(ModelError::invalid(
                "mode",
                mode,
                "VNI, port, MTU, local, underlay and over are for VXLAN networks (--mode vxlan)",
            )
            .into());
        }
        let kind = match mode {
            Mode::Vxlan => {
                if r.listen_port != 0 || !r.private_key.is_empty() {
                    return Err(ModelError::invalid(
                        "mode",
                        mode,
                        "a VXLAN network has no WireGuard listen port or key",
                    )
                    .into());
                }
                KindSpec::Vxlan(vxlan_spec(&r)?)
            }
            Mode::Bridge => {
                if r.listen_port != 0 || !r.private_key.is_empty() {
                    return Err(ModelError::invalid(
                        "mode",
                        mode,
                        "a bridge network has no WireGuard listen port or key",
                    )
                    .into());
                }
                KindSpec::Bridge
            }
            Mode::Wireguard => KindSpec::Wireguard {
                listen_port: match r.listen_port {
                    0 => None,
                    port => Some(u16::try_from(port).map_err(|_| {
                        ModelError::invalid("listen-port", port, "must be from 1 to 65535")
                    })?),
                },
                private_key: given(r.private_key.trim())
                    .map(PrivateKey::from_base64)
                    .transpose()?,
            },
        };
        Ok(NetworkSpec {
            name,
            subnet,
            block,
            kind,
            internal: r.internal,
            domain,
        })
    }
}

/// The VXLAN part of a network request, checked on its own.
fn vxlan_spec(r: &pb::AddNetworkRequest) -> Result<VxlanSpec, AgentError> {
    if r.vni == 0 {
        return Err(ModelError::invalid(
            "vni",
            0,
            "is required for a VXLAN network (1 to 16777215)",
        )
        .into());
    }
    let vni = network::validate_vni(r.vni)?;
    let port = match r.vxlan_port {
        0 => network::DEFAULT_VXLAN_PORT,
        port => u16::try_from(port)
            .map_err(|_| ModelError::invalid("port", port, "must be from 1 to 65535"))?,
    };
    let chosen: Vec<&str> = [
        ("local", &r.local),
        ("underlay", &r.underlay),
        ("over", &r.over),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, _)| *k)
    .collect();
    if chosen.len() > 1 {
        return Err(ModelError::invalid(
            chosen[1],
            chosen.join(", "),
            "give at most one of local, underlay and over",
        )
        .into());
    }
    let underlay = if let Some(text) = given(&r.local) {
        let ip = text
            .parse::<IpAddr>()
            .map_err(|_| ModelError::invalid("local", text, "not an IP address"))?;
        Underlay::Local(ip)
    } else if let Some(text) = given(&r.underlay) {
        Underlay::Device(Ifname::new(text)?.into_string())
    } else if let Some(text) = given(&r.over) {
        Underlay::Over(text.to_string())
    } else {
        Underlay::Routed
    };
    Ok(VxlanSpec {
        vni,
        port,
        mtu: (r.mtu != 0).then_some(r.mtu),
        underlay,
    })
}

/// A peer of a VXLAN network: a request without a key, whose endpoint is
/// the peer's tunnel endpoint address.
pub(crate) fn vtep_spec(r: pb::AddPeerRequest) -> Result<VtepSpec, AgentError> {
    let address = r.endpoint.parse::<IpAddr>().map_err(|_| {
        ModelError::invalid(
            "endpoint",
            &r.endpoint,
            "a VXLAN peer's endpoint is its tunnel endpoint's IP address (no port, no key)",
        )
    })?;
    let blocks = match r.allowed_ips.is_empty() {
        true => vec![],
        false => peer::parse_allowed_ips(r.allowed_ips.iter().map(String::as_str))?,
    };
    if blocks.len() > 1 {
        return Err(ModelError::invalid(
            "allowed-ips",
            r.allowed_ips.join(","),
            "a VXLAN peer carries at most its one block",
        )
        .into());
    }
    if r.keepalive != 0 {
        return Err(
            ModelError::invalid("keepalive", r.keepalive, "a VXLAN peer has no keepalive").into(),
        );
    }
    Ok(VtepSpec {
        network: r.network,
        address,
        block: blocks.first().copied(),
    })
}

/// The address a request to remove a VXLAN peer names.
pub(crate) fn vtep_address(text: &str) -> Result<IpAddr, AgentError> {
    Ok(text
        .parse::<IpAddr>()
        .map_err(|_| ModelError::invalid("endpoint", text, "not an IP address"))?)
}

impl TryFrom<pb::AddPeerRequest> for PeerSpec {
    type Error = AgentError;

    fn try_from(r: pb::AddPeerRequest) -> Result<Self, AgentError> {
        let public_key = PublicKey::from_base64(&r.public_key)?;
        let endpoint = Endpoint::resolve(&r.endpoint)?;
        let allowed_ips = peer::parse_allowed_ips(r.allowed_ips.iter().map(String::as_str))?;
        let keepalive = u16::try_from(r.keepalive).map_err(|_| {
            ModelError::invalid("keepalive", r.keepalive, "must be from 0 to 65535")
        })?;
        Ok(PeerSpec {
            network: r.network,
            public_key,
            endpoint,
            allowed_ips,
            keepalive,
            // The text is not echoed: it may be a private key pasted by mistake.
            replaces: given(r.replaces.trim())
                .map(|text| {
                    PublicKey::from_base64(text).map_err(|e| {
                        ModelError::invalid("replaces", format!("({} characters)", text.len()), e)
                    })
                })
                .transpose()?,
        })
    }
}

impl TryFrom<pb::AttachRequest> for AttachmentSpec {
    type Error = AgentError;

    fn try_from(r: pb::AttachRequest) -> Result<Self, AgentError> {
        let id = WorkloadId::new(&r.id)?;
        let name = given(&r.name).map(WorkloadName::new).transpose()?;
        let vm = if r.vm {
            vm_nic(&r)?
        } else {
            if let Some(field) = [("tap", !r.tap.is_empty()), ("queues", r.queues != 0)]
                .into_iter()
                .find_map(|(field, set)| set.then_some(field))
            {
                return Err(ModelError::invalid(field, "", "is only for a VM's NIC (--vm)").into());
            }
            None
        };
        if vm.is_none() && r.netns.is_empty() {
            return Err(AgentError::Netns {
                path: r.netns,
                why: "a namespace path is required",
            });
        }
        let ifname = given(&r.ifname).map(Ifname::new).transpose()?;
        let ip = given(&r.ip)
            .map(|text| {
                text.parse::<IpAddr>()
                    .map_err(|_| ModelError::invalid("ip", text, "not an IP address"))
            })
            .transpose()?;
        Ok(AttachmentSpec {
            network: r.network,
            netns: r.netns,
            id,
            name,
            ifname,
            ip,
            vm,
        })
    }
}

/// A VM's NIC: no namespace and no interface name (the guest names its
/// NICs), an optional TAP name and queue pairs.
fn vm_nic(r: &pb::AttachRequest) -> Result<Option<VmNicSpec>, AgentError> {
    if !r.netns.is_empty() {
        return Err(ModelError::invalid(
            "netns",
            &r.netns,
            "a VM has no namespace: give --vm or --netns",
        )
        .into());
    }
    if !r.ifname.is_empty() {
        return Err(ModelError::invalid(
            "ifname",
            &r.ifname,
            "a VM's NICs are eth0, eth1, … in attach order; name its TAP with --tap",
        )
        .into());
    }
    let queues = match r.queues {
        0 => 1,
        q if q <= u32::from(MAX_QUEUES) => q as u16,
        q => {
            return Err(
                ModelError::invalid("queues", q, format!("must be 1 to {MAX_QUEUES}")).into(),
            );
        }
    };
    Ok(Some(VmNicSpec {
        tap: given(&r.tap).map(Ifname::new).transpose()?,
        queues,
    }))
}

impl TryFrom<pb::SetNamesRequest> for NamesSpec {
    type Error = AgentError;

    fn try_from(r: pb::SetNamesRequest) -> Result<Self, AgentError> {
        let mut records = Records::new();
        for n in r.names {
            let addrs = n
                .addresses
                .iter()
                .map(|a| {
                    a.parse::<IpAddr>().map_err(|_| {
                        ModelError::invalid(
                            "address",
                            a,
                            format!("not an IP address (name {:?})", n.name),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            records.entry(n.name).or_default().extend(addrs);
        }
        Ok(NamesSpec::new(r.network, r.source, records)?)
    }
}

/// A peer's key as a request names it.
pub(crate) fn public_key(text: &str) -> Result<PublicKey, AgentError> {
    Ok(PublicKey::from_base64(text)?)
}
