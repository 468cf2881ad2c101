use super::*;
use crate::model::NetworkSpec;

fn ids() -> (TenantId, HostId) {
    (
        TenantId::parse("tenant", "aabbccddeeff0011").unwrap(),
        HostId::parse("host", "00112233445566aa").unwrap(),
    )
}

#[test]
fn a_change_touches_every_network_of_the_vm() {
    let (tenant, host) = ids();
    let net = |name: &str, subnet: &str| Network {
        tenant: tenant.clone(),
        spec: NetworkSpec::new(name, subnet, "", false, "", None).unwrap(),
        created_at: 0,
    };
    let networks = [net("blue", "10.1.0.0/16"), net("red", "10.2.0.0/16")];
    let blocks: Vec<HostBlock> = [("blue", "10.1.0.0/24"), ("red", "10.2.0.0/24")]
        .into_iter()
        .map(|(network, block)| HostBlock {
            network: network.into(),
            host: host.clone(),
            block: block.parse().unwrap(),
        })
        .collect();
    let live = |h: &HostId| *h == host;
    let nic = |network: &str| VmNicSpec {
        network: network.into(),
        ip: None,
    };
    let rows = |current: Option<Vm>| VmRows {
        current,
        networks: &networks,
        blocks: &blocks,
        live: &live,
    };
    let spec = VmSpec::new("web", host.clone(), vec![nic("blue"), nic("red")]).unwrap();
    let made = change_vm(&tenant, VmChange::Create(spec), rows(None), 7).unwrap();
    assert_eq!(made.touched.len(), 2);
    let web = made.vm.unwrap();
    assert_eq!(web.created_at, 7);
    let detach = VmChange::Detach {
        vm: "web".into(),
        network: "red".into(),
    };
    let out = change_vm(&tenant, detach, rows(Some(web.clone())), 8).unwrap();
    // Every network of the VM: a NIC's place among its NICs may move.
    assert_eq!(out.touched.len(), 2);
    assert_eq!(out.vm.unwrap().spec.nics, [nic("blue")]);
    let delete = VmChange::Delete { vm: "web".into() };
    let out = change_vm(&tenant, delete.clone(), rows(Some(web)), 9).unwrap();
    assert!(out.vm.is_none());
    assert_eq!(out.touched.len(), 2);
    let err = change_vm(&tenant, delete, rows(None), 9).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "VM", .. }),
        "{err:?}"
    );
}
