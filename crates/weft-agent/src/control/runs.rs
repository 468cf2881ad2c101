//! The control plane's VMs this host runs (`run` of `POST /v1/vms`, on
//! the desired state of the VM's first NIC): each started once all its
//! NICs exist, stopped when the VM goes (before its NICs are detached),
//! and reported on its first NIC's report — `starting`, `running`,
//! `exited N`, or `failed` with why.
//!
//! Starting and watching is a [`VmRunner`]'s: the `weft` binary's runs
//! the hypervisor under the supervisor `weft up` uses (`weft
//! service-run`), in a session of its own, so the guest outlives an agent
//! killed or restarted and a control plane that is down. A VM that exited
//! is reported so, never restarted behind the tenant's back.

use std::collections::BTreeMap;
use weft_model::vm::GuestNic;
use weft_proto::control as pb;
use weft_proto::desired::Desired;

/// Starts, watches and stops the VMs the control plane has this host run.
pub trait VmRunner: Send + Sync + std::fmt::Debug {
    /// Start `vm` with its NICs in guest order. An error is also what
    /// [`VmRunner::report`] says from then on (state `failed`).
    fn start(&self, vm: &str, run: &pb::DesiredVmRun, nics: &[GuestNic]) -> Result<(), String>;
    /// How `vm` goes; `None`: this host has nothing of it.
    fn report(&self, vm: &str) -> Option<pb::VmRunReport>;
    /// Stop `vm` and forget it (nothing of it: fine).
    fn stop(&self, vm: &str) -> Result<(), String>;
}

/// VM id → (its run, how many NICs it has) of every VM `state` runs.
fn runs_of(state: &Desired) -> BTreeMap<String, (pb::DesiredVmRun, usize)> {
    let mut nics: BTreeMap<&str, usize> = BTreeMap::new();
    for nic in state.values().flat_map(|n| &n.vm_nics) {
        *nics.entry(&nic.vm).or_default() += 1;
    }
    (state.values().flat_map(|n| &n.vm_nics))
        .filter_map(|nic| Some((nic.vm.clone(), (nic.run.clone()?, nics[nic.vm.as_str()]))))
        .collect()
}

/// Stop the VMs `before` ran that `want` no longer runs (first: their
/// NICs are detached after).
pub fn stop_gone(runner: Option<&dyn VmRunner>, want: &Desired, before: &Desired) -> Vec<String> {
    let Some(runner) = runner else {
        return vec![];
    };
    let wanted = runs_of(want);
    let mut errors = Vec::new();
    for vm in runs_of(before)
        .keys()
        .filter(|vm| !wanted.contains_key(*vm))
    {
        match runner.stop(vm) {
            Ok(()) => tracing::info!(%vm, "VM stopped: the control plane no longer runs it"),
            Err(e) => errors.push(format!("stop VM {vm}: {e}")),
        }
    }
    errors
}

/// A reported NIC as the hypervisors' configuration takes it.
fn guest(r: &pb::VmNicReport) -> Option<GuestNic> {
    Some(GuestNic {
        ifname: r.ifname.clone(),
        tap: r.tap.clone(),
        mac: weft_model::naming::parse_mac(&r.mac)?,
        queues: u16::try_from(r.queues.max(1)).ok()?,
        address: r.address.parse().ok()?,
        gateway: r.gateway.parse().ok()?,
        subnet: r.subnet.parse().ok()?,
        default_route: r.default_route,
        mtu: r.mtu,
        dns: r.dns.iter().filter_map(|d| d.parse().ok()).collect(),
        domain: r.domain.clone(),
    })
}

/// Start the VMs `want` runs that this host does not run yet and whose
/// NICs all exist (`made`: this host's report of them). How many wait
/// for NICs still.
pub fn start_wanted(
    runner: Option<&dyn VmRunner>,
    want: &Desired,
    made: &[pb::VmNicReport],
) -> usize {
    let Some(runner) = runner else {
        return 0;
    };
    let mut waiting = 0;
    for (vm, (run, count)) in runs_of(want) {
        if runner.report(&vm).is_some() {
            continue;
        }
        let mut nics: Vec<GuestNic> = (made.iter().filter(|r| r.vm == vm))
            .filter_map(guest)
            .collect();
        if nics.len() != count {
            waiting += 1;
            continue;
        }
        nics.sort_by_key(|g| weft_model::naming::nic_index(&g.ifname).unwrap_or(u32::MAX));
        match runner.start(&vm, &run, &nics) {
            Ok(()) => tracing::info!(%vm, "VM started for the control plane"),
            Err(error) => tracing::warn!(%vm, %error, "could not start the control plane's VM"),
        }
    }
    waiting
}

/// Put each run's state on the report of the NIC that carries it
/// (`want`'s); a host without a runner says it cannot run VMs.
pub fn report(runner: Option<&dyn VmRunner>, want: &Desired, made: &mut [pb::VmNicReport]) {
    let carriers: BTreeMap<(String, String), ()> = (want.values())
        .flat_map(|net| (net.vm_nics.iter()).map(move |n| (net, n)))
        .filter(|(_, n)| n.run.is_some())
        .map(|(net, n)| ((net.name.clone(), n.vm.clone()), ()))
        .collect();
    for nic in made.iter_mut() {
        if !carriers.contains_key(&(nic.network.clone(), nic.vm.clone())) {
            continue;
        }
        nic.run = Some(match runner {
            Some(runner) => runner.report(&nic.vm).unwrap_or_else(|| pb::VmRunReport {
                state: "starting".into(),
                why: "waiting for its NICs".into(),
                ..Default::default()
            }),
            None => pb::VmRunReport {
                state: "failed".into(),
                error: "this agent cannot run VMs (no runner)".into(),
                ..Default::default()
            },
        });
    }
}

/// The runs' states in `made` as they are now (a heartbeat's: a VM may
/// have exited since the last report).
pub fn refresh(runner: Option<&dyn VmRunner>, made: &mut [pb::VmNicReport]) {
    let Some(runner) = runner else {
        return;
    };
    for nic in made.iter_mut().filter(|n| n.run.is_some()) {
        if let Some(now) = runner.report(&nic.vm) {
            nic.run = Some(now);
        }
    }
}

#[cfg(test)]
mod tests;
