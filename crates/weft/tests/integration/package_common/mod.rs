//! Shared by the package tests: the Debian package made from the binary
//! under test by the same script a release uses (scripts/package), and a
//! throwaway root to install it in.
//!
//! The throwaway root is an overlay of this machine's own root file
//! system: reads see the machine's files (dpkg and its database, the
//! packages weft depends on, systemd-analyze), every write lands in an
//! upper layer on a tmpfs of the test's, which the test reads to see
//! exactly what the package changed, and which goes away with the test.
//! The overlay is mounted only inside a private mount namespace, one per
//! command, around a chroot, so nothing the package does reaches the
//! machine. Chosen over debootstrap (a minute and Debian's mirror on
//! every run), a QEMU guest (a whole boot for a file-level test) and a
//! container (a locally made base has no dpkg or systemd to test with).

// Each test uses part of it.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository's root (this crate is crates/weft).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The package built around `weft` with scripts/package, copied into
/// `out`; returns the .deb's path (its -dbgsym .ddeb beside it).
///
/// Built once per binary: the package and image tests run in parallel,
/// and packaging (stripping, splitting the debug info, compressing) is
/// most of their cost. The first builds into the target directory's test
/// scratch space, under a lock, keyed by what goes into the package; the
/// other waits and copies. Packages of older inputs are removed there.
pub fn build_package(weft: &str, out: &Path) -> PathBuf {
    use nix::fcntl::{Flock, FlockArg};
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("weft-package");
    std::fs::create_dir_all(&cache).unwrap();
    let lock = std::fs::File::create(cache.join("lock")).unwrap();
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    let key = format!("{:016x}", package_inputs_hash(weft));
    let built = cache.join(&key);
    if !built.is_dir() {
        for old in std::fs::read_dir(&cache).unwrap() {
            let old = old.unwrap().path();
            if old.is_dir() {
                std::fs::remove_dir_all(old).unwrap();
            }
        }
        let partial = cache.join(format!("{key}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        let output = Command::new(repo_root().join("scripts/package"))
            .args(["--binary", weft, "--fast", "--out"])
            .arg(&partial)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        weft_testkit::stdout_of(output, "scripts/package");
        std::fs::rename(&partial, &built).unwrap();
    }
    std::fs::create_dir_all(out).unwrap();
    let mut deb = None;
    for file in std::fs::read_dir(&built).unwrap() {
        let file = file.unwrap().path();
        let copy = out.join(file.file_name().unwrap());
        std::fs::copy(&file, &copy).unwrap();
        if copy.extension().is_some_and(|e| e == "deb") {
            deb = Some(copy);
        }
    }
    deb.unwrap_or_else(|| panic!("no .deb in {}", built.display()))
}

/// A hash of what the package is made of: the binary (its size and time)
/// and every file of the repository that scripts/package reads.
fn package_inputs_hash(weft: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let meta = std::fs::metadata(weft).unwrap();
    (meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
    let repo = repo_root();
    let mut files = vec![
        repo.join("scripts/package"),
        repo.join("crates/weft/Cargo.toml"),
    ];
    for dir in ["contrib/deb", "contrib/systemd", "docs/man"] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
        std::fs::metadata(&file).unwrap().mode().hash(&mut hasher);
    }
    hasher.finish()
}

/// An overlay of `/` whose writes go to a tmpfs of the test's (see the
/// module's comment). The tmpfs is unmounted on drop.
pub struct ThrowawayRoot {
    layers: PathBuf,
    /// Bind-mounted at /mnt inside the root: how files get in.
    pub shared: PathBuf,
}

impl ThrowawayRoot {
    pub fn new(dir: &Path) -> ThrowawayRoot {
        let layers = dir.join("layers");
        let shared = dir.join("shared");
        std::fs::create_dir_all(&layers).unwrap();
        std::fs::create_dir_all(&shared).unwrap();
        // On a tmpfs, not in the test's directory: an overlay refuses an
        // upper layer inside its lower one (here the whole root).
        weft_testkit::ok(
            "mount",
            &["-t", "tmpfs", "weft-test-layers", layers.to_str().unwrap()],
        );
        let root = ThrowawayRoot { layers, shared };
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir(root.layers.join(sub)).unwrap();
        }
        root
    }

    /// The upper layer: every file the root's commands made or changed.
    pub fn upper(&self) -> PathBuf {
        self.layers.join("upper")
    }

    /// A command that runs shell `script` as root inside the throwaway
    /// root, in the lab's network namespace `netns` (a full name) when
    /// given. The script may end by `exec`ing a daemon: the command's PID
    /// is then the daemon's, and its mounts go when it ends.
    pub fn command(&self, netns: Option<&str>, script: &str) -> Command {
        let merged = self.layers.join("merged");
        let mounts = format!(
            "set -e; m={merged}; \
             mount -t overlay weft-root -o lowerdir=/,upperdir={upper},workdir={work} $m; \
             mount -t proc proc $m/proc; mount --rbind /dev $m/dev; \
             mount -t tmpfs tmpfs $m/run; mount -t tmpfs tmpfs $m/tmp; \
             mount --bind {shared} $m/mnt; \
             exec chroot $m /bin/sh -ec \"$1\"",
            merged = merged.display(),
            upper = self.upper().display(),
            work = self.layers.join("work").display(),
            shared = self.shared.display(),
        );
        let mut command = match netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns, "unshare"]);
                command
            }
            None => Command::new("unshare"),
        };
        command
            .args(["--mount", "--propagation", "private"])
            .args(["/bin/sh", "-c", &mounts, "sh", script])
            .stdin(Stdio::null());
        command
    }

    /// Run `script` in the root (no network namespace of its own); its
    /// output whatever the exit status.
    pub fn run(&self, script: &str) -> Output {
        self.command(None, script).output().unwrap()
    }

    /// [`ThrowawayRoot::run`] that must succeed; returns stdout.
    #[track_caller]
    pub fn run_ok(&self, script: &str) -> String {
        weft_testkit::stdout_of(
            self.run(script),
            &format!("`{script}` in the throwaway root"),
        )
    }

    /// `path` (absolute, as inside the root) in the upper layer: made or
    /// changed by the root's commands; `None` when it is not there.
    pub fn changed(&self, path: &str) -> Option<std::fs::Metadata> {
        std::fs::symlink_metadata(self.upper().join(path.trim_start_matches('/'))).ok()
    }

    /// Every path in the upper layer (relative, without a leading `/`)
    /// that is not a directory the machine already has: what the root's
    /// commands left behind. Whiteouts (files they deleted) count.
    pub fn left_behind(&self) -> Vec<String> {
        let mut left = vec![];
        let upper = self.upper();
        let mut stack = vec![upper.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(&upper).unwrap().to_path_buf();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    // Copied up because something inside changed.
                    if !Path::new("/").join(&rel).is_dir() {
                        left.push(rel.display().to_string());
                    }
                    stack.push(path);
                } else {
                    left.push(rel.display().to_string());
                }
            }
        }
        left.sort();
        left
    }

    /// The mode bits, owner and group of `path` in the upper layer.
    #[track_caller]
    pub fn mode_owner(&self, path: &str) -> (u32, u32, u32) {
        let meta = self
            .changed(path)
            .unwrap_or_else(|| panic!("{path} is not in the root's upper layer"));
        (meta.mode() & 0o7777, meta.uid(), meta.gid())
    }
}

impl Drop for ThrowawayRoot {
    fn drop(&mut self) {
        // Lazily: a daemon the test failed to stop may still hold it.
        let _ = weft_testkit::run("umount", &["--lazy", self.layers.to_str().unwrap()]);
    }
}
