//! The IPAM under pressure: 64 ADDs racing as separate processes, 64
//! parallel DELs, and `kill -9` of the agent in the middle of a burst.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::Duration;

fn spawn_plugin(lab: &Lab, command: &str, id: &str, conf: &str) -> Child {
    let netns = lab.netns_path(id);
    let vars = [
        ("CNI_COMMAND", command),
        ("CNI_CONTAINERID", id),
        ("CNI_NETNS", &netns),
        ("CNI_IFNAME", "eth0"),
    ];
    cni::spawn(&lab.weft, &lab.ns("h1"), &vars, conf)
}

/// The plugin for every container at once, racing each other.
fn burst(lab: &Lab, command: &str, ids: &[String], conf: &str) -> Vec<(String, Child)> {
    ids.iter()
        .map(|id| (id.clone(), spawn_plugin(lab, command, id, conf)))
        .collect()
}

fn conf(lab: &Lab) -> String {
    json!({
        "cniVersion": "1.1.0",
        "name": "blue",
        "type": "weft",
        "agentSocket": lab.dir.path().join("h1/agent.sock"),
        "subnet": "10.42.0.0/16",
        "block": "10.42.1.0/24",
    })
    .to_string()
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i:02}")).collect()
}

#[test]
fn sixty_four_racing_adds_and_dels() {
    require_root!();
    let mut lab = Lab::with_agents(WEFT, &["h1"]);
    let ids = ids(64);
    lab.add_namespaces(&ids);
    let conf = conf(&lab);
    // The network does not exist yet: the racing ADDs also race to create it.
    let children = burst(&lab, "ADD", &ids, &conf);
    let mut addresses = BTreeSet::new();
    for (id, child) in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ADD {id}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_str(&stdout).unwrap();
        addresses.insert(r["ips"][0]["address"].as_str().unwrap().to_string());
    }
    assert_eq!(addresses.len(), 64, "64 distinct addresses");
    let net = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(net.as_array().unwrap().len(), 1);
    assert_eq!(net[0]["allocated"], 64);
    // What the kernel has agrees with the records.
    for id in ids.iter().step_by(9) {
        let addr = lab.exec_ok(id, "ip -br addr show eth0");
        assert!(
            addresses.iter().any(|a| addr.contains(a.as_str())),
            "{id}: {addr}"
        );
    }

    let children = burst(&lab, "DEL", &ids, &conf);
    for (id, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "DEL {id}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let net = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(net[0]["allocated"], 0, "pool empty");
    assert!(
        lab.weft_json("h1", &["attachments"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(!links.contains("w0-"), "{links}");
    lab.finish();
}

#[test]
fn kill_9_during_a_burst_of_adds() {
    require_root!();
    let mut lab = Lab::with_agents(WEFT, &["h1"]);
    // blue: subnet 10.42.0.0/16, block 10.42.1.0/24.
    lab.network_on("h1", "blue", 42);
    let ids = ids(40);
    lab.add_namespaces(&ids);
    let conf = conf(&lab);
    let children = burst(&lab, "ADD", &ids, &conf);
    // Let part of the burst through (up to 20 s), then kill the agent mid-way.
    let mut children: Vec<(String, Child)> = children;
    poll_until(Duration::from_secs(20), Duration::from_millis(5), || {
        let done = children
            .iter_mut()
            .filter_map(|(_, c)| c.try_wait().ok().flatten())
            .filter(|s| s.success())
            .count();
        done >= 8
    });
    lab.kill_agent("h1");
    let mut succeeded = BTreeMap::new();
    let mut failed = 0;
    for (id, child) in children {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            succeeded.insert(id, r["ips"][0]["address"].as_str().unwrap().to_string());
        } else {
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(doc["code"].as_u64().is_some(), "{doc}");
            failed += 1;
        }
    }
    eprintln!(
        "burst: {} ADDs succeeded, {failed} failed when the agent died",
        succeeded.len()
    );
    assert!(
        failed > 0,
        "the agent died after the burst; the test proves nothing"
    );
    assert!(
        succeeded.len() >= 8,
        "the agent died before the burst got going"
    );

    // Restart, then GC with what the runtime believes is attached.
    lab.start_agent("h1");
    let mut gc: Value = serde_json::from_str(&conf).unwrap();
    gc["cni.dev/valid-attachments"] = json!(
        succeeded
            .keys()
            .map(|id| json!({"containerID": id, "ifname": "eth0"}))
            .collect::<Vec<_>>()
    );
    let out = cni::plugin(
        &lab.weft,
        &lab.ns("h1"),
        &[("CNI_COMMAND", "GC")],
        &gc.to_string(),
    );
    assert!(out.ok, "GC: {} {}", out.stdout, out.stderr);

    // Nothing lost: every successful ADD is still recorded, same address.
    let records = lab.weft_json("h1", &["attachments"]);
    let recorded: BTreeMap<String, String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(recorded, succeeded, "records after restart + GC");
    // No address both free and in use: every container's eth0 address is
    // recorded for that container, and only recorded containers have one.
    for id in &ids {
        let has = lab.exec(id, "ip -br addr show eth0");
        match recorded.get(id) {
            Some(addr) => {
                let text = String::from_utf8_lossy(&has.stdout);
                assert!(
                    text.contains(addr.as_str()),
                    "{id}: recorded {addr}, kernel {text}"
                );
            }
            None => assert!(!has.status.success(), "{id} has an eth0 nobody recorded"),
        }
    }
    // No orphaned host veth: every one belongs to a record.
    let links = lab.exec_ok("h1", "ip -br link");
    let veths: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("w0-"))
        .map(|n| n.split('@').next().unwrap())
        .collect();
    let expected: BTreeSet<String> = recorded.keys().map(|id| format!("w0-{id}")).collect();
    assert_eq!(
        veths.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        expected
    );
    let distinct: BTreeSet<&String> = recorded.values().collect();
    assert_eq!(distinct.len(), recorded.len(), "duplicate addresses");
    lab.finish();
}

/// A reboot, simulated: the agent stops, every namespace and link goes
/// away (the host's links and firewall too, as after a power cycle); only
/// the state directory survives. On start the stale leases are reclaimed:
/// a pool that was full takes a whole new set of containers.
#[test]
fn leases_of_a_reboot_are_reclaimed() {
    require_root!();
    let mut lab = Lab::with_agents(WEFT, &["h1"]);
    // A bridge network with room for five containers: .1 is the gateway,
    // .7 the broadcast address.
    let conf = json!({
        "cniVersion": "1.1.0",
        "name": "tiny",
        "type": "weft",
        "agentSocket": lab.dir.path().join("h1/agent.sock"),
        "subnet": "10.66.0.0/29",
        "mode": "bridge",
    })
    .to_string();
    let add = |lab: &Lab, id: &str| {
        let out = spawn_plugin(lab, "ADD", id, &conf)
            .wait_with_output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut before = BTreeSet::new();
    for i in 0..5 {
        let id = format!("r{i}");
        lab.add_netns(&id);
        let (ok, stdout) = add(&lab, &id);
        assert!(ok, "ADD {id}: {stdout}");
        let r: Value = serde_json::from_str(&stdout).unwrap();
        before.insert(r["ips"][0]["address"].as_str().unwrap().to_string());
    }
    assert_eq!(before.len(), 5);
    lab.add_netns("r5");
    let (ok, stdout) = add(&lab, "r5");
    assert!(!ok, "a sixth container fits in a /29: {stdout}");
    assert!(stdout.contains("is exhausted"), "{stdout}");

    // The power goes. Nothing of the old boot remains but the state dir.
    assert!(lab.stop_agent("h1").success());
    for i in 0..6 {
        sh(&format!("ip netns del {}", lab.ns(&format!("r{i}"))));
    }
    lab.exec_ok(
        "h1",
        "for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do \
           [ \"$l\" = lo ] || ip link del \"$l\"; done; nft flush ruleset",
    );
    assert_eq!(lab.exec_ok("h1", "ip -o link show | wc -l").trim(), "1");

    lab.start_agent("h1");
    // The stale leases are gone, the bridge is back with its gateway.
    assert!(
        lab.weft_json("h1", &["attachments"])
            .as_array()
            .unwrap()
            .is_empty(),
        "stale leases kept"
    );
    let mut after = BTreeSet::new();
    for i in 0..5 {
        let id = format!("n{i}");
        lab.add_netns(&id);
        let (ok, stdout) = add(&lab, &id);
        assert!(ok, "ADD {id} after the reboot: {stdout}");
        let r: Value = serde_json::from_str(&stdout).unwrap();
        after.insert(r["ips"][0]["address"].as_str().unwrap().to_string());
    }
    assert_eq!(after, before, "the same five addresses, reclaimed");
    lab.exec_ok("n0", "ping -c1 -W2 10.66.0.1");
    lab.exec_ok("n0", "ping -c1 -W2 10.66.0.6");
    let net = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(net[0]["allocated"], 5);
    lab.finish();
}
