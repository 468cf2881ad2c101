//! Hosts' log records: one row each, numbered per host; the newest
//! `keep` of a host are kept, older ones deleted as new ones come.

use super::super::{Result, StoreError};
use super::rows::corrupt;
use crate::model::logs::{HostLogs, LogLevel, LogQuery, LogRecord};
use crate::model::{HostId, TenantId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Whether `host` is a live host of `tenant`.
fn live_in(conn: &Connection, tenant: &TenantId, host: &HostId) -> Result<bool> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM hosts WHERE id = ?1 AND tenant = ?2 AND revoked_at IS NULL")?
        .query_row(params![host.as_str(), tenant.as_str()], |r| r.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// Every statement is prepared once per connection (`prepare_cached`): a
/// flush writes a few records for each of thousands of hosts, and parsing
/// the SQL each time would cost more than running it.
pub(super) fn append(tx: &Transaction<'_>, logs: &[HostLogs], keep: u32) -> Result<()> {
    let mut last_seq =
        tx.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM host_logs WHERE host = ?1")?;
    let mut trim = tx.prepare_cached("DELETE FROM host_logs WHERE host = ?1 AND seq <= ?2")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO host_logs (host, seq, tenant, time_ms, level, target, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for batch in logs {
        if batch.records.is_empty() || !live_in(tx, &batch.tenant, &batch.host)? {
            continue;
        }
        let host = batch.host.as_str();
        let last: i64 = last_seq.query_row([host], |r| r.get(0))?;
        let mut seq = last;
        for r in &batch.records {
            seq += 1;
            insert.execute(params![
                host,
                seq,
                batch.tenant.as_str(),
                r.time_ms,
                r.level.number(),
                r.target,
                r.message
            ])?;
        }
        trim.execute(params![host, seq.saturating_sub(i64::from(keep))])?;
    }
    Ok(())
}

pub(super) fn read(
    conn: &Connection,
    tenant: &TenantId,
    host: &HostId,
    query: &LogQuery,
) -> Result<Vec<LogRecord>> {
    if !live_in(conn, tenant, host)? {
        return Err(StoreError::NotFound {
            what: "host",
            name: host.to_string(),
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, time_ms, level, target, message FROM host_logs
         WHERE host = ?1 AND seq > ?2 AND level <= ?3 AND time_ms >= ?4
         ORDER BY seq LIMIT ?5",
    )?;
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(
        params![
            host.as_str(),
            i64::try_from(query.after).unwrap_or(i64::MAX),
            query.level.number(),
            query.since_ms.unwrap_or(i64::MIN),
            limit
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, u8>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (seq, time_ms, level, target, message) = row?;
        Ok(LogRecord {
            seq: u64::try_from(seq).map_err(|_| corrupt("log seq", seq))?,
            time_ms,
            level: LogLevel::from_number(level).ok_or_else(|| corrupt("log level", level))?,
            target,
            message,
        })
    })
    .collect()
}
