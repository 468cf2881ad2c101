//! The control plane's VMs applied to an agent on the in-memory data
//! plane: the NICs are the ones `weft attach --vm` makes, in guest order,
//! detached when no longer wanted, and hand-made ones are left alone.

use super::*;
use crate::fake::FakeDataplane;
use crate::store::Store;
use weft_model::naming;

fn agent() -> Agent<FakeDataplane> {
    Agent::new(Store::in_memory().unwrap(), FakeDataplane::default())
}

fn nic(vm: &str, index: u32, ip: &str) -> pb::DesiredVmNic {
    pb::DesiredVmNic {
        vm: vm.into(),
        ip: ip.into(),
        index,
        run: None,
    }
}

fn net(name: &str, second: u8, vm_nics: Vec<pb::DesiredVmNic>) -> pb::DesiredNetwork {
    pb::DesiredNetwork {
        name: name.into(),
        subnet: format!("10.{second}.0.0/16"),
        block: format!("10.{second}.1.0/24"),
        domain: "mesh.local".into(),
        vm_nics,
        ..Default::default()
    }
}

fn desired(nets: Vec<pb::DesiredNetwork>) -> Desired {
    nets.into_iter().map(|n| (n.name.clone(), n)).collect()
}

/// What `follow` does with a new state.
fn apply_all(a: &mut Agent<FakeDataplane>, want: &Desired, before: &Desired) -> Vec<String> {
    let names = before.keys().cloned().collect();
    let mut errors = detach_gone(a, want, before);
    errors.extend(crate::control::apply::apply(a, want, &names));
    errors.extend(attach_wanted(a, want));
    errors
}

#[test]
fn a_vms_nics_are_made_as_weft_attach_vm_makes_them_in_guest_order() {
    let mut a = agent();
    // NIC 0 on "red", NIC 1 on "blue": guest order, not network order.
    let want = desired(vec![
        net("blue", 42, vec![nic("web", 1, "")]),
        net("red", 43, vec![nic("web", 0, "10.43.1.9")]),
    ]);
    assert_eq!(
        apply_all(&mut a, &want, &Desired::new()),
        Vec::<String>::new()
    );
    let views = a.attachments(None).unwrap();
    let of = |network: &str| {
        let v = views.iter().find(|v| v.record.network == network).unwrap();
        (
            v.record.ifname.clone(),
            v.record.host_ifname.clone(),
            v.record.ip.to_string(),
            v.record.vm.unwrap().mac,
        )
    };
    let (ifname, tap, ip, mac) = of("red");
    assert_eq!((ifname.as_str(), ip.as_str()), ("eth0", "10.43.1.9"));
    assert_eq!(mac, naming::vm_mac("web", 0, 0));
    assert_eq!(
        tap, "w1-web-0",
        "the network's prefix, as weft attach --vm names it"
    );
    let (ifname, _, ip, mac) = of("blue");
    assert_eq!((ifname.as_str(), ip.as_str()), ("eth1", "10.42.1.2"));
    assert_eq!(mac, naming::vm_mac("web", 1, 0));
    assert!(views.iter().all(|v| v.record.name == "web"), "its DNS name");
    // Its leases are answered, as for any VM.
    assert_eq!(
        a.dataplane()
            .lock()
            .dhcp
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        2
    );

    // Reported as made; applying again changes nothing.
    let reported = report(&a, &want);
    assert_eq!(reported.len(), 2);
    let red = reported.iter().find(|r| r.network == "red").unwrap();
    assert_eq!(
        (red.tap.as_str(), red.ifname.as_str()),
        ("w1-web-0", "eth0")
    );
    assert_eq!(red.mac, naming::format_mac(naming::vm_mac("web", 0, 0)));
    assert!(red.default_route);
    let writes = a.dataplane().lock().writes;
    assert!(apply_all(&mut a, &want, &want).is_empty());
    assert_eq!(a.dataplane().lock().writes, writes, "nothing to do");

    // A NIC detached in the API: its TAP goes; the other stays.
    let next = desired(vec![
        net("blue", 42, vec![]),
        net("red", 43, vec![nic("web", 0, "10.43.1.9")]),
    ]);
    assert!(apply_all(&mut a, &next, &want).is_empty());
    let left: Vec<String> = (a.attachments(None).unwrap().into_iter())
        .map(|v| v.record.network)
        .collect();
    assert_eq!(left, ["red"]);
    assert!(!a.dataplane().lock().attachments.contains_key(&of("blue").1));
    // The VM deleted, and its network gone with it.
    let last = desired(vec![net("blue", 42, vec![])]);
    assert!(apply_all(&mut a, &last, &next).is_empty());
    assert!(a.attachments(None).unwrap().is_empty());
    assert!(report(&a, &last).is_empty());
}

#[test]
fn a_vm_attached_by_hand_is_left_alone() {
    let mut a = agent();
    let want = desired(vec![net("blue", 42, vec![nic("web", 0, "")])]);
    assert!(apply_all(&mut a, &want, &Desired::new()).is_empty());
    let spec = AttachmentSpec {
        network: "blue".into(),
        netns: String::new(),
        id: WorkloadId::new("local").unwrap(),
        name: None,
        ifname: None,
        ip: None,
        vm: Some(VmNicSpec {
            tap: None,
            queues: 1,
        }),
    };
    a.attach(spec).unwrap();
    let next = desired(vec![net("blue", 42, vec![])]);
    assert!(apply_all(&mut a, &next, &want).is_empty());
    let left: Vec<String> = (a.attachments(None).unwrap().into_iter())
        .map(|v| v.record.workload_id)
        .collect();
    assert_eq!(left, ["local"]);
    assert!(report(&a, &next).is_empty(), "not the control plane's");
}

#[test]
fn a_nic_that_cannot_be_made_is_said_and_the_others_made() {
    let mut a = agent();
    let want = desired(vec![net(
        "blue",
        42,
        vec![nic("web", 0, "10.99.0.1"), nic("db", 0, "")],
    )]);
    let errors = apply_all(&mut a, &want, &Desired::new());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("attach VM web to blue"), "{errors:?}");
    let made: Vec<String> = (a.attachments(None).unwrap().into_iter())
        .map(|v| v.record.workload_id)
        .collect();
    assert_eq!(made, ["db"]);
}
