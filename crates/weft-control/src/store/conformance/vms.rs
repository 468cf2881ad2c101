//! Conformance cases about VMs: placed on a live host of the tenant with
//! NICs on networks that host is in, changed one NIC at a time (each
//! change one revision, its networks marked for resuming hosts), what
//! hosts report of them, and never reached from another tenant.

use super::*;
use crate::model::{ReportedNic, VmError, VmNicSpec, VmSpec};
use crate::store::VmChange;

fn nic(network: &str, ip: Option<&str>) -> VmNicSpec {
    VmNicSpec {
        network: network.into(),
        ip: ip.map(|ip| ip.parse().unwrap()),
    }
}

fn vm(id: &str, host: &HostId, nics: Vec<VmNicSpec>) -> VmChange {
    VmChange::Create(VmSpec::new(id, host.clone(), nics).unwrap())
}

/// The field a refusal names.
fn refused_field(err: StoreError) -> String {
    match err {
        StoreError::VmRefused(VmError { field, .. }) => field,
        other => panic!("expected a refused VM, got {other:?}"),
    }
}

fn reported(vm: &str, network: &str, tap: &str) -> ReportedNic {
    ReportedNic {
        vm: vm.into(),
        network: network.into(),
        ifname: "eth0".into(),
        tap: tap.into(),
        mac: "52:54:00:12:34:56".into(),
        address: "10.42.0.2/24".parse().unwrap(),
        gateway: "10.42.0.1".parse().unwrap(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        mtu: 1420,
        dns: vec!["10.42.0.1".parse().unwrap()],
        domain: "mesh.local".into(),
        default_route: true,
        queues: 1,
        run: None,
    }
}

pub(crate) async fn vms_are_placed_on_a_host_in_their_networks(store: Shared) {
    let t = tenant(&store, "acme").await;
    let h1 = enroll(&store, &t, "h1").await;
    for (name, subnet) in [("blue", "10.42.0.0/16"), ("red", "10.43.0.0/16")] {
        store
            .create_network(&t, &spec(name, subnet), NOW)
            .await
            .unwrap();
    }
    let block = |net: &'static str| {
        let (store, t, h1) = (store.clone(), t.clone(), h1.clone());
        async move {
            let blocks = store.blocks(&t).await.unwrap();
            (blocks.into_iter())
                .find(|b| b.network == net && b.host == h1)
                .unwrap()
                .block
        }
    };
    let blue = block("blue").await;
    let ip = (blue.hosts().nth(5).unwrap()).to_string();
    let start = store.revision().await.unwrap();

    let made = store
        .change_vm(&t, vm("web", &h1, vec![nic("blue", Some(&ip))]), NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.spec.nics, [nic("blue", Some(&ip))]);
    assert_eq!(store.revision().await.unwrap(), start + 1);
    let changes = store.changes_since(&t, start).await.unwrap().unwrap();
    assert!(changes.changed.contains("blue") && !changes.changed.contains("red"));

    // Refused, each naming its field, and nothing moves.
    let err = store
        .change_vm(&t, vm("web", &h1, vec![]), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VmExists(_)), "{err:?}");
    let stranger = HostId::generate();
    let err = store.change_vm(&t, vm("db", &stranger, vec![]), NOW).await;
    assert_eq!(refused_field(err.unwrap_err()), "host");
    let err = (store.change_vm(&t, vm("db", &h1, vec![nic("green", None)]), NOW)).await;
    assert_eq!(refused_field(err.unwrap_err()), "nics[0].network");
    let outside = "10.42.255.250";
    let nics = vec![nic("red", None), nic("blue", Some(outside))];
    let err = store.change_vm(&t, vm("db", &h1, nics), NOW).await;
    assert_eq!(refused_field(err.unwrap_err()), "nics[1].ip");
    let attach = |network: &str| VmChange::Attach {
        vm: "web".into(),
        nic: nic(network, None),
    };
    let err = store.change_vm(&t, attach("blue"), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::VmNicExists { .. }), "{err:?}");
    assert_eq!(store.revision().await.unwrap(), start + 1);

    // One NIC at a time, last in guest order.
    let web = store.change_vm(&t, attach("red"), NOW).await.unwrap();
    let networks: Vec<String> = (web.unwrap().spec.nics.into_iter())
        .map(|n| n.network)
        .collect();
    assert_eq!(networks, ["blue", "red"]);
    let at = store.revision().await.unwrap();
    assert_eq!(at, start + 2);
    let changes = store.changes_since(&t, at - 1).await.unwrap().unwrap();
    let both = BTreeSet::from(["blue".to_string(), "red".to_string()]);
    assert_eq!(changes.changed, both, "every network of the VM");
    let detach = VmChange::Detach {
        vm: "web".into(),
        network: "red".into(),
    };
    store.change_vm(&t, detach.clone(), NOW).await.unwrap();
    let err = store.change_vm(&t, detach, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let listed = store.list_vms(&t).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].spec.nics, [nic("blue", Some(&ip))]);
    assert_eq!(listed[0].spec.host, h1);

    let delete = VmChange::Delete { vm: "web".into() };
    let gone = store.change_vm(&t, delete.clone(), NOW).await.unwrap();
    assert!(gone.is_none());
    assert!(store.list_vms(&t).await.unwrap().is_empty());
    let err = store.change_vm(&t, delete, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.revision().await.unwrap(), start + 4);
}

pub(crate) async fn one_tenant_cannot_reach_anothers_vms(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    let ha = enroll(&store, &a, "h1").await;
    let hb = enroll(&store, &b, "h1").await;
    store
        .create_network(&a, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    store
        .create_network(&b, &spec("blue", "10.50.0.0/16"), NOW)
        .await
        .unwrap();
    (store.change_vm(&a, vm("web", &ha, vec![nic("blue", None)]), NOW))
        .await
        .unwrap();
    // B cannot see, change or delete A's VM, nor place one on A's host.
    assert!(store.list_vms(&b).await.unwrap().is_empty());
    let changes = [
        VmChange::Attach {
            vm: "web".into(),
            nic: nic("blue", None),
        },
        VmChange::Detach {
            vm: "web".into(),
            network: "blue".into(),
        },
        VmChange::Delete { vm: "web".into() },
    ];
    for change in changes {
        let err = store.change_vm(&b, change, NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
    let err = store.change_vm(&b, vm("x", &ha, vec![]), NOW).await;
    assert_eq!(refused_field(err.unwrap_err()), "host");
    // The same id is free in B, on B's own host.
    (store.change_vm(&b, vm("web", &hb, vec![nic("blue", None)]), NOW))
        .await
        .unwrap();
    assert_eq!(store.list_vms(&a).await.unwrap()[0].spec.host, ha);

    // What a host reports is its tenant's only.
    store
        .report_vm_nics(&ha, &[reported("web", "blue", "wv-a")])
        .await
        .unwrap();
    store
        .report_vm_nics(&hb, &[reported("web", "blue", "wv-b")])
        .await
        .unwrap();
    let seen = store.reported_vm_nics(&a).await.unwrap();
    assert_eq!(seen, [(ha.clone(), reported("web", "blue", "wv-a"))]);
}

pub(crate) async fn vm_reports_replace_the_last_and_move_no_revision(store: Shared) {
    let t = tenant(&store, "acme").await;
    let h1 = enroll(&store, &t, "h1").await;
    let h2 = enroll(&store, &t, "h2").await;
    let start = store.revision().await.unwrap();
    let one = reported("web", "blue", "wv-1");
    store
        .report_vm_nics(&h1, std::slice::from_ref(&one))
        .await
        .unwrap();
    store
        .report_vm_nics(&h1, std::slice::from_ref(&one))
        .await
        .unwrap();
    assert_eq!(
        store.reported_vm_nics(&t).await.unwrap(),
        [(h1.clone(), one)]
    );
    let two = reported("db", "red", "wv-2");
    store
        .report_vm_nics(&h1, std::slice::from_ref(&two))
        .await
        .unwrap();
    store.report_vm_nics(&h2, &[]).await.unwrap();
    assert_eq!(
        store.reported_vm_nics(&t).await.unwrap(),
        [(h1.clone(), two)]
    );
    assert_eq!(store.revision().await.unwrap(), start);
    // A deleted host's report goes with it.
    store.delete_host(&t, &h1, NOW).await.unwrap();
    assert!(store.reported_vm_nics(&t).await.unwrap().is_empty());
}
