//! What a resuming agent is re-sent: networks changed or deleted after its
//! revision. Deleted networks are remembered for [`RESUME_WINDOW`]
//! revisions; an agent older than that (the horizon) gets a snapshot.

use super::rows::*;
use crate::store::{NetworkChanges, Result};
use rusqlite::{OptionalExtension, Transaction, params};

/// How many revisions back deleted networks are remembered.
pub(super) const RESUME_WINDOW: u64 = 10_000;

fn meta_u64(tx: &Transaction<'_>, key: &str) -> Result<u64> {
    let text: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    match text {
        None => Ok(0),
        Some(t) => t.parse().map_err(|_| corrupt("meta value", t)),
    }
}

/// Remember that `name` was deleted at `revision`, and forget deletions
/// that fell out of the window.
pub(super) fn bury(tx: &Transaction<'_>, tenant: &str, name: &str, revision: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO network_tombstones (tenant, name, deleted_at) VALUES (?1, ?2, ?3)",
        params![tenant, name, sql_revision(revision)],
    )?;
    let Some(cutoff) = revision.checked_sub(RESUME_WINDOW) else {
        return Ok(());
    };
    let forgotten = tx.execute(
        "DELETE FROM network_tombstones WHERE deleted_at <= ?1",
        [sql_revision(cutoff)],
    )?;
    if forgotten > 0 && meta_u64(tx, "resume_horizon")? < cutoff {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('resume_horizon', ?1)",
            [cutoff.to_string()],
        )?;
    }
    Ok(())
}

pub(super) fn changes_since(
    tx: &Transaction<'_>,
    tenant: &str,
    since: u64,
) -> Result<Option<NetworkChanges>> {
    let horizon = meta_u64(tx, "resume_horizon")?;
    let revision = meta_u64(tx, "revision")?;
    if since < horizon || since > revision {
        return Ok(None);
    }
    let names = |sql: &str| -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = tx.prepare(sql)?;
        let names = stmt
            .query_map(params![tenant, sql_revision(since)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(names)
    };
    Ok(Some(NetworkChanges {
        changed: names("SELECT name FROM networks WHERE tenant = ?1 AND changed_at > ?2")?,
        deleted: names(
            "SELECT name FROM network_tombstones WHERE tenant = ?1 AND deleted_at > ?2",
        )?,
    }))
}
