//! DNS names in the networks' zones: this host's own (itself and its named
//! workloads) and those outside sources set (the mesh file…), which the
//! store keeps across restarts.

use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, LOCAL_SOURCE, PEER_SOURCE_PREFIX, Records, peer_source};
use crate::error::{Existing, NameOwner};
use crate::records::NetworkRecord;
use weft_model::{ModelError, names, naming};

/// The names one outside source gives a network, checked on their own:
/// the source is not one of the agent's, every name a workload name
/// (lowercased: lookups ignore case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamesSpec {
    /// The network's name (looked up, so not checked as a new name).
    pub network: String,
    pub source: String,
    pub records: Records,
}

impl NamesSpec {
    pub fn new(
        network: String,
        source: String,
        records: Records,
    ) -> std::result::Result<Self, ModelError> {
        check_source(&source)?;
        let mut clean = Records::new();
        for (name, addrs) in records {
            names::validate_workload_name(&name)?;
            clean.insert(name.to_lowercase(), addrs);
        }
        Ok(Self {
            network,
            source,
            records: clean,
        })
    }
}

/// Sources of names that the agent makes itself; others may be set.
fn check_source(source: &str) -> std::result::Result<(), ModelError> {
    if source.is_empty() || source == LOCAL_SOURCE || source.starts_with(PEER_SOURCE_PREFIX) {
        return Err(ModelError::invalid(
            "source",
            source,
            "must be a name of your own (\"local\" and \"peer:…\" are the agent's)",
        ));
    }
    names::validate_workload_name(source).map_err(|_| {
        ModelError::invalid("source", source, "must be letters, digits, '-' and '_'")
    })?;
    Ok(())
}

impl<D: Dataplane> Agent<D> {
    /// Replace the names a source gives a network (kept across restarts).
    pub fn set_names(&mut self, spec: NamesSpec) -> Result<()> {
        let net = self.network_record(&spec.network)?;
        self.store
            .set_names(&net.name, &spec.source, &spec.records)?;
        self.dp.set_records(&net.name, &spec.source, spec.records)?;
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

    /// Refuse a workload name that someone on the network has already: a
    /// workload of this host, this host, or a peer's host (the name its
    /// records give its own address). Names of workloads on other hosts are
    /// not checked here (a workload moving between hosts would be refused
    /// until the old host's records are fetched again); the mesh file
    /// checks those.
    pub(crate) fn check_name_free(&self, net: &NetworkRecord, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        let taken = |owner| {
            Err(Existing::Name {
                name: name.clone(),
                network: net.name.clone(),
                owner,
            }
            .into())
        };
        if name == self.host_name.to_lowercase() {
            return taken(NameOwner::ThisHost);
        }
        let attachments = self.store.attachments_of_network(&net.name)?;
        if let Some(a) = attachments.iter().find(|a| a.name.to_lowercase() == name) {
            return taken(NameOwner::Workload(a.workload_id.clone()));
        }
        for peer in self.store.peers(&net.name)? {
            let Some(block) = peer.allowed_ips.first() else {
                continue;
            };
            let source = peer_source(&peer.public_key);
            let addrs = self.dp.source_addresses(&net.name, &source, &name);
            if addrs.contains(&naming::host_address(block)) {
                return taken(NameOwner::PeerHost(peer.public_key.to_string()));
            }
        }
        Ok(())
    }

    pub(crate) fn publish_local_records(&self, net: &NetworkRecord) -> Result<()> {
        Ok(self
            .dp
            .set_records(&net.name, LOCAL_SOURCE, self.local_records(net)?)?)
    }
}
