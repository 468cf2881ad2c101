//! Tenants, made with their first API key.

use crate::model::{Tenant, TenantId};
use crate::secret::SecretHash;
use crate::store::{Result, StoreError};
use rusqlite::{OptionalExtension, Transaction, params};

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
