//! What replicas of one control plane share besides the store's state —
//! the CA, the list of live replicas agents are told of, and which of
//! them runs the background jobs — behind one trait, [`Deployment`], so
//! serving is the same code whatever the store:
//!
//! - [`SingleProcess`] (SQLite): one replica; the CA in the state
//!   directory, the replica list what it advertises, the jobs always here;
//! - etcd's (`store/etcd/replica.rs`): the CA made by the first replica to
//!   start and loaded by the others, each replica registered under a lease
//!   and told of the live ones, the jobs' leader elected on that lease.
//!
//! [`StoreConfig`] (`--store`) says which, and opens it.

use crate::ca::{Ca, CaError};
use crate::jobs::{Alone, Election};
use crate::store::etcd::{self, EtcdReplicas, EtcdStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// How one replica takes part in its deployment.
#[async_trait]
pub trait Deployment: Send + Sync {
    /// The state, one for every replica.
    fn store(&self) -> Arc<dyn Store>;

    /// The CA (when none is given as files): made on the deployment's
    /// first start, loaded at every later one, its certificate (public)
    /// in `state_dir` as `ca.pem` either way. True when this start made
    /// it.
    async fn ca(&self, state_dir: &Path, now: i64) -> Result<(Ca, bool), DeploymentError>;

    /// Serve as a replica agents reach at `addresses`, keeping `replicas`
    /// (what agents are told) at every live replica's addresses.
    fn join(&self, addresses: Vec<String>, replicas: watch::Sender<Vec<String>>) -> Joined;
}

/// A replica in its deployment.
pub struct Joined {
    /// What keeps it registered and `replicas` current (abort to leave);
    /// none for a replica alone.
    pub registration: Option<tokio::task::JoinHandle<()>>,
    /// Who runs the background jobs.
    pub jobs: Arc<dyn Election>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One replica alone on its store (SQLite): the CA in the state
/// directory, the replicas agents are told of what it advertises, the
/// jobs always run here.
pub struct SingleProcess {
    store: Arc<dyn Store>,
}

impl SingleProcess {
    pub fn new(store: Arc<dyn Store>) -> SingleProcess {
        SingleProcess { store }
    }
}

#[async_trait]
impl Deployment for SingleProcess {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    async fn ca(&self, state_dir: &Path, now: i64) -> Result<(Ca, bool), DeploymentError> {
        Ok(Ca::load_or_create(state_dir, now)?)
    }

    fn join(&self, _addresses: Vec<String>, _replicas: watch::Sender<Vec<String>>) -> Joined {
        Joined {
            registration: None,
            jobs: Arc::new(Alone::default()),
        }
    }
}

/// Where the control plane keeps its state (`--store`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// `control.db` in the state directory: one replica.
    #[default]
    Sqlite,
    /// An etcd cluster, under a key prefix: several replicas.
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error(
    "invalid --store {given:?}: expected sqlite or etcd://HOST:PORT[,HOST:PORT…][/PREFIX/] ({why})"
)]
pub struct StoreConfigError {
    given: String,
    why: &'static str,
}

impl StoreConfig {
    /// `sqlite`, or `etcd://HOST:PORT[,HOST:PORT…]` with an optional key
    /// prefix after the endpoints (default `/weft/v1/`).
    pub fn parse(text: &str) -> Result<StoreConfig, StoreConfigError> {
        let refuse = |why| StoreConfigError {
            given: text.to_string(),
            why,
        };
        if text == "sqlite" {
            return Ok(StoreConfig::Sqlite);
        }
        let rest = text
            .strip_prefix("etcd://")
            .ok_or_else(|| refuse("unknown kind of store"))?;
        let (hosts, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, etcd::DEFAULT_PREFIX),
        };
        let mut endpoints = Vec::new();
        for host in hosts.split(',') {
            let valid = host
                .rsplit_once(':')
                .is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(refuse("each endpoint is HOST:PORT"));
            }
            endpoints.push(format!("http://{host}"));
        }
        Ok(StoreConfig::Etcd {
            endpoints,
            prefix: prefix.to_string(),
        })
    }

    /// Open the store: SQLite in `state_dir`, or etcd (answering, else an
    /// error naming its endpoints).
    pub async fn open(&self, state_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        Ok(self.deploy(state_dir).await?.store())
    }

    /// Open the store, as the deployment it makes this replica part of.
    pub async fn deploy(&self, state_dir: &Path) -> Result<Box<dyn Deployment>, StoreError> {
        Ok(match self {
            StoreConfig::Sqlite => {
                let store = SqliteStore::open(&state_dir.join("control.db"))?;
                Box::new(SingleProcess::new(Arc::new(store)))
            }
            StoreConfig::Etcd { endpoints, prefix } => {
                let client = weft_etcd::Client::new(endpoints, weft_etcd::Options::default())
                    .map_err(|source| etcd::failed(endpoints, source))?;
                let store = EtcdStore::open(client, prefix).await?;
                Box::new(EtcdReplicas::new(Arc::new(store)))
            }
        })
    }
}

#[cfg(test)]
mod tests;
