//! The control plane's background jobs: forgetting enrollment tokens that
//! can no longer be redeemed and hosts revoked so long ago that their
//! certificates have expired ([`Store::purge`]), and letting the store drop
//! old history ([`Store::compact`]).
//!
//! With several replicas on one store, one replica runs them: the one an
//! [`Election`] chose (etcd's election API). A replica alone ([`Alone`],
//! SQLite) always does. Every job is idempotent, so a short overlap while
//! leadership moves does no harm.

use crate::api::Clock;
use crate::store::{Purged, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Who runs the jobs.
#[async_trait]
pub trait Election: Send + Sync + 'static {
    /// Wait until this replica leads. The receiver turns `false` when
    /// leadership is lost (then [`run`] campaigns again).
    async fn lead(&self) -> Result<watch::Receiver<bool>, StoreError>;
}

/// One replica alone: it always leads.
pub struct Alone(watch::Sender<bool>);

impl Default for Alone {
    fn default() -> Alone {
        Alone(watch::channel(true).0)
    }
}

#[async_trait]
impl Election for Alone {
    async fn lead(&self) -> Result<watch::Receiver<bool>, StoreError> {
        Ok(self.0.subscribe())
    }
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// How often the jobs run while this replica leads.
    pub every: Duration,
    /// A dead token (expired, or used up) is kept this long, in seconds,
    /// so `token list` still shows what just happened to it.
    pub token_grace: i64,
    /// A revoked host is kept this long, in seconds: as long as a
    /// certificate it was given could still be valid.
    pub revoked_keep: i64,
}

impl Default for JobsConfig {
    fn default() -> JobsConfig {
        JobsConfig {
            every: Duration::from_secs(600),
            token_grace: 86_400,
            revoked_keep: crate::ca::CLIENT_DAYS * 86_400,
        }
    }
}

/// Run the jobs once.
pub async fn once(store: &dyn Store, now: i64, config: &JobsConfig) -> Result<Purged, StoreError> {
    let purged = store
        .purge(now - config.token_grace, now - config.revoked_keep)
        .await?;
    if purged != Purged::default() {
        tracing::info!(
            tokens = purged.tokens,
            hosts = purged.hosts,
            "forgot dead enrollment tokens and long-revoked hosts"
        );
    }
    store.compact().await?;
    Ok(purged)
}

/// Campaign, and run the jobs every `config.every` while leading; forever.
pub async fn run(
    store: Arc<dyn Store>,
    election: Arc<dyn Election>,
    clock: Clock,
    config: JobsConfig,
) {
    loop {
        let mut leading = match election.lead().await {
            Ok(leading) => leading,
            Err(err) => {
                tracing::warn!(error = %weft_model::error::chain(&err), "campaign to run the background jobs");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        tracing::info!("this replica runs the background jobs");
        while *leading.borrow_and_update() {
            if let Err(err) = once(store.as_ref(), clock(), &config).await {
                tracing::warn!(error = %weft_model::error::chain(&err), "background jobs");
            }
            tokio::select! {
                () = tokio::time::sleep(config.every) => {}
                changed = leading.changed() => {
                    if changed.is_err() {
                        // The election is gone: lost, campaign again.
                        break;
                    }
                }
            }
        }
        tracing::info!("this replica no longer runs the background jobs");
    }
}

#[cfg(test)]
mod tests;
