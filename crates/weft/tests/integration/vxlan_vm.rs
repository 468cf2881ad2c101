//! A VM and a container on one VXLAN segment across two hosts: a Debian
//! kernel under QEMU (`-accel tcg`, the guest harness) on lab host h1, its
//! NIC from `weft vm config --hypervisor qemu` on VXLAN network lan, and
//! container c2 on h2. The guest gets its address by DHCP (busybox
//! `udhcpc`) from h1's responder on the bridge, with the gateway every host
//! shares as its router and h1's own address as its nameserver; it pings c2
//! across the segment by address and by name, and resolves the shared
//! gateway to h1's bridge (ARP for it stays on its own host).

use std::time::Instant;

use weft_testkit::guest::{Guest, GuestConfig, Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// The gateway every host of 10.50.0.0/16 carries.
const GATEWAY: &str = "10.50.255.254";

/// busybox udhcpc's hook: applies a lease the way a distribution's does,
/// classless routes (option 121) included, and notes what it got.
const UDHCPC_SCRIPT: &str = include_str!("../fixtures/udhcpc-default.script");

/// The guest's part: DHCP, what it got, then c2 across the segment.
const GUEST_SCRIPT: &str = r#"
mkdir -p /etc/udhcpc
check dhcp:eth0 udhcpc -i eth0 -f -q -n -t 10 -T 2
report leases data "$(tr '\n' ';' < /tmp/leases)"
report routes data "$(ip route | tr '\n' ';')"
report resolv data "$(tr '\n' ';' < /etc/resolv.conf)"
report addrs data "$(ip -o -4 addr show | awk '{print $2, $4}' | tr '\n' ';')"
check ping:c2 sh -c 'for i in 1 2 3 4 5; do ping -c1 -W3 10.50.2.2 && exit 0; done; exit 1'
check ping:gateway ping -c1 -W5 10.50.255.254
report gateway-mac data "$(ip neigh show 10.50.255.254 | awk '{print $5}')"
check resolve:c2 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do nslookup c2.mesh.local && exit 0; sleep 2; done; exit 1'
check ping:c2-by-name ping -c1 -W5 c2.mesh.local
"#;

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.exec_ok(ns, &format!("ip -j link show {dev}"));
    let link: serde_json::Value = serde_json::from_str(&out).unwrap();
    link[0]["address"].as_str().unwrap().to_string()
}

#[test]
fn a_qemu_guest_on_a_vxlan_network_gets_its_address_by_dhcp_and_pings_a_container_on_another_host()
{
    require_root!();
    let started = Instant::now();
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    // virtio-net and the virtio PCI transport QEMU's device sits on.
    let modules: Vec<&str> = NETWORK_MODULES
        .iter()
        .copied()
        .chain(["kernel/drivers/virtio"])
        .collect();
    let mut initramfs = Initramfs::new(&kernel, &modules).unwrap_or_else(|e| panic!("{e}"));
    initramfs.add_dir("etc/udhcpc");
    initramfs.add_bytes("etc/udhcpc/default.script", UDHCPC_SCRIPT, 0o755);

    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c2"]);
    lab.underlay("h1", "h2");
    for (n, host) in ["h1", "h2"].into_iter().enumerate() {
        lab.start_agent_with(host, &["--host-name", host]);
        let block = format!("10.50.{}.0/24", n + 1);
        let local = format!("192.0.2.{}", n + 1);
        lab.weft_json(
            host,
            &[
                "network",
                "create",
                "lan",
                "--mode",
                "vxlan",
                "--subnet",
                "10.50.0.0/16",
                "--block",
                &block,
                "--vni",
                "100",
                "--local",
                &local,
            ],
        );
    }
    for (from, to) in [("h1", "2"), ("h2", "1")] {
        lab.weft_ok(
            from,
            &[
                "peer",
                "add",
                "lan",
                "--endpoint",
                &format!("192.0.2.{to}"),
                "--allowed-ips",
                &format!("10.50.{to}.0/24"),
            ],
        );
    }
    let c2 = lab.attach("h2", "lan", "c2", &["--name", "c2"]);
    assert_eq!(c2["address"], "10.50.2.2/16");
    let nic = lab.weft_json("h1", &["attach", "lan", "--vm", "vm1", "--name", "vm1"]);
    assert_eq!(nic["address"], "10.50.1.2/16");
    let qemu_args: Vec<String> = lab
        .weft_ok("h1", &["vm", "config", "vm1", "--hypervisor", "qemu"])
        .split_whitespace()
        .map(String::from)
        .collect();
    // The VM's TAP is a port of the network's bridge.
    let tap = lab.exec_ok("h1", "ip -j link show fn-vm1-0");
    let tap: serde_json::Value = serde_json::from_str(&tap).unwrap();
    assert_eq!(tap[0]["master"], "weft-vbr0", "{tap}");

    let guest = Guest {
        kernel,
        initramfs,
        config: GuestConfig::lab_vm(qemu_args, lab.ns("h1")),
    };
    let run = guest.boot(GUEST_SCRIPT).unwrap_or_else(|e| panic!("{e}"));
    if !run.completed() || !run.failures().is_empty() {
        eprintln!("--- agent log of h1 ---\n{}", lab.agent_log("h1"));
        eprintln!("--- agent log of h2 ---\n{}", lab.agent_log("h2"));
    }
    run.expect_completed();
    for check in [
        "module:virtio_net",
        "dhcp:eth0",
        "ping:c2",
        "ping:gateway",
        "resolve:c2",
        "ping:c2-by-name",
    ] {
        run.expect_pass(check);
    }
    // The address weft assigned, by DHCP, with the subnet's prefix.
    let addrs = run.data("addrs");
    if !addrs.contains("eth0 10.50.1.2/16") {
        run.fail(&format!("the guest's addresses: {addrs}"));
    }
    // The default route through the gateway every host shares.
    let routes = run.data("routes");
    if routes.matches("default").count() != 1
        || !routes.contains(&format!("default via {GATEWAY} dev eth0"))
    {
        run.fail(&format!("the guest's routes: {routes}"));
    }
    let leases = run.data("leases");
    if !leases.contains("mtu=1450") || !leases.contains("domain=mesh.local") {
        run.fail(&format!("the lease: {leases}"));
    }
    // Names from h1's own address: the gateway is everyone's.
    let resolv = run.data("resolv");
    if !resolv.contains("nameserver 10.50.1.1") || !resolv.contains("search mesh.local") {
        run.fail(&format!("the guest's resolv.conf: {resolv}"));
    }
    // ARP for the gateway stays on the guest's own host: h1's bridge.
    let gateway_mac = run.data("gateway-mac");
    let bridge_mac = mac_of(&lab, "h1", "weft-vbr0");
    if gateway_mac.trim() != bridge_mac {
        run.fail(&format!(
            "the guest resolved {GATEWAY} to {gateway_mac:?}, not h1's bridge {bridge_mac}"
        ));
    }
    lab.weft_ok("h1", &["detach", "lan", "--id", "vm1"]);
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(!links.contains("vm1-"), "TAP left: {links}");
    eprintln!("guest run {:?}, test {:?}", run.elapsed, started.elapsed());
    lab.finish();
}
