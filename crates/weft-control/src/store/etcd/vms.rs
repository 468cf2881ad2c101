//! VMs drafted against a tenant's state (see `draft.rs`), as the SQLite
//! store's `vms.rs` does them: the change worked out by `store/vms.rs`,
//! the VM's record written, its NICs' networks touched (the revision
//! moves once); and hosts' reports of what they made.

use super::EtcdStore;
use super::draft::Draft;
use super::records::*;
use crate::model::{HostBlock, HostId, ReportedNic, TenantId, Vm};
use crate::store::{Result, VmChange, VmRows, change_vm};
use weft_etcd::{CmpOp, Compare, Op, Txn};

pub(super) fn change(
    draft: &mut Draft<'_>,
    tenant: &TenantId,
    change: VmChange,
    now: i64,
) -> Result<Option<Vm>> {
    draft.state.require_tenant()?;
    let id = change.vm().to_string();
    let current = (draft.state.vms.get(&id))
        .map(|r| r.model(tenant.as_str()))
        .transpose()?;
    let mut networks = Vec::new();
    let mut blocks: Vec<HostBlock> = Vec::new();
    for name in draft.state.networks.keys() {
        networks.push(draft.state.network(name)?);
        blocks.extend(draft.state.network_hosts(name)?.blocks);
    }
    let state = &draft.state;
    let live =
        |h: &HostId| (state.hosts.get(h.as_str())).is_some_and(|e| e.record.revoked_at.is_none());
    let rows = VmRows {
        current,
        networks: &networks,
        blocks: &blocks,
        live: &live,
    };
    let outcome = change_vm(tenant, change, rows, now)?;
    let key = draft.keys.vm(tenant.as_str(), &id);
    match &outcome.vm {
        Some(vm) => {
            let record = VmRecord::new(vm);
            draft.put(key, encode(&record));
            draft.state.vms.insert(id, record);
        }
        None => {
            draft.delete(key);
            draft.state.vms.remove(&id);
        }
    }
    draft.move_revision();
    for name in &outcome.touched {
        if draft.state.networks.contains_key(name) {
            draft.touch(name);
        }
    }
    Ok(outcome.vm)
}

impl EtcdStore {
    /// [`crate::store::Store::change_vm`].
    pub(super) async fn change_vm_of(
        &self,
        tenant: &TenantId,
        change_: VmChange,
        now: i64,
    ) -> Result<Option<Vm>> {
        self.change(tenant.as_str(), &[], |draft, _| {
            change(draft, tenant, change_.clone(), now)
        })
        .await
    }

    /// [`crate::store::Store::list_vms`].
    pub(super) async fn vms_of(&self, tenant: &TenantId) -> Result<Vec<Vm>> {
        let state = self.tenant_parts(tenant.as_str(), &["vms/"]).await?;
        let vms = state.vms.values();
        vms.map(|r| r.model(tenant.as_str())).collect()
    }

    /// [`crate::store::Store::report_vm_nics`]: written only when it
    /// differs from what the host reported last (a heartbeat carries
    /// the same list every time).
    pub(super) async fn put_vm_report(&self, host: &HostId, nics: &[ReportedNic]) -> Result<()> {
        let Some(tenant) = self.tenant_of(host.as_str()).await? else {
            return Ok(());
        };
        let key = self.keys.vm_report(&tenant, host.as_str());
        let value = encode(&nics);
        let kv = self.get(key.clone()).await?;
        if kv.as_ref().is_some_and(|kv| kv.value == value) || (kv.is_none() && nics.is_empty()) {
            return Ok(());
        }
        let record = self.keys.tenant_record(&tenant);
        let txn = Txn::new()
            .when([Compare::version(record, CmpOp::Greater, 0)])
            .and_then([Op::put(key, value)]);
        self.txn(txn).await?;
        Ok(())
    }

    /// [`crate::store::Store::reported_vm_nics`]: of live hosts only.
    pub(super) async fn vm_reports_of(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(HostId, ReportedNic)>> {
        let prefix = self.keys.vm_reports(tenant.as_str());
        let reports = self.scan(prefix.clone()).await?;
        let state = self.tenant_parts(tenant.as_str(), &["hosts/"]).await?;
        let mut out = Vec::new();
        for kv in reports {
            let key = String::from_utf8_lossy(&kv.key);
            let host = key.strip_prefix(&prefix).unwrap_or_default();
            let live = state.hosts.get(host);
            if live.is_none_or(|e| e.record.revoked_at.is_some()) {
                continue;
            }
            let hid = host_id(host)?;
            let nics: Vec<ReportedNic> = decode("reported NICs", &kv.value)?;
            out.extend(nics.into_iter().map(|n| (hid.clone(), n)));
        }
        Ok(out)
    }
}
