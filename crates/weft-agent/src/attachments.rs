//! Attaching workloads: address management (the IPAM), interface naming,
//! and the checks and garbage collection a CNI runtime asks for. A VM's
//! NIC is an attachment too, with a TAP for its host side: `vms.rs`.

mod vms;

pub use vms::{MAX_QUEUES, VmNicSpec};

use crate::agent::{Agent, Result};
use crate::dataplane::{AttachmentState, Dataplane};
use crate::error::{AgentError, Conflict, Existing};
use crate::records::{AttachmentRecord, NetworkRecord};
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::error::chain;
use weft_model::names::{Ifname, WorkloadId, WorkloadName};
use weft_model::{ModelError, addressing, naming};

/// A workload to attach, parsed and checked on its own at the edge (see
/// `grpc/requests.rs`); [`Agent::attach`] checks it against the network,
/// the namespace and the workload's other attachments.
#[derive(Clone, Debug)]
pub struct AttachmentSpec {
    /// The network's name (looked up, so not checked as a new name).
    pub network: String,
    /// Path of the workload's network namespace (not empty).
    pub netns: String,
    pub id: WorkloadId,
    /// Its name in the network's DNS zone, if it has one.
    pub name: Option<WorkloadName>,
    /// None: the first free `eth<n>` of the workload.
    pub ifname: Option<Ifname>,
    /// None: the lowest free address of the block.
    pub ip: Option<IpAddr>,
    /// Set when the workload is a VM (then `netns` is empty and `ifname`
    /// None): its NIC is a TAP.
    pub vm: Option<VmNicSpec>,
}

#[derive(Clone, Debug)]
pub struct AttachmentView {
    pub record: AttachmentRecord,
    /// The workload's address with its prefix (/32 routed, subnet on a bridge).
    pub address: IpNet,
    pub gateway: IpAddr,
    /// Where the network's DNS responder listens for the workload: this
    /// host's address in the network (the gateway, except on VXLAN
    /// networks, whose gateway every host shares).
    pub nameserver: IpAddr,
    pub subnet: IpNet,
    /// The network's DNS domain.
    pub domain: String,
    /// MTU of both ends, as the plan made them.
    pub mtu: u32,
    /// What the kernel has; None when the attachment is not (fully) there.
    pub state: Option<AttachmentState>,
}

impl<D: Dataplane> Agent<D> {
    pub(crate) fn attachment_view(
        &self,
        record: AttachmentRecord,
        state: Option<AttachmentState>,
    ) -> Result<AttachmentView> {
        let net = self.network_record(&record.network)?;
        let plan = self.attachment_plan(&net, &record);
        Ok(AttachmentView {
            address: plan.address,
            gateway: plan.gateway,
            nameserver: naming::host_address(&net.block),
            subnet: plan.subnet,
            domain: net.domain,
            mtu: plan.mtu,
            state,
            record,
        })
    }

    pub fn attach(&mut self, mut spec: AttachmentSpec) -> Result<AttachmentView> {
        if let Some(nic) = spec.vm.take() {
            return self.attach_vm(spec, nic);
        }
        let id = spec.id.as_str();
        let net = self.network_record(&spec.network)?;
        if let Some(a) = self.store.attachment(&net.name, id)? {
            return Err(Existing::Attachment {
                workload: a.workload_id,
                network: a.network,
                ifname: a.ifname,
                ip: a.ip,
            }
            .into());
        }
        if let Some(name) = &spec.name {
            self.check_name_free(&net, name.as_str())?;
        }
        let netns_id = self
            .dp
            .netns_id(&spec.netns)
            .ok_or_else(|| AgentError::Netns {
                path: spec.netns.clone(),
                why: "no network namespace at this path",
            })?;
        // Compared by identity: /proc/self/ns/net, /proc/1/ns/net and a bind
        // mount of either are all the host, whatever the path says.
        if self.dp.host_netns_ids().contains(&netns_id) {
            return Err(AgentError::Netns {
                path: spec.netns,
                why: "it is the host's own network namespace, not a workload's",
            });
        }
        let siblings = self.store.attachments_of_workload(id)?;
        if let Some(vm) = siblings.iter().find(|s| s.is_vm()) {
            return Err(Conflict::OtherKind {
                workload: id.to_string(),
                network: vm.network.clone(),
                vm: true,
            }
            .into());
        }
        if let Some(other) = siblings.iter().find(|s| s.netns_id != netns_id) {
            return Err(Conflict::OtherNamespace {
                workload: id.to_string(),
                network: other.network.clone(),
                netns: other.netns.clone(),
            }
            .into());
        }
        let ifname = match spec.ifname {
            None => naming::next_workload_ifname(siblings.iter().map(|s| s.ifname.as_str())),
            Some(ifname) => {
                if let Some(s) = siblings.iter().find(|s| s.ifname == ifname.as_str()) {
                    return Err(ModelError::invalid(
                        "ifname",
                        &ifname,
                        format!(
                            "is already used by this workload on network {:?}",
                            s.network
                        ),
                    )
                    .into());
                }
                ifname.into_string()
            }
        };
        let ip = self.allocate_ip(&net, spec.ip)?;
        let taken = self.store.host_ifnames()?;
        let taken = taken.iter().map(String::as_str);
        let host_ifname = naming::workload_host_ifname(net.mode, net.index, id, taken);
        let record = AttachmentRecord {
            network: net.name.clone(),
            workload_id: spec.id.into_string(),
            name: spec.name.map(WorkloadName::into_string).unwrap_or_default(),
            netns: spec.netns,
            netns_id,
            ifname,
            host_ifname,
            ip,
            default_route: siblings.is_empty(),
            vm: None,
        };
        self.commit_attachment(&net, record)
    }

    /// The lowest free address of the network's block, or `requested`
    /// if it is in the block and free.
    pub(crate) fn allocate_ip(
        &self,
        net: &NetworkRecord,
        requested: Option<IpAddr>,
    ) -> Result<IpAddr> {
        let mut used = self.store.used_ips(&net.name)?;
        // A VXLAN network's gateway may lie in this host's block.
        used.insert(net.gateway());
        Ok(match requested {
            None => addressing::allocate(&net.block, &used)?,
            Some(ip) => {
                addressing::check_requested(&net.block, ip, &used)?;
                ip
            }
        })
    }

    /// Record an attachment checked and named by the caller, then make it.
    pub(crate) fn commit_attachment(
        &mut self,
        net: &NetworkRecord,
        record: AttachmentRecord,
    ) -> Result<AttachmentView> {
        // Record first: the UNIQUE constraints settle any race for the
        // address, and if we die half-way the next start completes the work.
        self.store.insert_attachment(&record)?;
        let plan = self.attachment_plan(net, &record);
        let state = match self.dp.create_attachment(&plan) {
            Ok(state) => state,
            Err(err) => {
                self.store
                    .delete_attachment(&record.network, &record.workload_id)?;
                return Err(err.into());
            }
        };
        // A bridge port carries nothing until the firewall pins it to the
        // workload's MAC and address.
        if net.mode.is_bridged()
            && let Err(err) = self.pin_bridge_ports()
        {
            let _ = self.dp.remove_attachment(&plan);
            self.store
                .delete_attachment(&record.network, &record.workload_id)?;
            return Err(err);
        }
        tracing::info!(network = %record.network, workload = %record.workload_id, ifname = %record.ifname, host_ifname = %record.host_ifname, ip = %record.ip, vm = record.is_vm(), "attached");
        if record.is_vm() {
            self.sync_dhcp();
        }
        if let Err(e) = self.publish_local_records(net) {
            tracing::warn!(network = %net.name, "update DNS names: {}", chain(&e));
        }
        self.attachment_view(record, Some(state))
    }

    /// Detach; `Ok(false)` when the workload was not attached.
    pub fn detach(&mut self, network: &str, workload_id: &str) -> Result<bool> {
        let net = self.network_record(network)?;
        let Some(record) = self.store.attachment(network, workload_id)? else {
            return Ok(false);
        };
        // Forget first: if we die half-way, the leftover veth carries our
        // alias and the next start removes it as an orphan.
        self.store.delete_attachment(network, workload_id)?;
        self.dp
            .remove_attachment(&self.attachment_plan(&net, &record))?;
        tracing::info!(network, workload = workload_id, ip = %record.ip, "detached");
        if record.is_vm() {
            self.sync_dhcp();
        }
        if net.mode.is_bridged() {
            // Unpin the port; a failure is retried by the next drift pass.
            if let Err(e) = self.pin_bridge_ports() {
                tracing::warn!(
                    network,
                    "unpin the bridge port of {workload_id}: {}",
                    chain(&e)
                );
            }
        }
        self.publish_local_records(&net)?;
        Ok(true)
    }

    pub fn attachments(&self, network: Option<&str>) -> Result<Vec<AttachmentView>> {
        let records = match network {
            Some(n) => {
                self.network_record(n)?;
                self.store.attachments_of_network(n)?
            }
            None => self.store.attachments()?,
        };
        records
            .into_iter()
            .map(|record| {
                let net = self.network_record(&record.network)?;
                let state = self
                    .dp
                    .attachment_state(&self.attachment_plan(&net, &record))
                    .ok()
                    .flatten();
                self.attachment_view(record, state)
            })
            .collect()
    }

    /// Verify an attachment: the record, both veth ends, the address and the
    /// routes. The error says what is missing.
    pub fn check(&self, network: &str, workload_id: &str) -> Result<AttachmentView> {
        let net = self.network_record(network)?;
        let record = self
            .store
            .attachment(network, workload_id)?
            .ok_or_else(|| AgentError::NotFound {
                what: "attachment",
                name: format!("{network}/{workload_id}"),
            })?;
        let plan = self.attachment_plan(&net, &record);
        match self.dp.attachment_state(&plan)? {
            Some(state) => self.attachment_view(record, Some(state)),
            None => Err(Conflict::Broken {
                network: network.to_string(),
                workload: workload_id.to_string(),
                host_ifname: plan.host_ifname,
                ifname: plan.ifname,
                address: plan.address,
            }
            .into()),
        }
    }

    /// Release every attachment of `network` whose workload id is not in
    /// `keep`; returns the ids released. VMs' NICs are left alone: a
    /// container runtime's list of what it attached never names them.
    pub fn gc(&mut self, network: &str, keep: &[String]) -> Result<Vec<String>> {
        self.network_record(network)?;
        let mut released = vec![];
        for a in self.store.attachments_of_network(network)? {
            if !keep.contains(&a.workload_id) && !a.is_vm() {
                self.detach(network, &a.workload_id)?;
                released.push(a.workload_id);
            }
        }
        if !released.is_empty() {
            tracing::info!(network, released = released.len(), "garbage collected");
        }
        Ok(released)
    }
}
