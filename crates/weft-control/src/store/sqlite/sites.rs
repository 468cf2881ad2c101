//! Sites, and moving hosts between them: a host is in the networks of
//! its site (and leaves them when it moves); see
//! [`crate::store::Store::set_host_site`].

use super::rows::*;
use crate::model::{Host, HostId, Site, SiteSpec, TenantId};
use crate::store::{Result, StoreError};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeSet;

/// `site` exists in `tenant`, or NotFound.
pub(super) fn require(tx: &Transaction<'_>, tenant: &str, site: &str) -> Result<()> {
    let found: Option<String> = tx
        .query_row(
            "SELECT name FROM sites WHERE tenant = ?1 AND name = ?2",
            params![tenant, site],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|_| ()).ok_or_else(|| StoreError::NotFound {
        what: "site",
        name: site.to_string(),
    })
}

/// The names of the networks that belong to `site`.
pub(super) fn networks_of_site(
    tx: &Transaction<'_>,
    tenant: &str,
    site: &str,
) -> Result<BTreeSet<String>> {
    let mut stmt = tx.prepare("SELECT name FROM networks WHERE tenant = ?1 AND site = ?2")?;
    let names = stmt
        .query_map(params![tenant, site], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

pub(super) fn create(
    tx: &Transaction<'_>,
    tenant: TenantId,
    spec: SiteSpec,
    now: i64,
) -> Result<Site> {
    tenant_exists(tx, tenant.as_str())?;
    if require(tx, tenant.as_str(), &spec.name).is_ok() {
        return Err(StoreError::SiteExists(spec.name));
    }
    let labels = serde_json::to_string(&spec.labels).unwrap_or_else(|_| "{}".into());
    tx.execute(
        "INSERT INTO sites (tenant, name, labels, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![tenant.as_str(), spec.name, labels, now],
    )?;
    Ok(Site {
        tenant,
        spec,
        created_at: now,
    })
}

pub(super) fn list(tx: &Transaction<'_>, tenant: &TenantId) -> Result<Vec<Site>> {
    let mut stmt =
        tx.prepare("SELECT name, labels, created_at FROM sites WHERE tenant = ?1 ORDER BY name")?;
    let rows = stmt.query_map([tenant.as_str()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    rows.map(|r| {
        let (name, labels, created_at) = r?;
        let labels = serde_json::from_str(&labels).map_err(|_| corrupt("site labels", &labels))?;
        Ok(Site {
            tenant: tenant.clone(),
            spec: SiteSpec { name, labels },
            created_at,
        })
    })
    .collect()
}

pub(super) fn delete(tx: &Transaction<'_>, tenant: &TenantId, name: &str) -> Result<()> {
    require(tx, tenant.as_str(), name)?;
    let mut stmt = tx.prepare(
        "SELECT name FROM hosts WHERE tenant = ?1 AND site = ?2 AND revoked_at IS NULL
         ORDER BY name",
    )?;
    let hosts: Vec<String> = stmt
        .query_map(params![tenant.as_str(), name], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let networks: Vec<String> = networks_of_site(tx, tenant.as_str(), name)?
        .into_iter()
        .collect();
    if !hosts.is_empty() || !networks.is_empty() {
        return Err(StoreError::SiteNotEmpty {
            site: name.to_string(),
            hosts,
            networks,
        });
    }
    tx.execute(
        "DELETE FROM sites WHERE tenant = ?1 AND name = ?2",
        params![tenant.as_str(), name],
    )?;
    Ok(())
}

pub(super) fn set_host_site(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    hid: &HostId,
    site: Option<String>,
) -> Result<Host> {
    let row = tx
        .query_row(
            &format!(
                "SELECT {HOST_COLUMNS} FROM hosts
                 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL"
            ),
            params![tenant.as_str(), hid.as_str()],
            host_row,
        )
        .optional()?;
    let mut moved = host(row.ok_or_else(|| StoreError::NotFound {
        what: "host",
        name: hid.to_string(),
    })?)?;
    if let Some(site) = &site {
        require(tx, tenant.as_str(), site)?;
    }
    if moved.site == site {
        return Ok(moved);
    }
    let in_site = |site: &Option<String>| match site {
        Some(s) => networks_of_site(tx, tenant.as_str(), s),
        None => Ok(BTreeSet::new()),
    };
    let (left, joined) = (in_site(&moved.site)?, in_site(&site)?);
    for network in &left {
        for table in ["blocks", "host_keys"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant = ?1 AND network = ?2 AND host = ?3"),
                params![tenant.as_str(), network, hid.as_str()],
            )?;
        }
    }
    for net in networks_of(tx, tenant.as_str())? {
        if joined.contains(&net.spec.name) {
            assign_block(tx, &net, hid.as_str())?;
        }
    }
    tx.execute(
        "UPDATE hosts SET site = ?2 WHERE id = ?1",
        params![hid.as_str(), site],
    )?;
    if !left.is_empty() || !joined.is_empty() {
        let revision = bump_revision(tx)?;
        touch(tx, tenant.as_str(), left.union(&joined), revision)?;
    }
    moved.site = site;
    Ok(moved)
}
