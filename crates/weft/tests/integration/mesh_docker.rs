//! `weft up` runs a container with Docker (`runtime: docker`): a real
//! `dockerd` (Debian's docker.io) the test starts in a namespace of its own,
//! with its data in the test's directory. Docker cannot join a namespace
//! made beforehand, so its container starts with `--network none` and weft
//! attaches the container's own namespace: it reaches a process on another
//! lab host by name and is reached by it, `status --file` shows it running,
//! `weft exec` runs in it, an unchanged `up` leaves it be, and `down`
//! removes it with its namespace.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const IMAGE: &str = "localhost/weft-test-bb:latest";

/// A dockerd of the test's own: its socket, data and state under `dir`, in
/// network namespace `netns` (it makes no bridge and no iptables rules
/// either way), entered with nsenter so it sees the machine's cgroups.
struct Dockerd {
    dir: PathBuf,
    netns: NamedNetns,
    child: Option<Child>,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        std::fs::create_dir_all(dir).unwrap();
        let netns = NamedNetns::new();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net={}", netns.path().display()))
            .arg("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .args(["--storage-driver", "vfs"])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            // The sandbox refuses raising rlimits (see scripts/deps).
            .args(["--default-ulimit", "nofile=1024:1024"])
            .args(["--default-ulimit", "nproc=1024:1024"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let dockerd = Dockerd {
            dir: dir.to_path_buf(),
            netns,
            child: Some(child),
        };
        wait_for("dockerd to answer", Duration::from_secs(60), || {
            dockerd.docker(&["version"]).status.success()
        });
        dockerd
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.host())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        stdout_of(
            self.docker(args),
            &format!(
                "docker {args:?}\ndockerd: {}",
                std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
            ),
        )
    }

    fn containers(&self) -> Vec<String> {
        self.ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first (their shims outlive the daemon otherwise).
        let names = self.containers();
        if !names.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(names.iter().map(String::as_str));
            let _ = self.docker(&args);
        }
        if let Some(mut child) = self.child.take() {
            let _ = stop_child(&mut child, Duration::from_secs(20));
        }
        let _ = &self.netns;
    }
}

fn busybox_image(dockerd: &Dockerd, dir: &Path) {
    let root = dir.join("image");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    sh(&format!(
        "cp /usr/bin/busybox {0}/bin/ && for c in sh cat echo mkdir hostname httpd wget nslookup \
         awk timeout sleep; do ln -sf busybox {0}/bin/$c; done && tar -C {0} -cf {1} .",
        root.display(),
        dir.join("image.tar").display()
    ));
    dockerd.ok(&["import", dir.join("image.tar").to_str().unwrap(), IMAGE]);
}

struct Mesh<'a> {
    name: String,
    file: PathBuf,
    state: PathBuf,
    dockerd: &'a Dockerd,
}

impl Mesh<'_> {
    fn weft(&self, args: &[&str]) -> Output {
        Command::new(WEFT)
            .args(args)
            .env("DOCKER_HOST", self.dockerd.host())
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

#[test]
fn docker_runs_a_container_whose_namespace_weft_attaches() {
    require_root!();
    require_tools!("dockerd", "docker", "busybox", "python3", "nsenter");
    let dir = tempfile::Builder::new()
        .prefix("weft-test-docker")
        .tempdir()
        .unwrap();
    let dockerd = Dockerd::start(&dir.path().join("docker"));
    busybox_image(&dockerd, dir.path());
    let mesh = Mesh {
        name: format!("d{}", std::process::id()),
        file: dir.path().join("mesh.yaml"),
        state: dir.path().join("state"),
        dockerd: &dockerd,
    };
    let name = mesh.name.clone();
    std::fs::write(
        &mesh.file,
        format!(
            "name: {name}\nnetworks: [{{name: blue, subnet: 10.48.0.0/16}}]\n\
             hosts: [{{name: h1, lab: true}}, {{name: h2, lab: true}}]\n\
             services:\n\
             \x20 - {{name: d, host: h1, kind: container, runtime: docker, image: '{IMAGE}', networks: [blue], \
             env: [WORD=docker-here], command: [sh, -c, 'mkdir -p /w && echo $WORD > /w/word && exec httpd -f -p 8080 -h /w']}}\n\
             \x20 - {{name: p, host: h2, kind: process, networks: [blue], ports: [8000], command: [python3, -m, http.server, '8000']}}\n"
        ),
    )
    .unwrap();
    let _down = Down(&mesh);

    let out = mesh.ok(&["up", mesh.file()]);
    // Docker's container starts first, then weft attaches its namespace.
    let start = out.find("start container d from").expect(&out);
    let attach = out.find("attach d to blue").expect(&out);
    assert!(start < attach, "{out}");
    assert!(
        out.contains("is up: 2/2 peers up, 2/2 services running"),
        "{out}"
    );
    assert_eq!(dockerd.containers(), [format!("weft-{name}-d")]);
    let labels = dockerd.ok(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &format!("weft-{name}-d"),
    ]);
    assert!(
        labels.contains(&format!("\"weft.mesh\":\"{name}\"")),
        "{labels}"
    );

    // The container's own namespace, named and attached by weft: its eth0
    // has d's address.
    let addresses = sh(&format!("ip -n weft-{name}-d -br addr show eth0"));
    assert!(addresses.contains("10.48.0.2/32"), "{addresses}");
    // By name both ways (the container resolves through weft's DNS).
    assert!(
        mesh.exec("d", &containers_fetch("p", 8000, ""))
            .contains("Directory listing")
    );
    let from_p = mesh.exec(
        "p",
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://d:8080/word', timeout=3).read().decode())\"",
    );
    assert_eq!(from_p.trim(), "docker-here");

    let status = mesh.ok(&["status", "--file", mesh.file()]);
    let line = status.lines().find(|l| l.starts_with("d ")).expect(&status);
    assert!(
        line.contains("running") && line.contains("(docker)"),
        "{line}"
    );
    let id = dockerd.ok(&["inspect", "-f", "{{.Id}}", &format!("weft-{name}-d")]);
    assert!(mesh.ok(&["up", mesh.file()]).contains("no changes"));
    assert_eq!(
        dockerd.ok(&["inspect", "-f", "{{.Id}}", &format!("weft-{name}-d")]),
        id
    );

    let out = mesh.ok(&["down", mesh.file()]);
    assert!(out.contains("removed"), "{out}");
    assert!(
        dockerd.containers().is_empty(),
        "{:?}",
        dockerd.containers()
    );
    let left = sh("ip netns list");
    assert!(!left.contains(&format!("weft-{name}-")), "{left}");
}

/// The same fetch as the Podman tests: nslookup through weft's DNS, then
/// wget the address (a static glibc busybox cannot resolve by itself).
fn containers_fetch(name: &str, port: u16, path: &str) -> String {
    format!(
        "ip=$(nslookup {name} | awk '/^Address: /{{a=$2}} END{{print a}}') && [ -n \"$ip\" ] && \
         timeout 5 wget -q -O - http://$ip:{port}/{path}"
    )
}
