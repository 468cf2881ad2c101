//! Named network namespaces (`ip netns`) that are removed on drop, even
//! when the test panics, and the few things tests do with them.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::process::{ok, run, run_sh};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A namespace under /run/netns with `lo` up. Dropping it kills what still
/// runs inside and deletes it (deleting a namespace destroys its links).
#[derive(Debug)]
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    /// A namespace with a name unique to this process:
    /// `weft-test-<pid>-<n>` (`scripts/test` looks for leftovers by it).
    pub fn new() -> NamedNetns {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        NamedNetns::named(&format!("weft-test-{}-{n}", std::process::id()))
    }

    /// A namespace of exactly this name; it must not exist yet.
    pub fn named(name: &str) -> NamedNetns {
        ok("ip", &["netns", "add", name]);
        let ns = NamedNetns { name: name.into() };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> …`, which must succeed; stdout.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ok("ip", &all)
    }

    /// `ip netns exec <ns> …`
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `ip netns exec <ns> …`, which must succeed; stdout.
    #[track_caller]
    pub fn exec_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        ok("ip", &all)
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// The namespace's identity, as in `/proc/<pid>/task/<tid>/ns/net`.
    pub fn inode(&self) -> u64 {
        std::fs::metadata(self.path()).unwrap().ino()
    }

    /// Run `f` on a fresh thread that has entered this namespace; threads it
    /// spawns stay in the namespace.
    pub fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        spawn_in(&self.path(), f)
            .join()
            .expect("thread inside the namespace panicked")
    }
}

impl Default for NamedNetns {
    fn default() -> Self {
        NamedNetns::new()
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        // A test may have deleted it already (a "reboot", a vanished container).
        if !self.path().exists() {
            return;
        }
        let out = run_sh(&format!(
            "ip netns pids {0} | xargs -r kill -9; ip netns del {0}",
            self.name
        ));
        if !out.status.success() {
            eprintln!(
                "cleanup: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Run `f` on a new thread inside the namespace at `ns` (a /run/netns or
/// /proc path); threads it starts stay there.
pub fn spawn_in<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = File::open(ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
}

/// Join namespaces `a` and `b` (names) with a veth pair, `a_if` in `a` with
/// 192.0.2.1/24 and `b_if` in `b` with 192.0.2.2/24, both up: the underlay
/// two hosts reach each other on.
pub fn underlay(a: &str, a_if: &str, b: &str, b_if: &str) {
    crate::sh(&format!(
        "ip link add name {a_if} netns {a} type veth peer name {b_if} netns {b} && \
         ip -n {a} addr add 192.0.2.1/24 dev {a_if} && ip -n {a} link set {a_if} up && \
         ip -n {b} addr add 192.0.2.2/24 dev {b_if} && ip -n {b} link set {b_if} up"
    ));
}

/// One `ping -c1 -W1 to` from inside the namespace at `ns` (a /run/netns or
/// /proc path), tried up to `attempts` times: a link that has just come up
/// can drop the first neighbour solicitation while the kernel activates it.
pub fn ping_from(ns: &Path, to: &str, attempts: usize) -> bool {
    let net = format!("--net={}", ns.display());
    (0..attempts).any(|_| {
        run("nsenter", &[&net, "ping", "-c1", "-W1", to])
            .status
            .success()
    })
}
