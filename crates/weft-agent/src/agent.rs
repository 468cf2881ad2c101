//! The agent: the store, the data plane and what it knows about this host.
//! Its operations live beside it, one file per entity — `networks.rs`,
//! `peers.rs`, `attachments.rs`, `dns_names.rs`, `status.rs` — each
//! validating, recording and applying, and undoing the record when the
//! kernel refuses, so a failed call changes nothing. Records become what
//! the data plane takes in `plan.rs`; `reconcile.rs` makes the kernel match
//! the store at start-up, `repair.rs` undoes drift while the agent runs.

use crate::dataplane::Dataplane;
use crate::error::AgentError;
use crate::health::{HealthBook, HealthSettings};
use crate::records::NetworkRecord;
use crate::store::Store;
use std::sync::Arc;
use weft_model::{ModelError, names};

pub type Result<T> = std::result::Result<T, AgentError>;

pub struct Agent<D: Dataplane> {
    pub(crate) store: Store,
    pub(crate) dp: D,
    /// This host's name in every network's DNS zone.
    pub(crate) host_name: String,
    pub(crate) health: Arc<HealthBook>,
    pub(crate) health_settings: HealthSettings,
}

impl<D: Dataplane> Agent<D> {
    pub fn new(store: Store, dp: D) -> Self {
        Self {
            store,
            dp,
            host_name: "host".into(),
            health: Arc::default(),
            health_settings: HealthSettings::default(),
        }
    }

    /// Share probe results and counters with the agent's background tasks.
    pub fn with_health(mut self, book: Arc<HealthBook>, settings: HealthSettings) -> Self {
        self.health = book;
        self.health_settings = settings;
        self
    }

    pub fn health_book(&self) -> &Arc<HealthBook> {
        &self.health
    }

    /// Name this host in the networks' DNS zones (`<host>.<domain>`).
    pub fn with_host_name(mut self, name: &str) -> Result<Self> {
        names::validate_workload_name(name).map_err(|_| {
            ModelError::invalid(
                "host name",
                name,
                "must be a DNS label (letters, digits, '-', '_')",
            )
        })?;
        self.host_name = name.to_string();
        Ok(self)
    }

    pub fn dataplane(&self) -> &D {
        &self.dp
    }

    #[cfg(test)]
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn network_record(&self, name: &str) -> Result<NetworkRecord> {
        self.store
            .network(name)?
            .ok_or_else(|| AgentError::no_network(name))
    }
}

#[cfg(test)]
mod tests;
