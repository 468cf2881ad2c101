//! Podman, with its CNI backend, runs containers on weft networks: weft is
//! the CNI plugin, the agent runs in a lab host namespace (so the machine's
//! own namespace is untouched), Podman's storage and configuration live in
//! the test's directory.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::path::Path;
use std::process::Output;

struct Podman {
    dir: std::path::PathBuf,
}

impl Podman {
    fn new(dir: &Path, agent_socket: &Path) -> Podman {
        let bin = dir.join("cni-bin");
        let netd = dir.join("net.d");
        let image = dir.join("image/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&netd).unwrap();
        std::fs::create_dir_all(&image).unwrap();
        std::os::unix::fs::symlink(WEFT, bin.join("weft")).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
                 [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 [network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\"]\nnetwork_config_dir = \"{}\"\n",
                bin.display(),
                netd.display()
            ),
        )
        .unwrap();
        for (name, subnet, mode) in [
            ("weftbr", "10.89.0.0/24", "bridge"),
            ("weftwg", "10.42.0.0/16", "wireguard"),
        ] {
            std::fs::write(
                netd.join(format!("{name}.conflist")),
                format!(
                    r#"{{"cniVersion":"1.0.0","name":"{name}","plugins":[{{"type":"weft","agentSocket":"{}","mode":"{mode}","subnet":"{subnet}"}}]}}"#,
                    agent_socket.display()
                ),
            )
            .unwrap();
        }
        // A busybox image without any registry.
        sh(&format!(
            "cp /usr/bin/busybox {0}/ && for c in sh ip ping sleep cat; do ln -sf busybox {0}/$c; done",
            image.display()
        ));
        let podman = Podman {
            dir: dir.to_path_buf(),
        };
        let tar = dir.join("bb.tar");
        sh(&format!(
            "tar -C {} -cf {} .",
            dir.join("image").display(),
            tar.display()
        ));
        let out = podman.run(&["import", tar.to_str().unwrap(), "localhost/bb:latest"]);
        assert!(
            out.status.success(),
            "podman import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        podman
    }

    fn run(&self, args: &[&str]) -> Output {
        let d = &self.dir;
        std::process::Command::new("podman")
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .args(["--root", d.join("storage").to_str().unwrap()])
            .args(["--runroot", d.join("run").to_str().unwrap()])
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("run podman")
    }

    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.run(args), &format!("podman {args:?}"))
    }

    /// `script` in a throwaway busybox container on `network` (allowed to
    /// ping); its output, which must come with success.
    fn run_once(&self, network: &str, script: &str) -> String {
        let image = "localhost/bb:latest";
        self.ok(&[
            "run",
            "--rm",
            "--cap-add",
            "NET_RAW",
            "--network",
            network,
            image,
            "sh",
            "-c",
            script,
        ])
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af", "-t", "0"]);
    }
}

#[test]
fn podman_runs_containers_on_weft_networks() {
    require_root!();
    require_tools!("podman", "runc");
    let lab = Lab::with_agents(WEFT, &["h1"]);
    let socket = lab.agents["h1"].socket.clone();
    let podman = Podman::new(&lab.dir.path().join("podman"), &socket);

    // Bridge mode: a long-running container, and a second one that reaches
    // it and the gateway.
    podman.ok(&[
        "run",
        "-d",
        "--name",
        "server",
        "--network",
        "weftbr",
        "localhost/bb:latest",
        "sleep",
        "300",
    ]);
    let atts = lab.weft_json("h1", &["attachments", "weftbr"]);
    assert_eq!(atts.as_array().unwrap().len(), 1, "{atts}");
    let server_ip = atts[0]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(server_ip, "10.89.0.2");
    assert!(atts[0]["host_ifname"].as_str().unwrap().starts_with("fn-"));
    let out = podman.run_once(
        "weftbr",
        &format!("ip -4 addr show eth0 && ping -c1 -W2 10.89.0.1 && ping -c1 -W2 {server_ip}"),
    );
    assert!(out.contains("10.89.0.3/24"), "{out}");
    assert!(out.contains("1 packets received"), "{out}");
    lab.exec_ok("h1", &format!("ping -c1 -W2 {server_ip}"));

    // WireGuard mode through CNI too: the container reaches its host.
    let out = podman.run_once("weftwg", "ip -4 addr show eth0 && ping -c1 -W2 10.42.0.1");
    assert!(
        out.contains("10.42.0.2/32") && out.contains("1 packets received"),
        "{out}"
    );
    let nets = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(
        nets.as_array().unwrap().len(),
        2,
        "both networks created from the conflists"
    );

    // Removing the container runs DEL: its attachment and veth are gone.
    podman.ok(&["rm", "-f", "-t", "0", "server"]);
    let atts = lab.weft_json("h1", &["attachments"]);
    assert!(atts.as_array().unwrap().is_empty(), "{atts}");
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(!links.contains("fn-") && !links.contains("w0-"), "{links}");
    drop(podman);
    lab.finish();
}
