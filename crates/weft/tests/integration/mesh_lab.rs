//! `weft up` on a lab: hosts are namespaces this machine makes. Services
//! reach by name every service they share a network with and none they
//! don't; a second `up` changes nothing; a fourth host changes nothing for
//! the others; a process's exit shows in status; `down` leaves nothing.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::path::Path;
use std::process::Output;
use std::time::Duration;

pub(crate) struct Mesh {
    pub name: String,
    pub file: std::path::PathBuf,
    pub state: std::path::PathBuf,
}

/// Takes the mesh down when dropped, whatever the test did.
pub(crate) struct Down<'a>(pub &'a Mesh);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.weft(&["down", self.0.file.to_str().unwrap()]);
    }
}

impl Mesh {
    /// A mesh named `name` whose file and state live in a new temporary
    /// directory (returned too: it must outlive the mesh).
    pub fn in_tempdir(prefix: &str, name: String) -> (tempfile::TempDir, Mesh) {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let mesh = Mesh {
            name,
            file: dir.path().join("mesh.yaml"),
            state: dir.path().join("state"),
        };
        (dir, mesh)
    }

    pub fn weft(&self, args: &[&str]) -> Output {
        std::process::Command::new(WEFT)
            .args(args)
            .env("WEFT_MESH_STATE", &self.state)
            .env("WEFT_SOCKET", self.state.join("no-local-agent.sock"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.weft(args), &format!("weft {args:?}"))
    }

    pub fn up(&self) -> String {
        self.ok(&["up", self.file.to_str().unwrap()])
    }

    pub fn exec(&self, target: &str, cmd: &str) -> bool {
        self.weft(&[
            "exec",
            "--file",
            self.file.to_str().unwrap(),
            target,
            "--",
            "sh",
            "-c",
            cmd,
        ])
        .status
        .success()
    }

    /// The line of `weft status --file` about `svc`.
    fn service_status(&self, svc: &str) -> String {
        let text = self.ok(&["status", "--file", self.file.to_str().unwrap()]);
        text.lines()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_default()
            .to_string()
    }

    /// Wait until `svc` has ended the way `how` says.
    fn wait_for_exit(&self, svc: &str, how: &str) {
        wait_for_value(
            &format!("{svc} to end: {how}"),
            Duration::from_secs(45),
            || self.service_status(svc),
            |status| status.contains(how),
        );
    }

    /// Service `name`'s first address, as `weft status --file` shows it.
    pub fn service_address(&self, name: &str) -> String {
        let text = self.ok(&[
            "status",
            "--file",
            self.file.to_str().unwrap(),
            "-o",
            "json",
        ]);
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["addresses"][0]["address"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no service {name}: {doc}"))
    }

    /// The JSON of `weft -o json ARGS` against lab host `host`'s agent.
    pub fn agent_json(&self, host: &str, args: &[&str]) -> serde_json::Value {
        let sock = (self.state.join(&self.name).join("hosts"))
            .join(host)
            .join("agent.sock");
        let out = std::process::Command::new(WEFT)
            .args(["--socket", sock.to_str().unwrap(), "-o", "json"])
            .args(args)
            .output()
            .unwrap();
        serde_json::from_str(&stdout_of(out, &format!("{host}: weft {args:?}"))).unwrap()
    }

    fn keys_and_addresses(&self, hosts: &[&str]) -> String {
        hosts
            .iter()
            .map(|h| {
                let nets = self.agent_json(h, &["network", "ls"]);
                let atts = self.agent_json(h, &["attachments"]);
                let nets: Vec<String> = nets
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| {
                        format!(
                            "{} {} {} {}",
                            n["name"], n["block"], n["listen_port"], n["public_key"]
                        )
                    })
                    .collect();
                let atts: Vec<String> = atts
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| format!("{} {}", a["id"], a["address"]))
                    .collect();
                format!("{h}: {nets:?} {atts:?}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn file(name: &str, fourth: bool) -> String {
    let mut text = format!(
        "name: {name}\n\
         networks:\n  - name: blue\n    subnet: 10.42.0.0/16\n  - name: red\n    subnet: 10.43.0.0/16\n\
         hosts:\n"
    );
    if fourth {
        // A new host first in the file: nothing changes for the others.
        text.push_str("  - {name: h4, lab: true}\n");
    }
    text.push_str(
        "  - {name: h1, lab: true}\n  - {name: h2, lab: true}\n  - {name: h3, lab: true}\n\
         services:\n\
         \x20 - {name: a, host: h1, kind: process, networks: [blue], ports: [8080], command: [python3, -m, http.server, '8080']}\n\
         \x20 - {name: b, host: h2, kind: container, networks: [blue, red]}\n\
         \x20 - {name: c, host: h3, kind: process, networks: [red], ports: [8081], command: [python3, -m, http.server, '8081']}\n\
         \x20 - {name: e, host: h3, kind: process, network: dual, networks: [blue], ports: [7070], command: [python3, -m, http.server, '7070']}\n\
         \x20 - {name: job, host: h1, kind: process, networks: [blue], command: [sh, -c, 'sleep 25; exit 3']}\n",
    );
    if fourth {
        text.push_str("  - {name: f, host: h4, kind: container, networks: [blue]}\n");
    }
    text
}

fn http(port: u16, host: &str) -> String {
    format!(
        "python3 -c \"import urllib.request; urllib.request.urlopen('http://{host}:{port}/', timeout=3)\""
    )
}

fn leftovers(name: &str) -> Vec<String> {
    let prefix = format!("weft-{name}-");
    let mut left: Vec<String> = sh("ip netns list")
        .lines()
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
    left
}

#[test]
fn a_lab_mesh_up_and_down() {
    require_root!();
    let (_dir, mesh) = Mesh::in_tempdir("weft-test-mesh", format!("t{}", std::process::id()));
    let name = mesh.name.clone();
    // Whatever happens, take the mesh down at the end.
    let _down = Down(&mesh);
    std::fs::write(&mesh.file, file(&name, false)).unwrap();
    let out = mesh.up();
    assert!(out.contains("change(s) applied"), "{out}");

    // By name, over WireGuard, through each service's network's DNS.
    let reach = |from: &str, cmd: &str| mesh.exec(from, cmd);
    assert!(reach("a", "ping -c1 -W3 b"), "a -> b (blue)");
    assert!(reach("b", &http(8080, "a")), "b -> a:8080 (blue)");
    assert!(reach("b", &http(8081, "c")), "b -> c:8081 (red)");
    assert!(reach("c", "ping -c1 -W3 b"), "c -> b (red)");
    assert!(reach("a", &http(7070, "e")), "a -> e:7070 (blue)");
    assert!(
        reach("a", &http(7070, "h3")),
        "e's port published on h3 (dual)"
    );
    // …and none they don't: a and c share no network.
    assert!(!reach("a", "ping -c1 -W2 c"), "a must not resolve c");
    let c_addr = mesh.service_address("c");
    assert!(
        !reach("a", &format!("ping -c1 -W2 {c_addr}")),
        "a must not reach c's address"
    );
    assert!(
        reach("b", &format!("ping -c1 -W2 {c_addr}")),
        "control: b reaches c's address"
    );
    // The real `wg` inside a lab host.
    let wg = mesh.weft(&[
        "exec",
        "--file",
        mesh.file.to_str().unwrap(),
        "h1",
        "--",
        "wg",
        "show",
        "wg0",
    ]);
    let wg = String::from_utf8_lossy(&wg.stdout);
    assert_eq!(wg.matches("peer:").count(), 2, "{wg}");
    assert!(wg.contains("latest handshake"), "{wg}");

    // Again: nothing to do.
    let again = mesh.up();
    assert!(again.contains("no changes"), "{again}");

    // The job's exit shows in status, and nothing restarts it.
    let status_of = |svc: &str| mesh.service_status(svc);
    mesh.wait_for_exit("job", "exited with code 3");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        status_of("job").contains("exited with code 3"),
        "restarted behind our back"
    );
    assert!(status_of("a").contains("running"));
    let table = mesh.ok(&["status", "--file", mesh.file.to_str().unwrap()]);
    assert!(table.contains("healthy"), "{table}");

    // A fourth host, first in the file: the others keep keys, blocks, ports
    // and addresses; the new one is reachable.
    let before = mesh.keys_and_addresses(&["h1", "h2", "h3"]);
    std::fs::write(&mesh.file, file(&name, true)).unwrap();
    mesh.up();
    let after = mesh.keys_and_addresses(&["h1", "h2", "h3"]);
    assert_eq!(after, before);
    assert!(reach("a", "ping -c1 -W3 f"), "a -> f on the new host");
    assert!(reach("f", &http(8080, "a")), "f -> a");

    // Down: nothing left.
    let out = mesh.ok(&["down", mesh.file.to_str().unwrap()]);
    assert!(out.contains("removed"), "{out}");
    assert!(leftovers(&name).is_empty(), "left: {:?}", leftovers(&name));
    assert!(
        !Path::new(&mesh.state).join(&name).exists(),
        "mesh state left"
    );
    let procs = run_sh(&format!("pgrep -af '{}'", mesh.state.display()));
    let procs = String::from_utf8_lossy(&procs.stdout);
    assert!(
        procs.lines().all(|l| l.contains("pgrep")),
        "processes left: {procs}"
    );
}

/// A process that ends runs once per definition: not once per planning
/// round of `up`, not again on the next `up` (which says `no changes`),
/// and once more when its definition changes.
#[test]
fn an_ended_process_runs_once_per_definition() {
    if !require_root() {
        return;
    }
    let (dir, mesh) = Mesh::in_tempdir("weft-test-mesh-once", format!("o{}", std::process::id()));
    let name = mesh.name.clone();
    let _down = Down(&mesh);
    let runs = dir.path().join("runs");
    let write_file = |word: &str| {
        let text = format!(
            "name: {name}\n\
             networks:\n  - {{name: blue, subnet: 10.44.0.0/16}}\n\
             hosts:\n  - {{name: h1, lab: true}}\n\
             services:\n  - {{name: once, host: h1, kind: process, networks: [blue], \
             command: [sh, -c, 'echo {word} >> {}']}}\n",
            runs.display()
        );
        std::fs::write(&mesh.file, text).unwrap();
    };
    let count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    write_file("first");
    let out = mesh.up();
    assert!(out.contains("change(s) applied"), "{out}");
    mesh.wait_for_exit("once", "exited with code 0");
    assert_eq!(count(), ["first"], "one run for the first up");

    // Unchanged: nothing to do, although the process has ended.
    let again = mesh.up();
    assert!(again.contains("no changes"), "{again}");
    std::thread::sleep(Duration::from_secs(1));
    mesh.wait_for_exit("once", "exited with code 0");
    assert_eq!(count(), ["first"], "not run again by an unchanged up");

    // A new definition runs once.
    write_file("second");
    let changed = mesh.up();
    assert!(changed.contains("start process once"), "{changed}");
    mesh.wait_for_exit("once", "exited with code 0");
    assert_eq!(count(), ["first", "second"]);

    let out = mesh.ok(&["down", mesh.file.to_str().unwrap()]);
    assert!(out.contains("removed"), "{out}");
    assert!(leftovers(&name).is_empty(), "left: {:?}", leftovers(&name));
}

/// `mode: vxlan` in a mesh file: `up` gives every host an FDB entry for
/// each other host (on the underlay, or on the WireGuard network the
/// segment runs `over`), containers on different hosts share the segment,
/// and a second `up` changes nothing.
#[test]
fn a_lab_mesh_with_vxlan_segments() {
    require_root!();
    let (_dir, mesh) = Mesh::in_tempdir("weft-test-mesh-vx", format!("v{}", std::process::id()));
    let name = mesh.name.clone();
    let _down = Down(&mesh);
    let text = format!(
        "name: {name}\n\
         networks:\n\
         \x20 - {{name: blue, subnet: 10.45.0.0/16}}\n\
         \x20 - {{name: lan, mode: vxlan, vni: 4100, subnet: 10.51.0.0/16}}\n\
         \x20 - {{name: sec, mode: vxlan, vni: 4300, over: blue, subnet: 10.61.0.0/16}}\n\
         hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n  - {{name: h3, lab: true}}\n\
         services:\n\
         \x20 - {{name: x, host: h1, kind: container, networks: [lan, sec]}}\n\
         \x20 - {{name: y, host: h3, kind: container, networks: [lan, sec]}}\n"
    );
    std::fs::write(&mesh.file, text).unwrap();
    let out = mesh.up();
    assert!(out.contains("change(s) applied"), "{out}");
    let fdb = |host: &str, dev: &str| {
        let ns = format!("weft-{name}-{host}");
        let out = sh(&format!("ip netns exec {ns} bridge -j fdb show dev {dev}"));
        let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut dsts: Vec<String> = entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["mac"] == "00:00:00:00:00:00")
            .map(|e| e["dst"].as_str().unwrap().to_string())
            .collect();
        dsts.sort();
        dsts
    };
    // lan floods to the other hosts' underlay addresses, sec to their
    // addresses on blue.
    let lan = fdb("h2", "weft-vx0");
    assert_eq!(lan.len(), 2, "{lan:?}");
    assert!(lan.iter().all(|d| d.starts_with("198.18.0.")), "{lan:?}");
    assert_eq!(fdb("h2", "weft-vx1"), ["10.45.0.1", "10.45.2.1"]);
    // Containers on h1 and h3 reach each other on both segments, by name.
    assert!(mesh.exec("x", "ping -c1 -W3 y"), "x -> y on lan");
    let status = mesh.ok(&[
        "status",
        "--file",
        mesh.file.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    let y_sec = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "y")
        .and_then(|s| {
            s["addresses"]
                .as_array()?
                .iter()
                .find(|a| a["network"] == "sec")
                .map(|a| a["address"].as_str().unwrap().to_string())
        })
        .unwrap();
    assert!(
        mesh.exec("x", &format!("ping -c1 -W3 {y_sec}")),
        "x -> y on sec"
    );
    let again = mesh.up();
    assert!(again.contains("no changes"), "{again}");
    // Status by host: h1's VTEPs on lan are h2 and h3, healthy once probed.
    wait_for("h1's VTEPs healthy", Duration::from_secs(20), || {
        let text = mesh.ok(&["status", "--file", mesh.file.to_str().unwrap()]);
        let vteps: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("h1 ") && l.contains(" lan "))
            .collect();
        vteps.len() == 2
            && vteps.iter().all(|l| l.contains(" healthy"))
            && vteps.iter().any(|l| l.contains(" h2 "))
            && vteps.iter().any(|l| l.contains(" h3 "))
    });
    let out = mesh.ok(&["down", mesh.file.to_str().unwrap()]);
    assert!(out.contains("removed"), "{out}");
    assert!(leftovers(&name).is_empty(), "left: {:?}", leftovers(&name));
}
