//! A real guest on weft networks: a Debian kernel under QEMU (`-accel
//! tcg`, the guest harness) on lab host h1, with two NICs from `weft vm
//! config --hypervisor qemu` on networks blue and red. The guest gets both
//! addresses by DHCP (busybox `udhcpc`), the routes (one default, through
//! the first NIC) and the resolver; it pings container c2 on h2 by name
//! over WireGuard, reaches the "world" namespace through h1's egress, and
//! cannot reach green, a network it is not on. A `kill -9` and restart of
//! h1's agent while the guest runs keeps its connectivity; detaching the
//! VM afterwards frees its TAPs and addresses.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weft_testkit::guest::{Guest, GuestConfig, Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// busybox udhcpc's hook: applies a lease the way a distribution's does,
/// classless routes (option 121) included, and notes what it got.
const UDHCPC_SCRIPT: &str = include_str!("../fixtures/udhcpc-default.script");

/// The guest's part: DHCP on both NICs, the checks, then (after telling
/// the host on world:9001) waiting for the host's restart of the agent
/// (world:9000 answers once it is done) and checking again.
const GUEST_SCRIPT: &str = r#"
mkdir -p /etc/udhcpc
check dhcp:eth0 udhcpc -i eth0 -f -q -n -t 10 -T 2
check dhcp:eth1 udhcpc -i eth1 -f -q -n -t 10 -T 2
report leases data "$(tr '\n' ';' < /tmp/leases)"
report routes data "$(ip route | tr '\n' ';')"
report resolv data "$(tr '\n' ';' < /etc/resolv.conf)"
report addrs data "$(ip -o -4 addr show | awk '{print $2, $4}' | tr '\n' ';')"
check resolve:c2 nslookup c2.mesh.local
check ping:c2-by-name ping -c1 -W5 c2.mesh.local
check ping:red-gateway ping -c1 -W5 10.43.1.1
check egress:world sh -c 'nc -w 5 198.51.100.2 8080 </dev/null | grep -x 198.51.100.1'
check isolated:green sh -c '! ping -c1 -W3 10.44.1.2'
nc -w 5 198.51.100.2 9001 </dev/null
i=0
until nc -w 2 198.51.100.2 9000 </dev/null; do
  i=$((i+1)); [ $i -gt 90 ] && break
  sleep 1
done
check after-restart:c2 ping -c1 -W5 10.42.2.2
check after-restart:world sh -c 'nc -w 5 198.51.100.2 8080 </dev/null | grep -x 198.51.100.1'
"#;

/// A one-shot TCP listener in the lab's world namespace: exits after its
/// first connection.
fn listen_once(lab: &Lab, port: u16) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns("world"), "python3", "-c"])
        .arg(format!(
            "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
             s.bind(('198.51.100.2', {port})); s.listen(4); c, _ = s.accept(); c.close()"
        ))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn python3")
}

/// Whether `child` exited within `timeout`; killed if not.
fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let exited = poll_until(timeout, Duration::from_millis(200), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    exited
}

#[test]
fn a_qemu_guest_gets_two_nics_by_dhcp_and_reaches_what_it_may() {
    require_root!();
    let started = Instant::now();
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    // virtio-net and the virtio PCI transport QEMU's device sits on.
    let modules: Vec<&str> = NETWORK_MODULES
        .iter()
        .copied()
        .chain(["kernel/drivers/virtio"])
        .collect();
    let initramfs = Initramfs::new(&kernel, &modules).unwrap_or_else(|e| panic!("{e}"));
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "world", "c2", "c3"]);
    lab.underlay("h1", "h2");
    let (h1, world) = (lab.ns("h1"), lab.ns("world"));
    sh(&format!(
        "ip link add name uplink netns {h1} type veth peer name eth0 netns {world} && \
         ip -n {h1} addr add 198.51.100.1/24 dev uplink && ip -n {h1} link set uplink up && \
         ip -n {world} addr add 198.51.100.2/24 dev eth0 && ip -n {world} link set eth0 up"
    ));
    lab.fixture("world", &fixture("who_is_it.py"), &["198.51.100.2", "8080"]);
    for h in ["h1", "h2"] {
        lab.start_agent_with(h, &["--host-name", h]);
        lab.network_on(h, "blue", 42);
        lab.network_on(h, "red", 43);
    }
    for (network, octet, port) in [("blue", 42, 51820), ("red", 43, 51821)] {
        lab.peer("h1", "h2", network, octet, port);
        lab.peer("h2", "h1", network, octet, port);
    }
    lab.network_on("h1", "green", 44);
    lab.attach("h2", "blue", "c2", &["--name", "c2"]);
    lab.attach("h1", "green", "c3", &[]);
    let nic0 = lab.weft_json("h1", &["attach", "blue", "--vm", "vm1", "--name", "vm1"]);
    let nic1 = lab.weft_json("h1", &["attach", "red", "--vm", "vm1"]);
    let qemu_args: Vec<String> = lab
        .weft_ok("h1", &["vm", "config", "vm1", "--hypervisor", "qemu"])
        .split_whitespace()
        .map(String::from)
        .collect();
    let config = GuestConfig::lab_vm(qemu_args, h1.clone());
    let mut initramfs = initramfs;
    initramfs.add_dir("etc/udhcpc");
    initramfs.add_bytes("etc/udhcpc/default.script", UDHCPC_SCRIPT, 0o755);
    let guest = Guest {
        kernel,
        initramfs,
        config,
    };
    let mut ready = listen_once(&lab, 9001);
    let booted = std::thread::spawn(move || guest.boot(GUEST_SCRIPT));

    // The guest's first checks are done when it knocks on world:9001; then
    // the agent dies hard and comes back while the guest runs. When the
    // knock never comes, the guest's own report says why.
    let knocked = wait_child(&mut ready, Duration::from_secs(240));
    let tap_index = lab.exec_ok("h1", "cat /sys/class/net/w0-vm1-0/ifindex");
    let mut saw_restart = false;
    if knocked {
        lab.kill_agent("h1");
        lab.start_agent_with("h1", &["--host-name", "h1"]);
        let mut restarted = listen_once(&lab, 9000);
        saw_restart = wait_child(&mut restarted, Duration::from_secs(120));
    }
    let run = booted
        .join()
        .expect("the guest thread")
        .unwrap_or_else(|e| panic!("{e}"));
    if !knocked || !saw_restart {
        eprintln!("--- agent log of h1 ---\n{}", lab.agent_log("h1"));
        run.fail(&format!(
            "the guest {} (results: {:?})",
            if knocked {
                "did not see the restart"
            } else {
                "never finished its first checks"
            },
            run.results
        ));
    }
    run.expect_completed();
    for check in [
        "module:virtio_net",
        "dhcp:eth0",
        "dhcp:eth1",
        "resolve:c2",
        "ping:c2-by-name",
        "ping:red-gateway",
        "egress:world",
        "isolated:green",
        "after-restart:c2",
        "after-restart:world",
    ] {
        run.expect_pass(check);
    }
    // Both addresses as weft assigned them, by DHCP.
    let addrs = run.data("addrs");
    for want in [
        format!("eth0 {}", nic0["address"].as_str().unwrap()),
        format!("eth1 {}", nic1["address"].as_str().unwrap()),
    ] {
        if !addrs.contains(&want) {
            run.fail(&format!("{want} not among the guest's addresses: {addrs}"));
        }
    }
    // One default route, through the first NIC; red's subnet through eth1.
    let routes = run.data("routes");
    let wanted = [
        "default via 10.42.1.1 dev eth0",
        "10.43.0.0/16 via 10.43.1.1 dev eth1",
    ];
    if routes.matches("default").count() != 1 || wanted.iter().any(|w| !routes.contains(w)) {
        run.fail(&format!("the guest's routes: {routes}"));
    }
    let leases = run.data("leases");
    if !leases.contains("mtu=1420") || !leases.contains("domain=mesh.local") {
        run.fail(&format!("the leases: {leases}"));
    }
    let resolv = run.data("resolv");
    if !resolv.contains("nameserver 10.42.1.1") || !resolv.contains("search mesh.local") {
        run.fail(&format!("the guest's resolv.conf: {resolv}"));
    }
    // The restart kept the TAP itself.
    assert_eq!(
        lab.exec_ok("h1", "cat /sys/class/net/w0-vm1-0/ifindex"),
        tap_index,
        "the restart made the TAP again under the running guest"
    );

    // Detach: TAPs gone, addresses free.
    lab.weft_ok("h1", &["detach", "blue", "--id", "vm1"]);
    lab.weft_ok("h1", &["detach", "red", "--id", "vm1"]);
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(!links.contains("vm1-"), "TAPs left: {links}");
    let again = lab.weft_json("h1", &["attach", "blue", "--vm", "vm2"]);
    assert_eq!(again["address"], nic0["address"], "the address was freed");
    lab.weft_ok("h1", &["detach", "blue", "--id", "vm2"]);
    eprintln!("guest run {:?}, test {:?}", run.elapsed, started.elapsed());
    lab.finish();
}
