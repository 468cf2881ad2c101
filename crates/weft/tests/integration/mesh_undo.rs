//! A failed `weft up` leaves nothing it made, and `weft down` leaves no
//! service namespace. The failure is a `kind: vm` service whose
//! "hypervisor" exits at once (deterministic, no network, no KVM): on a
//! first `up` of a lab mesh nothing stays (no namespace, no process, no
//! state); on an `up` that grows a running mesh the mesh stays exactly as
//! it was and answers; `down` removes a service namespace whose service
//! directory is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

struct Mesh {
    name: String,
    file: PathBuf,
    state: PathBuf,
    /// A "hypervisor" that says why and exits with 3 at once.
    quits: PathBuf,
}

impl Mesh {
    /// A mesh named `<prefix><pid>`, its file and state in a new temporary
    /// directory (returned too: it must outlive the mesh).
    fn in_tempdir(prefix: &str) -> (tempfile::TempDir, Mesh) {
        let dir = tempfile::Builder::new()
            .prefix(&format!("weft-test-mesh-{prefix}"))
            .tempdir()
            .unwrap();
        let quits = dir.path().join("quits");
        std::fs::write(&quits, "#!/bin/sh\necho no KVM here\nexit 3\n").unwrap();
        sh(&format!("chmod 755 {}", quits.display()));
        let mesh = Mesh {
            name: format!("{prefix}{}", std::process::id()),
            file: dir.path().join("mesh.yaml"),
            state: dir.path().join("state"),
            quits,
        };
        (dir, mesh)
    }

    fn weft(&self, args: &[&str]) -> Output {
        Command::new(WEFT)
            .args(args)
            .env("WEFT_MESH_STATE", &self.state)
            .env("WEFT_SOCKET", self.state.join("no-local-agent.sock"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.weft(args), &format!("weft {args:?}"))
    }

    fn file(&self) -> &str {
        self.file.to_str().unwrap()
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.file, text).unwrap();
    }

    /// `weft up` that must fail: its one-line error.
    fn up_fails(&self) -> String {
        let out = self.weft(&["up", self.file()]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "up did not fail:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err
    }

    /// The error of the failing service, as `up` says it.
    fn vx_error(&self) -> String {
        format!(
            "service vx: {} stopped at once: exited with code 3: no KVM here",
            self.quits.display()
        )
    }

    /// A service `vx` on `host` whose start fails after its attach.
    fn failing_vm(&self, host: &str) -> String {
        format!(
            "\x20 - {{name: vx, host: {host}, kind: vm, hypervisor: qemu, binary: {q}, networks: [blue], kernel: {q}}}\n",
            q = self.quits.display()
        )
    }

    /// What a lab host's agent has: networks (key, block, port), peers,
    /// attachments and the mesh's DNS names.
    fn agent_state(&self, host: &str) -> String {
        let sock = self
            .state
            .join(&self.name)
            .join("hosts")
            .join(host)
            .join("agent.sock");
        let get = |args: &[&str]| -> serde_json::Value {
            let out = Command::new(WEFT)
                .args(["--socket", sock.to_str().unwrap(), "-o", "json"])
                .args(args)
                .output()
                .unwrap();
            serde_json::from_str(&stdout_of(out, &format!("{host}: weft {args:?}"))).unwrap()
        };
        let mut lines = vec![];
        for n in get(&["network", "ls"]).as_array().unwrap() {
            let net = n["name"].as_str().unwrap();
            lines.push(format!(
                "network {net} {} {} {}",
                n["block"], n["listen_port"], n["public_key"]
            ));
            for p in get(&["peer", "ls", net]).as_array().unwrap() {
                lines.push(format!(
                    "  peer {} {} {}",
                    p["public_key"], p["endpoint"], p["allowed_ips"]
                ));
            }
            lines.push(format!(
                "  names {}",
                get(&["names", "get", net, "--source", "mesh"])
            ));
        }
        for a in get(&["attachments"]).as_array().unwrap() {
            lines.push(format!(
                "attachment {} {} {}",
                a["network"], a["id"], a["address"]
            ));
        }
        format!("{host}:\n{}", lines.join("\n"))
    }

    fn plan(&self) -> String {
        std::fs::read_to_string(self.state.join(&self.name).join("plan.json")).unwrap()
    }
}

/// Takes the mesh down when dropped, whatever the test did, and removes
/// what a `weft up` or `down` that misbehaved left, so a failing test
/// leaves nothing either.
struct Down<'a>(&'a Mesh);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.weft(&["down", self.0.file()]);
        for ns in leftovers(&self.0.name) {
            let _ = run_sh(&format!("ip netns del {ns}; rm -rf /etc/netns/{ns}"));
        }
    }
}

/// The mesh's namespaces and `/etc/netns` directories on this machine.
fn leftovers(name: &str) -> Vec<String> {
    let prefix = format!("weft-{name}-");
    let mut left: Vec<String> = sh("ip netns list")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    if let Ok(dirs) = std::fs::read_dir("/etc/netns") {
        left.extend(
            dirs.flatten()
                .filter_map(|d| d.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix)),
        );
    }
    left.sort();
    left.dedup();
    left
}

/// Processes whose command line names `dir` (supervisors, agents).
fn processes_of(dir: &Path) -> Vec<String> {
    let out = run_sh(&format!("pgrep -af '{}'", dir.display()));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_string)
        .collect()
}

fn http(port: u16, host: &str) -> String {
    format!(
        "python3 -c \"import urllib.request; urllib.request.urlopen('http://{host}:{port}/', timeout=3)\""
    )
}

/// A first `up` that fails half-way (networks made on both hosts, `a`
/// started and `b` attached on h2, then `vx` fails) takes back everything:
/// the lab, the service namespaces, the supervisors, the state.
#[test]
fn a_first_up_that_fails_leaves_nothing() {
    require_root!();
    let (_dir, mesh) = Mesh::in_tempdir("ua");
    let _down = Down(&mesh);
    let name = &mesh.name;
    mesh.write(&format!(
        "name: {name}\n\
         networks:\n  - {{name: blue, subnet: 10.42.0.0/16}}\n\
         hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n\
         services:\n\
         \x20 - {{name: a, host: h1, kind: process, networks: [blue], command: [sleep, '600']}}\n\
         \x20 - {{name: b, host: h2, kind: container, networks: [blue]}}\n{}",
        mesh.failing_vm("h2")
    ));
    let err = mesh.up_fails();
    // What failed first, then what was undone.
    let failed = err
        .find(&mesh.vx_error())
        .unwrap_or_else(|| panic!("{err}"));
    let undone = err.find("; undone: ").unwrap_or_else(|| panic!("{err}"));
    assert!(failed < undone, "{err}");
    assert!(!err.contains("could not undo"), "{err}");
    assert!(!err.contains("not undone"), "{err}");
    assert!(leftovers(name).is_empty(), "left: {:?}", leftovers(name));
    assert!(
        !mesh.state.join(name).exists(),
        "mesh state left: {}",
        sh(&format!("find {}", mesh.state.display()))
    );
    assert!(
        processes_of(&mesh.state).is_empty(),
        "processes left: {:?}",
        processes_of(&mesh.state)
    );
}

/// An `up` that adds a network and two services to a running mesh and
/// fails takes back only what it added: every agent has what it had, the
/// same namespaces exist, the services still answer by name, the applied
/// plan is the old one, and the old file is `no changes`.
#[test]
fn a_failed_up_of_a_running_mesh_leaves_it_as_it_was() {
    require_root!();
    let (_dir, mesh) = Mesh::in_tempdir("ub");
    let _down = Down(&mesh);
    let name = &mesh.name;
    let v1 = format!(
        "name: {name}\n\
         networks:\n  - {{name: blue, subnet: 10.42.0.0/16}}\n\
         hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n\
         services:\n\
         \x20 - {{name: a, host: h1, kind: process, networks: [blue], ports: [8080], command: [python3, -m, http.server, '8080']}}\n\
         \x20 - {{name: b, host: h2, kind: container, networks: [blue]}}\n"
    );
    mesh.write(&v1);
    let out = mesh.ok(&["up", mesh.file()]);
    assert!(out.contains("change(s) applied"), "{out}");
    let snapshot = || {
        (
            format!("{}\n{}", mesh.agent_state("h1"), mesh.agent_state("h2")),
            leftovers(name),
            mesh.plan(),
        )
    };
    let before = snapshot();

    // A new network, a new service on h1 with a namespace on both
    // networks, and vx failing on h2 after all that is done.
    let v2 = v1.replace(
        "networks:\n  - {name: blue, subnet: 10.42.0.0/16}\n",
        "networks:\n  - {name: blue, subnet: 10.42.0.0/16}\n  - {name: red, subnet: 10.43.0.0/16}\n",
    ) + &format!(
        "\x20 - {{name: c, host: h1, kind: container, networks: [blue, red]}}\n{}",
        mesh.failing_vm("h2")
    );
    mesh.write(&v2);
    let err = mesh.up_fails();
    assert!(err.contains(&mesh.vx_error()), "{err}");
    assert!(err.contains("; undone: "), "{err}");
    assert!(!err.contains("could not undo"), "{err}");

    let after = snapshot();
    assert_eq!(after.0, before.0, "the agents' state changed");
    assert_eq!(after.1, before.1, "the mesh's namespaces changed");
    assert_eq!(after.2, before.2, "the applied plan changed");
    assert!(
        mesh.weft(&[
            "exec",
            "--file",
            mesh.file(),
            "b",
            "--",
            "sh",
            "-c",
            &http(8080, "a")
        ])
        .status
        .success(),
        "b no longer reaches a by name"
    );
    mesh.write(&v1);
    let again = mesh.ok(&["up", mesh.file()]);
    assert!(again.contains("no changes"), "{again}");
    wait_for("a still running", Duration::from_secs(10), || {
        mesh.ok(&["status", "--file", mesh.file()])
            .lines()
            .any(|l| l.starts_with("a ") && l.ends_with("running"))
    });
}

/// A service namespace whose service directory is gone (a supervisor
/// state removed by hand, a service that never started) is still the
/// mesh's: `down` removes it and its `/etc/netns` directory.
#[test]
fn down_removes_a_service_namespace_without_its_service_dir() {
    require_root!();
    let (_dir, mesh) = Mesh::in_tempdir("uc");
    let _down = Down(&mesh);
    let name = &mesh.name;
    mesh.write(&format!(
        "name: {name}\n\
         networks:\n  - {{name: blue, subnet: 10.42.0.0/16}}\n\
         hosts:\n  - {{name: h1, lab: true}}\n\
         services:\n  - {{name: a, host: h1, kind: container, networks: [blue]}}\n"
    ));
    mesh.ok(&["up", mesh.file()]);
    let ns = format!("weft-{name}-a");
    assert!(leftovers(name).contains(&ns), "{:?}", leftovers(name));
    // A container without an image is its namespace alone: no process.
    let dir = mesh.state.join(name).join("services/h1/a");
    std::fs::remove_dir_all(&dir).unwrap();

    let out = mesh.ok(&["down", mesh.file()]);
    assert!(out.contains("removed"), "{out}");
    assert!(leftovers(name).is_empty(), "left: {:?}", leftovers(name));
}
