//! A tenant's enrollment tokens, listed and revoked (made and redeemed in
//! `mod.rs` and `hosts.rs`).

use super::super::{Result, StoreError};
use super::rows::corrupt;
use crate::model::{TenantId, TokenInfo};
use rusqlite::{Connection, Transaction, params};

pub(super) fn list(conn: &Connection, tenant: &TenantId) -> Result<Vec<TokenInfo>> {
    let mut stmt = conn.prepare(
        "SELECT id, created_at, expires_at, uses_left, site FROM tokens
         WHERE tenant = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([tenant.as_str()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    rows.map(|r| {
        let (id, created_at, expires_at, uses_left, site) = r?;
        Ok(TokenInfo {
            id,
            tenant: tenant.clone(),
            created_at,
            expires_at,
            uses_left: u32::try_from(uses_left).map_err(|_| corrupt("token uses", uses_left))?,
            site,
        })
    })
    .collect()
}

/// Deleted, so it redeems nothing from then on; another tenant's is not
/// found, like none.
pub(super) fn revoke(tx: &Transaction<'_>, tenant: &TenantId, id: String) -> Result<()> {
    let gone = tx.execute(
        "DELETE FROM tokens WHERE id = ?1 AND tenant = ?2",
        params![id, tenant.as_str()],
    )?;
    if gone == 0 {
        return Err(StoreError::NotFound {
            what: "token",
            name: id,
        });
    }
    Ok(())
}
