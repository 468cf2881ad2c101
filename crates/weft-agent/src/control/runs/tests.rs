//! Runs against a recording runner: started once all of a VM's NICs are
//! reported, with them in guest order; not started twice; stopped when
//! the VM goes; the state on the carrying NIC's report only.

use super::*;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Recorder {
    started: Mutex<Vec<(String, Vec<String>)>>,
    stopped: Mutex<Vec<String>>,
}

impl VmRunner for Recorder {
    fn start(&self, vm: &str, _: &pb::DesiredVmRun, nics: &[GuestNic]) -> Result<(), String> {
        let taps = nics.iter().map(|n| n.tap.clone()).collect();
        self.started.lock().unwrap().push((vm.into(), taps));
        Ok(())
    }
    fn report(&self, vm: &str) -> Option<pb::VmRunReport> {
        let started = self.started.lock().unwrap();
        started
            .iter()
            .any(|(v, _)| v == vm)
            .then(|| pb::VmRunReport {
                state: "running".into(),
                hypervisor: "qemu".into(),
                ..Default::default()
            })
    }
    fn stop(&self, vm: &str) -> Result<(), String> {
        self.stopped.lock().unwrap().push(vm.into());
        self.started.lock().unwrap().retain(|(v, _)| v != vm);
        Ok(())
    }
}

fn want(with_run: bool) -> Desired {
    let nic = |index: u32| pb::DesiredVmNic {
        vm: "vm1".into(),
        index,
        run: (with_run && index == 0).then(|| pb::DesiredVmRun {
            kernel: "/k".into(),
            memory: 128,
            vcpus: 1,
            hypervisor: "auto".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let net = |name: &str, index: u32| pb::DesiredNetwork {
        name: name.into(),
        vm_nics: vec![nic(index)],
        ..Default::default()
    };
    [net("lan", 0), net("lan2", 1)]
        .into_iter()
        .map(|n| (n.name.clone(), n))
        .collect()
}

fn made(network: &str, ifname: &str, tap: &str) -> pb::VmNicReport {
    pb::VmNicReport {
        vm: "vm1".into(),
        network: network.into(),
        ifname: ifname.into(),
        tap: tap.into(),
        mac: "52:54:00:00:00:01".into(),
        address: "10.0.1.2/24".into(),
        gateway: "10.0.1.1".into(),
        subnet: "10.0.0.0/16".into(),
        mtu: 1400,
        queues: 1,
        ..Default::default()
    }
}

#[test]
fn a_vm_starts_once_all_its_nics_exist_in_guest_order_and_stops_when_it_goes() {
    let r = Recorder::default();
    let w = want(true);
    let one = [made("lan", "eth0", "tap0")];
    assert_eq!(start_wanted(Some(&r), &w, &one), 1, "waits for lan2's NIC");
    assert!(r.started.lock().unwrap().is_empty());
    let both = [made("lan2", "eth1", "tap1"), made("lan", "eth0", "tap0")];
    assert_eq!(start_wanted(Some(&r), &w, &both), 0);
    assert_eq!(start_wanted(Some(&r), &w, &both), 0);
    assert_eq!(
        *r.started.lock().unwrap(),
        [(
            "vm1".to_string(),
            vec!["tap0".to_string(), "tap1".to_string()]
        )],
        "started once, eth0 first"
    );
    let mut reports = both.to_vec();
    report(Some(&r), &w, &mut reports);
    assert_eq!(reports[0].run, None, "lan2's NIC carries no run");
    assert_eq!(reports[1].run.as_ref().unwrap().state, "running");
    // The same VM without `run`: stopped, its NICs kept.
    assert!(stop_gone(Some(&r), &want(false), &w).is_empty());
    assert_eq!(*r.stopped.lock().unwrap(), ["vm1"]);
    // Nothing ran: nothing to stop.
    assert!(stop_gone(Some(&r), &w, &want(false)).is_empty());
    assert_eq!(r.stopped.lock().unwrap().len(), 1);
}

#[test]
fn an_agent_without_a_runner_reports_it_cannot_run_vms() {
    let w = want(true);
    let mut reports = vec![made("lan", "eth0", "tap0")];
    assert_eq!(start_wanted(None, &w, &reports), 0);
    report(None, &w, &mut reports);
    let run = reports[0].run.as_ref().unwrap();
    assert_eq!(run.state, "failed");
    assert!(run.error.contains("cannot run VMs"), "{run:?}");
}
