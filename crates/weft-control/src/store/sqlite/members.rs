//! Which hosts are in which network. A host is in a network exactly when
//! it has a block there; `networks.all_hosts` says whether hosts enrolled
//! later join it.

use super::rows::*;
use crate::model::{HostBlock, HostId, NetworkHosts, TenantId};
use crate::store::{Result, StoreError};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeSet;

/// The names of the tenant's networks every host joins.
pub(super) fn networks_open_to_all(tx: &Transaction<'_>, tenant: &str) -> Result<BTreeSet<String>> {
    let mut stmt = tx.prepare("SELECT name FROM networks WHERE tenant = ?1 AND all_hosts = 1")?;
    let names = stmt
        .query_map([tenant], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

fn all_hosts(tx: &Transaction<'_>, tenant: &TenantId, network: &str) -> Result<bool> {
    tx.query_row(
        "SELECT all_hosts FROM networks WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), network],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound {
        what: "network",
        name: network.to_string(),
    })
}

pub(super) fn get(tx: &Transaction<'_>, tenant: &TenantId, network: &str) -> Result<NetworkHosts> {
    let all = all_hosts(tx, tenant, network)?;
    let mut stmt = tx.prepare(
        "SELECT host, block FROM blocks WHERE tenant = ?1 AND network = ?2 ORDER BY block",
    )?;
    let rows = stmt.query_map(params![tenant.as_str(), network], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let blocks = rows
        .map(|r| {
            let (h, block) = r?;
            Ok(HostBlock {
                network: network.to_string(),
                host: host_id(h)?,
                block: block.parse().map_err(|_| corrupt("block", &block))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(NetworkHosts { all, blocks })
}

/// See [`crate::store::Store::set_network_hosts`].
pub(super) fn set(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    network: &str,
    chosen: Option<Vec<HostId>>,
) -> Result<NetworkHosts> {
    all_hosts(tx, tenant, network)?;
    let site: Option<String> = tx.query_row(
        "SELECT site FROM networks WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), network],
        |r| r.get(0),
    )?;
    if let Some(site) = site {
        return Err(StoreError::HostsOfSite {
            network: network.to_string(),
            site,
        });
    }
    let mut stmt = tx.prepare(
        "SELECT id FROM hosts WHERE tenant = ?1 AND revoked_at IS NULL ORDER BY created_at, rowid",
    )?;
    let live: Vec<String> = stmt
        .query_map([tenant.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let wanted: BTreeSet<String> = match &chosen {
        None => live.iter().cloned().collect(),
        Some(hosts) => {
            let mut wanted = BTreeSet::new();
            for h in hosts {
                if !live.iter().any(|l| l == h.as_str()) {
                    return Err(StoreError::NotAMember(h.to_string()));
                }
                wanted.insert(h.to_string());
            }
            wanted
        }
    };
    let before = get(tx, tenant, network)?;
    let had: BTreeSet<String> = before.blocks.iter().map(|b| b.host.to_string()).collect();
    for gone in had.difference(&wanted) {
        for table in ["blocks", "host_keys"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = ?1 AND network = ?2 AND host = ?3"),
                params![tenant.as_str(), network, gone],
            )?;
        }
    }
    let net = networks_of(tx, tenant.as_str())?
        .into_iter()
        .find(|n| n.spec.name == network)
        .ok_or_else(|| corrupt("network", network))?;
    // Joining in the order hosts enrolled, lowest free block first.
    for h in live
        .iter()
        .filter(|h| wanted.contains(*h) && !had.contains(*h))
    {
        assign_block(tx, &net, h)?;
    }
    tx.execute(
        "UPDATE networks SET all_hosts = ?3 WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), network, chosen.is_none()],
    )?;
    let after = get(tx, tenant, network)?;
    if after != before {
        let revision = bump_revision(tx)?;
        touch(tx, tenant.as_str(), [&network.to_string()], revision)?;
    }
    Ok(after)
}
