//! Underlay addresses of lab hosts (network namespaces standing in for
//! hosts on one machine).

use crate::error::PlanError;
use crate::validate::ValidMesh;
use crate::values::Address;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use weft_model::addressing::{allocate, check_requested};

/// Underlay addresses for the lab hosts that have no `endpoint`, from
/// `pool`: the ones in `existing` are kept, the others get the lowest free
/// address. The pool's first usable address is never given: it is left for
/// the executor's own side of the lab underlay (a bridge, say).
pub fn assign_lab_underlay(
    mesh: &ValidMesh,
    existing: &BTreeMap<String, IpAddr>,
    pool: &IpNet,
) -> Result<BTreeMap<String, IpAddr>, PlanError> {
    let lab: Vec<&str> = mesh
        .hosts
        .iter()
        .filter(|h| h.lab && h.endpoint.is_none())
        .map(|h| h.name.as_str())
        .collect();
    let mut used: BTreeSet<IpAddr> = mesh
        .hosts
        .iter()
        .filter_map(|h| h.file_endpoint().and_then(Address::ip))
        .collect();
    let mut out = BTreeMap::new();
    for name in &lab {
        if let Some(ip) = existing.get(*name)
            && check_requested(pool, *ip, &used).is_ok()
        {
            used.insert(*ip);
            out.insert(name.to_string(), *ip);
        }
    }
    for name in lab {
        if out.contains_key(name) {
            continue;
        }
        let ip = allocate(pool, &used).map_err(|_| PlanError::NoFreeUnderlay {
            pool: pool.to_string(),
            host: name.to_string(),
        })?;
        used.insert(ip);
        out.insert(name.to_string(), ip);
    }
    Ok(out)
}
