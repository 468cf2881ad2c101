//! Tenants, made with their first API key.

use super::rows::{tenant, tenant_row};
use crate::model::{Tenant, TenantId};
use crate::secret::SecretHash;
use crate::store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Every tenant, by name.
pub(super) fn list(conn: &Connection) -> Result<Vec<Tenant>> {
    let mut stmt = conn.prepare("SELECT id, name, created_at FROM tenants ORDER BY name")?;
    let rows = stmt.query_map([], tenant_row)?;
    rows.map(|r| tenant(r?)).collect()
}

/// The tenant named `name`, if there is one.
pub(super) fn by_name(conn: &Connection, name: &str) -> Result<Option<Tenant>> {
    let row = conn
        .query_row(
            "SELECT id, name, created_at FROM tenants WHERE name = ?1",
            [name],
            tenant_row,
        )
        .optional()?;
    row.map(tenant).transpose()
}

pub(super) fn create(
    tx: &Transaction<'_>,
    name: String,
    key_id: String,
    hash: SecretHash,
    now: i64,
) -> Result<Tenant> {
    let taken: Option<String> = tx
        .query_row("SELECT id FROM tenants WHERE name = ?1", [&name], |r| {
            r.get(0)
        })
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::TenantExists(name));
    }
    let t = Tenant {
        id: TenantId::generate(),
        name,
        created_at: now,
    };
    tx.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![t.id.as_str(), t.name, now],
    )?;
    tx.execute(
        "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![key_id, t.id.as_str(), hash.to_hex(), now],
    )?;
    Ok(t)
}
