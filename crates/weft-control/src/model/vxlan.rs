//! VXLAN networks of a site: checked at the edge, their VNI chosen
//! against the other networks their hosts have. What an agent makes of
//! one is what `weft network create --mode vxlan` makes by hand.

use super::{Mode, NetworkSpec, validate_site_name};
use serde::Serialize;
use weft_model::ModelError;
use weft_model::network::{
    MIN_VXLAN_MTU, ROUTED_UNDERLAY_MTU, WIREGUARD_MTU, validate_vni, vxlan_mtu,
};

/// VNIs the control plane picks start here, above the small numbers
/// people pick by hand for `--mode vxlan` networks on their hosts.
pub const FIRST_ASSIGNED_VNI: u32 = 10_000;

/// A VXLAN network's own settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VxlanSpec {
    /// The site whose hosts it spans.
    pub site: String,
    /// Unique among the networks of its site (the networks that share a
    /// host); `None` in a request: the store picks one.
    pub vni: Option<u32>,
    /// `None`: the largest its underlay carries.
    pub mtu: Option<u32>,
    /// The WireGuard network of the tenant it rides in (encrypted), its
    /// hosts' addresses there being the tunnel endpoints; `None`: the
    /// hosts' underlay addresses.
    pub over: Option<String>,
}

/// A request's VXLAN fields, before they are checked.
pub struct VxlanRequest<'a> {
    pub name: &'a str,
    pub subnet: &'a str,
    pub site: &'a str,
    pub vni: Option<u32>,
    pub mtu: Option<u32>,
    pub over: Option<&'a str>,
    pub internal: bool,
    pub domain: &'a str,
    pub block_prefix: Option<u8>,
}

impl NetworkSpec {
    /// Check a VXLAN network's request; each error names its field.
    pub fn vxlan(req: VxlanRequest<'_>) -> Result<NetworkSpec, ModelError> {
        validate_site_name(req.site)?;
        let mut spec = NetworkSpec::new(
            req.name,
            req.subnet,
            "",
            req.internal,
            req.domain,
            req.block_prefix,
        )?;
        if let Some(vni) = req.vni {
            validate_vni(vni)?;
        }
        if let Some(over) = req.over {
            weft_model::names::validate_network_name(over)
                .map_err(|_| ModelError::invalid("over", over, "not a network name"))?;
            if over == req.name {
                return Err(ModelError::invalid("over", over, "is this network itself"));
            }
        }
        // What the agents will make of it: the MTU must fit the underlay
        // as `weft network create --mode vxlan` checks it on a host.
        let underlay = match req.over {
            Some(_) => WIREGUARD_MTU,
            None => ROUTED_UNDERLAY_MTU,
        };
        let largest = vxlan_mtu(underlay, false);
        if let Some(mtu) = req.mtu
            && !(MIN_VXLAN_MTU..=largest).contains(&mtu)
        {
            return Err(ModelError::invalid(
                "mtu",
                mtu,
                format!("must be from {MIN_VXLAN_MTU} to {largest} (VXLAN over its underlay)"),
            ));
        }
        spec.mode = Mode::Vxlan;
        spec.vxlan = Some(VxlanSpec {
            site: req.site.to_string(),
            vni: req.vni,
            mtu: req.mtu,
            over: req.over.map(str::to_string),
        });
        Ok(spec)
    }
}

/// The VNI of a new network of a site: the one asked for, if none of
/// `taken` (the VNIs of the site's other networks, with their names) has
/// it; else the lowest free from [`FIRST_ASSIGNED_VNI`]. `Err` names the
/// network holding the VNI asked for.
pub fn assign_vni(asked: Option<u32>, taken: &[(String, u32)]) -> Result<u32, String> {
    if let Some(vni) = asked {
        return match taken.iter().find(|(_, v)| *v == vni) {
            Some((other, _)) => Err(other.clone()),
            None => Ok(vni),
        };
    }
    let used: std::collections::BTreeSet<u32> = taken.iter().map(|(_, v)| *v).collect();
    // At most `taken.len()` are used: a free one is within that many.
    Ok((FIRST_ASSIGNED_VNI..)
        .find(|v| !used.contains(v))
        .unwrap_or(FIRST_ASSIGNED_VNI))
}

#[cfg(test)]
mod tests;
