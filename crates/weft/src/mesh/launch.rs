//! Starting a `kind: vm` service on its host: check the hypervisor and
//! the files it boots are there, ask the agent for the NICs' configuration
//! (`weft vm config`), and run the hypervisor under the same supervisor as
//! processes (`weft service-run`), Firecracker configured over its API
//! socket. A VM that cannot start leaves nothing behind: its supervisor
//! state and its TAPs go again, and the error names what was wrong.

use super::Mesh;
use super::apply::{start_supervisor, supervisor_argv};
use super::host::{HostConn, quote};
use super::vm::{self, ApiRequest};
use anyhow::{Context as _, Result, anyhow, bail};
use weft_mesh::ServicePlan;

pub fn start_vm(mesh: &Mesh, host: &dyn HostConn, svc: &ServicePlan) -> Result<()> {
    let result = try_start(mesh, host, svc);
    if result.is_err() {
        undo(mesh, host, svc);
    }
    result
}

fn try_start(mesh: &Mesh, host: &dyn HostConn, svc: &ServicePlan) -> Result<()> {
    let name = &svc.name;
    let machine = svc
        .vm
        .as_ref()
        .ok_or_else(|| anyhow!("service {name}: the plan has no machine for this vm"))?;
    let found = host.sh(&format!("command -v {} || true", quote(&machine.binary)))?;
    if found.trim().is_empty() {
        bail!(
            "service {name}: hypervisor {} is not installed on host {}",
            machine.binary,
            host.name()
        );
    }
    for (what, path) in vm::files(machine) {
        let there = host.sh(&format!("[ -e {} ] && echo yes || true", quote(path)))?;
        if there.trim() != "yes" {
            bail!(
                "service {name}: {what} {path} does not exist on host {}",
                host.name()
            );
        }
    }
    let config: serde_json::Value = serde_json::from_str(&host.weft(&[
        "vm",
        "config",
        &svc.workload_id,
        "--hypervisor",
        machine.hypervisor.as_str(),
    ])?)
    .context("weft vm config")?;
    let nic_args: Vec<String> = serde_json::from_value(config["args"].clone())?;
    let nic_requests: Vec<ApiRequest> = serde_json::from_value(config["requests"].clone())?;
    let dir = mesh.service_dir(host, name);
    let launch = vm::launch(machine, &dir, &nic_args, &nic_requests);
    let mut argv = supervisor_argv(host.weft_bin(), dir.clone(), mesh.name(), svc)?;
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
    start_supervisor(mesh, host, svc, &argv)?;
    // A hypervisor that exits at once (a bad argument, a refused API
    // request, an image it cannot read) is an error of this `up`, not a
    // state to find later.
    let exit = host.sh(&format!(
        "sleep 1; cat {}/exit 2>/dev/null || true",
        quote(&dir)
    ))?;
    if !exit.trim().is_empty() {
        let last = host.sh(&format!(
            "tail -n 1 {}/output.log 2>/dev/null || true",
            quote(&dir)
        ))?;
        let last = last.trim();
        bail!(
            "service {name}: {} stopped at once: {}{}",
            machine.binary,
            exit.trim(),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        );
    }
    Ok(())
}

/// Stop what started and remove the VM's TAPs; errors here are not the
/// news (the start's error is), so they are only logged.
fn undo(mesh: &Mesh, host: &dyn HostConn, svc: &ServicePlan) {
    let dir = mesh.service_dir(host, &svc.name);
    let _ = host.sh(&format!(
        "{} service-stop --dir {}",
        quote(&host.weft_bin()),
        quote(&dir)
    ));
    for address in &svc.addresses {
        if let Err(e) = host.weft(&["detach", &address.network, "--id", &svc.workload_id]) {
            tracing::warn!("undo the NICs of {}: {e:#}", svc.name);
        }
    }
}
