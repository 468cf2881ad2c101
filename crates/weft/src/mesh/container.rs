//! Containers run from images on a mesh's hosts, with Podman or Docker.
//!
//! On the machine that runs `up`: [`preflight`] asks each host, before
//! anything is changed, whether the runtime is installed, the image there
//! (pulling it once) and each volume's host path present, and settles the
//! default runtime; [`run_args`] builds the `run` command line (pure).
//!
//! On the service's host (through `weft service-run`, `service-stop`,
//! `service-status`): [`start`], [`remove`] and [`state`] run the runtime.
//!
//! Podman joins the namespace weft made and attached (`--network
//! ns:PATH`). Docker cannot join a namespace made beforehand: its container
//! starts with `--network none`, its namespace is named after the service
//! (`ip netns attach`), and weft attaches that one. Either way the
//! container is `weft-<mesh>-<service>`, labelled `weft.mesh` and
//! `weft.service`, and never restarted by the runtime (no restart policy).

use super::Mesh;
use super::host::{HostConn, quote};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use weft_mesh::{Kind, NetworkType, Plan, Reach, Runtime, ServicePlan};

/// The label naming the mesh a container belongs to.
pub const MESH_LABEL: &str = "weft.mesh";
pub const SERVICE_LABEL: &str = "weft.service";

/// The container of a mesh's service (the same name as its namespace).
pub fn container_name(mesh: &str, service: &str) -> String {
    super::netns_name(mesh, service)
}

/// What the container's network is: the service's own namespace, or its
/// host's (`network: host`: a lab host's namespace, else the machine's).
pub enum Network {
    Own { netns: String },
    Host { netns: Option<String> },
}

/// The arguments of `RUNTIME run` (after `run`) for `svc`.
pub fn run_args(
    plan: &Plan,
    svc: &ServicePlan,
    runtime: Runtime,
    network: &Network,
) -> Vec<String> {
    let c = svc
        .container
        .as_ref()
        .expect("a container run from an image");
    let name = container_name(&plan.mesh, &svc.name);
    let mut args: Vec<String> = vec![
        "-d".into(),
        "--name".into(),
        name,
        "--label".into(),
        format!("{MESH_LABEL}={}", plan.mesh),
        "--label".into(),
        format!("{SERVICE_LABEL}={}", svc.name),
        "--hostname".into(),
        svc.name.clone(),
    ];
    let network = match (network, runtime) {
        (Network::Own { netns }, Runtime::Podman) => format!("ns:/run/netns/{netns}"),
        (Network::Own { .. }, Runtime::Docker) => "none".into(),
        (Network::Host { netns: Some(netns) }, _) => format!("ns:/run/netns/{netns}"),
        (Network::Host { netns: None }, _) => "host".into(),
    };
    args.extend(["--network".into(), network]);
    // The service's first network's responder (its host's address there)
    // answers the mesh's names, as for a process in its namespace.
    if svc.network_type.has_own_address()
        && let Some(first) = svc.addresses.first()
        && let Some(resolver) = plan
            .host(&svc.host)
            .and_then(|h| h.network(&first.network))
            .map(|n| n.address)
    {
        args.extend([
            "--dns".into(),
            resolver.to_string(),
            "--dns-search".into(),
            plan.domain.clone(),
        ]);
    }
    for entry in &c.env {
        args.extend(["-e".into(), entry.clone()]);
    }
    for volume in &c.volumes {
        args.extend(["-v".into(), volume.to_arg()]);
    }
    args.push(c.image.clone());
    args.extend(svc.command.iter().flatten().cloned());
    args
}

/// argv of `weft exec SERVICE -- CMD` for a container (on its host).
pub fn exec_argv(
    mesh: &str,
    svc: &ServicePlan,
    runtime: Runtime,
    tty: bool,
    cmd: &[String],
) -> Vec<String> {
    let mut argv = vec![runtime.command().to_string(), "exec".into(), "-i".into()];
    if tty {
        argv.push("-t".into());
    }
    argv.push(container_name(mesh, &svc.name));
    argv.extend(cmd.iter().cloned());
    argv
}

/// The runtimes installed on a host.
fn installed(host: &dyn HostConn) -> Result<Vec<Runtime>> {
    let out =
        host.sh("for r in podman docker; do command -v $r >/dev/null 2>&1 && echo $r; done; true")?;
    Ok([Runtime::Podman, Runtime::Docker]
        .into_iter()
        .filter(|r| out.lines().any(|l| l.trim() == r.command()))
        .collect())
}

/// Check every container service against its host before `up` changes
/// anything; returns the runtime each one gets. Each error is one line
/// naming the service and the key to change.
pub fn preflight(
    mesh: &Mesh,
    hosts: &[Box<dyn HostConn>],
    log: &mut dyn FnMut(&str, &str),
) -> Result<BTreeMap<String, Runtime>> {
    let mut runtimes = BTreeMap::new();
    let mut on_host: BTreeMap<String, Vec<Runtime>> = BTreeMap::new();
    for (i, svc) in mesh.file.services.iter().enumerate() {
        let (Kind::Container, Some(image)) = (svc.kind, &svc.image) else {
            continue;
        };
        let at = |key: &str| format!("service {} (services[{i}].{key})", svc.name);
        let Some(host) = hosts.iter().find(|h| h.name() == svc.host.as_str()) else {
            continue;
        };
        let host = host.as_ref();
        let have = match on_host.get(host.name()) {
            Some(have) => have.clone(),
            None => {
                let have = installed(host)
                    .with_context(|| format!("{}: find container runtimes", host.name()))?;
                on_host.insert(host.name().to_string(), have.clone());
                have
            }
        };
        let runtime = match svc.runtime {
            Some(r) if have.contains(&r) => r,
            Some(r) => bail!(
                "{}: {r} is not installed on host {}",
                at("runtime"),
                svc.host
            ),
            None => match Runtime::default_for(&have) {
                Some(r) => r,
                None => bail!(
                    "{}: host {} has no container runtime (install podman or docker)",
                    at("image"),
                    svc.host
                ),
            },
        };
        let lab = mesh
            .file
            .hosts
            .iter()
            .any(|h| h.name == svc.host && h.reach() == Reach::Lab);
        if runtime == Runtime::Docker && lab && svc.network == NetworkType::Host {
            bail!(
                "{}: docker cannot join lab host {}'s namespace; use podman or network: mesh",
                at("network"),
                svc.host
            );
        }
        for (k, text) in svc.volumes.iter().enumerate() {
            let volume = weft_mesh::Volume::parse(text).expect("checked by validate");
            if host
                .sh(&format!("[ -e {} ]", quote(&volume.host_path)))
                .is_err()
            {
                bail!(
                    "{}: {} does not exist on host {}",
                    at(&format!("volumes[{k}]")),
                    volume.host_path,
                    svc.host
                );
            }
        }
        let rt = runtime.command();
        let image_q = quote(image);
        if host
            .sh(&format!("{rt} image inspect {image_q} >/dev/null 2>&1"))
            .is_err()
        {
            log(host.name(), &format!("pull {image} ({rt})"));
            if let Err(e) = host.sh(&format!("{rt} pull -q {image_q} >/dev/null")) {
                let why = match local_image_hint(image, rt) {
                    Some(hint) => hint,
                    None => {
                        let why = format!("{e:#}");
                        why.lines().last().unwrap_or_default().to_string()
                    }
                };
                bail!(
                    "{}: image {image:?} is not on host {} and cannot be pulled: {why}",
                    at("image"),
                    svc.host
                );
            }
        }
        runtimes.insert(svc.name.to_string(), runtime);
    }
    Ok(runtimes)
}

/// The image of examples/lab.yaml's `www` service, which `scripts/demo`
/// runs: built from busybox-static by `scripts/demo-image`.
const DEMO_IMAGE: &str = "localhost/weft-demo:latest";

/// Why `image`, missing on a host, cannot be pulled when it names no
/// registry: `localhost/` is where images built, imported or loaded on the
/// machine itself are kept, so a pull can only fail (and the runtime's own
/// reason, a refused connection to a registry at localhost, would
/// mislead). `None` for other images: the runtime's reason is the one.
fn local_image_hint(image: &str, runtime: &str) -> Option<String> {
    if !image.starts_with("localhost/") {
        return None;
    }
    let mut hint = format!(
        "localhost/ images are made on their host: {runtime} build, import or load it there first"
    );
    if image == DEMO_IMAGE {
        hint.push_str(
            " (this is examples/lab.yaml's image: scripts/demo-image in weft's source tree \
             makes it, and scripts/demo runs that)",
        );
    }
    Some(hint)
}

// --- On the service's host ---

fn runtime_cmd(runtime: Runtime) -> Command {
    let mut cmd = Command::new(runtime.command());
    cmd.stdin(Stdio::null());
    cmd
}

/// Run `RUNTIME args`; its stdout, or its stderr as the error.
fn call(runtime: Runtime, args: &[&str], what: &str) -> Result<String> {
    let out = runtime_cmd(runtime)
        .args(args)
        .output()
        .with_context(|| format!("{what}: run {runtime}"))?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The mesh label of an existing container, `None` when there is none.
fn owner(runtime: Runtime, name: &str) -> Option<String> {
    let format = format!("{{{{index .Config.Labels \"{MESH_LABEL}\"}}}}");
    call(
        runtime,
        &["container", "inspect", "-f", &format, name],
        "inspect",
    )
    .ok()
}

/// Start the service's container: a leftover of the same mesh is removed
/// first; a container of that name that is not the mesh's is refused. With
/// Docker, its namespace becomes `netns` (then attached by weft).
pub fn start(
    runtime: Runtime,
    name: &str,
    mesh: &str,
    netns: Option<&str>,
    run_args: &[String],
) -> Result<()> {
    match owner(runtime, name) {
        Some(owner) if owner == mesh => remove(runtime, name)?,
        Some(_) => bail!(
            "start container {name}: a container of that name exists and is not mesh {mesh}'s"
        ),
        None => {}
    }
    let mut args = vec!["run".to_string()];
    args.extend(run_args.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Err(e) = call(
        runtime,
        &args,
        &format!("start container {name} ({runtime})"),
    ) {
        // A runtime that could not start the container may have made it:
        // leave none behind (its record says nothing runs).
        let _ = remove(runtime, name);
        return Err(e);
    }
    if let (Runtime::Docker, Some(netns)) = (runtime, netns) {
        let pid = call(
            runtime,
            &["inspect", "-f", "{{.State.Pid}}", name],
            &format!("find container {name}'s process"),
        )?;
        if std::path::Path::new("/run/netns").join(netns).exists() {
            ip(
                &["netns", "del", netns],
                &format!("remove the stale namespace {netns}"),
            )?;
        }
        ip(
            &["netns", "attach", netns, &pid],
            &format!("name container {name}'s namespace {netns}"),
        )?;
    }
    Ok(())
}

fn ip(args: &[&str], what: &str) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: run ip"))?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Remove the container (stopping it at once); gone already is fine.
pub fn remove(runtime: Runtime, name: &str) -> Result<()> {
    if owner(runtime, name).is_none() {
        return Ok(());
    }
    let args: &[&str] = match runtime {
        Runtime::Podman => &["rm", "-f", "-t", "0", name],
        Runtime::Docker => &["rm", "-f", name],
    };
    call(runtime, args, &format!("remove container {name}")).map(drop)
}

/// A container's state as `weft status --file` shows it.
#[derive(Debug, PartialEq, Eq)]
pub enum State {
    Running,
    /// Exited with this code; never started again by weft or the runtime.
    Exited(i64),
    /// Created, paused, …: the runtime's word.
    Other(String),
    /// No container; its image is still there.
    Removed,
    /// No container, and no image to make it from.
    ImageMissing,
}

pub fn state(runtime: Runtime, name: &str, image: &str) -> State {
    let format = "{{.State.Status}} {{.State.ExitCode}}";
    match call(
        runtime,
        &["container", "inspect", "-f", format, name],
        "inspect",
    ) {
        Ok(text) => parse_state(&text),
        Err(_) if call(runtime, &["image", "inspect", image], "inspect").is_err() => {
            State::ImageMissing
        }
        Err(_) => State::Removed,
    }
}

fn parse_state(text: &str) -> State {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["running", ..] => State::Running,
        ["exited", code] => code
            .parse()
            .map(State::Exited)
            .unwrap_or_else(|_| State::Other(text.into())),
        _ => State::Other(text.to_string()),
    }
}

#[cfg(test)]
mod tests;
