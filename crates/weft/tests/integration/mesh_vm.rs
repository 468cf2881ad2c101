//! `kind: vm` services through `weft up` on a lab host: a real QEMU guest
//! (Debian's kernel, a busybox initramfs; `-accel tcg`) that takes its
//! address by DHCP and answers ping, beside stand-ins for Cloud Hypervisor
//! (an executable that records its arguments) and Firecracker (a server
//! of its API socket that records every request), whose exact arguments
//! and request bodies are checked. A missing hypervisor and one that exits
//! at once are one-line errors that leave no TAP behind; `weft down`
//! stops the VMs and removes their TAPs. The QEMU guest names no
//! hypervisor (`auto`): QEMU with TCG is what this machine offers. With
//! stand-ins on `PATH` and KVM said usable, `auto` prefers Cloud
//! Hypervisor, then Firecracker, then QEMU. Cloud Hypervisor and Firecracker
//! cannot run here (no working KVM); with `/dev/kvm` and the real binaries
//! the same mesh runs them by dropping `binary:`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use weft_testkit::guest::{Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// The guest's /init: virtio-net, DHCP on eth0, then idle.
pub(crate) const GUEST_INIT: &str = r#"#!/bin/sh
/bin/busybox mkdir -p /busybox
/bin/busybox --install -s /busybox
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/busybox
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
ip link set lo up
modprobe virtio_pci
modprobe virtio_net
udhcpc -i eth0 -f -q -n -t 30 -T 2
echo "weft-guest: $(ip -o -4 addr show dev eth0)"
while :; do sleep 60; done
"#;

pub(crate) const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    set -- $staticroutes
    while [ $# -ge 2 ]; do
      if [ "$2" = 0.0.0.0 ]; then ip route add "$1" dev "$interface"
      else ip route add "$1" via "$2" dev "$interface" onlink; fi
      shift 2
    done ;;
esac
exit 0
"#;

/// Cloud Hypervisor's stand-in: records its arguments, one per line, and
/// stays up like a running VM.
pub(crate) fn cloud_hypervisor_stand_in(record: &Path) -> String {
    format!(
        "#!/bin/sh\necho $$ > {0}.pid\nprintf '%s\\n' \"$@\" > {0}\nexec sleep 600\n",
        record.display()
    )
}

/// Firecracker's stand-in: serves `--api-sock` and records every request
/// (method, path, JSON body) as a JSON line; answers 204 as Firecracker
/// does before boot.
pub(crate) fn firecracker_stand_in(record: &Path) -> String {
    format!(
        r#"#!/usr/bin/env python3
import json, os, socket, sys
path = sys.argv[sys.argv.index("--api-sock") + 1]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(8)
while True:
    conn, _ = server.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(4096)
    method, target, _ = lines[0].split(" ")
    with open({record:?}, "a") as f:
        f.write(json.dumps({{"method": method, "path": target, "body": json.loads(body or b"null")}}) + "\n")
    conn.sendall(b"HTTP/1.1 204 \r\nServer: Firecracker API\r\n\r\n")
    conn.close()
"#,
        record = record.display().to_string()
    )
}

struct Mesh {
    file: std::path::PathBuf,
    state: std::path::PathBuf,
}

impl Mesh {
    fn weft(&self, args: &[&str]) -> Output {
        std::process::Command::new(WEFT)
            .args(args)
            .env("WEFT_MESH_STATE", &self.state)
            .env("WEFT_SOCKET", self.state.join("no-local-agent.sock"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.weft(args), &format!("weft {args:?}"))
    }
    fn file(&self) -> &str {
        self.file.to_str().unwrap()
    }
}

/// Takes the mesh down when dropped, whatever the test did.
struct Down<'a>(&'a Mesh);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.weft(&["down", self.0.file()]);
    }
}

pub(crate) fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    sh(&format!("chmod 755 {}", path.display()));
}

#[test]
fn vms_in_a_mesh_file_run_under_weft_up() {
    require_root!();
    let started = std::time::Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("weft-test-mesh-vm")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let name = format!("v{}", std::process::id());
    let mesh = Mesh {
        file: d.join("mesh.yaml"),
        state: d.join("state"),
    };
    let _down = Down(&mesh);

    // The QEMU guest's kernel and initramfs, as files a mesh names.
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    let modules: Vec<&str> = NETWORK_MODULES
        .iter()
        .copied()
        .chain(["kernel/drivers/virtio"])
        .collect();
    let mut initramfs = Initramfs::new(&kernel, &modules).unwrap_or_else(|e| panic!("{e}"));
    initramfs.add_bytes("init", GUEST_INIT, 0o755);
    initramfs.add_dir("etc/udhcpc");
    initramfs.add_bytes("etc/udhcpc/default.script", UDHCPC_SCRIPT, 0o755);
    let initrd = d.join("initrd.cpio");
    initramfs.write(&initrd).unwrap();
    let (ch_record, fc_record) = (d.join("ch.args"), d.join("fc.requests"));
    let (ch, fc) = (d.join("cloud-hypervisor"), d.join("firecracker"));
    executable(&ch, &cloud_hypervisor_stand_in(&ch_record));
    executable(&fc, &firecracker_stand_in(&fc_record));
    let vmlinuz = kernel.vmlinuz.display().to_string();
    let text = format!(
        "name: {name}\n\
         networks:\n  - name: blue\n    subnet: 10.42.0.0/16\n  - name: red\n    subnet: 10.43.0.0/16\n\
         hosts:\n  - {{name: h1, lab: true}}\n\
         services:\n\
         \x20 - name: vq\n    host: h1\n    kind: vm\n    networks: [blue]\n\
         \x20   kernel: {vmlinuz}\n    initrd: {initrd}\n    cmdline: console=ttyS0 panic=-1\n    memory: 384\n\
         \x20 - name: vc\n    host: h1\n    kind: vm\n    hypervisor: cloud-hypervisor\n    binary: {ch}\n\
         \x20   networks: [blue, red]\n    kernel: {vmlinuz}\n    cmdline: console=ttyS0\n    memory: 256\n    vcpus: 2\n\
         \x20 - name: vf\n    host: h1\n    kind: vm\n    hypervisor: firecracker\n    binary: {fc}\n\
         \x20   networks: [red]\n    kernel: {vmlinuz}\n    disk: {initrd}\n    cmdline: console=ttyS0 reboot=k\n",
        initrd = initrd.display(),
        ch = ch.display(),
        fc = fc.display(),
    );
    std::fs::write(&mesh.file, &text).unwrap();
    let out = mesh.ok(&["up", mesh.file()]);
    assert!(out.contains("change(s) applied"), "{out}");
    // vq names no hypervisor: `auto` takes QEMU here, emulating (this
    // machine's /dev/kvm answers, but its CPU cannot virtualise).
    assert!(
        out.contains("vq: hypervisor auto: qemu (TCG: KVM not usable: "),
        "{out}"
    );
    // `up` waited for the three hypervisors to run (one host: no peers).
    assert!(
        out.contains(&format!(
            "mesh {name} is up: 0/0 peers up, 3/3 services running"
        )),
        "{out}"
    );

    let h1 = format!("weft-{name}-h1");
    let sock = mesh.state.join(&name).join("hosts/h1/agent.sock");
    let atts: Value = serde_json::from_str(&stdout_of(
        std::process::Command::new(WEFT)
            .args([
                "--socket",
                sock.to_str().unwrap(),
                "-o",
                "json",
                "attachments",
            ])
            .output()
            .unwrap(),
        "attachments",
    ))
    .unwrap();
    let nic = |svc: &str, network: &str| -> Value {
        atts.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == format!("weft.{name}.{svc}") && a["network"] == network)
            .unwrap_or_else(|| panic!("no NIC of {svc} on {network}: {atts}"))
            .clone()
    };
    for a in atts.as_array().unwrap() {
        assert_eq!(a["kind"], "vm", "{a}");
    }

    // Cloud Hypervisor: exactly these arguments, NICs in order.
    let (c0, c1) = (nic("vc", "blue"), nic("vc", "red"));
    let service_dir = mesh.state.join(&name).join("services/h1/vc");
    let want: Vec<String> = [
        "--cpus",
        "boot=2",
        "--memory",
        "size=256M",
        "--console",
        "off",
        "--serial",
        &format!("file={}/console.log", service_dir.display()),
        "--kernel",
        &vmlinuz,
        "--cmdline",
        "console=ttyS0",
        "--net",
        &format!(
            "tap={},mac={}",
            c0["host_ifname"].as_str().unwrap(),
            c0["mac"].as_str().unwrap()
        ),
        &format!(
            "tap={},mac={}",
            c1["host_ifname"].as_str().unwrap(),
            c1["mac"].as_str().unwrap()
        ),
    ]
    .map(String::from)
    .to_vec();
    let got: Vec<String> = std::fs::read_to_string(&ch_record)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(got, want);

    // Firecracker: every request, in order, with exactly these bodies.
    let f0 = nic("vf", "red");
    let requests: Vec<Value> = wait_for_value(
        "Firecracker's five requests",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&fc_record)
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        },
        |r| r.len() >= 5,
    );
    assert_eq!(
        requests,
        [
            json!({"method": "PUT", "path": "/machine-config", "body": {"vcpu_count": 1, "mem_size_mib": 512}}),
            json!({"method": "PUT", "path": "/boot-source", "body": {"kernel_image_path": vmlinuz, "boot_args": "console=ttyS0 reboot=k"}}),
            json!({"method": "PUT", "path": "/drives/rootfs", "body": {"drive_id": "rootfs", "path_on_host": initrd.display().to_string(), "is_root_device": true, "is_read_only": false}}),
            json!({"method": "PUT", "path": "/network-interfaces/eth0", "body": {"iface_id": "eth0", "host_dev_name": f0["host_ifname"], "guest_mac": f0["mac"]}}),
            json!({"method": "PUT", "path": "/actions", "body": {"action_type": "InstanceStart"}}),
        ]
    );

    // The QEMU guest took its address by DHCP: h1 reaches it.
    let q0 = nic("vq", "blue");
    let guest = q0["address"]
        .as_str()
        .unwrap()
        .trim_end_matches("/32")
        .to_string();
    let answered = poll_until(Duration::from_secs(180), Duration::from_secs(1), || {
        run_sh(&format!("ip netns exec {h1} ping -c1 -W1 {guest}"))
            .status
            .success()
    });
    if !answered {
        let vq = mesh.state.join(&name).join("services/h1/vq");
        let read = |f: &str| std::fs::read_to_string(vq.join(f)).unwrap_or_default();
        panic!(
            "the QEMU guest never answered ping at {guest}\n--- output ---\n{}\n--- console ---\n{}",
            read("output.log"),
            read("console.log")
        );
    }
    let status = mesh.ok(&["status", "--file", mesh.file()]);
    for (svc, hypervisor) in [
        ("vq", "qemu"),
        ("vc", "cloud-hypervisor"),
        ("vf", "firecracker"),
    ] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_default();
        assert!(
            line.contains(&format!(" vm ({hypervisor}) ")) && line.ends_with("running"),
            "{status}"
        );
    }
    let vc_line = status.lines().find(|l| l.starts_with("vc ")).unwrap();
    assert!(
        vc_line.contains(&format!(
            "blue={}",
            c0["address"].as_str().unwrap().trim_end_matches("/32")
        )),
        "{vc_line}"
    );
    // A second `up` with the same file touches no VM.
    let again = mesh.ok(&["up", mesh.file()]);
    assert!(again.contains("no changes"), "{again}");
    assert_eq!(
        std::fs::read_to_string(&fc_record).unwrap().lines().count(),
        5,
        "Firecracker was configured again"
    );
    let refused = mesh.weft(&["exec", "--file", mesh.file(), "vq", "--", "true"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("service vq is a vm"),
        "{refused:?}"
    );

    // Each a one-line error naming it; no TAP of theirs stays.
    // Bad input: a hypervisor that is not there, one that exits at once, a
    // kernel that is not there.
    let quits = d.join("quits").display().to_string();
    executable(&d.join("quits"), "#!/bin/sh\necho no KVM here\nexit 3\n");
    for (binary, kernel, why) in [
        (
            "/nonexistent/qemu",
            vmlinuz.as_str(),
            "hypervisor /nonexistent/qemu is not installed on host h1".to_string(),
        ),
        (
            quits.as_str(),
            vmlinuz.as_str(),
            format!("service vx: {quits} stopped at once: exited with code 3: no KVM here"),
        ),
        (
            "qemu-system-x86_64",
            "/nonexistent/vmlinuz",
            "kernel /nonexistent/vmlinuz does not exist on host h1".to_string(),
        ),
    ] {
        let binary = if binary.starts_with('/') {
            format!("binary: {binary}, ")
        } else {
            String::new()
        };
        let bad = format!(
            "{text}\x20 - {{name: vx, host: h1, kind: vm, hypervisor: qemu, {binary}networks: [blue], kernel: {kernel}}}\n"
        );
        std::fs::write(&mesh.file, bad).unwrap();
        let out = mesh.weft(&["up", mesh.file()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&why), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let links = sh(&format!("ip -n {h1} -br link"));
        assert!(!links.contains("vx-"), "a TAP of vx stayed: {links}");
    }
    std::fs::write(&mesh.file, &text).unwrap();

    // Down: the VMs stop, their TAPs go.
    mesh.ok(&["down", mesh.file()]);
    let pid = std::fs::read_to_string(d.join("ch.args.pid")).unwrap();
    let alive = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    });
    assert!(!alive, "the Cloud Hypervisor stand-in outlived down");
    let left = sh("ip netns list");
    assert!(!left.contains(&h1), "{left}");
    eprintln!("wall time {:?}", started.elapsed());
}

/// `hypervisor: auto` in the order the product says: Cloud Hypervisor
/// when found and KVM is usable, else Firecracker, else QEMU — shown by
/// `weft vm hypervisors` with stand-ins on `PATH` and KVM said usable
/// (`WEFT_KVM=yes`), and by `weft up` launching the stand-in it chose with
/// exactly its arguments.
#[test]
fn auto_prefers_cloud_hypervisor_then_firecracker_then_qemu() {
    require_root!();
    let dir = tempfile::Builder::new()
        .prefix("weft-test-mesh-vm-auto")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let ch_record = d.join("ch.args");
    executable(
        &bin.join("cloud-hypervisor"),
        &cloud_hypervisor_stand_in(&ch_record),
    );
    executable(
        &bin.join("firecracker"),
        &firecracker_stand_in(&d.join("fc.requests")),
    );
    executable(
        &bin.join("qemu-system-x86_64"),
        "#!/bin/sh\nexec sleep 600\n",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let choose = |kvm: &str| -> Value {
        let out = std::process::Command::new(WEFT)
            .args(["vm", "hypervisors", "-o", "json"])
            .env("PATH", &path)
            .env("WEFT_KVM", kvm)
            .output()
            .unwrap();
        serde_json::from_str(&stdout_of(out, "weft vm hypervisors")).unwrap()
    };
    let ch = choose("yes");
    assert_eq!(ch["hypervisor"], "cloud-hypervisor", "{ch}");
    assert_eq!(
        ch["considered"][1]["why"], "cloud-hypervisor comes first",
        "{ch}"
    );
    std::fs::remove_file(bin.join("cloud-hypervisor")).unwrap();
    let fc = choose("yes");
    assert_eq!(fc["hypervisor"], "firecracker", "{fc}");
    assert_eq!(fc["kvm"], true);
    let qemu = choose("no");
    assert_eq!(qemu["hypervisor"], "qemu", "{qemu}");
    assert_eq!(qemu["kvm"], false);
    assert_eq!(
        qemu["considered"][1]["why"],
        "needs KVM, which is not usable: WEFT_KVM=no"
    );
    executable(
        &bin.join("cloud-hypervisor"),
        &cloud_hypervisor_stand_in(&ch_record),
    );

    // `up` settles a VM without `hypervisor:` on that choice, on its host.
    let name = format!("va{}", std::process::id());
    let mesh = Mesh {
        file: d.join("mesh.yaml"),
        state: d.join("state"),
    };
    let _down = Down(&mesh);
    let text = format!(
        "name: {name}\nnetworks: [{{name: blue, subnet: 10.42.0.0/16}}]\nhosts: [{{name: h1, lab: true}}]\n\
         services:\n  - {{name: va, host: h1, kind: vm, networks: [blue], kernel: /boot/vmlinuz-auto, memory: 128}}\n"
    );
    std::fs::write(&mesh.file, text).unwrap();
    let out = std::process::Command::new(WEFT)
        .args(["up", mesh.file()])
        .env("WEFT_MESH_STATE", &mesh.state)
        .env("WEFT_SOCKET", mesh.state.join("no-local-agent.sock"))
        .env("PATH", &path)
        .env("WEFT_KVM", "yes")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The kernel is not there: the launch is refused, naming it — after
    // the choice was made and told.
    assert!(
        stdout.contains("va: hypervisor auto: cloud-hypervisor (KVM)"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("kernel /boot/vmlinuz-auto does not exist on host h1"),
        "{stderr}"
    );
    let kernel = d.join("vmlinuz");
    std::fs::write(&kernel, "not a kernel: the stand-in only records").unwrap();
    let text = std::fs::read_to_string(&mesh.file)
        .unwrap()
        .replace("/boot/vmlinuz-auto", kernel.to_str().unwrap());
    std::fs::write(&mesh.file, text).unwrap();
    let out = std::process::Command::new(WEFT)
        .args(["up", mesh.file()])
        .env("WEFT_MESH_STATE", &mesh.state)
        .env("WEFT_SOCKET", mesh.state.join("no-local-agent.sock"))
        .env("PATH", &path)
        .env("WEFT_KVM", "yes")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    stdout_of(out, "weft up");
    let got = wait_for_value(
        "the stand-in's arguments",
        Duration::from_secs(10),
        || std::fs::read_to_string(&ch_record).unwrap_or_default(),
        |text| !text.is_empty(),
    );
    let args: Vec<&str> = got.lines().collect();
    assert_eq!(
        &args[..6],
        [
            "--cpus",
            "boot=1",
            "--memory",
            "size=128M",
            "--console",
            "off"
        ]
    );
    assert!(
        args.contains(&"--kernel") && args.contains(&kernel.to_str().unwrap()),
        "{got}"
    );
    assert!(args.iter().any(|a| a.starts_with("tap=")), "{got}");
}
