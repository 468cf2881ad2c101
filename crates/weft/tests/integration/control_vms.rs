//! VMs from the control plane, end to end (issue 24, part 3): `weft
//! control serve` and lab host h1. `POST /v1/vms` makes the VM's TAPs on
//! h1 as `weft attach --vm` does (the agent's own `weft vm config` says
//! the same TAPs, MACs and QEMU arguments as `GET /v1/vms/{vm}`); a NIC
//! attached and detached through the API comes and goes; the NICs stay,
//! untouched (same interface index), while the control plane is down and
//! across an agent `kill -9`; `DELETE` removes them.

use serde_json::{Value, json};
use std::time::Duration;
use weft_testkit::*;

use crate::control_common::{self, TenantCurl, TenantPlane};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
/// The control plane's namespace, `h10`: 192.0.2.10 on the switch.
const CP: &str = "192.0.2.10";

/// `ns`'s link `dev` (`ip -j link show`), if it exists.
fn link(lab: &Lab, ns: &str, dev: &str) -> Option<Value> {
    let out = lab.exec(ns, &format!("ip -j link show dev {dev}"));
    let links: Value = serde_json::from_slice(&out.stdout).ok()?;
    links.get(0).cloned()
}

/// The VM as `GET /v1/vms/{vm}` shows it once every NIC is made.
fn made(lab: &Lab, tenant: &TenantCurl, vm: &str, nics: usize) -> Value {
    wait_until(
        &format!("{nics} NICs of {vm} made and reported"),
        Duration::from_secs(30),
        || {
            let got = tenant.ok(lab, "GET", &format!("/v1/vms/{vm}"), None);
            let list = got["nics"].as_array()?;
            let done = list.len() == nics && list.iter().all(|n| n["state"] == "made");
            (done && !got["config"].is_null()).then_some(got)
        },
    )
}

fn taps(vm: &Value) -> Vec<String> {
    (vm["nics"].as_array().unwrap().iter())
        .map(|n| n["tap"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_vms_nics_from_the_api_are_made_kept_through_outages_and_removed() {
    require_root!();
    if !require_tools(&["curl"]) {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h10"]);
    lab.switched_underlay(&["h1", "h10"]);
    let mut plane = TenantPlane::start(WEFT, &lab, "h10", CP);
    let tenant = plane.tenant.clone();
    let token = plane.token(WEFT, &[]);
    let url = format!("https://{CP}:50051");
    let fingerprint = plane.fingerprint.clone();
    let enroll = control_common::enroll_args("h1", &url, &fingerprint, &token);
    lab.start_agent_with("h1", &enroll);
    wait_until("h1 to enroll", Duration::from_secs(30), || {
        let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
        (hosts.as_array()?.len() == 1).then_some(())
    });
    for (name, subnet) in [("blue", "10.42.0.0/16"), ("red", "10.43.0.0/16")] {
        let body = json!({"name": name, "subnet": subnet});
        tenant.ok(&lab, "POST", "/v1/networks", Some(body));
    }

    // A VM with one NIC, by the host's name, at an address it chose.
    let body = json!({"id": "web", "host": "h1", "nics": [{"network": "blue", "ip": "10.42.0.9"}]});
    let (status, created) = tenant.call(&lab, "POST", "/v1/vms", Some(body));
    assert_eq!(status, 201, "{created}");
    let vm = made(&lab, &tenant, "web", 1);
    let nic = &vm["nics"][0];
    assert_eq!(
        (nic["ifname"].as_str(), nic["address"].as_str()),
        (Some("eth0"), Some("10.42.0.9/32"))
    );
    let tap = nic["tap"].as_str().unwrap().to_string();
    let made_link = link(&lab, "h1", &tap).unwrap_or_else(|| panic!("no TAP {tap} on h1"));
    // The agent's own view: what `weft attach --vm` would have made.
    let local = lab.weft_json("h1", &["vm", "config", "web", "--hypervisor", "qemu"]);
    assert_eq!(
        local["args"], vm["config"]["qemu"],
        "GET's QEMU arguments are the agent's"
    );
    let attached = lab.weft_json("h1", &["attachments", "blue"]);
    let entry = (attached.as_array().unwrap().iter())
        .find(|a| a["id"] == "web")
        .unwrap_or_else(|| panic!("web not among h1's attachments: {attached}"));
    assert_eq!(entry["kind"], "vm", "{entry}");
    assert_eq!(entry["mac"], nic["mac"], "{entry}");
    assert_eq!(entry["host_ifname"].as_str(), Some(tap.as_str()), "{entry}");
    let ifindex = made_link["ifindex"].clone();

    // A second NIC through the API: eth1 on red; then detached.
    let (status, _) = tenant.call(
        &lab,
        "POST",
        "/v1/vms/web/networks",
        Some(json!({"network": "red"})),
    );
    assert_eq!(status, 201);
    let vm = made(&lab, &tenant, "web", 2);
    assert_eq!(vm["nics"][1]["ifname"], "eth1");
    let second = taps(&vm)[1].clone();
    assert!(link(&lab, "h1", &second).is_some(), "no TAP {second}");
    let args = vm["config"]["cloud_hypervisor"].to_string();
    assert!(args.contains(&tap) && args.contains(&second), "{args}");
    tenant.ok(&lab, "DELETE", "/v1/vms/web/networks/red", None);
    wait_for(
        "the detached NIC's TAP to go",
        Duration::from_secs(20),
        || link(&lab, "h1", &second).is_none(),
    );
    made(&lab, &tenant, "web", 1);

    // The control plane goes: the NIC stays as it is, across a kill -9
    // of the agent too.
    plane.stop();
    lab.kill_agent("h1");
    lab.start_agent_with("h1", &enroll);
    std::thread::sleep(Duration::from_secs(3));
    let kept = link(&lab, "h1", &tap).unwrap_or_else(|| panic!("TAP {tap} gone"));
    assert_eq!(kept["ifindex"], ifindex, "the TAP was made again");
    assert_eq!(kept["address"], made_link["address"]);
    let connected = |lab: &Lab| {
        lab.agent_log("h1")
            .matches("connected to the control plane")
            .count()
    };
    let before = connected(&lab);
    let log_before = lab.agent_log("h1");
    plane.restart(WEFT, &lab);
    wait_for("h1 to reconnect", Duration::from_secs(90), || {
        connected(&lab) > before
    });
    let vm = made(&lab, &tenant, "web", 1);
    assert_eq!(taps(&vm), std::slice::from_ref(&tap));
    assert_eq!(link(&lab, "h1", &tap).unwrap()["ifindex"], ifindex);
    assert!(log_before.contains("VM NIC made for the control plane"));

    // Deleted: the TAP goes, and so does the record.
    let (status, _) = tenant.call(&lab, "DELETE", "/v1/vms/web", None);
    assert_eq!(status, 204);
    wait_for("the VM's TAP to go", Duration::from_secs(20), || {
        link(&lab, "h1", &tap).is_none()
    });
    let left = lab.weft_json("h1", &["attachments", "blue"]);
    assert!(!left.to_string().contains("\"web\""), "{left}");
    let (status, _) = tenant.call(&lab, "GET", "/v1/vms/web", None);
    assert_eq!(status, 404);
    lab.finish();
}
