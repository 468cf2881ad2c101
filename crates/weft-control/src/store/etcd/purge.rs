//! The etcd store's part of the background jobs (`crate::jobs`): forget
//! dead tokens and long-revoked hosts, and compact etcd's history.
//!
//! Each removal compares the record's mod_revision, so a token redeemed or
//! a host changed meanwhile is left for the next run. Compaction follows
//! the usual policy (Kubernetes' API server does the same): each run
//! compacts to the revision the previous run saw, so etcd keeps one job
//! interval of history — enough for every watch to catch up, since this
//! store's watch resumes from a re-read after a compaction anyway.

use super::*;
use crate::store::Purged;

impl EtcdStore {
    pub(super) async fn purge_dead(&self, before: i64, revoked_before: i64) -> Result<Purged> {
        let mut purged = Purged::default();
        for kv in self.scan(self.keys.token("")).await? {
            let token: TokenRecord = decode("token", &kv.value)?;
            let dead =
                token.expires_at < before || (token.uses_left == 0 && token.created_at < before);
            if dead && self.delete_unchanged(&kv, &[]).await? {
                purged.tokens += 1;
            }
        }
        for kv in self.scan(self.keys.tenants()).await? {
            let tenant: TenantRecord = decode("tenant", &kv.value)?;
            for kv in self.scan(self.keys.host(&tenant.id, "")).await? {
                let host: HostRecord = decode("host", &kv.value)?;
                let long_revoked = host.revoked_at.is_some_and(|at| at < revoked_before);
                let also = [
                    self.keys.host_tenant(&host.id),
                    self.keys.vm_report(&tenant.id, &host.id),
                ];
                if long_revoked && self.delete_unchanged(&kv, &also).await? {
                    self.delete_logs(&host_id(&host.id)?).await?;
                    purged.hosts += 1;
                }
            }
        }
        Ok(purged)
    }

    /// Delete `kv` (and `also`) if it has not changed since it was read.
    async fn delete_unchanged(&self, kv: &KeyValue, also: &[String]) -> Result<bool> {
        let ops = std::iter::once(Op::delete(kv.key.clone()))
            .chain(also.iter().map(|k| Op::delete(k.clone())));
        let txn = Txn::new()
            .when([Compare::mod_revision(
                kv.key.clone(),
                CmpOp::Equal,
                kv.mod_revision,
            )])
            .and_then(ops);
        Ok(self.txn(txn).await?.succeeded)
    }

    pub(super) async fn compact_history(&self) -> Result<()> {
        let now = self.client.revision().await.map_err(|e| self.failed(e))?;
        let previous = self
            .compacted_to
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace(now);
        if let Some(to) = previous.filter(|to| *to > 0 && *to < now) {
            self.client.compact(to).await.map_err(|e| self.failed(e))?;
            tracing::info!(revision = to, "compacted etcd's history");
        }
        Ok(())
    }
}
