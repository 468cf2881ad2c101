//! Attaching workloads: address management (the IPAM), interface naming,
//! and the checks and garbage collection a CNI runtime asks for.

use crate::agent::{Agent, Result};
use crate::dataplane::{AttachmentState, Dataplane};
use crate::error::AgentError;
use crate::records::AttachmentRecord;
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::{ModelError, addressing, names, naming};

#[derive(Clone, Debug, Default)]
pub struct NewAttachment {
    pub network: String,
    pub netns: String,
    pub id: String,
    pub name: String,
    pub ifname: String,
    pub ip: String,
}

#[derive(Clone, Debug)]
pub struct AttachmentView {
    pub record: AttachmentRecord,
    /// The workload's address with its prefix (/32 routed, subnet on a bridge).
    pub address: IpNet,
    pub gateway: IpAddr,
    pub subnet: IpNet,
    /// The network's DNS domain; its responder listens on `gateway`.
    pub domain: String,
    /// What the kernel has; None when the attachment is not (fully) there.
    pub state: Option<AttachmentState>,
}

impl<D: Dataplane> Agent<D> {
    fn attachment_view(
        &self,
        record: AttachmentRecord,
        state: Option<AttachmentState>,
    ) -> Result<AttachmentView> {
        let net = self.network_record(&record.network)?;
        let plan = self.attachment_plan(&net, &record);
        Ok(AttachmentView {
            address: plan.address,
            gateway: plan.gateway,
            subnet: plan.subnet,
            domain: net.domain,
            state,
            record,
        })
    }

    pub fn attach(&mut self, req: NewAttachment) -> Result<AttachmentView> {
        names::validate_workload_id(&req.id)?;
        if !req.name.is_empty() {
            names::validate_workload_name(&req.name)?;
        }
        let net = self.network_record(&req.network)?;
        if let Some(a) = self.store.attachment(&net.name, &req.id)? {
            return Err(AgentError::Exists(format!(
                "workload {:?} is already attached to network {:?} (as {}, {})",
                a.workload_id, a.network, a.ifname, a.ip
            )));
        }
        if req.netns.is_empty() {
            return Err(ModelError::invalid("netns", "", "a namespace path is required").into());
        }
        let netns_id = self.dp.netns_id(&req.netns).ok_or_else(|| {
            ModelError::invalid("netns", &req.netns, "no network namespace at this path")
        })?;
        let siblings = self.store.attachments_of_workload(&req.id)?;
        if let Some(other) = siblings.iter().find(|s| s.netns_id != netns_id) {
            return Err(AgentError::Conflict(format!(
                "workload {:?} is attached to network {:?} in another namespace ({})",
                req.id, other.network, other.netns
            )));
        }
        let ifname = if req.ifname.is_empty() {
            naming::next_workload_ifname(siblings.iter().map(|s| s.ifname.as_str()))
        } else {
            names::validate_ifname("ifname", &req.ifname)?;
            if let Some(s) = siblings.iter().find(|s| s.ifname == req.ifname) {
                return Err(ModelError::invalid(
                    "ifname",
                    &req.ifname,
                    format!(
                        "is already used by this workload on network {:?}",
                        s.network
                    ),
                )
                .into());
            }
            req.ifname.clone()
        };
        let used = self.store.used_ips(&net.name)?;
        let ip = if req.ip.is_empty() {
            addressing::allocate(&net.block, &used)?
        } else {
            let ip: IpAddr = req
                .ip
                .parse()
                .map_err(|_| ModelError::invalid("ip", &req.ip, "not an IP address"))?;
            addressing::check_requested(&net.block, ip, &used)?;
            ip
        };
        let taken = self.store.host_ifnames()?;
        let taken = taken.iter().map(String::as_str);
        let host_ifname = naming::workload_host_ifname(net.mode, net.index, &req.id, taken);
        let record = AttachmentRecord {
            network: net.name.clone(),
            workload_id: req.id,
            name: req.name,
            netns: req.netns,
            netns_id,
            ifname,
            host_ifname,
            ip,
            default_route: siblings.is_empty(),
        };
        // Record first: the UNIQUE constraints settle any race for the
        // address, and if we die half-way the next start completes the work.
        self.store.insert_attachment(&record)?;
        let plan = self.attachment_plan(&net, &record);
        let state = match self.dp.create_attachment(&plan) {
            Ok(state) => state,
            Err(err) => {
                self.store
                    .delete_attachment(&record.network, &record.workload_id)?;
                return Err(err.into());
            }
        };
        tracing::info!(network = %record.network, workload = %record.workload_id, ifname = %record.ifname, host_ifname = %record.host_ifname, ip = %record.ip, "attached");
        if let Err(e) = self.publish_local_records(&net) {
            tracing::warn!(network = %net.name, "update DNS names: {e}");
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
            None => Err(AgentError::Conflict(format!(
                "attachment {network}/{workload_id} is broken: {} / {} with {} and its routes are not all in place",
                plan.host_ifname, plan.ifname, plan.address
            ))),
        }
    }

    /// Release every attachment of `network` whose workload id is not in
    /// `keep`; returns the ids released.
    pub fn gc(&mut self, network: &str, keep: &[String]) -> Result<Vec<String>> {
        self.network_record(network)?;
        let mut released = vec![];
        for a in self.store.attachments_of_network(network)? {
            if !keep.contains(&a.workload_id) {
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
