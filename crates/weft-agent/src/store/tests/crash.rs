//! `kill -9` in the middle of writes never corrupts the store nor loses a
//! write that was acknowledged: a child process writes attachments as fast
//! as it can, reporting each commit; the parent kills it mid-stream.

use super::Store;
use crate::records::{AttachmentRecord, NetworkRecord, WireguardSettings};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_model::PrivateKey;
use weft_net::NetnsId;

const CHILD_ENV: &str = "WEFT_STORE_CRASH_CHILD";

/// Runs only as the child of `kill_9_mid_write_loses_nothing`.
#[test]
fn crash_writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&path)).unwrap();
    store
        .insert_network(&NetworkRecord {
            name: "blue".into(),
            index: 0,
            subnet: "10.0.0.0/8".parse().unwrap(),
            block: "10.0.0.0/8".parse().unwrap(),
            mode: weft_model::Mode::Wireguard,
            wireguard: Some(WireguardSettings {
                listen_port: 51820,
                private_key: PrivateKey::generate(),
                retiring_key: None,
                key_since: None,
            }),
            vxlan: None,
            internal: false,
            domain: "mesh.local".into(),
        })
        .unwrap();
    for n in 1u32.. {
        let ip = Ipv4Addr::from(0x0a00_0000 + n + 1);
        store
            .insert_attachment(&AttachmentRecord {
                network: "blue".into(),
                workload_id: format!("w{n}"),
                name: String::new(),
                netns: format!("/run/netns/w{n}"),
                netns_id: NetnsId {
                    dev: 1,
                    ino: u64::from(n),
                },
                ifname: "eth0".into(),
                host_ifname: format!("h{n}"),
                ip: ip.into(),
                default_route: true,
                vm: None,
            })
            .unwrap();
        println!("committed {n}");
    }
}

#[test]
fn kill_9_mid_write_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::tests::crash::crash_writer_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = 0u32;
    // Let it get going, then kill it at an arbitrary point of a write.
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(n) = line.strip_prefix("committed ") {
                    acknowledged = n.parse().unwrap();
                }
            }
            _ => break,
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        acknowledged > 5,
        "the writer barely ran ({acknowledged} writes)"
    );

    let store = Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let atts = store.attachments().unwrap();
    assert!(
        atts.len() as u32 >= acknowledged,
        "{} rows but {acknowledged} writes were acknowledged",
        atts.len()
    );
    // Every row is whole: ids and addresses line up as they were written.
    for a in &atts {
        let n: u32 = a.workload_id[1..].parse().unwrap();
        assert_eq!(
            a.ip,
            std::net::IpAddr::from(Ipv4Addr::from(0x0a00_0000 + n + 1))
        );
        assert_eq!(a.host_ifname, format!("h{n}"));
    }
    // The store is writable again after the crash.
    assert!(store.delete_attachment("blue", "w1").unwrap());
}
