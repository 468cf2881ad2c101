//! VMs: one row each (its NICs as JSON, in guest order), changed as
//! `store/vms.rs` works the change out; and what hosts reported they
//! made of them, one row per host.

use super::rows::*;
use crate::model::{HostId, ReportedNic, TenantId, Vm, VmNicSpec, VmSpec};
use crate::store::{Result, VmChange, VmRows, change_vm};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeSet;

type VmRow = (String, String, String, i64, Option<String>);

fn vm_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VmRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn vm(tenant: &TenantId, (id, host, nics, created_at, run): VmRow) -> Result<Vm> {
    let nics: Vec<VmNicSpec> = serde_json::from_str(&nics).map_err(|_| corrupt("VM NICs", &id))?;
    let run = (run.as_deref())
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| corrupt("VM run", &id))?;
    Ok(Vm {
        tenant: tenant.clone(),
        spec: VmSpec {
            id,
            host: host_id(host)?,
            nics,
            run,
        },
        created_at,
    })
}

pub(super) fn change(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    change: VmChange,
    now: i64,
) -> Result<Option<Vm>> {
    tenant_exists(tx, tenant.as_str())?;
    let current = tx
        .query_row(
            "SELECT id, host, nics, created_at, run FROM vms WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), change.vm()],
            vm_row,
        )
        .optional()?
        .map(|row| vm(tenant, row))
        .transpose()?;
    let mut stmt = tx.prepare("SELECT id FROM hosts WHERE tenant = ?1 AND revoked_at IS NULL")?;
    let live: BTreeSet<String> = stmt
        .query_map([tenant.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let is_live = |h: &HostId| live.contains(h.as_str());
    let networks = networks_of(tx, tenant.as_str())?;
    let blocks = blocks_of_tenant(tx, tenant.as_str())?;
    let id = change.vm().to_string();
    let outcome = change_vm(
        tenant,
        change,
        VmRows {
            current,
            networks: &networks,
            blocks: &blocks,
            live: &is_live,
        },
        now,
    )?;
    match &outcome.vm {
        Some(vm) => {
            let nics = serde_json::to_string(&vm.spec.nics).map_err(|_| corrupt("VM NICs", &id))?;
            let run = (vm.spec.run.as_ref())
                .map(serde_json::to_string)
                .transpose()
                .map_err(|_| corrupt("VM run", &id))?;
            tx.execute(
                "INSERT OR REPLACE INTO vms (tenant, id, host, nics, created_at, run)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tenant.as_str(),
                    id,
                    vm.spec.host.as_str(),
                    nics,
                    vm.created_at,
                    run
                ],
            )?;
        }
        None => {
            tx.execute(
                "DELETE FROM vms WHERE tenant = ?1 AND id = ?2",
                params![tenant.as_str(), id],
            )?;
        }
    }
    let revision = bump_revision(tx)?;
    touch(tx, tenant.as_str(), &outcome.touched, revision)?;
    Ok(outcome.vm)
}

pub(super) fn list(conn: &Connection, tenant: &TenantId) -> Result<Vec<Vm>> {
    let mut stmt = conn
        .prepare("SELECT id, host, nics, created_at, run FROM vms WHERE tenant = ?1 ORDER BY id")?;
    let rows = stmt.query_map([tenant.as_str()], vm_row)?;
    rows.map(|r| vm(tenant, r?)).collect()
}

pub(super) fn report(tx: &Transaction<'_>, host: &HostId, nics: &[ReportedNic]) -> Result<()> {
    let tenant: Option<String> = tx
        .query_row(
            "SELECT tenant FROM hosts WHERE id = ?1 AND revoked_at IS NULL",
            [host.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(tenant) = tenant else {
        return Ok(());
    };
    let nics = serde_json::to_string(nics).map_err(|_| corrupt("reported NICs", host))?;
    // A heartbeat repeats the last report: nothing to write then.
    tx.execute(
        "INSERT INTO vm_reports (host, tenant, nics) VALUES (?1, ?2, ?3)
         ON CONFLICT (host) DO UPDATE SET nics = excluded.nics WHERE nics != excluded.nics",
        params![host.as_str(), tenant, nics],
    )?;
    Ok(())
}

pub(super) fn reported(conn: &Connection, tenant: &TenantId) -> Result<Vec<(HostId, ReportedNic)>> {
    let mut stmt = conn.prepare(
        "SELECT r.host, r.nics FROM vm_reports r JOIN hosts h ON h.id = r.host
         WHERE r.tenant = ?1 AND h.revoked_at IS NULL ORDER BY r.host",
    )?;
    let rows = stmt.query_map([tenant.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (host, nics) = row?;
        let nics: Vec<ReportedNic> =
            serde_json::from_str(&nics).map_err(|_| corrupt("reported NICs", &host))?;
        let host = host_id(host)?;
        out.extend(nics.into_iter().map(|n| (host.clone(), n)));
    }
    Ok(out)
}
