//! The guest's root file system, made at test time: dash as the shell,
//! busybox for the small tools, real programs from the host (the `weft` under test,
//! `ip`, `wg`, `nft`, kmod's `modprobe`) with the shared libraries `ldd`
//! names, the kernel's modules with `modules.dep`, and an init script.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::GuestError;
use super::cpio::{Member, Writer};
use super::kernel::KernelImage;

/// Parts of the module tree a networking guest needs: WireGuard and its
/// crypto (`net/`, `lib/`, `crypto/`, `arch/`), veth, tun and virtio-net
/// (`drivers/net/`, with the virtio bus and PCI transport in
/// `drivers/virtio/`), netfilter for nftables (`net/`). About 30 MB of the
/// cloud kernel's 90.
pub const NETWORK_MODULES: &[&str] = &[
    "kernel/net",
    "kernel/lib",
    "kernel/crypto",
    "kernel/arch",
    "kernel/drivers/net",
    "kernel/drivers/virtio",
];

/// Host programs every guest gets: (program, the Debian package with it).
const BASE_TOOLS: &[(&str, &str)] = &[("kmod", "kmod"), ("ip", "iproute2")];

enum Source {
    Host(PathBuf),
    Bytes(Vec<u8>),
}

enum Entry {
    Dir,
    File { source: Source, mode: u32 },
    Symlink(String),
}

/// The files of an initramfs, by path inside the guest.
pub struct Initramfs {
    entries: BTreeMap<String, Entry>,
}

impl Initramfs {
    /// busybox (from `busybox-static`) as `/bin/busybox`, kmod as
    /// `/sbin/modprobe` (the path the kernel calls to load modules on
    /// demand), iproute2's `ip`, and `module_dirs` (see [`NETWORK_MODULES`])
    /// of `kernel`'s module tree with its `modules.*` indexes.
    pub fn new(kernel: &KernelImage, module_dirs: &[&str]) -> Result<Initramfs, GuestError> {
        let mut fs = Initramfs {
            entries: BTreeMap::new(),
        };
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp", "var/lib",
            "etc",
        ] {
            fs.add_dir(dir);
        }
        let busybox = find_host_tool("busybox").ok_or_else(|| GuestError::HostTool {
            tool: "busybox".into(),
            package: "busybox-static".into(),
        })?;
        if !is_static(&busybox) {
            return Err(GuestError::HostTool {
                tool: format!("a static busybox ({} is dynamic)", busybox.display()),
                package: "busybox-static".into(),
            });
        }
        fs.add_host_file(&busybox, "bin/busybox", 0o755);
        // Not busybox's sh: Debian builds it to run its own applets before
        // anything on PATH, so `ip` would never be the real one.
        let dash = find_host_tool("dash").ok_or_else(|| GuestError::HostTool {
            tool: "dash".into(),
            package: "dash".into(),
        })?;
        fs.add_program(&dash, "bin/sh")?;
        for (tool, package) in BASE_TOOLS {
            fs.add_tool(tool, package)?;
        }
        let kmod = fs.guest_path_of("kmod")?;
        fs.add_symlink("sbin/modprobe", &kmod);
        fs.add_kernel_modules(kernel, module_dirs)?;
        Ok(fs)
    }

    pub fn add_dir(&mut self, path: &str) {
        let path = path.trim_matches('/');
        let mut parent = String::new();
        for part in path.split('/') {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.entries.entry(parent.clone()).or_insert(Entry::Dir);
        }
    }

    fn add_parent(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.add_dir(parent);
        }
    }

    /// A file with these contents at `path`, e.g. the init script.
    pub fn add_bytes(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) {
        let path = path.trim_start_matches('/');
        self.add_parent(path);
        self.entries.insert(
            path.to_owned(),
            Entry::File {
                source: Source::Bytes(data.into()),
                mode,
            },
        );
    }

    /// A host file, read when the archive is written.
    pub fn add_host_file(&mut self, host: &Path, path: &str, mode: u32) {
        let path = path.trim_start_matches('/');
        self.add_parent(path);
        self.entries.insert(
            path.to_owned(),
            Entry::File {
                source: Source::Host(host.to_path_buf()),
                mode,
            },
        );
    }

    pub fn add_symlink(&mut self, path: &str, target: &str) {
        let path = path.trim_start_matches('/');
        self.add_parent(path);
        self.entries
            .insert(path.to_owned(), Entry::Symlink(target.to_owned()));
    }

    /// A dynamically linked host program at `path` in the guest, with every
    /// library `ldd` names at the path it names (the loader included).
    /// The program goes in without its debug information: the guest
    /// unpacks the archive into its memory, and a debug build of weft is
    /// several hundred megabytes, most of it DWARF.
    pub fn add_program(&mut self, host: &Path, path: &str) -> Result<(), GuestError> {
        self.add_bytes(path, without_debug_info(host)?, 0o755);
        for lib in shared_libraries(host)? {
            let guest = lib.to_string_lossy().into_owned();
            self.add_host_file(&lib, &guest, 0o755);
        }
        Ok(())
    }

    /// A tool found on the host (PATH, `/usr/sbin`, `/sbin`) at the same
    /// path in the guest, with its libraries; the error names the Debian
    /// `package` that has it.
    pub fn add_tool(&mut self, tool: &str, package: &str) -> Result<(), GuestError> {
        let host = find_host_tool(tool).ok_or_else(|| GuestError::HostTool {
            tool: tool.into(),
            package: package.into(),
        })?;
        let path = host.to_string_lossy().into_owned();
        self.add_program(&host, &path)
    }

    /// Where [`Initramfs::add_tool`] put `tool`.
    fn guest_path_of(&self, tool: &str) -> Result<String, GuestError> {
        self.entries
            .keys()
            .find(|p| p.rsplit('/').next() == Some(tool))
            .map(|p| format!("/{p}"))
            .ok_or_else(|| GuestError::HostTool {
                tool: tool.into(),
                package: tool.into(),
            })
    }

    /// `dirs` of the kernel's module tree and its `modules.*` indexes, at
    /// `/lib/modules/<release>`.
    pub fn add_kernel_modules(
        &mut self,
        kernel: &KernelImage,
        dirs: &[&str],
    ) -> Result<(), GuestError> {
        let base = format!("lib/modules/{}", kernel.release);
        let unreadable = |path: &Path, e: std::io::Error| GuestError::KernelPackage {
            package: kernel.package.clone(),
            why: format!("read {}: {e}", path.display()),
        };
        let top = std::fs::read_dir(&kernel.modules).map_err(|e| unreadable(&kernel.modules, e))?;
        for entry in top.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("modules.") && entry.path().is_file() {
                self.add_host_file(&entry.path(), &format!("{base}/{name}"), 0o644);
            }
        }
        for dir in dirs {
            let mut pending = vec![kernel.modules.join(dir)];
            while let Some(current) = pending.pop() {
                let listing = std::fs::read_dir(&current).map_err(|e| unreadable(&current, e))?;
                for entry in listing.filter_map(|e| e.ok()) {
                    let path = entry.path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if let Ok(relative) = path.strip_prefix(&kernel.modules) {
                        let guest = format!("{base}/{}", relative.display());
                        self.add_host_file(&path, &guest, 0o644);
                    }
                }
            }
        }
        Ok(())
    }

    /// Write the archive (uncompressed newc cpio: the kernel unpacks it
    /// fastest, and it lives only as long as the test's temp dir).
    pub fn write(&self, out: &Path) -> Result<(), GuestError> {
        let failed = |what: String, e: std::io::Error| GuestError::Initramfs { what, source: e };
        let file = std::fs::File::create(out)
            .map_err(|e| failed(format!("create {}", out.display()), e))?;
        let mut writer = Writer::new(std::io::BufWriter::new(file));
        for (path, entry) in &self.entries {
            let data;
            let member = match entry {
                Entry::Dir => Member::Dir,
                Entry::Symlink(target) => Member::Symlink { target },
                Entry::File { source, mode } => {
                    data = match source {
                        Source::Bytes(bytes) => std::borrow::Cow::Borrowed(bytes.as_slice()),
                        Source::Host(host) => std::borrow::Cow::Owned(
                            std::fs::read(host)
                                .map_err(|e| failed(format!("read {}", host.display()), e))?,
                        ),
                    };
                    Member::File {
                        data: &data,
                        mode: *mode,
                    }
                }
            };
            writer
                .member(path, &member)
                .map_err(|e| failed(format!("write {path} into {}", out.display()), e))?;
        }
        writer
            .finish()
            .map_err(|e| failed(format!("finish {}", out.display()), e))?;
        Ok(())
    }
}

/// A program on PATH, in cargo's bin dirs, or in the sbin dirs a non-root
/// PATH may lack.
fn find_host_tool(tool: &str) -> Option<PathBuf> {
    crate::which(tool).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file())
    })
}

/// `program`'s bytes as `objcopy --strip-debug` leaves them (binutils, which
/// every Rust toolchain's linker comes with).
fn without_debug_info(program: &Path) -> Result<Vec<u8>, GuestError> {
    let failed = |what: String, source: std::io::Error| GuestError::Initramfs { what, source };
    let dir = tempfile::Builder::new()
        .prefix("weft-guest-strip")
        .tempdir()
        .map_err(|e| failed("make a temporary directory".into(), e))?;
    let out = dir.path().join("program");
    let status = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(program)
        .arg(&out)
        .stdin(Stdio::null())
        .status()
        .map_err(|_| GuestError::HostTool {
            tool: "objcopy".into(),
            package: "binutils".into(),
        })?;
    if !status.success() {
        return Err(failed(
            format!("strip the debug information of {}", program.display()),
            std::io::Error::other(format!("objcopy exited with {status}")),
        ));
    }
    std::fs::read(&out).map_err(|e| failed(format!("read {}", out.display()), e))
}

fn is_static(program: &Path) -> bool {
    shared_libraries(program).is_ok_and(|libs| libs.is_empty())
}

/// The libraries `ldd` resolves for `program` (none for a static one).
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, GuestError> {
    let out = Command::new("ldd")
        .arg(program)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GuestError::HostTool {
            tool: format!("ldd ({e})"),
            package: "libc-bin".into(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable"
        return Ok(Vec::new());
    }
    parse_ldd(&text).map_err(|line| GuestError::Initramfs {
        what: format!("libraries of {}", program.display()),
        source: std::io::Error::other(format!("ldd could not resolve: {line}")),
    })
}

/// Library paths from `ldd` output; a line that names a library `ldd`
/// could not find is the error.
fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.contains("not found") {
            return Err(line.to_owned());
        }
        let path = match line.split_once("=>") {
            Some((_, resolved)) => resolved.trim().split(' ').next().unwrap_or(""),
            None => line.split(' ').next().unwrap_or(""),
        };
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests;
