//! The store against SQLite: round trips, constraints, migrations.

mod crash;

use super::*;
use crate::records::{AttachmentRecord, NetworkRecord, PeerRecord, WireguardSettings};
use rusqlite::Connection;
use weft_model::{Mode, PrivateKey};
use weft_net::NetnsId;

fn net(name: &str, index: u32, port: u16) -> NetworkRecord {
    NetworkRecord {
        name: name.into(),
        mode: Mode::Wireguard,
        index,
        subnet: "10.42.0.0/16".parse().unwrap(),
        block: "10.42.1.0/24".parse().unwrap(),
        wireguard: Some(WireguardSettings {
            listen_port: port,
            private_key: PrivateKey::generate(),
            retiring_key: None,
            key_since: None,
        }),
        vxlan: None,
        internal: false,
        domain: "mesh.local".into(),
    }
}

fn bridge(name: &str, index: u32) -> NetworkRecord {
    NetworkRecord {
        name: name.into(),
        mode: Mode::Bridge,
        index,
        subnet: "10.88.0.0/16".parse().unwrap(),
        block: "10.88.0.0/16".parse().unwrap(),
        wireguard: None,
        vxlan: None,
        internal: true,
        domain: "lab.example".into(),
    }
}

fn att(network: &str, id: &str, ip: &str, host: &str) -> AttachmentRecord {
    AttachmentRecord {
        network: network.into(),
        workload_id: id.into(),
        name: id.into(),
        netns: format!("/run/netns/{id}"),
        netns_id: NetnsId {
            dev: 4,
            ino: 4026532000,
        },
        ifname: "eth0".into(),
        host_ifname: host.into(),
        ip: ip.parse().unwrap(),
        default_route: true,
        vm: None,
    }
}

#[test]
fn networks_round_trip_and_are_unique() {
    let store = Store::in_memory().unwrap();
    let blue = net("blue", 0, 51820);
    store.insert_network(&blue).unwrap();
    assert_eq!(store.networks().unwrap(), vec![blue.clone()]);
    assert!(
        store.insert_network(&net("blue", 1, 51821)).is_err(),
        "same name"
    );
    assert!(
        store.insert_network(&net("red", 0, 51821)).is_err(),
        "same index"
    );
    assert!(
        store.insert_network(&net("red", 1, 51820)).is_err(),
        "same port"
    );
    assert_eq!(store.networks().unwrap().len(), 1);
    // Bridges have no port or key, and their own index space.
    store.insert_network(&bridge("br", 0)).unwrap();
    store.insert_network(&bridge("br2", 1)).unwrap();
    assert!(
        store.insert_network(&bridge("br3", 1)).is_err(),
        "same bridge index"
    );
    assert_eq!(store.network("br").unwrap().unwrap(), bridge("br", 0));
    assert!(store.delete_network("blue").unwrap());
    assert!(!store.delete_network("blue").unwrap());
}

#[test]
fn peers_upsert_and_cascade() {
    let store = Store::in_memory().unwrap();
    store.insert_network(&net("blue", 0, 51820)).unwrap();
    let mut peer = PeerRecord {
        network: "blue".into(),
        public_key: PrivateKey::generate().public_key(),
        endpoint: "192.0.2.2:51820".into(),
        allowed_ips: vec![
            "10.42.2.0/24".parse().unwrap(),
            "fd00::/64".parse().unwrap(),
        ],
        keepalive: 25,
    };
    store.upsert_peer(&peer).unwrap();
    peer.keepalive = 0;
    store.upsert_peer(&peer).unwrap();
    assert_eq!(store.peers("blue").unwrap(), vec![peer.clone()]);
    store.delete_network("blue").unwrap();
    assert!(store.peers("blue").unwrap().is_empty());
}

#[test]
fn attachments_cannot_share_an_address_or_host_interface() {
    let store = Store::in_memory().unwrap();
    store.insert_network(&net("blue", 0, 51820)).unwrap();
    store
        .insert_attachment(&att("blue", "c1", "10.42.1.2", "w0-c1"))
        .unwrap();
    assert!(
        store
            .insert_attachment(&att("blue", "c2", "10.42.1.2", "w0-c2"))
            .is_err()
    );
    assert!(
        store
            .insert_attachment(&att("blue", "c2", "10.42.1.3", "w0-c1"))
            .is_err()
    );
    assert!(
        store
            .insert_attachment(&att("blue", "c1", "10.42.1.4", "w0-x"))
            .is_err()
    );
    store
        .insert_attachment(&att("blue", "c2", "10.42.1.3", "w0-c2"))
        .unwrap();
    let used: Vec<String> = store
        .used_ips("blue")
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(used, ["10.42.1.2", "10.42.1.3"]);
    assert_eq!(
        store.attachment("blue", "c2").unwrap().unwrap().host_ifname,
        "w0-c2"
    );
    assert!(
        store.delete_network("blue").is_err(),
        "attachments keep their network"
    );
    assert!(store.delete_attachment("blue", "c1").unwrap());
    assert!(!store.delete_attachment("blue", "c1").unwrap());
    assert_eq!(store.attachments().unwrap().len(), 1);
}

#[test]
fn vm_nics_round_trip_and_their_macs_are_unique_per_network() {
    let store = Store::in_memory().unwrap();
    store.insert_network(&net("blue", 0, 51820)).unwrap();
    store.insert_network(&net("red", 1, 51821)).unwrap();
    let vm = |network: &str, id: &str, ip: &str, tap: &str, mac: u8| AttachmentRecord {
        netns: String::new(),
        netns_id: crate::dataplane::VmNic::NO_NETNS,
        vm: Some(crate::dataplane::VmNic {
            mac: [0x02, 0, 0, 0, 0, mac],
            queues: 4,
        }),
        ..att(network, id, ip, tap)
    };
    let first = vm("blue", "vm1", "10.42.1.2", "w0-vm1-0", 1);
    store.insert_attachment(&first).unwrap();
    assert_eq!(
        store.attachment("blue", "vm1").unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.vm_macs("blue").unwrap(), [[0x02, 0, 0, 0, 0, 1]]);
    // The same MAC twice on one network: refused, whatever the race.
    let clash = vm("blue", "vm2", "10.42.1.3", "w0-vm2-0", 1);
    assert!(store.insert_attachment(&clash).is_err());
    // On another network it may repeat; namespaces' NICs carry none.
    store
        .insert_attachment(&vm("red", "vm2", "10.43.1.3", "w1-vm2-0", 1))
        .unwrap();
    store
        .insert_attachment(&att("blue", "c1", "10.42.1.4", "w0-c1"))
        .unwrap();
    store
        .insert_attachment(&att("blue", "c2", "10.42.1.5", "w0-c2"))
        .unwrap();
    assert_eq!(store.attachment("blue", "c1").unwrap().unwrap().vm, None);
}

#[test]
fn version_1_databases_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let conn = Connection::open(&path).unwrap();
        // Version 1 as released: its tables, a network and an attachment.
        conn.execute_batch(super::schema::SCHEMA_V1).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema', '1');
             INSERT INTO networks VALUES ('br', 'bridge', 0, '10.88.0.0/16', '10.88.0.0/16', NULL, NULL);
             INSERT INTO attachments VALUES ('br', 'c1', '', '/run/netns/c1', 4, 4026532000,
                 'eth0', 'fn-c1', '10.88.0.2', 1);",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let br = store.network("br").unwrap().unwrap();
    let names =
        std::collections::BTreeMap::from([("web".to_string(), vec!["10.88.0.5".parse().unwrap()])]);
    store.set_names("br", "mesh", &names).unwrap();
    assert_eq!(
        store.names("br").unwrap()["mesh"],
        names,
        "version 3's table exists"
    );
    assert!(!br.internal);
    assert_eq!(br.domain, "mesh.local");
    assert_eq!(
        br.vxlan, None,
        "version 4: networks before it are not VXLAN"
    );
    assert_eq!(store.vteps("br").unwrap(), [], "version 4's table exists");
    let c1 = store.attachment("br", "c1").unwrap().unwrap();
    assert_eq!(
        c1.vm, None,
        "version 5: attachments before it are namespaces'"
    );
    assert_eq!(c1.host_ifname, "fn-c1");
    drop(store);
    // Opening again finds the current version and changes nothing.
    assert_eq!(Store::open(&path).unwrap().networks().unwrap().len(), 1);
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let blue = net("blue", 0, 51820);
    {
        let store = Store::open(&path).unwrap();
        store.insert_network(&blue).unwrap();
        store
            .insert_attachment(&att("blue", "c1", "10.42.1.2", "w0-c1"))
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.networks().unwrap(), vec![blue]);
    assert_eq!(store.attachments().unwrap().len(), 1);
}

fn vxlan(name: &str, index: u32, vni: u32) -> NetworkRecord {
    NetworkRecord {
        name: name.into(),
        mode: Mode::Vxlan,
        index,
        subnet: "10.50.0.0/16".parse().unwrap(),
        block: "10.50.1.0/24".parse().unwrap(),
        wireguard: None,
        vxlan: Some(crate::records::VxlanSettings {
            vni,
            port: 4789,
            mtu: 1370,
            underlay: crate::records::Underlay::Over("blue".into()),
        }),
        internal: false,
        domain: "mesh.local".into(),
    }
}

#[test]
fn vxlan_networks_and_vteps_round_trip_with_one_network_per_vni() {
    let store = Store::in_memory().unwrap();
    let red = vxlan("red", 0, 100);
    store.insert_network(&red).unwrap();
    assert_eq!(store.network("red").unwrap(), Some(red));
    // The VNI is unique on the host, whatever the agent checked before.
    assert!(store.insert_network(&vxlan("green", 1, 100)).is_err());
    store.insert_network(&vxlan("green", 1, 200)).unwrap();

    let vtep = |address: &str, block: Option<&str>| crate::records::VtepRecord {
        network: "red".into(),
        address: address.parse().unwrap(),
        block: block.map(|b| b.parse().unwrap()),
    };
    store.upsert_vtep(&vtep("192.0.2.2", None)).unwrap();
    store
        .upsert_vtep(&vtep("192.0.2.3", Some("10.50.3.0/24")))
        .unwrap();
    // Replaced, not duplicated.
    store
        .upsert_vtep(&vtep("192.0.2.2", Some("10.50.2.0/24")))
        .unwrap();
    assert_eq!(
        store.vteps("red").unwrap(),
        [
            vtep("192.0.2.2", Some("10.50.2.0/24")),
            vtep("192.0.2.3", Some("10.50.3.0/24"))
        ]
    );
    assert!(
        store
            .delete_vtep("red", "192.0.2.3".parse().unwrap())
            .unwrap()
    );
    assert!(
        !store
            .delete_vtep("red", "192.0.2.3".parse().unwrap())
            .unwrap()
    );
    // They go with their network.
    store.delete_network("red").unwrap();
    assert!(store.vteps("red").unwrap().is_empty());
}
