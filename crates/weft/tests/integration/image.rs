//! The container image (scripts/image, from the package's contents, base
//! made here: no registry), run as docs/install.md says. The agent from
//! the image, in a lab host's network namespace (standing in for the
//! host's) with the capabilities it is given there, attaches a workload
//! that then pings a workload on another lab host; the control plane from
//! the image, as a non-root user with only its state volume, answers
//! /v1/openapi.json.

use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;
use weft_testkit::*;

use crate::containers_common::PodmanEnv;
use crate::package_common::{build_package, repo_root};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const IMAGE: &str = "localhost/weft-test-image:latest";

/// A field (`Uid:`, `CapEff:`) of /proc/PID/status, as written there.
fn proc_status(pid: &str, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn the_image_runs_the_agent_and_the_control_plane() {
    require_root!();
    require_tools!("podman", "runc");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1", "c2"]);
    lab.underlay("h1", "h2");
    let podman = PodmanEnv::without_images(&lab.dir.path().join("podman"));
    let deb = build_package(WEFT, &lab.dir.path().join("deb"));
    let made = std::process::Command::new(repo_root().join("scripts/image"))
        .arg(&deb)
        .arg(IMAGE)
        .envs(podman.vars())
        .output()
        .unwrap();
    stdout_of(made, "scripts/image");

    // The agent, as the image's `agent` label runs it, in h1's namespace
    // instead of the host's; its socket where the lab's CLI looks.
    let sockets = lab.dir.path().join("h1");
    let state = lab.dir.path().join("h1-state");
    std::fs::create_dir_all(&sockets).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let label = podman.podman_ok(&["image", "inspect", "-f", "{{.Labels.agent}}", IMAGE]);
    for flag in [
        "--cap-add NET_ADMIN",
        "--device /dev/net/tun",
        "/run/netns:/run/netns:rslave",
    ] {
        assert!(label.contains(flag), "{label}");
    }
    podman.podman_ok(&[
        "run",
        "-d",
        "--name",
        "agent",
        "--network",
        &format!("ns:{}", lab.netns_path("h1")),
        "--pid",
        "host",
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "unmask=/proc/sys",
        "--device",
        "/dev/net/tun",
        "-v",
        &format!("{}:/run/weft", sockets.display()),
        "-v",
        &format!("{}:/var/lib/weft", state.display()),
        "-v",
        "/run/netns:/run/netns:rslave",
        IMAGE,
        "agent",
        "--host-name",
        "h1",
        "--wireguard",
        "userspace",
    ]);
    let socket = sockets.join("agent.sock");
    let listening = poll_until(Duration::from_secs(20), Duration::from_millis(100), || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    assert!(
        listening,
        "the agent from the image does not listen: {}",
        String::from_utf8_lossy(&podman.podman(&["logs", "agent"]).stderr)
    );
    lab.start_agent("h2");
    for host in ["h1", "h2"] {
        lab.network_on(host, "blue", 43);
    }
    lab.peer("h1", "h2", "blue", 43, 51820);
    lab.peer("h2", "h1", "blue", 43, 51820);
    let c1 = lab.attach("h1", "blue", "c1", &[]);
    lab.attach("h2", "blue", "c2", &[]);
    assert_eq!(c1["address"], "10.43.1.2/32");
    let reached = poll_until(Duration::from_secs(20), Duration::from_millis(200), || {
        lab.exec("c1", "ping -c 1 -W 1 10.43.2.2").status.success()
    });
    assert!(
        reached,
        "c1 (attached by the image's agent) cannot reach c2: {}",
        String::from_utf8_lossy(&podman.podman(&["logs", "agent"]).stderr)
    );
    lab.weft_ok("h1", &["detach", "blue", "--id", "c1"]);

    // The control plane, as the image's `control` label runs it: its own
    // user, nothing but its state volume, in h2's namespace.
    let label = podman.podman_ok(&["image", "inspect", "-f", "{{.Labels.control}}", IMAGE]);
    assert!(label.contains("--user weft-control"), "{label}");
    podman.podman_ok(&[
        "run",
        "-d",
        "--name",
        "control",
        "--user",
        "weft-control",
        "--network",
        &format!("ns:{}", lab.netns_path("h2")),
        "-v",
        "weft-control:/var/lib/weft-control",
        IMAGE,
        "control",
        "serve",
        "--listen",
        "192.0.2.2:8443",
        "--grpc",
        "192.0.2.2:50051",
    ]);
    let body = wait_until(
        "the control plane from the image to answer",
        Duration::from_secs(20),
        || {
            let out = lab.exec(
                "h2",
                "curl -sSk --max-time 2 https://192.0.2.2:8443/v1/openapi.json",
            );
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        },
    );
    assert!(body.contains("\"/v1/networks\""), "{body:.200}");
    let pid = podman.podman_ok(&["inspect", "-f", "{{.State.Pid}}", "control"]);
    let pid = pid.trim();
    let uid = proc_status(pid, "Uid:");
    assert!(
        !uid.starts_with("0\t") && !uid.starts_with("0 "),
        "Uid: {uid}"
    );
    assert_eq!(proc_status(pid, "CapEff:"), "0000000000000000");
    // Its state went to the volume, owned by its user, 0700.
    let volume = podman.podman_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "weft-control"]);
    let volume = std::fs::metadata(volume.trim()).unwrap();
    assert_eq!(volume.mode() & 0o777, 0o700);
    assert_eq!(
        volume.uid().to_string(),
        uid.split_whitespace().next().unwrap()
    );

    let _ = podman.podman(&["rm", "-f", "-t", "5", "agent", "control"]);
    drop(podman);
    lab.finish();
}
