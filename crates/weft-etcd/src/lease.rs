//! Leases: granted, kept alive by a task that says when the lease is
//! lost, revoked.

use crate::client::Client;
use crate::error::Result;
use crate::pb::etcdserverpb as pb;
use crate::pb::etcdserverpb::lease_client::LeaseClient;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// A lease etcd granted: keys put with it go when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    /// Seconds etcd keeps it without a keep-alive.
    pub ttl: i64,
}

/// Why a kept-alive lease is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseLost {
    /// etcd said the lease is no more (expired or revoked).
    Expired,
    /// No endpoint renewed it for a whole TTL: it has expired by now, or
    /// will have by the time anyone could tell.
    Unreachable,
}

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LeaseLost::Expired => "etcd says it expired or was revoked",
            LeaseLost::Unreachable => "no etcd endpoint renewed it for a whole TTL",
        })
    }
}

/// The task keeping a lease alive, stopped on drop (the lease then
/// expires after its TTL, unless revoked).
#[derive(Debug)]
pub struct KeepAlive {
    lease: Lease,
    lost: watch::Receiver<Option<LeaseLost>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeepAlive {
    pub fn lease(&self) -> Lease {
        self.lease
    }

    /// Whether (and why) the lease is lost, now.
    pub fn is_lost(&self) -> Option<LeaseLost> {
        *self.lost.borrow()
    }

    /// Wait until the lease is lost.
    pub async fn lost(&mut self) -> LeaseLost {
        match self.lost.wait_for(Option::is_some).await {
            Ok(lost) => lost.unwrap_or(LeaseLost::Unreachable),
            // The task ended without a word: only when aborted.
            Err(_) => LeaseLost::Unreachable,
        }
    }

    /// A receiver of the same news, for another task.
    pub fn subscribe(&self) -> watch::Receiver<Option<LeaseLost>> {
        self.lost.clone()
    }
}

impl Client {
    /// Grant a lease of `ttl` seconds.
    pub async fn lease_grant(&self, ttl: i64) -> Result<Lease> {
        let what = || format!("grant a lease of {ttl} s in etcd");
        let answer = self
            .failover(&what, true, |ch| async move {
                let request = pb::LeaseGrantRequest { ttl, id: 0 };
                LeaseClient::new(ch).lease_grant(request).await
            })
            .await?
            .value
            .into_inner();
        Ok(Lease {
            id: answer.id,
            ttl: answer.ttl,
        })
    }

    /// Revoke a lease: its keys go at once.
    pub async fn lease_revoke(&self, id: i64) -> Result<()> {
        let what = || format!("revoke lease {id:x} in etcd");
        self.failover(&what, true, |ch| async move {
            LeaseClient::new(ch)
                .lease_revoke(pb::LeaseRevokeRequest { id })
                .await
        })
        .await?;
        Ok(())
    }

    /// Keep `lease` alive (renewed every third of its TTL) until the
    /// returned [`KeepAlive`] is dropped or the lease is lost.
    pub fn keep_alive(&self, lease: Lease) -> KeepAlive {
        let (report, lost) = watch::channel(None);
        let client = self.clone();
        let task = tokio::spawn(async move {
            let why = client.keep_renewing(lease).await;
            tracing::warn!(lease = format_args!("{:x}", lease.id), %why, "etcd lease lost");
            let _ = report.send(Some(why));
        });
        KeepAlive { lease, lost, task }
    }

    /// Renew until the lease is lost; returns why.
    async fn keep_renewing(&self, lease: Lease) -> LeaseLost {
        let ttl = Duration::from_secs(lease.ttl.max(1) as u64);
        let period = ttl / 3;
        let mut renewed = Instant::now();
        loop {
            match self.renew_on_one_stream(lease, period, &mut renewed).await {
                Some(lost) => return lost,
                None if renewed.elapsed() >= ttl => return LeaseLost::Unreachable,
                None => tokio::time::sleep(period.min(Duration::from_millis(500))).await,
            }
        }
    }

    /// Renew over one keep-alive stream until it breaks (`None`) or etcd
    /// says the lease is gone.
    async fn renew_on_one_stream(
        &self,
        lease: Lease,
        period: Duration,
        renewed: &mut Instant,
    ) -> Option<LeaseLost> {
        let what = || format!("keep lease {:x} alive in etcd", lease.id);
        let opened = self
            .failover(&what, true, |ch| async move {
                // The first renewal goes with the opening: etcd sends the
                // stream's headers with its first answer.
                let (requests, rx) = mpsc::channel(1);
                let first = pb::LeaseKeepAliveRequest { id: lease.id };
                requests
                    .send(first)
                    .await
                    .map_err(|_| tonic::Status::cancelled("keep-alive request dropped"))?;
                let rx = tokio_stream::wrappers::ReceiverStream::new(rx);
                let stream = LeaseClient::new(ch).lease_keep_alive(rx).await?;
                Ok((requests, stream.into_inner()))
            })
            .await;
        let (requests, mut stream) = match opened {
            Ok(opened) => opened.value,
            Err(err) => {
                tracing::debug!(error = %err, "open a keep-alive stream");
                return None;
            }
        };
        let timeout = self
            .options()
            .request_timeout
            .min(period.max(Duration::from_millis(200)));
        loop {
            match tokio::time::timeout(timeout, stream.message()).await {
                Ok(Ok(Some(answer))) if answer.ttl <= 0 => return Some(LeaseLost::Expired),
                Ok(Ok(Some(_))) => *renewed = Instant::now(),
                _ => return None,
            }
            tokio::time::sleep(period).await;
            let request = pb::LeaseKeepAliveRequest { id: lease.id };
            requests.send(request).await.ok()?;
        }
    }
}
