//! A QEMU guest whose NICs come from the control plane (issue 24, part
//! 3): `weft control serve`, lab hosts h1 and h2 of site east, VXLAN
//! networks lan and lan2 of east. `POST /v1/vms` places vm1 on h1 with a
//! NIC on lan, `POST /v1/vms/vm1/networks` adds one on lan2; the guest
//! (the harness's Debian kernel under QEMU, TCG) boots with the QEMU
//! arguments `GET /v1/vms/vm1` gives, gets both leases from h1's
//! responders, and pings container c2 on h2 by name across lan. The
//! second NIC detached through the API: its TAP goes from h1.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_testkit::guest::{Guest, GuestConfig, Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

use crate::control_common::{self, TenantPlane};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.10";
const UDHCPC_SCRIPT: &str = include_str!("../fixtures/udhcpc-default.script");

/// The guest's part: both leases (lan's first: the hook appends each
/// lease's resolver, and lan's must come first), then c2 across lan.
const GUEST_SCRIPT: &str = r#"
mkdir -p /etc/udhcpc
check dhcp:eth0 udhcpc -i eth0 -f -q -n -t 10 -T 2
check dhcp:eth1 udhcpc -i eth1 -f -q -n -t 10 -T 2
report addrs data "$(ip -o -4 addr show | awk '{print $2, $4}' | tr '\n' ';')"
report resolv data "$(tr '\n' ';' < /etc/resolv.conf)"
check ping:c2 sh -c 'for i in 1 2 3 4 5; do ping -c1 -W3 C2_ADDRESS && exit 0; done; exit 1'
check resolve:c2 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do nslookup c2.mesh.local && exit 0; sleep 2; done; exit 1'
check ping:c2-by-name ping -c1 -W5 c2.mesh.local
"#;

fn link_exists(lab: &Lab, ns: &str, dev: &str) -> bool {
    lab.exec(ns, &format!("ip link show dev {dev}"))
        .status
        .success()
}

#[test]
fn a_qemu_guest_with_nics_from_the_api_gets_its_leases_and_pings_a_container_on_another_host() {
    require_root!();
    if !require_tools(&["curl"]) {
        return;
    }
    let started = Instant::now();
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    let modules: Vec<&str> = (NETWORK_MODULES.iter().copied())
        .chain(["kernel/drivers/virtio"])
        .collect();
    let mut initramfs = Initramfs::new(&kernel, &modules).unwrap_or_else(|e| panic!("{e}"));
    initramfs.add_dir("etc/udhcpc");
    initramfs.add_bytes("etc/udhcpc/default.script", UDHCPC_SCRIPT, 0o755);

    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "h10", "c2"]);
    lab.switched_underlay(&["h1", "h2", "h10"]);
    let plane = TenantPlane::start(WEFT, &lab, "h10", CP);
    let tenant = &plane.tenant;
    tenant.ok(&lab, "POST", "/v1/sites", Some(json!({"name": "east"})));
    let token = plane.token(WEFT, &["--site", "east", "--uses", "2"]);
    let url = format!("https://{CP}:50051");
    for host in ["h1", "h2"] {
        let enroll = control_common::enroll_args(host, &url, &plane.fingerprint, &token);
        lab.start_agent_with(host, &enroll);
        // One at a time: h1 takes the lowest blocks.
        wait_until(
            &format!("{host} to enroll"),
            Duration::from_secs(30),
            || {
                let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
                (hosts.as_array()?.iter().any(|h| h["name"] == host)).then_some(())
            },
        );
    }
    for (name, subnet) in [("lan", "10.50.0.0/16"), ("lan2", "10.51.0.0/16")] {
        let body = json!({"name": name, "subnet": subnet, "domain": format!("{name}.test")});
        let body = if name == "lan" {
            json!({"name": name, "subnet": subnet})
        } else {
            body
        };
        tenant.ok(&lab, "POST", "/v1/sites/east/vxlan-networks", Some(body));
    }
    wait_for("lan on h2", Duration::from_secs(20), || {
        lab.weft("h2", &["network", "ls"])
            .stdout
            .windows(3)
            .any(|w| w == b"lan")
    });
    let c2 = lab.attach("h2", "lan", "c2", &["--name", "c2"]);
    let c2_address = c2["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();

    let body = json!({"id": "vm1", "host": "h1", "nics": [{"network": "lan"}]});
    tenant.ok(&lab, "POST", "/v1/vms", Some(body));
    tenant.ok(
        &lab,
        "POST",
        "/v1/vms/vm1/networks",
        Some(json!({"network": "lan2"})),
    );
    let vm: Value = wait_until("vm1's NICs made on h1", Duration::from_secs(30), || {
        let vm = tenant.ok(&lab, "GET", "/v1/vms/vm1", None);
        (!vm["config"].is_null()).then_some(vm)
    });
    let nic = |n: usize, field: &str| vm["nics"][n][field].as_str().unwrap().to_string();
    assert_eq!(
        (nic(0, "ifname"), nic(1, "ifname")),
        ("eth0".into(), "eth1".into())
    );
    let qemu_args: Vec<String> = (vm["config"]["qemu"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();

    let guest = Guest {
        kernel,
        initramfs,
        config: GuestConfig {
            memory_mib: 512,
            cpus: 1,
            timeout: Duration::from_secs(300),
            qemu_args,
            netns: Some(lab.ns("h1")),
            modules: vec!["virtio_pci".into(), "virtio_net".into()],
            ..GuestConfig::default()
        },
    };
    let script = GUEST_SCRIPT.replace("C2_ADDRESS", &c2_address);
    let run = guest.boot(&script).unwrap_or_else(|e| panic!("{e}"));
    if !run.completed() || !run.failures().is_empty() {
        eprintln!("--- agent log of h1 ---\n{}", lab.agent_log("h1"));
        eprintln!("--- agent log of h2 ---\n{}", lab.agent_log("h2"));
    }
    run.expect_completed();
    for check in [
        "dhcp:eth0",
        "dhcp:eth1",
        "ping:c2",
        "resolve:c2",
        "ping:c2-by-name",
    ] {
        run.expect_pass(check);
    }
    // The addresses weft assigned (GET's), by DHCP, on the NICs in order.
    let addrs = run.data("addrs");
    for n in [0, 1] {
        let want = format!("eth{n} {}", nic(n, "address"));
        if !addrs.contains(&want) {
            run.fail(&format!("the guest's addresses: {addrs}, not {want}"));
        }
    }

    // The second NIC detached through the API: its TAP goes.
    let tap = nic(1, "tap");
    assert!(link_exists(&lab, "h1", &tap));
    tenant.ok(&lab, "DELETE", "/v1/vms/vm1/networks/lan2", None);
    wait_for("lan2's TAP to go", Duration::from_secs(20), || {
        !link_exists(&lab, "h1", &tap)
    });
    assert!(link_exists(&lab, "h1", &nic(0, "tap")), "eth0's TAP stays");
    tenant.ok(&lab, "DELETE", "/v1/vms/vm1", None);
    wait_for("eth0's TAP to go", Duration::from_secs(20), || {
        !link_exists(&lab, "h1", &nic(0, "tap"))
    });
    eprintln!("guest run {:?}, test {:?}", run.elapsed, started.elapsed());
    lab.finish();
}
