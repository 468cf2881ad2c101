//! A QEMU guest whose NICs come from the control plane (issue 24, part
//! 3): `weft control serve`, lab hosts h1 and h2 of site east, VXLAN
//! networks lan and lan2 of east. `POST /v1/vms` places vm1 on h1 with a
//! NIC on lan; the guest (the harness's Debian kernel under QEMU, TCG)
//! boots with the QEMU arguments `GET /v1/vms/vm1` gives, gets its lease
//! from h1's responder and pings container c2 on h2 by name across lan.
//! While it runs, `POST /v1/vms/vm1/networks` adds a NIC on lan2: its TAP
//! is made on h1, plugged into the running QEMU (its monitor's
//! `netdev_add`/`device_add`, with GET's arguments for it), and the guest
//! sees eth1 appear and gets its lease. Detached through the API, the
//! NIC's TAP goes from h1.

use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};
use weft_testkit::guest::{Guest, GuestConfig, Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

use crate::control_common::{self, TenantCurl, TenantPlane};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.10";
const UDHCPC_SCRIPT: &str = include_str!("../fixtures/udhcpc-default.script");

/// The guest's part: lan's lease and c2 across it, then the NIC plugged
/// in while it runs: wait for eth1, and its lease.
const GUEST_SCRIPT: &str = r#"
mkdir -p /etc/udhcpc
check dhcp:eth0 udhcpc -i eth0 -f -q -n -t 10 -T 2
check ping:c2 sh -c 'for i in 1 2 3 4 5; do ping -c1 -W3 C2_ADDRESS && exit 0; done; exit 1'
check resolve:c2 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do nslookup c2.mesh.local && exit 0; sleep 2; done; exit 1'
check ping:c2-by-name ping -c1 -W5 c2.mesh.local
check hotplug:eth1 sh -c 'i=0; while [ $i -lt 150 ]; do ip link show eth1 >/dev/null 2>&1 && exit 0; sleep 1; i=$((i+1)); done; exit 1'
check dhcp:eth1 udhcpc -i eth1 -f -q -n -t 10 -T 2
report addrs data "$(ip -o -4 addr show | awk '{print $2, $4}' | tr '\n' ';')"
"#;

fn link_exists(lab: &Lab, ns: &str, dev: &str) -> bool {
    lab.exec(ns, &format!("ip link show dev {dev}"))
        .status
        .success()
}

/// The VM once every NIC it has (`nics` of them) is made.
fn made(lab: &Lab, tenant: &TenantCurl, nics: usize) -> Value {
    wait_until("vm1's NICs made on h1", Duration::from_secs(30), || {
        let vm = tenant.ok(lab, "GET", "/v1/vms/vm1", None);
        let all = vm["nics"].as_array()?.len() == nics;
        (all && !vm["config"].is_null()).then_some(vm)
    })
}

/// Say `command` to QEMU's human monitor at `socket`; its answer.
fn monitor(socket: &Path, command: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(format!("{command}\n").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut out = vec![0; 4096];
    let n = s.read(&mut out).unwrap_or(0);
    String::from_utf8_lossy(&out[..n]).into_owned()
}

/// The value after `flag` among QEMU arguments that names `id`.
fn arg_with(args: &[String], flag: &str, id: &str) -> String {
    (args.windows(2))
        .find(|w| w[0] == flag && w[1].contains(id))
        .map(|w| w[1].clone())
        .unwrap_or_else(|| panic!("no {flag} with {id} in {args:?}"))
}

fn strings(v: &Value) -> Vec<String> {
    (v.as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
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
    let lan = json!({"name": "lan", "subnet": "10.50.0.0/16"});
    let lan2 = json!({"name": "lan2", "subnet": "10.51.0.0/16", "domain": "lan2.test"});
    for body in [lan, lan2] {
        tenant.ok(&lab, "POST", "/v1/sites/east/vxlan-networks", Some(body));
    }
    wait_for("lan on h2", Duration::from_secs(20), || {
        let out = lab.weft("h2", &["network", "ls"]).stdout;
        out.windows(3).any(|w| w == b"lan")
    });
    let c2 = lab.attach("h2", "lan", "c2", &["--name", "c2"]);
    let c2_address = c2["address"].as_str().unwrap().split('/').next().unwrap();

    let body = json!({"id": "vm1", "host": "h1", "nics": [{"network": "lan"}]});
    tenant.ok(&lab, "POST", "/v1/vms", Some(body));
    let vm = made(&lab, tenant, 1);
    let socket = lab.dir.path().join("vm1.monitor");
    let mut qemu_args = strings(&vm["config"]["qemu"]);
    qemu_args.extend([
        "-monitor".to_string(),
        format!("unix:{},server=on,wait=off", socket.display()),
    ]);
    let guest = Guest {
        kernel,
        initramfs,
        config: GuestConfig::lab_vm(qemu_args, lab.ns("h1")),
    };
    let script = GUEST_SCRIPT.replace("C2_ADDRESS", c2_address);
    let (run, vm) = std::thread::scope(|scope| {
        // While the guest runs: a NIC on lan2 through the API, plugged in.
        let plug = scope.spawn(|| {
            wait_for("QEMU's monitor", Duration::from_secs(60), || {
                socket.exists()
            });
            let attach = Some(json!({"network": "lan2"}));
            tenant.ok(&lab, "POST", "/v1/vms/vm1/networks", attach);
            let vm = made(&lab, tenant, 2);
            let args = strings(&vm["config"]["qemu"]);
            let said = [
                monitor(
                    &socket,
                    &format!("netdev_add {}", arg_with(&args, "-netdev", "id=net1")),
                ),
                monitor(
                    &socket,
                    &format!("device_add {}", arg_with(&args, "-device", "netdev=net1")),
                ),
            ];
            assert!(!said.iter().any(|s| s.contains("Error")), "{said:?}");
            vm
        });
        let run = guest.boot(&script).unwrap_or_else(|e| panic!("{e}"));
        (run, plug.join().unwrap())
    });
    if !run.completed() || !run.failures().is_empty() {
        eprintln!("--- agent log of h1 ---\n{}", lab.agent_log("h1"));
        eprintln!("--- agent log of h2 ---\n{}", lab.agent_log("h2"));
    }
    run.expect_completed();
    for check in [
        "dhcp:eth0",
        "ping:c2",
        "resolve:c2",
        "ping:c2-by-name",
        "hotplug:eth1",
        "dhcp:eth1",
    ] {
        run.expect_pass(check);
    }
    // The addresses weft assigned (GET's), by DHCP, on the NICs in order.
    let nic = |n: usize, field: &str| vm["nics"][n][field].as_str().unwrap().to_string();
    assert_eq!(
        (nic(0, "ifname"), nic(1, "ifname")),
        ("eth0".into(), "eth1".into())
    );
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
