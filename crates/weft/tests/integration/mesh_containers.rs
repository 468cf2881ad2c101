//! `weft up` runs containers from images: a three-host lab with two Podman
//! containers on different hosts and a process. The containers reach each
//! other and the process by name, `status --file` shows them running, an
//! unchanged `up` leaves them be, a new command makes one anew, and `down`
//! leaves no container, namespace or address. Also: `up` refuses a missing
//! image, runtime or volume before it changes anything.

use crate::containers_common;

use containers_common::{IMAGE, PodmanEnv, fetch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

struct Mesh<'a> {
    name: String,
    file: PathBuf,
    state: PathBuf,
    podman: &'a PodmanEnv,
}

impl Mesh<'_> {
    fn weft(&self, args: &[&str]) -> Output {
        Command::new(WEFT)
            .args(args)
            .envs(self.podman.vars())
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

    /// `weft exec TARGET -- sh -c CMD`: its output, which must come with
    /// success.
    fn exec(&self, target: &str, cmd: &str) -> String {
        self.ok(&["exec", "--file", self.file(), target, "--", "sh", "-c", cmd])
    }
}

struct Down<'a>(&'a Mesh<'a>);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.weft(&["down", self.0.file()]);
    }
}

fn mesh_file(name: &str, www: &Path, c2_word: &str) -> String {
    format!(
        "name: {name}\n\
         networks:\n  - {{name: blue, subnet: 10.46.0.0/16}}\n\
         hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n  - {{name: h3, lab: true}}\n\
         services:\n\
         \x20 - name: c1\n    host: h1\n    kind: container\n    image: {IMAGE}\n    networks: [blue]\n\
         \x20   env: [GREETING=hello-from-c1]\n    volumes: ['{}:/data:ro']\n\
         \x20   command: [sh, -c, 'mkdir -p /www && cp /data/index.html /www/ && echo \"$GREETING\" > /www/env.txt && exec httpd -f -p 8080 -h /www']\n\
         \x20 - name: c2\n    host: h2\n    kind: container\n    image: {IMAGE}\n    networks: [blue]\n\
         \x20   command: [sh, -c, 'mkdir -p /www && echo {c2_word} > /www/word && exec httpd -f -p 8080 -h /www']\n\
         \x20 - {{name: p, host: h3, kind: process, networks: [blue], ports: [8000], command: [python3, -m, http.server, '8000']}}\n",
        www.display()
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
fn podman_containers_from_images_on_a_lab_mesh() {
    require_root!();
    require_tools!("podman", "runc", "busybox", "python3");
    let dir = tempfile::Builder::new()
        .prefix("weft-test-containers")
        .tempdir()
        .unwrap();
    let podman = PodmanEnv::new(&dir.path().join("podman"));
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "from-the-volume\n").unwrap();
    let mesh = Mesh {
        name: format!("k{}", std::process::id()),
        file: dir.path().join("mesh.yaml"),
        state: dir.path().join("state"),
        podman: &podman,
    };
    let name = mesh.name.clone();
    std::fs::write(&mesh.file, mesh_file(&name, &www, "first")).unwrap();
    let _down = Down(&mesh);

    let out = mesh.ok(&["up", mesh.file()]);
    assert!(out.contains("start container c1 from"), "{out}");
    assert!(out.contains(&format!("mesh {name} is up")), "{out}");
    assert_eq!(podman.containers().len(), 2, "{:?}", podman.containers());
    let labels = podman.podman_ok(&[
        "ps",
        "--filter",
        &format!("label=weft.mesh={name}"),
        "--format",
        "{{.Names}} {{.Labels}}",
    ]);
    assert!(labels.contains(&format!("weft-{name}-c1")), "{labels}");
    assert!(labels.contains("weft.service:c2"), "{labels}");

    // By name: container to container across hosts, container to process,
    // process to container. Env and volume reached the container.
    assert_eq!(
        mesh.exec("c2", &fetch("c1", 8080, "env.txt")).trim(),
        "hello-from-c1"
    );
    assert_eq!(
        mesh.exec("c2", &fetch("c1", 8080, "index.html")).trim(),
        "from-the-volume"
    );
    assert_eq!(mesh.exec("c1", &fetch("c2", 8080, "word")).trim(), "first");
    assert!(
        mesh.exec("c1", &fetch("p", 8000, ""))
            .contains("Directory listing")
    );
    let from_p = mesh.exec(
        "p",
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://c2:8080/word', timeout=3).read().decode())\"",
    );
    assert_eq!(from_p.trim(), "first");

    // Status: both containers run, with their image and runtime.
    let status = mesh.ok(&["status", "--file", mesh.file()]);
    for svc in ["c1", "c2"] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{svc} ")))
            .unwrap_or_else(|| panic!("{svc} missing: {status}"));
        assert!(line.contains("running"), "{line}");
        assert!(
            line.contains(&format!("container {IMAGE} (podman)")),
            "{line}"
        );
    }

    // Unchanged: nothing to do, the same containers keep running.
    let (c1, c2) = (
        podman.id(&format!("weft-{name}-c1")),
        podman.id(&format!("weft-{name}-c2")),
    );
    let again = mesh.ok(&["up", mesh.file()]);
    assert!(again.contains("no changes"), "{again}");
    assert_eq!(podman.id(&format!("weft-{name}-c1")), c1);
    assert_eq!(podman.id(&format!("weft-{name}-c2")), c2);

    // c2 ends (killed here): status says how, and neither its runtime nor
    // the next `up` starts it again behind our back.
    podman.podman_ok(&["kill", &format!("weft-{name}-c2")]);
    let status_of_c2 = || {
        let status = mesh.ok(&["status", "--file", mesh.file()]);
        status
            .lines()
            .find(|l| l.starts_with("c2 "))
            .unwrap_or_default()
            .to_string()
    };
    wait_for_value(
        "c2 to show as exited",
        std::time::Duration::from_secs(20),
        status_of_c2,
        |line| line.contains("exited with code 137"),
    );
    let again = mesh.ok(&["up", mesh.file()]);
    assert!(again.contains("no changes"), "{again}");
    assert!(
        again.contains("exited with code 137"),
        "the summary shows it: {again}"
    );
    assert_eq!(podman.id(&format!("weft-{name}-c2")), c2, "not made anew");
    assert!(status_of_c2().contains("exited with code 137"), "restarted");

    // A new command: c2 is made anew (same address, new container); c1 stays.
    std::fs::write(&mesh.file, mesh_file(&name, &www, "second")).unwrap();
    let changed = mesh.ok(&["up", mesh.file()]);
    assert!(changed.contains("h2: stop service c2"), "{changed}");
    let actions = changed.split("change(s) applied").next().unwrap();
    assert!(!actions.contains("c1"), "c1 untouched: {changed}");
    assert_ne!(podman.id(&format!("weft-{name}-c2")), c2);
    assert_eq!(podman.id(&format!("weft-{name}-c1")), c1);
    assert_eq!(mesh.exec("c1", &fetch("c2", 8080, "word")).trim(), "second");

    // Removed by hand: status says so; the next `up` (asked for) makes it
    // again, and waits until it runs.
    podman.podman_ok(&["rm", "-f", "-t", "0", &format!("weft-{name}-c2")]);
    let status = mesh.ok(&["status", "--file", mesh.file()]);
    let line = status
        .lines()
        .find(|l| l.starts_with("c2 "))
        .expect(&status);
    assert!(line.contains("container removed"), "{line}");
    let again = mesh.ok(&["up", mesh.file()]);
    assert!(again.contains("start container c2"), "{again}");
    assert!(again.contains("3/3 services running"), "{again}");

    // Down: no container, namespace or address left.
    let out = mesh.ok(&["down", mesh.file()]);
    assert!(out.contains("removed"), "{out}");
    assert!(podman.containers().is_empty(), "{:?}", podman.containers());
    assert!(leftovers(&name).is_empty(), "left: {:?}", leftovers(&name));
    let addresses = sh("ip -br addr");
    assert!(!addresses.contains("10.46."), "{addresses}");
}

/// A missing image, a runtime that is not installed, a volume whose host
/// path does not exist: one line naming the service and the key, and
/// nothing made (no lab namespace, no state).
#[test]
fn container_input_the_host_cannot_run_is_refused_before_any_change() {
    require_root!();
    require_tools!("podman", "runc", "busybox");
    let dir = tempfile::Builder::new()
        .prefix("weft-test-containers-bad")
        .tempdir()
        .unwrap();
    let podman = PodmanEnv::new(&dir.path().join("podman"));
    // A PATH on which docker is not found, whatever this machine has.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["podman", "sh", "ip"] {
        if let Some(path) = which(tool) {
            std::os::unix::fs::symlink(path, bin.join(tool)).unwrap();
        }
    }
    let name = format!("b{}", std::process::id());
    let file = dir.path().join("mesh.yaml");
    let state = dir.path().join("state");
    let up = |service: &str| {
        std::fs::write(
            &file,
            format!(
                "name: {name}\nnetworks: [{{name: blue}}]\nhosts: [{{name: h1, lab: true}}]\n\
                 services:\n  - {{name: ok, host: h1, kind: container, networks: [blue]}}\n  - {service}\n"
            ),
        )
        .unwrap();
        Command::new(WEFT)
            .args(["up", file.to_str().unwrap()])
            .envs(podman.vars())
            .env("PATH", &bin)
            .env("WEFT_MESH_STATE", &state)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let cases = [
        (
            "{name: web, host: h1, kind: container, image: 'localhost/no-such-image:1', networks: [blue]}",
            "service web (services[1].image): image \"localhost/no-such-image:1\" is not on host h1 and cannot be pulled: \
             localhost/ images are made on their host: podman build, import or load it there first",
        ),
        (
            "{name: web, host: h1, kind: container, image: 'localhost/weft-test-bb:latest', runtime: docker, networks: [blue]}",
            "service web (services[1].runtime): docker is not installed on host h1",
        ),
        (
            "{name: web, host: h1, kind: container, image: 'localhost/weft-test-bb:latest', volumes: ['/nonexistent/weft:/data'], networks: [blue]}",
            "service web (services[1].volumes[0]): /nonexistent/weft does not exist on host h1",
        ),
        (
            "{name: web, host: h1, kind: container, image: 'localhost/weft-test-bb:latest', env: [DEBUG], networks: [blue]}",
            "services[1].env[0]: \"DEBUG\" is not KEY=VALUE",
        ),
    ];
    for (service, says) in cases {
        let out = up(service);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{service}: accepted");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(says),
            "{service}:\n  {stderr}\n  wanted {says}"
        );
        assert!(
            leftovers(&name).is_empty(),
            "{service}: made {:?}",
            leftovers(&name)
        );
        assert!(
            !state.join(&name).join("hosts").exists(),
            "{service}: a lab host was made"
        );
    }
    assert!(podman.containers().is_empty());
}
