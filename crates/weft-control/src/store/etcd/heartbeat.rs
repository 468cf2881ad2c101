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
        let judged = self.report_changed(&tenant, hid, report, now).await;
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

    /// A report that may change desired state, judged against what it
    /// depends on only: the host's record, the networks and their blocks,
    /// and in each network the shard of keys this host's is in — not every
    /// host's record and keys, so a host's first report does not cost as
    /// much as the tenant is large. The networks are listed first to know
    /// which shards to read; if they moved before the read, again (after a
    /// few tries, the whole tenant).
    async fn report_changed(
        &self,
        tenant: &str,
        hid: &HostId,
        report: &HostReport,
        now: i64,
    ) -> Result<((bool, Option<HostRecord>), Committed)> {
        let host_part = format!("hosts/{hid}");
        let shard = super::keys::shard_of(hid.as_str());
        for _ in 0..3 {
            let listed = self.tenant_parts(tenant, &["networks/"]).await?;
            let names: Vec<String> = listed.networks.keys().cloned().collect();
            let shards: Vec<String> = (names.iter())
                .map(|n| format!("host-keys/{n}/{shard:02}"))
                .collect();
            let mut parts = vec!["networks/", "blocks/", host_part.as_str()];
            parts.extend(shards.iter().map(String::as_str));
            let judged = self
                .change_committed(tenant, &parts, &[], |draft, _| {
                    if !draft.state.networks.keys().eq(names.iter()) {
                        // Networks came or went since listed: nothing
                        // drafted, list again.
                        return Ok(None);
                    }
                    judge(draft, hid, report, now).map(Some)
                })
                .await?;
            if let (Some(judged), committed) = judged {
                return Ok((judged, committed));
            }
        }
        self.change_committed(tenant, &[""], &[], |draft, _| {
            judge(draft, hid, report, now)
        })
        .await
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
        if let Some(links) = &report.peer_links {
            record.peer_links = links.clone();
        }
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

/// What a report changes (drafted), and the host's record after it.
fn judge(
    draft: &mut super::draft::Draft<'_>,
    hid: &HostId,
    report: &HostReport,
    now: i64,
) -> Result<(bool, Option<HostRecord>)> {
    let changed = writes::report(draft, hid, report, now)?;
    let record = draft
        .state
        .hosts
        .get(hid.as_str())
        .map(|h| h.record.clone());
    Ok((changed, record))
}
