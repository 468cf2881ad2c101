//! DNS names in the networks' zones: this host's own (itself and its named
//! workloads) and those outside sources set (the mesh file…), which the
//! store keeps across restarts.

use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, LOCAL_SOURCE, Records};
use crate::records::NetworkRecord;
use weft_model::{ModelError, names};

impl<D: Dataplane> Agent<D> {
    /// Sources of names that the agent makes itself; others may be set.
    fn check_source(source: &str) -> Result<()> {
        if source.is_empty() || source == LOCAL_SOURCE || source.starts_with("peer:") {
            return Err(ModelError::invalid(
                "source",
                source,
                "must be a name of your own (\"local\" and \"peer:…\" are the agent's)",
            )
            .into());
        }
        names::validate_workload_name(source).map_err(|_| {
            ModelError::invalid("source", source, "must be letters, digits, '-' and '_'")
        })?;
        Ok(())
    }

    /// Replace the names `source` gives `network` (kept across restarts).
    pub fn set_names(&mut self, network: &str, source: &str, records: Records) -> Result<()> {
        let net = self.network_record(network)?;
        Self::check_source(source)?;
        let mut clean = Records::new();
        for (name, addrs) in records {
            names::validate_workload_name(&name)?;
            clean.insert(name.to_lowercase(), addrs);
        }
        self.store.set_names(&net.name, source, &clean)?;
        self.dp.set_records(&net.name, source, clean)?;
        Ok(())
    }

    pub fn get_names(&self, network: &str, source: &str) -> Result<Records> {
        self.network_record(network)?;
        Ok(self
            .store
            .names(network)?
            .remove(source)
            .unwrap_or_default())
    }

    /// Give the data plane every stored source's names of a network.
    pub(crate) fn publish_stored_names(&self, net: &NetworkRecord) -> Result<()> {
        for (source, records) in self.store.names(&net.name)? {
            self.dp.set_records(&net.name, &source, records)?;
        }
        Ok(())
    }

    pub(crate) fn publish_local_records(&self, net: &NetworkRecord) -> Result<()> {
        Ok(self
            .dp
            .set_records(&net.name, LOCAL_SOURCE, self.local_records(net)?)?)
    }
}
