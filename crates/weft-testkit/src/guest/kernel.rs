//! A Debian kernel and its modules, taken from Debian's own package and
//! cached between runs.
//!
//! The package is fetched with `apt-get download` and unpacked with
//! `dpkg-deb -x`, never installed: the host's own kernel and boot files
//! stay untouched. Debian's packages do not ship `modules.dep` (their
//! postinst runs `depmod`), so the cache runs `depmod -b` once over the
//! unpacked tree; the guest's `modprobe` (kmod) then resolves dependencies
//! and aliases as on a real host.
//!
//! `linux-image-cloud-amd64` is the default: a third of the general image's
//! size (about 27 MB against 70+ MB), it boots faster under emulation
//! because it probes far fewer drivers, and it has everything a guest here
//! needs (virtio, the 8250 serial console, veth, tun, netfilter and
//! `CONFIG_WIREGUARD=m`). `WEFT_GUEST_KERNEL_PACKAGE` picks another one
//! (e.g. `linux-image-amd64`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::GuestError;

/// The meta package whose dependency names the current kernel.
pub const DEFAULT_KERNEL_PACKAGE: &str = "linux-image-cloud-amd64";

/// Where kernels are cached: `WEFT_GUEST_CACHE`, else
/// `/var/cache/weft-guest` (root) or `$HOME/.cache/weft-guest`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WEFT_GUEST_CACHE") {
        return PathBuf::from(dir);
    }
    if crate::is_root() {
        return PathBuf::from("/var/cache/weft-guest");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/weft-guest")
}

/// An unpacked kernel: its image and its module tree (with `modules.dep`).
#[derive(Clone, Debug)]
pub struct KernelImage {
    /// The Debian package it came from, e.g. `linux-image-6.1.0-56-cloud-amd64`.
    pub package: String,
    /// `uname -r` inside the guest.
    pub release: String,
    pub vmlinuz: PathBuf,
    /// `lib/modules/<release>` of the unpacked package.
    pub modules: PathBuf,
}

impl KernelImage {
    /// The kernel named by `WEFT_GUEST_KERNEL_PACKAGE` (default
    /// [`DEFAULT_KERNEL_PACKAGE`]), from the cache or downloaded into it.
    pub fn fetch() -> Result<KernelImage, GuestError> {
        let meta = std::env::var("WEFT_GUEST_KERNEL_PACKAGE")
            .unwrap_or_else(|_| DEFAULT_KERNEL_PACKAGE.to_owned());
        KernelImage::fetch_into(&cache_dir(), &meta)
    }

    /// `meta` (a meta package such as `linux-image-cloud-amd64`, or a
    /// versioned image package) resolved with `apt-cache`, then taken from
    /// `cache` or downloaded into it. Without apt's lists (offline, no
    /// `apt-get update` yet) a cached kernel of the same flavour is used.
    pub fn fetch_into(cache: &Path, meta: &str) -> Result<KernelImage, GuestError> {
        let package = match resolve_image_package(meta) {
            Ok(package) => package,
            Err(e) => match cached_flavour(cache, meta) {
                Some(package) => package,
                None => return Err(e),
            },
        };
        let dir = cache.join(&package);
        if !dir.join(COMPLETE).exists() {
            download_and_unpack(cache, &package, &dir)?;
        }
        KernelImage::from_unpacked(&package, &dir)
    }

    fn from_unpacked(package: &str, dir: &Path) -> Result<KernelImage, GuestError> {
        let unusable = |why: String| GuestError::KernelPackage {
            package: package.to_owned(),
            why,
        };
        let release = std::fs::read_to_string(dir.join(COMPLETE))
            .map_err(|e| unusable(format!("read {}: {e}", dir.join(COMPLETE).display())))?
            .trim()
            .to_owned();
        let vmlinuz = dir.join("boot").join(format!("vmlinuz-{release}"));
        let modules = dir.join("lib/modules").join(&release);
        if !vmlinuz.is_file() || !modules.join("modules.dep").is_file() {
            return Err(unusable(format!(
                "{} lacks vmlinuz-{release} or modules.dep; delete it to fetch again",
                dir.display()
            )));
        }
        Ok(KernelImage {
            package: package.to_owned(),
            release,
            vmlinuz,
            modules,
        })
    }
}

/// The marker written last into a complete cache entry; it holds the
/// kernel release.
const COMPLETE: &str = "weft-guest-complete";

/// `linux-image-cloud-amd64` → `linux-image-6.1.0-56-cloud-amd64` (what
/// it depends on); a versioned package name stays as it is.
fn resolve_image_package(meta: &str) -> Result<String, GuestError> {
    let out = Command::new("apt-cache")
        .args(["depends", "--no-recommends", "--no-suggests", meta])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GuestError::KernelPackage {
            package: meta.to_owned(),
            why: format!("run apt-cache: {e}"),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        return Err(GuestError::KernelPackage {
            package: meta.to_owned(),
            why: format!(
                "apt-cache does not know it (run apt-get update): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(image_dependency(&text).unwrap_or_else(|| meta.to_owned()))
}

/// The `linux-image-*` package a meta package depends on, from
/// `apt-cache depends` output.
fn image_dependency(apt_cache_depends: &str) -> Option<String> {
    apt_cache_depends.lines().find_map(|line| {
        let dep = line.trim().strip_prefix("Depends:")?.trim();
        dep.starts_with("linux-image-").then(|| dep.to_owned())
    })
}

/// A complete cached kernel whose flavour (`cloud-amd64`, `amd64`) matches
/// the meta package's, the newest by name.
fn cached_flavour(cache: &Path, meta: &str) -> Option<String> {
    let flavour = meta.strip_prefix("linux-image-")?;
    let mut found: Vec<String> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(COMPLETE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| is_of_flavour(name, flavour))
        .collect();
    found.sort();
    found.pop()
}

/// `linux-image-<abi>-<flavour>` where every `-`-separated part of the
/// ABI starts with a digit (`6.1.0-56`, `6.12.38+deb13`): so `amd64` does
/// not match `…-cloud-amd64`.
fn is_of_flavour(name: &str, flavour: &str) -> bool {
    name.strip_prefix("linux-image-")
        .and_then(|rest| rest.strip_suffix(flavour))
        .and_then(|abi| abi.strip_suffix('-'))
        .is_some_and(|abi| {
            abi.split('-')
                .all(|part| part.starts_with(|c: char| c.is_ascii_digit()))
        })
}

fn download_and_unpack(cache: &Path, package: &str, dir: &Path) -> Result<(), GuestError> {
    let failed = |why: String| GuestError::KernelPackage {
        package: package.to_owned(),
        why,
    };
    std::fs::create_dir_all(cache)
        .map_err(|e| failed(format!("create {}: {e}", cache.display())))?;
    // Unpacked beside the final place and renamed into it, so a run killed
    // half-way leaves no entry that looks complete; a concurrent run that
    // renamed first wins.
    let work = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(cache)
        .map_err(|e| failed(format!("temp dir in {}: {e}", cache.display())))?;
    run_tool(
        Command::new("apt-get")
            .args(["download", "-q", package])
            .current_dir(work.path()),
        "apt-get download",
    )
    .map_err(failed)?;
    let deb = std::fs::read_dir(work.path())
        .map_err(|e| failed(e.to_string()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| failed("apt-get download left no .deb".into()))?;
    let root = work.path().join("root");
    run_tool(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
        "dpkg-deb -x",
    )
    .map_err(failed)?;
    std::fs::remove_file(&deb).map_err(|e| failed(format!("remove {}: {e}", deb.display())))?;
    let release = std::fs::read_dir(root.join("lib/modules"))
        .map_err(|e| failed(format!("the package has no lib/modules: {e}")))?
        .filter_map(|e| e.ok())
        .find_map(|e| e.file_name().into_string().ok())
        .ok_or_else(|| failed("the package has no module tree".into()))?;
    run_tool(
        Command::new("depmod").arg("-b").arg(&root).arg(&release),
        "depmod -b",
    )
    .map_err(failed)?;
    std::fs::write(root.join(COMPLETE), format!("{release}\n"))
        .map_err(|e| failed(e.to_string()))?;
    match std::fs::rename(&root, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.join(COMPLETE).exists() => Ok(()),
        Err(e) => Err(failed(format!("move into {}: {e}", dir.display()))),
    }
}

/// Run a host tool; on failure, what it said.
fn run_tool(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

#[cfg(test)]
mod tests;
