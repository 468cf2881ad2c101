//! The continuous reconcile: a short periodic pass (see `server.rs`) that
//! compares what the host holds with what weft made (`drift.rs`) and
//! repairs only what differs, logging each repair at `warn` and counting
//! it. Reading the host costs one dump of links, addresses and routes, one
//! WireGuard read per WireGuard network and one FDB dump per VXLAN device;
//! nothing is written when nothing drifted.
//!
//! The firewall is checked here too, cheaply: `weft_firewall`'s apply
//! lists and compares the table only when nftables' ruleset generation
//! moved since weft last listed or changed it (one netlink request), so a
//! pass that finds nothing costs no `nft` process. This pass is also what
//! finds a hand edit of table `bridge weft`: an attach or detach only adds
//! or deletes its port's pins there, looking at nothing else
//! (`weft_firewall::Firewall::apply_ports`).

use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, NetworkKind};
use crate::drift::{Drift, attachment_drift, network_drift};
use std::collections::HashSet;
use std::time::SystemTime;
use weft_model::error::chain;
use weft_model::naming::{attachment_alias, network_alias};

/// What one pass found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// `<interface>: <what was wrong>, <what was done>`, one per drift.
    pub repaired: Vec<String>,
    /// Attachments released because their namespace is gone.
    pub released: Vec<String>,
    /// Links with weft's mark that belong to nothing weft holds.
    pub orphans_removed: Vec<String>,
    pub errors: Vec<String>,
}

impl<D: Dataplane> Agent<D> {
    /// Find drift and repair it. Errors on one object are logged and
    /// reported, and the pass goes on.
    pub fn repair_drift(&mut self) -> Result<DriftReport> {
        let mut report = DriftReport::default();
        let host = self.dp.observe_host()?;
        let now = SystemTime::now();
        let networks = self.store.networks()?;
        for net in &networks {
            let plan = self.network_plan_quietly(net, true)?;
            let device = match plan.kind {
                NetworkKind::Wireguard { .. } if host.links.contains_key(&plan.ifname) => {
                    self.dp.network_status(&plan.ifname).ok()
                }
                _ => None,
            };
            let drift = network_drift(&plan, &host, device.as_ref(), now);
            if drift.is_empty() {
                continue;
            }
            let result = if drift.contains(&Drift::InterfaceMissing) {
                // A userspace engine whose TUN was deleted is still there:
                // stop it, so the interface is made afresh.
                self.dp
                    .remove_network(&plan)
                    .and_then(|()| self.dp.ensure_network(&plan))
                    .and_then(|()| self.dp.ensure_services(&self.services_plan(net)))
            } else if drift.iter().any(Drift::needs_interface) {
                self.dp.ensure_network(&plan)
            } else {
                match &plan.kind {
                    NetworkKind::Wireguard { peers, .. } => self.dp.set_peers(&plan.ifname, peers),
                    NetworkKind::Vxlan(vx) => self.dp.set_fdb(&vx.ifname, &vx.remotes),
                    NetworkKind::Bridge => Ok(()),
                }
            };
            self.settle(&mut report, &plan.ifname, &net.name, &drift, result);
        }

        // The firewall: when nothing touched nftables this costs a
        // generation check; a hand edit of table inet weft or bridge weft
        // is listed, compared and put back.
        match self.dp.apply_firewall(&self.firewall_rules()?) {
            Ok(false) => {}
            Ok(true) => {
                let line = "table inet weft: not as weft made it, restored".to_string();
                tracing::warn!("{line}");
                self.health.count_drift("firewall");
                report.repaired.push(line);
            }
            Err(e) => {
                self.health.count_drift_error();
                report.errors.push(format!("firewall: {}", chain(&e)));
            }
        }

        for a in self.store.attachments()? {
            let Some(net) = networks.iter().find(|n| n.name == a.network) else {
                continue;
            };
            let plan = self.attachment_plan(net, &a);
            let Some(drift) = attachment_drift(&plan, &host) else {
                continue;
            };
            let label = format!("{}/{}", a.network, a.workload_id);
            if self.workload_gone(&a) {
                // The workload is gone without a detach: as at start-up.
                self.store.delete_attachment(&a.network, &a.workload_id)?;
                if let Err(e) = self.dp.remove_attachment(&plan) {
                    self.health.count_drift_error();
                    report
                        .errors
                        .push(format!("release {label}: {}", chain(&e)));
                }
                tracing::info!(attachment = %label, ip = %a.ip, "namespace gone: attachment released");
                // Its name leaves the network's zone.
                if let Err(e) = self.publish_local_records(net) {
                    report
                        .errors
                        .push(format!("names of {}: {}", net.name, chain(&e)));
                }
                report.released.push(label);
                continue;
            }
            let result = self
                .dp
                .remove_attachment(&plan)
                .and_then(|()| self.dp.create_attachment(&plan))
                .map(drop);
            self.settle(&mut report, &plan.host_ifname, &label, &[drift], result);
        }

        // A TAP or bridge made again above needs its DHCP responder bound
        // to the new link; unchanged ones are left running.
        self.sync_dhcp();

        let mut known: HashSet<String> = networks.iter().map(|n| network_alias(&n.name)).collect();
        known.extend(
            self.store
                .attachments()?
                .iter()
                .map(|a| attachment_alias(&a.network, &a.workload_id)),
        );
        for (name, link) in &host.links {
            let Some(alias) = &link.alias else { continue };
            if !alias.starts_with(weft_model::naming::ALIAS_PREFIX) || known.contains(alias) {
                continue;
            }
            match self.dp.delete_link(name) {
                Ok(()) => {
                    tracing::warn!(
                        "{name}: link marked {alias:?} belongs to nothing weft holds, removed"
                    );
                    self.health.count_drift("orphan_link");
                    report.orphans_removed.push(name.clone());
                }
                Err(e) => {
                    self.health.count_drift_error();
                    report
                        .errors
                        .push(format!("remove orphan {name}: {}", chain(&e)));
                }
            }
        }
        // A failure that stays (say, a name now taken by someone else's
        // link) is said at `warn` once, then at `debug` each pass.
        let repeated = self.health.swap_drift_failures(&report.errors);
        for e in &report.errors {
            if repeated.contains(e) {
                tracing::debug!("drift: {e}");
            } else {
                tracing::warn!("drift: {e}");
            }
        }
        Ok(report)
    }

    /// Log and count the outcome of repairing `drift` of `object`.
    fn settle(
        &self,
        report: &mut DriftReport,
        object: &str,
        owner: &str,
        drift: &[Drift],
        result: crate::dataplane::DpResult<()>,
    ) {
        match result {
            Ok(()) => {
                for d in drift {
                    let line = format!("{object}: {d}, {}", d.repair());
                    tracing::warn!(of = owner, "{line}");
                    self.health.count_drift(d.kind());
                    report.repaired.push(line);
                }
            }
            Err(e) => {
                let what: Vec<String> = drift.iter().map(ToString::to_string).collect();
                let line = format!(
                    "{object} (of {owner}): {}; repair failed: {}",
                    what.join("; "),
                    chain(&e)
                );
                self.health.count_drift_error();
                report.errors.push(line);
            }
        }
    }
}
