//! `weft up` with a host over SSH: a namespace plays the remote machine,
//! running an OpenSSH server the test starts (its /var/lib/weft, /run/weft
//! and /run/wireguard private to it); `up` installs weft there, starts its
//! agent, and the mesh works across it — a process and a container run
//! from an image by the remote machine's Podman, over the same connection,
//! beside a container on this machine.

use crate::containers_common;

use containers_common::{IMAGE, PodmanEnv, fetch};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn up_over_ssh() {
    require_root!();
    require_tools!("podman", "runc", "busybox");
    if which("sshd").is_none() && !std::path::Path::new("/usr/sbin/sshd").exists() {
        skip("needs openssh-server (scripts/deps installs it)");
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_netns("here");
    lab.add_netns("there");
    lab.underlay("here", "there");
    let dir = lab.dir.path().to_path_buf();
    // Keys: the client's, and the server's host key.
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {0}/id && ssh-keygen -q -t ed25519 -N '' -f {0}/host_key && cp {0}/id.pub {0}/authorized_keys && chmod 600 {0}/authorized_keys",
        dir.display()
    ));
    // Each side's Podman has its own configuration and storage in the
    // test's directory: this machine's through `up`'s environment, the
    // remote one's through the sessions sshd starts.
    let here_podman = PodmanEnv::new(&dir.join("podman-here"));
    let there_podman = PodmanEnv::new(&dir.join("podman-there"));
    let remote_env: Vec<String> = there_podman
        .vars()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.display()))
        .collect();
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port 2222\nListenAddress 192.0.2.2\nHostKey {0}/host_key\nAuthorizedKeysFile {0}/authorized_keys\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {0}/sshd.pid\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nSetEnv {1}\n",
            dir.display(),
            remote_env.join(" ")
        ),
    )
    .unwrap();
    for d in ["/var/lib/weft", "/run/weft", "/run/sshd", "/run/wireguard"] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The "remote machine": sshd in its own mount namespace, where weft's
    // directories are private tmpfs mounts.
    let script = format!(
        "mount -t tmpfs remote /var/lib/weft && mount -t tmpfs remote /run/weft && \
         mount -t tmpfs remote /run/wireguard && exec /usr/sbin/sshd -D -e -f {}/sshd_config",
        dir.display()
    );
    // Entered with nsenter, not `ip netns exec`: that mounts a sysfs of the
    // namespace's own over /sys, hiding the cgroup mounts a real machine
    // has there and its container runtime needs.
    let sshd = Command::new("nsenter")
        .arg(format!("--net={}", lab.netns_path("there")))
        .args([
            "unshare",
            "-m",
            "--propagation",
            "slave",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    lab.keep(sshd);
    wait_for("sshd", Duration::from_secs(10), || {
        lab.exec("here", "sh -c 'echo > /dev/tcp/192.0.2.2/2222' 2>/dev/null").status.success()
            || run_sh(&format!("ip netns exec {} python3 -c \"import socket; socket.create_connection(('192.0.2.2',2222),1)\"", lab.ns("here"))).status.success()
    });
    // This machine's side: an agent in "here" (the `local` host).
    lab.start_agent_with("here", &["--host-name", "here"]);
    let socket = lab.agents["here"].socket.clone();
    let name = format!("s{}", std::process::id());
    let file = dir.join("mesh.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nnetworks:\n  - name: blue\n    subnet: 10.42.0.0/16\nhosts:\n\
             \x20 - {{name: here, local: true, endpoint: 192.0.2.1}}\n\
             \x20 - {{name: there, ssh: 'root@192.0.2.2:2222', identity: {0}/id}}\n\
             services:\n\
             \x20 - {{name: s1, host: here, kind: container, networks: [blue]}}\n\
             \x20 - {{name: s2, host: there, kind: process, networks: [blue], ports: [8080], command: [python3, -m, http.server, '8080']}}\n\
             \x20 - {{name: c1, host: here, kind: container, image: '{IMAGE}', networks: [blue], command: [sh, -c, 'mkdir -p /w && echo here > /w/side && exec httpd -f -p 80 -h /w']}}\n\
             \x20 - {{name: c2, host: there, kind: container, image: '{IMAGE}', networks: [blue], command: [sh, -c, 'mkdir -p /w && echo there > /w/side && exec httpd -f -p 80 -h /w']}}\n",
            dir.display()
        ),
    )
    .unwrap();
    // `weft up` runs in "here"'s network namespace but this machine's mount
    // namespace (nsenter, not `ip netns exec`), as it would on a real host.
    let here_netns = lab.netns_path("here");
    let weft = |args: &[&str]| {
        Command::new("nsenter")
            .arg(format!("--net={here_netns}"))
            .arg(WEFT)
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .envs(here_podman.vars())
            .env("WEFT_MESH_STATE", dir.join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = weft(args);
        assert!(
            out.status.success(),
            "weft {args:?}: {}{}\nsshd: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let f = file.to_str().unwrap();
    // Whatever fails, take the mesh down on both sides while sshd still runs.
    let down_on_failure = OnDrop(|| drop(weft(&["down", f])));
    let out = ok(&["up", f]);
    assert!(
        out.contains("install weft and start its agent over ssh"),
        "{out}"
    );
    // The agent on the remote side runs weft's copy, in the remote namespace.
    let remote = lab.exec("there", "pgrep -af '/var/lib/weft/bin/weft agent'");
    assert!(
        String::from_utf8_lossy(&remote.stdout).contains("--host-name there"),
        "no remote agent"
    );

    // Across the tunnel, by name: s1 (here) fetches from s2 (there).
    let s1_fetch = "python3 -c \"import urllib.request; urllib.request.urlopen('http://s2:8080/', timeout=3)\"";
    wait_for(
        "s1 to reach s2 over the mesh",
        Duration::from_secs(20),
        || {
            weft(&["exec", "--file", f, "s1", "--", "sh", "-c", s1_fetch])
                .status
                .success()
        },
    );
    let status = ok(&["status", "--file", f]);
    assert!(
        status.contains("there") && status.contains("healthy"),
        "{status}"
    );
    assert!(
        status.contains("s2") && status.contains("running"),
        "{status}"
    );
    // The containers: each on its side's Podman (the remote one driven over
    // the SSH connection), reaching each other and the process by name.
    let exec = |target: &str, cmd: &str| ok(&["exec", "--file", f, target, "--", "sh", "-c", cmd]);
    assert_eq!(exec("c1", &fetch("c2", 80, "side")).trim(), "there");
    assert_eq!(exec("c2", &fetch("c1", 80, "side")).trim(), "here");
    assert!(exec("c2", &fetch("s2", 8080, "")).contains("Directory listing"));
    assert_eq!(here_podman.containers(), [format!("weft-{name}-c1")]);
    assert_eq!(there_podman.containers(), [format!("weft-{name}-c2")]);
    for svc in ["c1", "c2"] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_else(|| panic!("{svc}: {status}"));
        assert!(
            line.contains("running") && line.contains("(podman)"),
            "{line}"
        );
    }
    let c2 = there_podman.id(&format!("weft-{name}-c2"));
    assert!(ok(&["up", f]).contains("no changes"));
    assert_eq!(
        there_podman.id(&format!("weft-{name}-c2")),
        c2,
        "left running"
    );

    // Down removes what up made on both sides.
    ok(&["down", f]);
    std::mem::forget(down_on_failure);
    let nets = lab.exec_ok(
        "here",
        &format!("{WEFT} --socket {} network ls", socket.display()),
    );
    assert!(!nets.contains("blue"), "{nets}");
    let remote_nets = lab.exec_ok("there", "ip -br link");
    assert!(
        !remote_nets.contains("wg0"),
        "remote interface left: {remote_nets}"
    );
    assert!(!std::path::Path::new(&format!("/etc/netns/weft-{name}-s2")).exists());
    assert!(
        here_podman.containers().is_empty(),
        "{:?}",
        here_podman.containers()
    );
    assert!(
        there_podman.containers().is_empty(),
        "{:?}",
        there_podman.containers()
    );
    lab.finish();
}

/// Runs its closure when dropped.
struct OnDrop<F: Fn()>(F);

impl<F: Fn()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
