//! What replicas of the control plane share through etcd besides the
//! state: the CA (made by the first replica to start, loaded by the
//! others), who is serving (each replica's gRPC addresses under a lease
//! of its own: a replica that dies drops out within [`SESSION_TTL`]), and
//! which one runs the background jobs (etcd's election API, campaigning
//! with that same lease).
//!
//! The CA's private key is then kept in etcd: whoever can read etcd can
//! already rewrite every network, but an operator who wants the key
//! elsewhere gives every replica `--ca-cert/--ca-key` instead.
//!
//! [`EtcdReplicas`] is this as a [`Deployment`].

use super::*;
use crate::ca::{Ca, CaError};
use crate::deployment::{Deployment, DeploymentError, Joined};
use crate::jobs::Election;
use std::path::{Path, PathBuf};

/// Seconds a replica's lease lives without a keep-alive.
pub const SESSION_TTL: i64 = 10;

/// Replicas of the control plane on one etcd store.
pub struct EtcdReplicas {
    store: Arc<EtcdStore>,
}

impl EtcdReplicas {
    pub fn new(store: Arc<EtcdStore>) -> EtcdReplicas {
        EtcdReplicas { store }
    }

    /// The shared CA, made here when no replica made it yet.
    async fn shared_ca(&self, now: i64) -> std::result::Result<(Ca, bool), DeploymentError> {
        let etcd = &self.store;
        let from_etcd = |(cert, key): (String, String)| {
            let at = |what: &str| PathBuf::from(format!("etcd:{}ca ({what})", etcd.prefix()));
            Ca::from_pem(cert, &key, &at("certificate"), &at("key"))
        };
        if let Some(shared) = etcd.ca_pem().await? {
            return Ok((from_etcd(shared)?, false));
        }
        let ca = Ca::generate(now)?;
        if etcd.share_ca(ca.cert_pem(), &ca.key_pem()).await? {
            return Ok((ca, true));
        }
        // Another replica was first: use its.
        let shared = etcd.ca_pem().await?.ok_or(StoreError::Corrupt {
            what: "shared CA",
            value: "gone after it was made".into(),
        })?;
        Ok((from_etcd(shared)?, false))
    }
}

#[async_trait]
impl Deployment for EtcdReplicas {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store) as Arc<dyn Store>
    }

    async fn ca(
        &self,
        state_dir: &Path,
        now: i64,
    ) -> std::result::Result<(Ca, bool), DeploymentError> {
        let (ca, created) = self.shared_ca(now).await?;
        // The certificate (public) in the state directory too, as with
        // SQLite, for `curl --cacert` and the like; the key stays in etcd.
        let cert = state_dir.join("ca.pem");
        std::fs::write(&cert, ca.cert_pem()).map_err(|e| CaError::Write(cert, e))?;
        Ok((ca, created))
    }

    fn join(&self, addresses: Vec<String>, replicas: watch::Sender<Vec<String>>) -> Joined {
        let (task, jobs) = self.store.join(addresses, replicas);
        Joined {
            registration: Some(task),
            jobs,
        }
    }
}

/// Why a replica's registration ended (it registers again).
#[derive(Debug, thiserror::Error)]
enum RegistrationError {
    #[error("this replica's lease in etcd is lost ({0})")]
    LeaseLost(weft_etcd::LeaseLost),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SharedCa {
    cert_pem: String,
    key_pem: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ReplicaRecord {
    addresses: Vec<String>,
}

impl EtcdStore {
    /// The shared CA (certificate and key PEM), if a replica made it.
    async fn ca_pem(&self) -> Result<Option<(String, String)>> {
        let Some(kv) = self.get(self.keys.ca()).await? else {
            return Ok(None);
        };
        let ca: SharedCa = decode("CA", &kv.value)?;
        Ok(Some((ca.cert_pem, ca.key_pem)))
    }

    /// Store this CA as the shared one unless a replica was first: true
    /// when this one is now shared.
    async fn share_ca(&self, cert_pem: &str, key_pem: &str) -> Result<bool> {
        let ca = SharedCa {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        };
        let txn = Txn::new()
            .when([Compare::absent(self.keys.ca())])
            .and_then([Op::put(self.keys.ca(), encode(&ca))]);
        Ok(self.txn(txn).await?.succeeded)
    }

    /// Serve as a replica reachable at `addresses`: keep a lease, register
    /// under it, and keep `replicas` (what agents are told) at every live
    /// replica's addresses. Returns the task doing it (abort to leave) and
    /// the election of the background jobs, on the same lease.
    fn join(
        self: &Arc<Self>,
        addresses: Vec<String>,
        replicas: watch::Sender<Vec<String>>,
    ) -> (tokio::task::JoinHandle<()>, Arc<dyn Election>) {
        let id = crate::model::random_id();
        let (lease_tx, lease_rx) = watch::channel(None);
        let election = Arc::new(JobsElection {
            store: Arc::clone(self),
            id: id.clone(),
            lease: lease_rx,
        });
        let task = tokio::spawn(Arc::clone(self).registered(id, addresses, replicas, lease_tx));
        (task, election)
    }

    /// Register, follow the others, and start over whenever the lease or
    /// the watch is lost.
    async fn registered(
        self: Arc<Self>,
        id: String,
        addresses: Vec<String>,
        replicas: watch::Sender<Vec<String>>,
        lease_tx: watch::Sender<Option<i64>>,
    ) {
        let mut failures = 0u32;
        loop {
            let started = tokio::time::Instant::now();
            let err = self
                .registered_once(&id, &addresses, &replicas, &lease_tx)
                .await;
            lease_tx.send_replace(None);
            tracing::warn!(error = %weft_model::error::chain(&err), "this replica's registration in etcd; registering again");
            // 0.2 s doubling to 5 s; a registration that held a while
            // starts over from the short pause.
            if started.elapsed() > Duration::from_secs(2 * SESSION_TTL as u64) {
                failures = 0;
            }
            let pause = Duration::from_millis(200).saturating_mul(1 << failures.min(5));
            failures += 1;
            tokio::time::sleep(pause.min(Duration::from_secs(5))).await;
        }
    }

    async fn registered_once(
        &self,
        id: &str,
        addresses: &[String],
        replicas: &watch::Sender<Vec<String>>,
        lease_tx: &watch::Sender<Option<i64>>,
    ) -> RegistrationError {
        let lease = match self.client.lease_grant(SESSION_TTL).await {
            Ok(lease) => lease,
            Err(e) => return self.failed(e).into(),
        };
        let mut alive = self.client.keep_alive(lease);
        let record = ReplicaRecord {
            addresses: addresses.to_vec(),
        };
        let put = self
            .client
            .put(self.keys.replica(id), encode(&record), lease.id)
            .await;
        if let Err(e) = put {
            return self.failed(e).into();
        }
        lease_tx.send_replace(Some(lease.id));
        tracing::info!(replica = %id, ?addresses, "registered in etcd");
        loop {
            let (list, at) = match self.live_replicas().await {
                Ok(listed) => listed,
                Err(err) => return err.into(),
            };
            replicas.send_if_modified(|told| {
                let moved = *told != list && !list.is_empty();
                if moved {
                    tracing::info!(replicas = ?list, "replicas serving");
                    told.clone_from(&list);
                }
                moved
            });
            let mut watch = match self.client.watch(self.keys.replicas(), true, at + 1).await {
                Ok(watch) => watch,
                Err(e) => return self.failed(e).into(),
            };
            tokio::select! {
                lost = alive.lost() => {
                    return RegistrationError::LeaseLost(lost);
                }
                next = watch.next() => {
                    if let Err(e) = next
                        && e.compact_revision().is_none()
                    {
                        return self.failed(e).into();
                    }
                    // Something moved: list again.
                }
            }
        }
    }

    /// Every live replica's addresses, in a stable order, and the etcd
    /// revision of the listing.
    async fn live_replicas(&self) -> Result<(Vec<String>, i64)> {
        let range = self
            .client
            .get_prefix(self.keys.replicas())
            .await
            .map_err(|e| self.failed(e))?;
        let mut list = Vec::new();
        for kv in &range.kvs {
            let record: ReplicaRecord = decode("replica", &kv.value)?;
            list.extend(record.addresses);
        }
        list.sort();
        list.dedup();
        Ok((list, range.revision))
    }
}

/// The background jobs' election, campaigning with the replica's lease.
struct JobsElection {
    store: Arc<EtcdStore>,
    id: String,
    /// The lease this replica is registered with, while it has one.
    lease: watch::Receiver<Option<i64>>,
}

#[async_trait]
impl Election for JobsElection {
    async fn lead(&self) -> Result<watch::Receiver<bool>> {
        let mut lease_rx = self.lease.clone();
        let lease = loop {
            if let Some(lease) = *lease_rx.borrow_and_update() {
                break lease;
            }
            if lease_rx.changed().await.is_err() {
                return Err(StoreError::Worker);
            }
        };
        let name = self.store.keys.jobs_election();
        let leader = self
            .store
            .client
            .campaign(name, self.id.clone(), lease)
            .await
            .map_err(|e| self.store.failed(e))?;
        let (tx, rx) = watch::channel(true);
        // Leading lasts as long as the lease it was won with.
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = lease_rx.changed() => {
                        if changed.is_err() || *lease_rx.borrow() != Some(lease) {
                            break;
                        }
                    }
                    () = tx.closed() => {
                        // Nobody runs the jobs any more: step down.
                        let _ = store.client.resign(leader).await;
                        return;
                    }
                }
            }
            tx.send_replace(false);
        });
        Ok(rx)
    }
}
