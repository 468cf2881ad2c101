//! The agent's runner of the control plane's VMs
//! ([`weft_agent::control::runs::VmRunner`]): the hypervisor chosen as
//! `weft up` chooses it (`auto`: [`weft_model::vm::choose`] on what this
//! host offers), its command line made by `mesh::vm::launch` from the
//! NICs' configuration, and run under `weft service-run` — the
//! supervisor `weft up` uses — in a session of its own, so the guest
//! outlives the agent (killed or restarted) and a control plane outage.
//!
//! Each VM has a directory under `<state dir>/control/vms/<vm>`: the
//! supervisor's files (`pid`, `started`, `exit`, `output.log`, the
//! guest's `console.log`) and this runner's: `hypervisor` and `why` (the
//! choice), `failed` (why it could not start).

use crate::commands::service;
use crate::mesh::vm as launch;
use anyhow::{Context as _, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_agent::control::runs::VmRunner;
use weft_mesh::{Accel, Hypervisor, HypervisorSpec, VmPlan};
use weft_model::vm::{GuestNic, VmConfig, choose};
use weft_proto::control as pb;

/// Where the control plane's VMs boot from unless `--vm-files` says.
pub const DEFAULT_VM_FILES: &str = "/var/lib/weft/vm-files";

/// How long a start waits for the supervisor to record its state.
const STARTED_WITHIN: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct SupervisedVms {
    /// `<state dir>/control/vms`.
    dir: PathBuf,
    /// This `weft`, whose `service-run` supervises.
    weft: PathBuf,
    /// The directories a VM's files must be in (`--vm-files`).
    allowed: Vec<PathBuf>,
}

impl SupervisedVms {
    pub fn new(state_dir: &Path, allowed: Vec<PathBuf>) -> Result<SupervisedVms> {
        Ok(SupervisedVms {
            dir: state_dir.join("control").join("vms"),
            weft: std::env::current_exe().context("find this weft executable")?,
            allowed,
        })
    }

    fn vm_dir(&self, vm: &str) -> PathBuf {
        self.dir.join(vm)
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The hypervisor for `run`, its executable, whether with KVM, and why.
fn hypervisor(spec: &str) -> Result<(Hypervisor, String, bool, String)> {
    let spec: HypervisorSpec = spec
        .parse()
        .map_err(|_| anyhow!("hypervisor {spec:?} is not one weft runs"))?;
    let host = weft_agent::hypervisors::probe();
    match spec.named() {
        None => {
            let choice = choose(&host);
            let reasons: Vec<String> = (choice.considered.iter())
                .map(|c| format!("{}: {}", c.hypervisor, c.why))
                .collect();
            let why = format!("auto: {}; {}", choice.summary(), reasons.join("; "));
            match (choice.hypervisor, choice.binary) {
                (Some(h), Some(binary)) => Ok((h, binary, choice.kvm, why)),
                _ => bail!("{why}"),
            }
        }
        Some(h) => {
            let found = (host.found.iter()).find(|(f, _)| *f == h);
            let binary = found
                .and_then(|(_, p)| p.clone())
                .ok_or_else(|| anyhow!("hypervisor {h}: {} not found on PATH", h.binary()))?;
            let kvm = host.kvm.usable();
            if h != Hypervisor::Qemu && !kvm {
                bail!(
                    "hypervisor {h} needs KVM, which is not usable: {}",
                    host.kvm.why()
                );
            }
            Ok((
                h,
                binary,
                kvm,
                format!("named in run; KVM: {}", host.kvm.why()),
            ))
        }
    }
}

/// `run.{what}` at `path` is a file of one of the `allowed` directories
/// (links resolved: a link in one to elsewhere is not).
fn check_file(what: &str, path: &str, allowed: &[PathBuf]) -> Result<()> {
    let Ok(real) = std::fs::canonicalize(path) else {
        bail!("run.{what} {path} does not exist on this host");
    };
    let inside = (allowed.iter())
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .any(|dir| real.starts_with(&dir));
    if !inside || !real.is_file() {
        let dirs: Vec<String> = allowed.iter().map(|d| d.display().to_string()).collect();
        bail!(
            "run.{what} {path} is not a file in the directories this host runs VMs from ({}; the agent's --vm-files)",
            dirs.join(", ")
        );
    }
    Ok(())
}

/// `run`'s text, or `None` when empty.
fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

impl SupervisedVms {
    fn try_start(
        &self,
        vm: &str,
        run: &pb::DesiredVmRun,
        nics: &[GuestNic],
        dir: &Path,
    ) -> Result<()> {
        let (h, binary, kvm, why) = hypervisor(&run.hypervisor)?;
        std::fs::write(dir.join("hypervisor"), h.as_str())?;
        std::fs::write(dir.join("why"), &why)?;
        let plan = VmPlan {
            requested: run.hypervisor.parse().unwrap_or_default(),
            hypervisor: h,
            binary,
            kernel: given(&run.kernel),
            initrd: given(&run.initrd),
            disk: given(&run.rootfs),
            cmdline: given(&run.cmdline),
            memory: run.memory,
            vcpus: run.vcpus,
            accel: if kvm { Accel::Kvm } else { Accel::Tcg },
        };
        let files = [
            ("kernel", &plan.kernel),
            ("initrd", &plan.initrd),
            ("rootfs", &plan.disk),
        ];
        for (what, path) in files {
            if let Some(path) = path {
                check_file(what, path, &self.allowed)?;
            }
        }
        let config = VmConfig::new(nics, vm);
        let (args, requests) = match h {
            Hypervisor::Qemu => (config.qemu, vec![]),
            Hypervisor::CloudHypervisor => (config.cloud_hypervisor, vec![]),
            Hypervisor::Firecracker => {
                if let Some(e) = config.firecracker_error {
                    bail!("firecracker cannot take these NICs: {e}");
                }
                let requests = serde_json::from_value(serde_json::to_value(&config.firecracker)?)?;
                (vec![], requests)
            }
        };
        let text = dir.to_str().context("the VM's directory is not UTF-8")?;
        let launch = launch::launch(&plan, text, &args, &requests);
        let mut argv: Vec<String> = vec![
            "service-run".into(),
            "--dir".into(),
            text.into(),
            "--name".into(),
            vm.into(),
            "--fingerprint".into(),
            "control-plane".into(),
        ];
        if let Some((socket, requests)) = &launch.api {
            argv.extend([
                "--api-sock".into(),
                socket.clone(),
                "--api-requests".into(),
                serde_json::to_string(requests)?,
            ]);
        }
        argv.push("--".into());
        argv.extend(launch.argv);
        // A session of its own: the guest outlives this agent.
        let mut child = Command::new("setsid")
            .arg(&self.weft)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start weft service-run")?;
        // Reaped when it ends, while this agent runs.
        std::thread::spawn(move || child.wait());
        let deadline = Instant::now() + STARTED_WITHIN;
        while !dir.join("started").exists() {
            if Instant::now() > deadline {
                bail!("the supervisor did not start within {STARTED_WITHIN:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// The supervisor's word for how the hypervisor ended, shorter.
fn ended(exit: &str) -> String {
    match exit.strip_prefix("exited with code ") {
        Some(code) => format!("exited {code}"),
        None => exit.to_string(),
    }
}

impl VmRunner for SupervisedVms {
    fn start(&self, vm: &str, run: &pb::DesiredVmRun, nics: &[GuestNic]) -> Result<(), String> {
        let dir = self.vm_dir(vm);
        let _ = std::fs::remove_dir_all(&dir);
        let made = std::fs::create_dir_all(&dir);
        let result = made
            .map_err(anyhow::Error::from)
            .and_then(|()| self.try_start(vm, run, nics, &dir))
            .map_err(|e| crate::output::one_line(&e));
        if let Err(e) = &result {
            let _ = std::fs::write(dir.join("failed"), e);
        }
        result
    }

    fn report(&self, vm: &str) -> Option<pb::VmRunReport> {
        let dir = self.vm_dir(vm);
        if !dir.is_dir() {
            return None;
        }
        let mut report = pb::VmRunReport {
            hypervisor: read(&dir, "hypervisor").unwrap_or_default(),
            why: read(&dir, "why").unwrap_or_default(),
            ..Default::default()
        };
        let pid = read(&dir, "pid").and_then(|p| p.parse::<i32>().ok());
        let last_words = || {
            (read(&dir, "output.log").unwrap_or_default().lines().last())
                .unwrap_or_default()
                .chars()
                .take(400)
                .collect()
        };
        (report.state, report.error) = match (read(&dir, "failed"), read(&dir, "exit")) {
            (Some(why), _) => ("failed".into(), why),
            (None, Some(exit)) => (ended(&exit), last_words()),
            (None, None) if !dir.join("started").exists() => ("starting".into(), String::new()),
            (None, None) if pid.is_some_and(service::alive) => ("running".into(), String::new()),
            (None, None) => ("stopped".into(), "its supervisor is gone".into()),
        };
        Some(report)
    }

    fn stop(&self, vm: &str) -> Result<(), String> {
        let dir = self.vm_dir(vm);
        if !dir.is_dir() {
            return Ok(());
        }
        service::stop_dir(&dir).map_err(|e| crate::output::one_line(&e))
    }
}

#[cfg(test)]
mod tests;
