//! Networks: made with a block for each of their hosts (every live host
//! of the tenant, or of the network's site), deleted with their blocks.

use super::resume;
use super::rows::*;
use super::sites;
use crate::model::{Network, NetworkSpec, TenantId};
use crate::store::{Result, StoreError};
use rusqlite::{Transaction, params};

/// A new network of `tenant`, checked against the tenant's others.
pub(super) fn create(
    tx: &Transaction<'_>,
    tenant: TenantId,
    mut spec: NetworkSpec,
    now: i64,
) -> Result<Network> {
    tenant_exists(tx, tenant.as_str())?;
    let others = networks_of(tx, tenant.as_str())?;
    if let Some(vx) = &spec.vxlan {
        sites::require(tx, tenant.as_str(), &vx.site)?;
    }
    for other in others.iter().cloned() {
        if other.spec.name == spec.name {
            return Err(StoreError::NetworkExists(spec.name));
        }
        if weft_model::addressing::overlaps(&other.spec.subnet, &spec.subnet) {
            return Err(StoreError::SubnetOverlap {
                subnet: spec.subnet.to_string(),
                other: other.spec.name,
                other_subnet: other.spec.subnet.to_string(),
            });
        }
    }
    crate::store::settle_vxlan(&mut spec, &others)?;
    let vx = spec.vxlan.as_ref();
    tx.execute(
        &format!(
            "INSERT INTO networks ({NETWORK_COLUMNS}, all_hosts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            tenant.as_str(),
            spec.name,
            spec.subnet.to_string(),
            spec.mode.as_str(),
            spec.internal,
            spec.domain,
            spec.block_prefix,
            now,
            vx.map(|v| &v.site),
            vx.and_then(|v| v.vni),
            vx.and_then(|v| v.mtu),
            vx.and_then(|v| v.over.as_ref()),
            vx.is_none(),
        ],
    )?;
    let net = Network {
        tenant,
        spec,
        created_at: now,
    };
    // Every live host, or those of the network's site.
    let mut stmt = tx.prepare(
        "SELECT id FROM hosts WHERE tenant = ?1 AND revoked_at IS NULL
         AND (?2 IS NULL OR site = ?2)
         ORDER BY created_at, rowid",
    )?;
    let site = net.spec.vxlan.as_ref().map(|v| v.site.as_str());
    let hosts = stmt
        .query_map(params![net.tenant.as_str(), site], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for h in hosts {
        assign_block(tx, &net, &h)?;
    }
    let revision = bump_revision(tx)?;
    touch(tx, net.tenant.as_str(), [&net.spec.name], revision)?;
    Ok(net)
}

/// Delete `tenant`'s network `name`; refused while VXLAN networks ride in it.
pub(super) fn delete(tx: &Transaction<'_>, tenant: TenantId, name: String) -> Result<()> {
    let by = crate::store::carried_by(&name, &networks_of(tx, tenant.as_str())?);
    if !by.is_empty() {
        return Err(StoreError::CarriesVxlan { network: name, by });
    }
    let deleted = tx.execute(
        "DELETE FROM networks WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), name],
    )?;
    if deleted != 1 {
        return Err(StoreError::NotFound {
            what: "network",
            name,
        });
    }
    let revision = bump_revision(tx)?;
    resume::bury(tx, tenant.as_str(), &name, revision)?;
    Ok(())
}
