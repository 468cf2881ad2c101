//! Rows of the SQLite store to and from the model, and the steps that
//! several writes share (revision, blocks).

use super::super::{Result, StoreError};
use crate::model::{
    ApiKeyInfo, Host, HostId, Mode, Network, NetworkSpec, Tenant, TenantId, VxlanSpec,
};
use ipnet::IpNet;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use std::collections::BTreeSet;

pub(super) fn corrupt(what: &'static str, value: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        value: value.to_string(),
    }
}

/// Move the revision on by one; every change of desired state calls this
/// once, inside its transaction.
pub(super) fn bump_revision(tx: &Transaction<'_>) -> Result<u64> {
    let text: String = tx.query_row(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision' RETURNING value",
        [],
        |r| r.get(0),
    )?;
    text.parse().map_err(|_| corrupt("revision", text))
}

/// A revision as SQLite stores it (a signed 64-bit integer).
pub(super) fn sql_revision(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

/// Mark `networks` of `tenant` as changed at `revision`: a host resuming
/// from an older revision is sent them again. The VXLAN networks riding
/// in one of them change with it (their tunnel endpoints are their
/// hosts' addresses there).
pub(super) fn touch<'a>(
    tx: &Transaction<'_>,
    tenant: &str,
    networks: impl IntoIterator<Item = &'a String>,
    revision: u64,
) -> Result<()> {
    let mut stmt = tx.prepare(
        "UPDATE networks SET changed_at = ?3 WHERE tenant = ?1 AND (name = ?2 OR over = ?2)",
    )?;
    for name in networks {
        stmt.execute(params![tenant, name, sql_revision(revision)])?;
    }
    Ok(())
}

/// The networks `host` has a block in.
pub(super) fn networks_of_host(tx: &Transaction<'_>, host: &str) -> Result<BTreeSet<String>> {
    let mut stmt = tx.prepare("SELECT network FROM blocks WHERE host = ?1")?;
    let names = stmt
        .query_map([host], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

pub(super) fn tenant_id(text: String) -> Result<TenantId> {
    TenantId::parse("tenant id", &text).map_err(|_| corrupt("tenant id", text))
}

pub(super) fn host_id(text: String) -> Result<HostId> {
    HostId::parse("host id", &text).map_err(|_| corrupt("host id", text))
}

pub(super) fn tenant_row(r: &Row<'_>) -> rusqlite::Result<(String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

pub(super) fn tenant((tid, name, created_at): (String, String, i64)) -> Result<Tenant> {
    Ok(Tenant {
        id: tenant_id(tid)?,
        name,
        created_at,
    })
}

pub(super) type KeyRow = (String, String, String, i64, Option<i64>);

pub(super) fn key_row(r: &Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

pub(super) fn key_info((kid, tenant, _, created_at, revoked_at): KeyRow) -> Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: kid,
        tenant: tenant_id(tenant)?,
        created_at,
        revoked_at,
    })
}

pub(super) const KEY_COLUMNS: &str = "id, tenant, hash, created_at, revoked_at";
pub(super) const HOST_COLUMNS: &str = "id, tenant, name, created_at, revoked_at, endpoint, version, last_seen, peer_health, site, peer_links";
pub(super) const NETWORK_COLUMNS: &str =
    "tenant, name, subnet, mode, internal, domain, block_prefix, created_at, site, vni, mtu, over";

pub(super) type HostRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    String,
);

pub(super) fn host_row(r: &Row<'_>) -> rusqlite::Result<HostRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

pub(super) fn host(row: HostRow) -> Result<Host> {
    let (
        hid,
        tenant,
        name,
        created_at,
        revoked_at,
        endpoint,
        version,
        last_seen,
        health,
        site,
        links,
    ) = row;
    let peer_health = serde_json::from_str(&health).map_err(|_| corrupt("peer health", &health))?;
    let peer_links = serde_json::from_str(&links).map_err(|_| corrupt("peer links", "(JSON)"))?;
    Ok(Host {
        id: host_id(hid)?,
        tenant: tenant_id(tenant)?,
        name,
        created_at,
        revoked_at,
        endpoint,
        version,
        last_seen,
        peer_health,
        peer_links,
        site,
    })
}

pub(super) type NetworkRow = (
    (String, String, String, String, bool, String, u8, i64),
    (Option<String>, Option<u32>, Option<u32>, Option<String>),
);

pub(super) fn network_row(r: &Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok((
        (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ),
        (r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?),
    ))
}

pub(super) fn network(row: NetworkRow) -> Result<Network> {
    let ((tenant, name, subnet, mode, internal, domain, block_prefix, created_at), vx) = row;
    let (site, vni, mtu, over) = vx;
    let mode = Mode::from_stored(&mode).ok_or_else(|| corrupt("mode", &mode))?;
    let vxlan = match (mode, site) {
        (Mode::Vxlan, Some(site)) => Some(VxlanSpec {
            site,
            vni: Some(vni.ok_or_else(|| corrupt("vni", "NULL"))?),
            mtu,
            over,
        }),
        (Mode::Vxlan, None) => return Err(corrupt("VXLAN network without a site", &name)),
        _ => None,
    };
    Ok(Network {
        tenant: tenant_id(tenant)?,
        spec: NetworkSpec {
            name,
            subnet: subnet.parse().map_err(|_| corrupt("subnet", &subnet))?,
            mode,
            internal,
            domain,
            block_prefix,
            vxlan,
        },
        created_at,
    })
}

pub(super) fn networks_of(tx: &Transaction<'_>, tenant: &str) -> Result<Vec<Network>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {NETWORK_COLUMNS} FROM networks WHERE tenant = ?1 ORDER BY name"
    ))?;
    let rows = stmt.query_map([tenant], network_row)?;
    rows.map(|r| network(r?)).collect()
}

/// Give `host` the lowest free block of `net`.
pub(super) fn assign_block(tx: &Transaction<'_>, net: &Network, host: &str) -> Result<()> {
    let mut stmt = tx.prepare("SELECT block FROM blocks WHERE tenant = ?1 AND network = ?2")?;
    let taken = stmt
        .query_map(params![net.tenant.as_str(), net.spec.name], |r| {
            r.get::<_, String>(0)
        })?
        .map(|b| {
            let b = b?;
            b.parse::<IpNet>().map_err(|_| corrupt("block", b))
        })
        .collect::<Result<BTreeSet<IpNet>>>()?;
    let spec = &net.spec;
    let block = weft_model::blocks::lowest_free_block(&spec.subnet, spec.block_prefix, &taken)
        .ok_or_else(|| StoreError::NoFreeBlock {
            network: spec.name.clone(),
            host: host.to_string(),
        })?;
    tx.execute(
        "INSERT INTO blocks (tenant, network, host, block) VALUES (?1, ?2, ?3, ?4)",
        params![net.tenant.as_str(), spec.name, host, block.to_string()],
    )?;
    Ok(())
}

/// The blocks of a tenant's networks, by network then block.
pub(super) fn blocks_of_tenant(
    conn: &rusqlite::Connection,
    tenant: &str,
) -> Result<Vec<crate::model::HostBlock>> {
    let mut stmt = conn.prepare(
        "SELECT network, host, block FROM blocks WHERE tenant = ?1 ORDER BY network, block",
    )?;
    let rows = stmt.query_map([tenant], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    rows.map(|r| {
        let (network, h, block) = r?;
        Ok(crate::model::HostBlock {
            network,
            host: host_id(h)?,
            block: block.parse().map_err(|_| corrupt("block", &block))?,
        })
    })
    .collect()
}

pub(super) fn tenant_exists(tx: &Transaction<'_>, tenant: &str) -> Result<()> {
    let found: Option<String> = tx
        .query_row("SELECT id FROM tenants WHERE id = ?1", [tenant], |r| {
            r.get(0)
        })
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound {
            what: "tenant",
            name: tenant.to_string(),
        }),
    }
}

/// A host's stored keys, sorted as `report` compares them.
pub(super) fn keys_of_host(
    tx: &Transaction<'_>,
    tenant: &str,
    host: &str,
) -> Result<Vec<crate::model::NetworkKey>> {
    let mut stmt = tx.prepare(
        "SELECT network, public_key, listen_port FROM host_keys
         WHERE tenant = ?1 AND host = ?2",
    )?;
    let mut keys = stmt
        .query_map(params![tenant, host], |r| {
            Ok(crate::model::NetworkKey {
                network: r.get(0)?,
                public_key: r.get(1)?,
                listen_port: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    keys.sort();
    Ok(keys)
}
