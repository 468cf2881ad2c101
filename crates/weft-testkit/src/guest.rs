//! A Linux guest under QEMU for tests that need a kernel this machine does
//! not have (its WireGuard module, a VM's NICs): a Debian kernel and a
//! busybox initramfs made at test time, booted with
//! `qemu-system-x86_64 -accel tcg` (software emulation; no KVM needed).
//!
//! ```text
//! KernelImage::fetch()      Debian's kernel package, cached (kernel.rs)
//! Initramfs::new(..)        busybox, kmod, ip, modules; add programs and files
//! Guest { .. }.boot(script) init = prelude + `script` + poweroff
//! GuestRun                  the structured results and the console log
//! ```
//!
//! The guest script reports with `report NAME pass|fail|data DETAIL…` and
//! `check NAME COMMAND…` (pass when the command succeeds, fail with its
//! last lines otherwise). Reports go to the second serial port (a file on
//! the host), never mixed with kernel messages, and are echoed on the
//! console (the first port, also a file) so the log reads in order. A
//! guest that hangs is killed at the deadline; every failure carries the
//! console log.

mod cpio;
mod initramfs;
mod kernel;

pub use initramfs::{Initramfs, NETWORK_MODULES};
pub use kernel::{DEFAULT_KERNEL_PACKAGE, KernelImage, cache_dir};

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Why a guest could not be made or booted. Each names what is missing and
/// where to get it: a test fails on these, it never skips.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("the kernel package {package} cannot be had: {why}")]
    KernelPackage { package: String, why: String },
    #[error(
        "the guest needs {tool} on the host (Debian package {package}; scripts/deps installs it)"
    )]
    HostTool { tool: String, package: String },
    #[error("QEMU cannot be had: {0} (Debian package qemu-system-x86; scripts/deps installs it)")]
    Qemu(String),
    #[error("build the initramfs: {what}")]
    Initramfs {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// How to run QEMU.
#[derive(Clone, Debug)]
pub struct GuestConfig {
    pub memory_mib: u32,
    pub cpus: u32,
    /// The guest is killed after this long.
    pub timeout: Duration,
    /// The guest is also killed this long after its init reported `boot`
    /// (the script's own deadline, which a loaded machine's slow boot does
    /// not eat into); none: only `timeout`.
    pub script_timeout: Option<Duration>,
    /// Added to the kernel command line.
    pub cmdline: Vec<String>,
    /// Added to QEMU's arguments (NICs: `-netdev tap,…`, `-device …`).
    pub qemu_args: Vec<String>,
    /// Run QEMU inside this named network namespace (`ip netns exec`), where
    /// the TAP devices it opens live.
    pub netns: Option<String>,
    /// Modules the prelude loads with `modprobe` before the script, each
    /// reported as `module:NAME`.
    pub modules: Vec<String>,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            memory_mib: 1024,
            cpus: 2,
            timeout: Duration::from_secs(300),
            script_timeout: None,
            cmdline: Vec::new(),
            qemu_args: Vec::new(),
            netns: None,
            modules: Vec::new(),
        }
    }
}

impl GuestConfig {
    /// A small VM of a lab host (512 MiB, one vCPU) started inside that
    /// host's namespace `netns` with the hypervisor arguments weft printed
    /// for it (`qemu_args`: its TAPs as virtio NICs), their drivers loaded.
    pub fn lab_vm(qemu_args: Vec<String>, netns: String) -> GuestConfig {
        GuestConfig {
            memory_mib: 512,
            cpus: 1,
            qemu_args,
            netns: Some(netns),
            modules: vec!["virtio_pci".into(), "virtio_net".into()],
            ..GuestConfig::default()
        }
    }
}

/// The shell run first as `/init`: mounts, the report helpers, modules.
/// `$WEFT_GUEST_MODULES` is filled in by [`Guest::boot`].
const PRELUDE: &str = r#"#!/bin/sh
# busybox's applets in a directory of their own, last on PATH: the real
# programs copied from the host (ip, wg, nft, modprobe) win wherever they are.
/bin/busybox mkdir -p /busybox
/bin/busybox --install -s /busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm /var /root
mount -t devpts devpts /dev/pts
# What udev makes on a real host and devtmpfs does not (nft reads /dev/stdin).
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s /run /var/run
ip link set lo up
hostname weft-guest
exec 3>/dev/ttyS1
report() {
  _name=$1 _status=$2
  shift 2
  echo "@@weft-guest $_name $_status $*" >&3
  echo "@@weft-guest $_name $_status $*"
}
check() {
  _check=$1
  shift
  if _out=$("$@" 2>&1); then
    report "$_check" pass
  else
    report "$_check" fail "$(echo "$_out" | tail -n 4 | tr '\n' ' ')"
  fi
}
report boot pass "$(uname -r)"
for m in $WEFT_GUEST_MODULES; do
  check "module:$m" modprobe "$m"
done
"#;

const EPILOGUE: &str = r#"
report done pass
sync
poweroff -f
"#;

/// One guest: a kernel, an initramfs (to which [`Guest::boot`] adds the
/// init script) and how to run it.
pub struct Guest {
    pub kernel: KernelImage,
    pub initramfs: Initramfs,
    pub config: GuestConfig,
}

impl Guest {
    /// Boot with `script` (busybox sh, run after the prelude) as the body
    /// of `/init`; wait for the guest to power off or the deadline.
    pub fn boot(mut self, script: &str) -> Result<GuestRun, GuestError> {
        let qemu = crate::which("qemu-system-x86_64")
            .ok_or_else(|| GuestError::Qemu("qemu-system-x86_64 is not installed".into()))?;
        let dir = tempfile::Builder::new()
            .prefix("weft-guest-")
            .tempdir()
            .map_err(|e| GuestError::Initramfs {
                what: "temp dir".into(),
                source: e,
            })?;
        let init = format!(
            "{}\n{}\n{EPILOGUE}",
            PRELUDE.replace("$WEFT_GUEST_MODULES", &self.config.modules.join(" ")),
            script
        );
        self.initramfs.add_bytes("init", init, 0o755);
        let initrd = dir.path().join("initrd.cpio");
        self.initramfs.write(&initrd)?;
        let console = dir.path().join("console.log");
        let results = dir.path().join("results.log");
        let qemu_log = dir.path().join("qemu.log");
        let mut command = match &self.config.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&qemu);
                c
            }
            None => Command::new(&qemu),
        };
        let mut append = vec!["console=ttyS0", "panic=-1", "quiet", "loglevel=4"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        append.extend(self.config.cmdline.iter().cloned());
        command
            .args(["-accel", "tcg", "-cpu", "max", "-nodefaults", "-no-reboot"])
            .args(["-display", "none"])
            .args(["-m", &self.config.memory_mib.to_string()])
            .args(["-smp", &self.config.cpus.to_string()])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-serial")
            .arg(format!("file:{}", results.display()))
            .arg("-kernel")
            .arg(&self.kernel.vmlinuz)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", &append.join(" ")])
            .args(&self.config.qemu_args)
            .stdin(Stdio::null());
        let log = std::fs::File::create(&qemu_log).map_err(|e| GuestError::Initramfs {
            what: format!("create {}", qemu_log.display()),
            source: e,
        })?;
        let log2 = log
            .try_clone()
            .map_err(|e| GuestError::Qemu(e.to_string()))?;
        command.stdout(log).stderr(log2);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| GuestError::Qemu(format!("run {}: {e}", qemu.display())))?;
        let mut booted: Option<Instant> = None;
        let mut script_deadline_passed = false;
        let exited =
            crate::wait::poll_until(self.config.timeout, Duration::from_millis(200), || {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return true;
                }
                let Some(limit) = self.config.script_timeout else {
                    return false;
                };
                if booted.is_none() && (reported_boot(&results) || reported_boot(&console)) {
                    booted = Some(Instant::now());
                }
                script_deadline_passed = booted.is_some_and(|at| at.elapsed() > limit);
                script_deadline_passed
            }) && !script_deadline_passed;
        if !exited {
            let _ = child.kill();
        }
        let status = child.wait().ok();
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        let console = read(&console);
        let mut reports = parse_results(&read(&results));
        if reports.is_empty() {
            // No second port (a caller's own `-serial` arguments): the
            // echoes on the console are all there is.
            reports = parse_results(&console);
        }
        Ok(GuestRun {
            results: reports,
            console,
            qemu_log: read(&qemu_log),
            timed_out: !exited,
            status,
            elapsed: started.elapsed(),
            deadline: if script_deadline_passed {
                format!(
                    "{:?} after it booted",
                    self.config.script_timeout.unwrap_or_default()
                )
            } else {
                format!("{:?}", self.config.timeout)
            },
        })
    }
}

/// Whether the guest's init has reported `boot` on the results port.
fn reported_boot(results: &Path) -> bool {
    std::fs::read(results).is_ok_and(|bytes| {
        String::from_utf8_lossy(&bytes)
            .lines()
            .any(|line| line.contains("@@weft-guest boot "))
    })
}

/// Whether a check passed, failed, or carries data for the host to judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Data,
}

/// One `@@weft-guest NAME OUTCOME DETAIL` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestResult {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// The report lines anywhere in `text` (the first line may carry firmware
/// escape codes before the marker); unknown outcomes are kept as failures.
pub fn parse_results(text: &str) -> Vec<GuestResult> {
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("@@weft-guest ")?;
            let rest = rest.trim_end_matches('\r');
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let (outcome, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            let outcome = match outcome {
                "pass" => Outcome::Pass,
                "data" => Outcome::Data,
                _ => Outcome::Fail,
            };
            Some(GuestResult {
                name: name.to_owned(),
                outcome,
                detail: detail.to_owned(),
            })
        })
        .collect()
}

/// What a booted guest reported, and its logs.
#[derive(Debug)]
pub struct GuestRun {
    pub results: Vec<GuestResult>,
    pub console: String,
    pub qemu_log: String,
    pub timed_out: bool,
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
    /// Which deadline killed a hung guest, as told in failures.
    deadline: String,
}

impl GuestRun {
    /// The last report named `name`.
    pub fn get(&self, name: &str) -> Option<&GuestResult> {
        self.results.iter().rev().find(|r| r.name == name)
    }

    /// Whether the script ran to its end (the epilogue's `done`).
    pub fn completed(&self) -> bool {
        self.get("done").is_some_and(|r| r.outcome == Outcome::Pass)
    }

    /// Panic with the console log unless the guest ran to its end.
    #[track_caller]
    pub fn expect_completed(&self) {
        if !self.completed() {
            let why = if self.timed_out {
                format!("the guest hung and was killed after {}", self.deadline)
            } else {
                format!(
                    "the guest stopped before its script ended ({:?})",
                    self.status
                )
            };
            self.fail(&why);
        }
    }

    /// Panic with the console log unless check `name` passed; its detail.
    #[track_caller]
    pub fn expect_pass(&self, name: &str) -> &str {
        match self.get(name) {
            Some(r) if r.outcome == Outcome::Pass => &r.detail,
            Some(r) => self.fail(&format!("guest check {name} failed: {}", r.detail)),
            None => self.fail(&format!("the guest did not report {name}")),
        }
    }

    /// The data reported as `name`; panics with the console log when absent.
    #[track_caller]
    pub fn data(&self, name: &str) -> &str {
        match self.get(name) {
            Some(r) if r.outcome == Outcome::Data => &r.detail,
            _ => self.fail(&format!("the guest did not report data {name}")),
        }
    }

    /// Every check that failed, in order.
    pub fn failures(&self) -> Vec<&GuestResult> {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .collect()
    }

    /// Panic with `why`, the QEMU output and the guest's console log.
    #[track_caller]
    pub fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\n--- qemu ---\n{}\n--- guest console ({:?}) ---\n{}",
            self.qemu_log.trim(),
            self.elapsed,
            self.console
        )
    }
}

#[cfg(test)]
mod tests;
