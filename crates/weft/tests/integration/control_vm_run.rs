//! VMs the control plane has their host run (issue 24, part 3: `run` of
//! `POST /v1/vms`): `weft control serve` and lab host h1. A VM asked for
//! with `hypervisor` left to `auto` runs under QEMU (TCG: what this
//! machine offers) with GET's QEMU arguments, boots the harness's Debian
//! kernel, takes its address by DHCP and answers container c1 on its
//! network; the guest keeps running, its TAP untouched, while the control
//! plane is down and across an agent `kill -9` (not started again: the
//! same supervisor); QEMU killed behind weft's back is reported `killed
//! by signal 9` at the next heartbeat and not started again; `DELETE`
//! removes its state and TAP. With stand-ins
//! for Cloud Hypervisor, Firecracker and QEMU on the agent's `PATH` and
//! KVM said usable, `auto` on the host prefers Cloud Hypervisor, then
//! Firecracker, then QEMU (with KVM), each started with GET's NICs — the
//! recorded arguments and API requests are checked; a kernel the host
//! does not have fails the run, naming `run.kernel`, and so does a file
//! outside the agent's `--vm-files` (a disk of `/etc/shadow`, a link from
//! inside to `/etc/passwd`), its hypervisor never started.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use weft_testkit::guest::{Initramfs, KernelImage, NETWORK_MODULES};
use weft_testkit::*;

use crate::control_common::{self, TenantCurl, TenantPlane};
use crate::mesh_vm::{
    GUEST_INIT, UDHCPC_SCRIPT, cloud_hypervisor_stand_in, executable, firecracker_stand_in,
};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.10";

/// Stops the VMs h1's agent started (their supervisors and hypervisors)
/// when the test ends, whatever it did.
struct StopVms(Vec<PathBuf>);

impl Drop for StopVms {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::process::Command::new(WEFT)
                .args(["service-stop", "--dir"])
                .arg(dir)
                .status();
        }
    }
}

/// The directory h1's agent runs `vm` in.
fn vm_dir(lab: &Lab, vm: &str) -> PathBuf {
    lab.dir.path().join("h1/state/control/vms").join(vm)
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn link(lab: &Lab, dev: &str) -> Option<Value> {
    let out = lab.exec("h1", &format!("ip -j link show dev {dev}"));
    let links: Value = serde_json::from_slice(&out.stdout).ok()?;
    links.get(0).cloned()
}

/// A lab with the control plane in h10, h1 enrolled (its agent booting
/// VMs from `vm_files` only, its environment added to with `env`) and
/// network blue; the agent's arguments.
fn lab_with_h1(
    extra: &[&str],
    vm_files: &[&Path],
    env: &[(&str, &str)],
) -> (Lab, TenantPlane, Vec<String>) {
    let mut lab = Lab::new(WEFT);
    let mut namespaces = vec!["h1", "h10"];
    namespaces.extend_from_slice(extra);
    lab.add_namespaces(namespaces);
    lab.switched_underlay(&["h1", "h10"]);
    let plane = TenantPlane::start(WEFT, &lab, "h10", CP);
    let token = plane.token(WEFT, &[]);
    let url = format!("https://{CP}:50051");
    let mut enroll: Vec<String> =
        control_common::enroll_args("h1", &url, &plane.fingerprint, &token)
            .iter()
            .map(|s| s.to_string())
            .collect();
    for dir in vm_files {
        enroll.extend(["--vm-files".to_string(), dir.display().to_string()]);
    }
    let args: Vec<&str> = enroll.iter().map(String::as_str).collect();
    lab.start_agent_env("h1", &args, env);
    let tenant = plane.tenant.clone();
    wait_until("h1 to enroll", Duration::from_secs(30), || {
        let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
        (hosts.as_array()?.len() == 1).then_some(())
    });
    let body = json!({"name": "blue", "subnet": "10.42.0.0/16"});
    tenant.ok(&lab, "POST", "/v1/networks", Some(body));
    wait_for("blue on h1", Duration::from_secs(20), || {
        let out = lab.weft("h1", &["network", "ls"]).stdout;
        out.windows(4).any(|w| w == b"blue")
    });
    (lab, plane, enroll)
}

/// Create `vm` on h1 with a NIC on blue and `run`; the VM once its
/// host reports its run past `starting`.
fn run_vm(lab: &Lab, tenant: &TenantCurl, vm: &str, run: Value) -> Value {
    let body = json!({"id": vm, "host": "h1", "nics": [{"network": "blue"}], "run": run});
    let (status, created) = tenant.call(lab, "POST", "/v1/vms", Some(body));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["run"]["state"], "pending", "{created}");
    wait_until(&format!("{vm} to run"), Duration::from_secs(60), || {
        let got = tenant.ok(lab, "GET", &format!("/v1/vms/{vm}"), None);
        let state = got["run"]["state"].as_str()?;
        (!["pending", "starting"].contains(&state)).then_some(got)
    })
}

/// Whether `args` holds `part` in order, as one run.
fn holds(args: &[String], part: &[String]) -> bool {
    !part.is_empty() && args.windows(part.len()).any(|w| w == part)
}

fn strings(v: &Value) -> Vec<String> {
    (v.as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_vm_run_by_the_control_plane_boots_under_qemu_reaches_its_network_and_outlives_outages() {
    require_root!();
    if !require_tools(&["curl", "qemu-system-x86_64"]) {
        return;
    }
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    let modules: Vec<&str> = (NETWORK_MODULES.iter().copied())
        .chain(["kernel/drivers/virtio"])
        .collect();
    let mut initramfs = Initramfs::new(&kernel, &modules).unwrap_or_else(|e| panic!("{e}"));
    initramfs.add_bytes("init", GUEST_INIT, 0o755);
    initramfs.add_dir("etc/udhcpc");
    initramfs.add_bytes("etc/udhcpc/default.script", UDHCPC_SCRIPT, 0o755);

    let work = tempfile::Builder::new()
        .prefix("weft-test-vm-run")
        .tempdir()
        .unwrap();
    let kernel_dir = kernel.vmlinuz.parent().unwrap();
    let (mut lab, mut plane, enroll) = lab_with_h1(&["c1"], &[kernel_dir, work.path()], &[]);
    let enroll: Vec<&str> = enroll.iter().map(String::as_str).collect();
    let stop = StopVms(vec![vm_dir(&lab, "vm1")]);
    let tenant = plane.tenant.clone();
    let initrd = work.path().join("initrd.cpio");
    initramfs.write(&initrd).unwrap();
    lab.attach("h1", "blue", "c1", &["--name", "c1"]);

    let run = json!({
        "kernel": kernel.vmlinuz.display().to_string(),
        "initrd": initrd.display().to_string(),
        "cmdline": "console=ttyS0 panic=-1",
        "memory": 256,
    });
    let vm = run_vm(&lab, &tenant, "vm1", run);
    let console = || std::fs::read_to_string(vm_dir(&lab, "vm1").join("console.log"));
    assert_eq!(vm["run"]["state"], "running", "{vm}");
    assert_eq!(vm["run"]["hypervisor"], "auto", "{vm}");
    assert_eq!(vm["run"]["chosen"], "qemu", "{vm}");
    let why = vm["run"]["why"].as_str().unwrap();
    assert!(why.starts_with("auto: qemu (TCG"), "{why}");
    assert!(
        why.contains("cloud-hypervisor: ") && why.contains("firecracker: "),
        "{why}"
    );
    // QEMU runs with GET's arguments for the NIC, under the supervisor.
    let dir = vm_dir(&lab, "vm1");
    let supervisor = std::fs::read_to_string(dir.join("pid")).unwrap();
    let qemu = sh(&format!("pgrep -P {supervisor}"));
    let qemu = qemu.trim();
    let cmdline: Vec<String> = std::fs::read_to_string(format!("/proc/{qemu}/cmdline"))
        .unwrap()
        .split('\0')
        .map(str::to_string)
        .collect();
    assert!(
        holds(&cmdline, &strings(&vm["config"]["qemu"])),
        "{cmdline:?}\n{vm}"
    );
    assert!(holds(&cmdline, &["-m".into(), "256".into()]), "{cmdline:?}");

    // The guest took its address by DHCP: c1 on blue reaches it.
    let guest = vm["nics"][0]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let answers = |lab: &Lab| {
        lab.exec("c1", &format!("ping -c1 -W1 {guest}"))
            .status
            .success()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while !answers(&lab) {
        assert!(
            std::time::Instant::now() < deadline,
            "the guest never answered at {guest}\n--- console ---\n{}",
            console().unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(2));
    }

    // The control plane goes and the agent is killed: the guest runs on,
    // its TAP as it was; the agent back finds it running, starts no other.
    let tap = vm["nics"][0]["tap"].as_str().unwrap().to_string();
    let ifindex = link(&lab, &tap).unwrap()["ifindex"].clone();
    plane.stop();
    lab.kill_agent("h1");
    assert!(
        alive(supervisor.trim()) && alive(qemu),
        "the VM died with its agent"
    );
    assert!(
        answers(&lab),
        "the guest stopped answering with its agent gone"
    );
    lab.start_agent_with("h1", &enroll);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        answers(&lab),
        "the guest stopped answering across the agent's restart"
    );
    let connected = |lab: &Lab| {
        (lab.agent_log("h1")
            .matches("connected to the control plane"))
        .count()
    };
    let before = connected(&lab);
    plane.restart(WEFT, &lab);
    wait_for("h1 to reconnect", Duration::from_secs(90), || {
        connected(&lab) > before
    });
    let vm = tenant.ok(&lab, "GET", "/v1/vms/vm1", None);
    assert_eq!(vm["run"]["state"], "running", "{vm}");
    assert_eq!(
        std::fs::read_to_string(dir.join("pid")).unwrap(),
        supervisor
    );
    assert!(alive(qemu), "QEMU was started again");
    assert_eq!(
        link(&lab, &tap).unwrap()["ifindex"],
        ifindex,
        "the TAP was made again"
    );
    assert!(answers(&lab));

    // QEMU killed behind weft's back: the next heartbeat's report says
    // so, and nothing starts it again.
    sh(&format!("kill -KILL {qemu}"));
    let vm = wait_until("the kill reported", Duration::from_secs(40), || {
        let got = tenant.ok(&lab, "GET", "/v1/vms/vm1", None);
        (got["run"]["state"] == "killed by signal 9").then_some(got)
    });
    assert_eq!(vm["run"]["chosen"], "qemu", "{vm}");
    std::thread::sleep(Duration::from_secs(2));
    let exit = std::fs::read_to_string(dir.join("exit")).unwrap_or_default();
    assert_eq!(exit, "killed by signal 9", "started again");
    assert!(!dir.join("pid").exists(), "started again");

    // Deleted: its directory and TAP gone.
    let (status, _) = tenant.call(&lab, "DELETE", "/v1/vms/vm1", None);
    assert_eq!(status, 204);
    wait_for(
        "the VM's state and TAP to go",
        Duration::from_secs(30),
        || !dir.exists() && link(&lab, &tap).is_none(),
    );
    drop(stop);
    lab.finish();
}

/// The lines of a stand-in's record, once it wrote them.
fn recorded(path: &Path) -> String {
    wait_for_value(
        &format!("{} recorded", path.display()),
        Duration::from_secs(20),
        || std::fs::read_to_string(path).unwrap_or_default(),
        |text| !text.is_empty(),
    )
}

#[test]
fn auto_on_the_vms_host_prefers_cloud_hypervisor_then_firecracker_then_qemu() {
    require_root!();
    if !require_tools(&["curl", "python3"]) {
        return;
    }
    let work = tempfile::Builder::new()
        .prefix("weft-test-vm-run-auto")
        .tempdir()
        .unwrap();
    let d = work.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let (ch_record, fc_record, qemu_record) = (
        d.join("ch.args"),
        d.join("fc.requests"),
        d.join("qemu.args"),
    );
    executable(
        &bin.join("cloud-hypervisor"),
        &cloud_hypervisor_stand_in(&ch_record),
    );
    executable(&bin.join("firecracker"), &firecracker_stand_in(&fc_record));
    executable(
        &bin.join("qemu-system-x86_64"),
        &format!(
            "#!/bin/sh\nif [ -e {0}.fail ]; then echo 'qemu: cannot boot' >&2; exit 3; fi\nprintf '%s\\n' \"$@\" > {0}\nexec sleep 600\n",
            qemu_record.display()
        ),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (lab, plane, _) = lab_with_h1(&[], &[d], &[("PATH", &path), ("WEFT_KVM", "yes")]);
    let stop = StopVms(
        ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .map(|v| vm_dir(&lab, v))
            .collect(),
    );
    let tenant = plane.tenant.clone();
    let kernel = d.join("vmlinuz");
    std::fs::write(&kernel, "not a kernel: the stand-ins only record").unwrap();
    let run = json!({"kernel": kernel.display().to_string(), "memory": 128});

    // Cloud Hypervisor first, with GET's arguments for the NIC.
    let a = run_vm(&lab, &tenant, "a", run.clone());
    assert_eq!(
        (a["run"]["state"].as_str(), a["run"]["chosen"].as_str()),
        (Some("running"), Some("cloud-hypervisor")),
        "{a}"
    );
    let why = a["run"]["why"].as_str().unwrap();
    assert!(why.starts_with("auto: cloud-hypervisor (KVM)"), "{why}");
    assert!(
        why.contains("firecracker: cloud-hypervisor comes first"),
        "{why}"
    );
    let args: Vec<String> = recorded(&ch_record).lines().map(str::to_string).collect();
    let head = [
        "--cpus",
        "boot=1",
        "--memory",
        "size=128M",
        "--console",
        "off",
    ];
    assert_eq!(args[..6], head.map(String::from), "{args:?}");
    assert!(
        holds(&args, &["--kernel".into(), kernel.display().to_string()]),
        "{args:?}"
    );
    assert!(
        holds(&args, &strings(&a["config"]["cloud_hypervisor"])),
        "{args:?}\n{a}"
    );

    // Without it: Firecracker, configured over its API with GET's NIC.
    std::fs::remove_file(bin.join("cloud-hypervisor")).unwrap();
    let b = run_vm(&lab, &tenant, "b", run.clone());
    assert_eq!(
        (b["run"]["state"].as_str(), b["run"]["chosen"].as_str()),
        (Some("running"), Some("firecracker")),
        "{b}"
    );
    let requests: Vec<Value> = (recorded(&fc_record).lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        requests[0],
        json!({"method": "PUT", "path": "/machine-config", "body": {"vcpu_count": 1, "mem_size_mib": 128}})
    );
    assert_eq!(
        requests[1]["body"]["kernel_image_path"],
        kernel.display().to_string()
    );
    let nic = &b["config"]["firecracker"][0];
    assert!(requests.contains(nic), "{requests:?}\n{nic}");
    assert_eq!(
        requests.last().unwrap()["body"]["action_type"],
        "InstanceStart"
    );

    // Without both: QEMU, with KVM.
    std::fs::remove_file(bin.join("firecracker")).unwrap();
    let c = run_vm(&lab, &tenant, "c", run);
    assert_eq!(c["run"]["chosen"], "qemu", "{c}");
    assert!(
        c["run"]["why"]
            .as_str()
            .unwrap()
            .starts_with("auto: qemu (KVM)"),
        "{c}"
    );
    let args: Vec<String> = recorded(&qemu_record).lines().map(str::to_string).collect();
    assert_eq!(args[..2], ["-accel", "kvm"].map(String::from), "{args:?}");
    assert!(
        holds(&args, &strings(&c["config"]["qemu"])),
        "{args:?}\n{c}"
    );

    // A hypervisor that ends: its exit and last words, at the next report.
    std::fs::write(d.join("qemu.args.fail"), "").unwrap();
    run_vm(
        &lab,
        &tenant,
        "e",
        json!({"kernel": kernel.display().to_string()}),
    );
    let e = wait_until("e's exit reported", Duration::from_secs(40), || {
        let got = tenant.ok(&lab, "GET", "/v1/vms/e", None);
        (got["run"]["state"] == "exited 3").then_some(got)
    });
    assert_eq!(e["run"]["error"], "qemu: cannot boot", "{e}");

    // A kernel the host does not have: the run fails, naming it.
    let d_vm = run_vm(
        &lab,
        &tenant,
        "d",
        json!({"kernel": "/nonexistent/vmlinuz"}),
    );
    assert_eq!(d_vm["run"]["state"], "failed", "{d_vm}");
    let error = d_vm["run"]["error"].as_str().unwrap();
    assert!(
        error.contains("run.kernel /nonexistent/vmlinuz does not exist on this host"),
        "{error}"
    );

    // A tenant's key cannot hand a guest a file of the host outside the
    // agent's --vm-files: not as a disk, nor through a link from inside.
    let link = d.join("innocent");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let kernel_text = kernel.display().to_string();
    let attacks = [
        (
            "f",
            json!({"kernel": kernel_text, "rootfs": "/etc/shadow"}),
            "run.rootfs /etc/shadow",
        ),
        (
            "g",
            json!({"kernel": link.display().to_string()}),
            "run.kernel ",
        ),
    ];
    for (vm, run, named) in attacks {
        let got = run_vm(&lab, &tenant, vm, run);
        assert_eq!(got["run"]["state"], "failed", "{got}");
        let error = got["run"]["error"].as_str().unwrap();
        assert!(error.starts_with(named), "{error}");
        assert!(
            error.contains("is not a file in the directories this host runs VMs from"),
            "{error}"
        );
        assert!(
            !vm_dir(&lab, vm).join("started").exists(),
            "{vm}'s hypervisor started"
        );
    }

    // Deleted: every stand-in stopped, with its supervisor.
    let mut pids: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|v| std::fs::read_to_string(vm_dir(&lab, v).join("pid")).unwrap())
        .collect();
    pids.push(std::fs::read_to_string(d.join("ch.args.pid")).unwrap());
    assert!(pids.iter().all(|p| alive(p.trim())), "{pids:?}");
    for vm in ["a", "b", "c", "d", "e", "f", "g"] {
        tenant.ok(&lab, "DELETE", &format!("/v1/vms/{vm}"), None);
    }
    wait_for("the VMs to stop", Duration::from_secs(30), || {
        let gone = ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .all(|v| !vm_dir(&lab, v).exists());
        gone && !pids.iter().any(|p| alive(p.trim()))
    });
    drop(stop);
    lab.finish();
}
