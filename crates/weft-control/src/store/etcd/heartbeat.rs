//! Reports without reading the tenant. An agent reports every 10 s, and
//! nearly always what it said last time; judging that against the whole
//! tenant (its hosts, blocks and keys) would make heartbeats cost as much
//! as the tenant is large.
//!
//! So each replica remembers, per host, what the host last said, the
//! record it stored for it, and the etcd revisions then: the host
//! record's and the revision counter's. A report saying the same again is
//! written as one transaction comparing both. If both are unchanged,
//! nothing the verdict depends on moved (every change of networks,
//! blocks or keys moves the counter; the host's endpoint is in its
//! record): the report changes nothing but the heartbeat. If either
//! moved, the report takes the full path, which reads the tenant.

use super::records::{HostRecord, encode};
use super::{Committed, EtcdStore, writes};
use crate::model::{HostId, HostReport, NetworkKey};
use crate::store::{Result, StoreError};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use weft_etcd::{CmpOp, Compare, Op, Txn};

/// What a host said: its endpoint and its keys, sorted.
type Said = (String, Vec<NetworkKey>);

#[derive(Debug, Clone)]
struct Heartbeat {
    said: Said,
    record: HostRecord,
    host_mod: i64,
    counter_mod: i64,
}

#[derive(Debug, Default)]
pub(super) struct Heartbeats(Mutex<HashMap<String, Heartbeat>>);

impl Heartbeats {
    fn get(&self, host: &str) -> Option<Heartbeat> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(host).cloned()
    }

    fn set(&self, host: &str, heartbeat: Option<Heartbeat>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match heartbeat {
            Some(heartbeat) => map.insert(host.to_string(), heartbeat),
            None => map.remove(host),
        };
    }
}

fn said(report: &HostReport) -> Said {
    let mut keys = report.keys.clone();
    keys.sort();
    (report.endpoint.clone(), keys)
}

impl EtcdStore {
    /// [`crate::store::Store::report`].
    pub(super) async fn report_host(
        &self,
        hid: &HostId,
        report: &HostReport,
        now: i64,
    ) -> Result<bool> {
        let said = said(report);
        let known = self.heartbeats.get(hid.as_str());
        if let Some(last) = known.filter(|last| last.said == said)
            && let Some(beat) = self.beat(hid, last, report, now).await?
        {
            self.heartbeats.set(hid.as_str(), Some(beat));
            return Ok(false);
        }
        let Some(tenant) = self.tenant_of(hid.as_str()).await? else {
            return Err(StoreError::NotFound {
                what: "host",
                name: hid.to_string(),
            });
        };
        let judged = self
            .change_committed(&tenant, &[""], &[], |draft, _| {
                let changed = writes::report(draft, hid, report, now)?;
                let record = draft
                    .state
                    .hosts
                    .get(hid.as_str())
                    .map(|h| h.record.clone());
                Ok((changed, record))
            })
            .await;
        let ((changed, record), committed) = match judged {
            Ok(judged) => judged,
            Err(err) => {
                self.heartbeats.set(hid.as_str(), None);
                return Err(err);
            }
        };
        let Committed {
            revision,
            counter_mod,
        } = committed;
        let beat = record.map(|record| Heartbeat {
            said,
            record,
            host_mod: revision,
            counter_mod,
        });
        self.heartbeats.set(hid.as_str(), beat);
        Ok(changed)
    }

    /// The heartbeat alone, if nothing moved since `last`; `None` if
    /// something did (the caller takes the full path).
    async fn beat(
        &self,
        hid: &HostId,
        last: Heartbeat,
        report: &HostReport,
        now: i64,
    ) -> Result<Option<Heartbeat>> {
        let mut record = last.record.clone();
        record.version = Some(report.version.clone());
        record.last_seen = Some(now);
        record.peer_health = report.peer_health.clone();
        let key = self.keys.host(&record.tenant, hid.as_str());
        let counter = self.keys.revision();
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key.clone(), CmpOp::Equal, last.host_mod),
                Compare::mod_revision(counter, CmpOp::Equal, last.counter_mod),
            ])
            .and_then([Op::put(key, encode(&record))]);
        let done = self.txn(txn).await?;
        Ok(done.succeeded.then_some(Heartbeat {
            record,
            host_mod: done.revision,
            ..last
        }))
    }
}
