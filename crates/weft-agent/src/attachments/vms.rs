//! VMs: a VM's NICs are attachments whose host side is a persistent TAP
//! (named and given a MAC in `weft_model::naming`), numbered in attach
//! order like a container's `eth<n>`, and answered by weft's DHCP
//! responder. Everything else (the address, the record, routes, the
//! firewall, DNS names) is what a namespace's attachment gets.
//! `dhcp_plan` gathers every NIC's lease into the seam's `DhcpPlan`, which
//! the data plane's responders answer. Tested through the agent as a
//! whole, beside the other attachments' tests: `agent/tests/vms.rs`.

use super::{AttachmentSpec, AttachmentView};
use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, DhcpPlan, VmNic};
use crate::error::{Conflict, Existing};
use crate::records::{AttachmentRecord, NetworkRecord};
use std::net::IpAddr;
use weft_dhcp::Lease;
use weft_model::names::{Ifname, WorkloadName};
use weft_model::{ModelError, naming};

/// The most queue pairs a NIC may ask for (what the kernel's TAP allows
/// is 256 queues; hypervisors cap at the vCPUs anyway).
pub const MAX_QUEUES: u16 = 64;

/// What a VM's NIC asks for beyond any attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmNicSpec {
    /// The TAP's name instead of the derived one.
    pub tap: Option<Ifname>,
    /// Queue pairs, 1..=[`MAX_QUEUES`].
    pub queues: u16,
}

/// The prefix every workload link of the network starts with: the
/// firewall knows the network's TAPs and veths by it.
fn link_prefix(net: &NetworkRecord) -> String {
    if net.mode.is_bridged() {
        naming::BRIDGE_VETH_PREFIX.to_string()
    } else {
        naming::routed_veth_prefix(net.index)
    }
}

impl<D: Dataplane> Agent<D> {
    /// Attach a VM's next NIC to a network: a TAP, a MAC, an address.
    pub(crate) fn attach_vm(
        &mut self,
        spec: AttachmentSpec,
        nic: VmNicSpec,
    ) -> Result<AttachmentView> {
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
        let siblings = self.store.attachments_of_workload(id)?;
        if let Some(other) = siblings.iter().find(|s| !s.is_vm()) {
            return Err(Conflict::OtherKind {
                workload: id.to_string(),
                network: other.network.clone(),
                vm: false,
            }
            .into());
        }
        let ifname = naming::next_workload_ifname(siblings.iter().map(|s| s.ifname.as_str()));
        let index = naming::nic_index(&ifname).expect("eth<n> has a number");
        let prefix = link_prefix(&net);
        let taken = self.store.host_ifnames()?;
        let tap = match nic.tap {
            None => naming::vm_tap_name(&prefix, id, index, taken.iter().map(String::as_str)),
            Some(tap) => {
                if !tap.as_str().starts_with(&prefix) || tap.as_str().len() == prefix.len() {
                    return Err(ModelError::invalid(
                        "tap",
                        tap.as_str(),
                        format!(
                            "must start with {prefix:?} on network {:?}, so its firewall covers the TAP",
                            net.name
                        ),
                    )
                    .into());
                }
                if let Some(owner) = self
                    .store
                    .attachments()?
                    .into_iter()
                    .find(|a| a.host_ifname == tap.as_str())
                {
                    return Err(Conflict::TapTaken {
                        tap: tap.into_string(),
                        owner: format!("{}/{}", owner.network, owner.workload_id),
                    }
                    .into());
                }
                tap.into_string()
            }
        };
        let ip = self.allocate_ip(&net, spec.ip)?;
        // Unique among the network's MACs: other VMs', and on a bridge (of
        // a bridge or VXLAN network) the derived MACs of its containers too.
        let mut macs = self.store.vm_macs(&net.name)?;
        if net.mode.is_bridged() {
            macs.extend(
                self.store
                    .attachments_of_network(&net.name)?
                    .iter()
                    .filter(|a| !a.is_vm())
                    .map(|a| naming::workload_mac(&a.network, &a.workload_id)),
            );
        }
        let mac = naming::unique_vm_mac(id, index, &macs);
        let record = AttachmentRecord {
            network: net.name.clone(),
            workload_id: spec.id.into_string(),
            name: spec.name.map(WorkloadName::into_string).unwrap_or_default(),
            netns: String::new(),
            netns_id: VmNic::NO_NETNS,
            ifname,
            host_ifname: tap,
            ip,
            default_route: siblings.is_empty(),
            vm: Some(VmNic {
                mac,
                queues: nic.queues.max(1),
            }),
        };
        self.commit_attachment(&net, record)
    }

    /// What every DHCP responder on this host must answer, from the records.
    pub(crate) fn dhcp_plan(&self) -> Result<DhcpPlan> {
        let mut plan = DhcpPlan::new();
        let networks = self.store.networks()?;
        for a in self.store.attachments()? {
            let (Some(vm), IpAddr::V4(_)) = (a.vm, a.ip) else {
                continue;
            };
            let Some(net) = networks.iter().find(|n| n.name == a.network) else {
                continue;
            };
            let p = self.attachment_plan(net, &a);
            let (IpAddr::V4(router), ipnet::IpNet::V4(address), ipnet::IpNet::V4(subnet)) =
                (p.gateway, p.address, p.subnet)
            else {
                continue;
            };
            // The network's DNS responder listens on this host's own
            // address: on a VXLAN network not the gateway every host shares.
            let dns_servers = match naming::host_address(&net.block) {
                IpAddr::V4(dns) => vec![dns],
                IpAddr::V6(_) => Vec::new(),
            };
            let lease = Lease {
                mac: vm.mac,
                address,
                router,
                dns_servers,
                domain: net.domain.clone(),
                mtu: u16::try_from(p.mtu).unwrap_or(u16::MAX),
                routes: Lease::routes_for(address, router, subnet, a.default_route),
                host_name: (!a.name.is_empty()).then(|| a.name.clone()),
            };
            let ifname = p.bridge.unwrap_or(p.host_ifname);
            plan.entry(ifname).or_default().push(lease);
        }
        Ok(plan)
    }

    /// Make the DHCP responders match the records. A failure is logged:
    /// the next drift pass tries again, and a guest's client retries.
    pub(crate) fn sync_dhcp(&self) {
        let result = self
            .dhcp_plan()
            .and_then(|plan| Ok(self.dp.set_dhcp(plan)?));
        if let Err(e) = result {
            tracing::warn!("DHCP responders: {}", weft_model::error::chain(&e));
        }
    }
}
