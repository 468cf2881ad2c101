//! Support for the tests of containers run from images: a Podman whose
//! configuration and storage live in the test's directory (handed to
//! `weft up` through the environment, so the machine's own containers are
//! never seen or touched), and a busybox image built here — no registry.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use weft_testkit::*;

/// The image every test container runs.
pub const IMAGE: &str = "localhost/weft-test-bb:latest";

pub struct PodmanEnv {
    pub dir: PathBuf,
}

impl PodmanEnv {
    /// Configuration and storage under `dir`, and the test image in it.
    pub fn new(dir: &Path) -> PodmanEnv {
        let env = PodmanEnv::without_images(dir);
        env.import_image();
        env
    }

    /// Configuration and storage under `dir`, no image yet.
    pub fn without_images(dir: &Path) -> PodmanEnv {
        std::fs::create_dir_all(dir).unwrap();
        // The sandbox refuses raising rlimits, and crun refuses cgroup v1
        // hybrid mode (docs: /work notes, scripts/deps).
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
                 [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 tmp_dir = \"{}/tmp\"\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/storage\"\n",
                dir.display()
            ),
        )
        .unwrap();
        PodmanEnv {
            dir: dir.to_path_buf(),
        }
    }

    /// The variables that point Podman here.
    pub fn vars(&self) -> [(&'static str, PathBuf); 2] {
        [
            ("CONTAINERS_CONF", self.dir.join("containers.conf")),
            ("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf")),
        ]
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .envs(self.vars())
            .args(args)
            .output()
            .expect("run podman")
    }

    pub fn podman_ok(&self, args: &[&str]) -> String {
        stdout_of(self.podman(args), &format!("podman {args:?}"))
    }

    /// busybox-static as an image (`podman import`), with the applets the
    /// tests use.
    fn import_image(&self) {
        let root = self.dir.join("image");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        sh(&format!(
            "cp /usr/bin/busybox {0}/bin/ && for c in sh ip ping sleep cat echo mkdir cp hostname \
             httpd wget nslookup awk timeout; do ln -sf busybox {0}/bin/$c; done",
            root.display()
        ));
        let tar = self.dir.join("image.tar");
        sh(&format!(
            "tar -C {} -cf {} .",
            root.display(),
            tar.display()
        ));
        self.podman_ok(&["import", tar.to_str().unwrap(), IMAGE]);
        let _ = std::fs::remove_file(tar);
    }

    /// Names of every container in this storage (`podman ps -a`).
    pub fn containers(&self) -> Vec<String> {
        self.podman_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A container's id.
    pub fn id(&self, name: &str) -> String {
        self.podman_ok(&["container", "inspect", "-f", "{{.Id}}", name])
            .trim()
            .to_string()
    }
}

impl Drop for PodmanEnv {
    fn drop(&mut self) {
        // Only this storage's containers (the variables point there); its
        // vfs layers are plain directories that go with the test's tempdir.
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
    }
}

/// Shell that fetches `http://NAME:PORT/PATH` inside a test container, by
/// the name weft's DNS gives: busybox's `nslookup` asks the container's
/// resolver (the network's responder), `wget` fetches the address. (A
/// static glibc busybox cannot resolve names itself: its `wget` crashes
/// without the NSS modules it would load; it crashes with `-T` too, so
/// `timeout` bounds it.)
pub fn fetch(name: &str, port: u16, path: &str) -> String {
    format!(
        "ip=$(nslookup {name} | awk '/^Address: /{{a=$2}} END{{print a}}') && [ -n \"$ip\" ] && \
         timeout 5 wget -q -O - http://$ip:{port}/{path}"
    )
}
