//! VMs' NICs in the frames: each host gets its own VMs' NICs, in its copy
//! of each network it is in, with their place in the VM's guest order.

use super::*;

impl Rows {
    /// A VM on `host` with a NIC on each of `networks`, in that order.
    pub(super) fn vm(&mut self, id: &str, host: &HostId, networks: &[&str]) {
        let nics = (networks.iter())
            .map(|n| crate::model::VmNicSpec {
                network: n.to_string(),
                ip: None,
            })
            .collect();
        self.vms.push(Vm {
            tenant: tenant(),
            spec: crate::model::VmSpec::new(id, host.clone(), nics).unwrap(),
            created_at: 0,
        });
    }
}

#[test]
fn a_vms_nics_go_to_its_host_on_the_networks_it_is_in() {
    let mut rows = Rows::default();
    rows.network("blue", "10.42.0.0/16");
    rows.network("red", "10.43.0.0/16");
    let ids: Vec<HostId> = (0..3).map(|i| rows.member("blue", i)).collect();
    rows.join("red", &ids[0], 0);
    rows.vm("web", &ids[0], &["red", "blue"]);
    // db's host is not in red: that NIC waits until it is.
    rows.vm("db", &ids[2], &["red", "blue"]);
    let feeds = Feeds::default();
    let frame = rows.frame(&feeds, None, 1);
    let nics = |id: &HostId, net: &str| {
        let state = frame.tables.desired(id).unwrap();
        let nics = state[net].vm_nics.iter();
        nics.map(|n| (n.vm.clone(), n.index)).collect::<Vec<_>>()
    };
    assert_eq!(nics(&ids[0], "red"), [("web".to_string(), 0)]);
    assert_eq!(nics(&ids[0], "blue"), [("web".to_string(), 1)]);
    assert_eq!(nics(&ids[2], "blue"), [("db".to_string(), 1)]);
    assert!(!frame.tables.desired(&ids[2]).unwrap().contains_key("red"));
    assert!(nics(&ids[1], "blue").is_empty(), "no VM of its own");
    for id in &ids {
        assert_eq!(
            frame.tables.desired(id).unwrap(),
            rows.desired_for(id),
            "{id}"
        );
    }

    // web's first NIC detached: only its host is sent anything, and its
    // other NIC is index 0 now.
    let mut next_rows = rows.clone();
    next_rows.vms[0].spec.nics.remove(0);
    let next = next_rows.frame(&feeds, Some(&frame), 2);
    assert_eq!(next.deltas.keys().collect::<Vec<_>>(), [&ids[0]]);
    let state = applied(&ids[0], &[&next.deltas[&ids[0]]]);
    assert_eq!(state["blue"].vm_nics[0].index, 0);
    assert!(state["red"].vm_nics.is_empty());
}
