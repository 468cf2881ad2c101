//! Start-up reconcile: make the kernel match the store.

use crate::agent::{Agent, Result};
use crate::dataplane::Dataplane;
use crate::records::AttachmentRecord;
use weft_model::error::chain;
use weft_model::naming::{attachment_alias, network_alias};

/// What a reconcile pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub networks: usize,
    pub attachments_kept: usize,
    pub attachments_recreated: usize,
    pub attachments_released: Vec<String>,
    pub orphans_removed: Vec<String>,
    pub errors: Vec<String>,
}

impl<D: Dataplane> Agent<D> {
    /// Whether the workload of `a` is gone without a detach: its namespace
    /// path no longer names the namespace it had. A VM's NIC has no
    /// namespace and is only ever released by a detach (a VM stopped and
    /// started again finds its TAP, MAC and address as it left them).
    pub(crate) fn workload_gone(&self, a: &AttachmentRecord) -> bool {
        !a.is_vm() && self.dp.netns_id(&a.netns) != Some(a.netns_id)
    }

    /// Re-create missing interfaces, peers and attachments (VMs' TAPs
    /// too, and their DHCP responders); release attachments whose
    /// namespace is gone (or now names another namespace);
    /// remove links that carry our alias but are not in the store. Errors
    /// on one object are reported and the pass goes on.
    pub fn reconcile(&mut self) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        // Rules before interfaces, so nothing comes up unfiltered.
        if let Err(e) = self.apply_firewall() {
            report.errors.push(format!("firewall: {}", chain(&e)));
        }
        let networks = self.store.networks()?;
        for net in &networks {
            report.networks += 1;
            let plan = self.network_plan(net)?;
            let result = self
                .dp
                .ensure_network(&plan)
                .and_then(|()| self.dp.ensure_services(&self.services_plan(net)));
            if let Err(e) = result {
                report
                    .errors
                    .push(format!("network {}: {}", net.name, chain(&e)));
            }
        }
        for a in self.store.attachments()? {
            let Some(net) = networks.iter().find(|n| n.name == a.network) else {
                continue;
            };
            let plan = self.attachment_plan(net, &a);
            let label = format!("{}/{}", a.network, a.workload_id);
            if self.workload_gone(&a) {
                self.store.delete_attachment(&a.network, &a.workload_id)?;
                if let Err(e) = self.dp.remove_attachment(&plan) {
                    report
                        .errors
                        .push(format!("release {label}: {}", chain(&e)));
                }
                tracing::info!(attachment = %label, ip = %a.ip, "namespace gone: attachment released");
                report.attachments_released.push(label);
                continue;
            }
            match self.dp.attachment_state(&plan) {
                Ok(Some(_)) => report.attachments_kept += 1,
                Ok(None) | Err(_) => {
                    let result = self
                        .dp
                        .remove_attachment(&plan)
                        .and_then(|()| self.dp.create_attachment(&plan));
                    match result {
                        Ok(_) => report.attachments_recreated += 1,
                        Err(e) => report
                            .errors
                            .push(format!("re-create {label}: {}", chain(&e))),
                    }
                }
            }
        }
        for net in &networks {
            if let Err(e) = self
                .publish_local_records(net)
                .and_then(|()| self.publish_stored_names(net))
            {
                report
                    .errors
                    .push(format!("names of {}: {}", net.name, chain(&e)));
            }
        }
        let mut known: Vec<String> = networks.iter().map(|n| network_alias(&n.name)).collect();
        known.extend(
            self.store
                .attachments()?
                .iter()
                .map(|a| attachment_alias(&a.network, &a.workload_id)),
        );
        for link in self.dp.owned_links()? {
            if known.contains(&link.alias) {
                continue;
            }
            match self.dp.delete_link(&link.name) {
                Ok(()) => report.orphans_removed.push(link.name),
                Err(e) => report
                    .errors
                    .push(format!("remove orphan {}: {}", link.name, chain(&e))),
            }
        }
        // After the TAPs: a responder binds to its interface.
        self.sync_dhcp();
        for e in &report.errors {
            tracing::warn!("reconcile: {e}");
        }
        self.health.count_reconcile(report.errors.len());
        tracing::info!(
            networks = report.networks,
            kept = report.attachments_kept,
            recreated = report.attachments_recreated,
            released = report.attachments_released.len(),
            orphans = report.orphans_removed.len(),
            "reconciled"
        );
        Ok(report)
    }
}
