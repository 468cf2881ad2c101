//! `weft up FILE` and `weft down FILE`: a whole mesh from one file. An `up`
//! that fails while it applies the plan takes back what it made (`undo.rs`).

mod summary;
mod undo;

use super::Context;
use crate::mesh::host::{HostConn, LocalHost, SshHost};
use crate::mesh::lab::Lab;
use crate::mesh::{Mesh, apply, connect, container, hypervisor, observe, parallel, verify};
use anyhow::{Context as _, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use undo::UndoLog;
use weft_mesh::{Action, Backoff, JoinConfig, Observed, Plan, Reach, Runtime};

#[derive(clap::Args)]
pub struct Args {
    /// The mesh file (see docs/mesh-file.md and examples/lab.yaml).
    file: PathBuf,
}

#[derive(clap::Args)]
pub struct UpArgs {
    /// The mesh file (see docs/mesh-file.md and examples/lab.yaml).
    file: PathBuf,
    /// Return once the changes are applied, without waiting for every peer
    /// to answer and every service to run.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the mesh to come up before failing, naming
    /// what is not up.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    timeout: u64,
}

/// Progress, per host: live on a terminal, plain lines otherwise.
struct Progress {
    tty: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stdout().is_terminal(),
        }
    }

    fn line(&self, host: &str, text: &str) {
        println!("{host:>8}: {text}");
    }

    /// A step of one host, shown live on a terminal while it runs.
    fn step<T>(&self, host: &str, text: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.tty {
            print!("{host:>8}: {text} …");
            let _ = std::io::stdout().flush();
        }
        let result = f();
        self.done(host, text, result.is_ok(), "\r\x1b[K");
        result
    }

    /// A step run side by side with other hosts' steps: one line once it
    /// is done (a live line per host would tangle).
    fn step_aside<T>(&self, host: &str, text: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let result = f();
        self.done(host, text, result.is_ok(), "");
        result
    }

    /// The line of a step that is done; `erase` goes first on a terminal.
    fn done(&self, host: &str, text: &str, ok: bool, erase: &str) {
        if self.tty {
            let mark = if ok { "✓" } else { "✗" };
            println!("{erase}{host:>8}: {text} {mark}");
        } else {
            println!("{host:>8}: {text}{}", if ok { "" } else { " (failed)" });
        }
    }
}

/// Connections to the hosts of a mesh.
type Hosts = Vec<Box<dyn HostConn>>;
/// Lab hosts' underlay addresses.
type Underlay = BTreeMap<String, std::net::IpAddr>;

/// Connections to every host of the file, changing nothing: lab hosts are
/// not made, SSH hosts only connected to (with `connect_ssh`).
fn host_conns(ctx: &Context, mesh: &Mesh, connect_ssh: bool) -> Result<Hosts> {
    let lab = Lab { mesh };
    let mut hosts: Hosts = vec![];
    for spec in &mesh.file.hosts {
        let name = spec.name.to_string();
        match spec.reach() {
            Reach::Lab => hosts.push(Box::new(lab.host(&name))),
            Reach::Local => hosts.push(Box::new(LocalHost {
                name,
                socket: ctx.socket.clone(),
            })),
            Reach::Ssh { target, identity } => {
                std::fs::create_dir_all(&mesh.dir)?;
                let host = ssh_host(mesh, name, &target, identity);
                if connect_ssh {
                    host.connect()?;
                }
                hosts.push(Box::new(host));
            }
        }
    }
    Ok(hosts)
}

/// A host reached over SSH, with the mesh's connection socket.
fn ssh_host(
    mesh: &Mesh,
    name: String,
    target: &weft_mesh::SshTarget,
    identity: Option<String>,
) -> SshHost {
    SshHost {
        control: mesh.dir.join(format!("ssh-{name}")),
        name,
        user: target.user.clone(),
        address: target.address.to_string(),
        port: target.port,
        identity,
    }
}

/// Make (or keep) the lab hosts, and give SSH hosts weft and an agent.
fn prepare_hosts(mesh: &Mesh, progress: &Progress) -> Result<Underlay> {
    let lab = Lab { mesh };
    let underlay = if mesh.file.hosts.iter().any(|h| h.reach() == Reach::Lab) {
        lab.ensure(&|host, text| progress.line(host, text))?
    } else {
        lab.underlay()
    };
    for spec in &mesh.file.hosts {
        let Reach::Ssh { target, identity } = spec.reach() else {
            continue;
        };
        let name = spec.name.to_string();
        let host = ssh_host(mesh, name.clone(), &target, identity);
        progress.step(
            &name,
            &format!(
                "install weft and start its agent over ssh ({}@{})",
                host.user, host.address
            ),
            || host.bootstrap(&name),
        )?;
    }
    Ok(underlay)
}

/// Connections to the hosts whose agents answer, for `down`.
fn connect_existing(ctx: &Context, mesh: &Mesh) -> Result<(Hosts, Underlay)> {
    let lab = Lab { mesh };
    let hosts = host_conns(ctx, mesh, true)?
        .into_iter()
        .filter(|h| {
            let lab_host = mesh
                .file
                .hosts
                .iter()
                .any(|s| s.name.as_str() == h.name() && s.reach() == Reach::Lab);
            !lab_host || crate::mesh::lab::agent_answers(&lab.host(h.name()))
        })
        .collect();
    Ok((hosts, lab.underlay()))
}

fn observe_all(
    mesh: &Mesh,
    hosts: &[Box<dyn HostConn>],
    underlay: &BTreeMap<String, std::net::IpAddr>,
) -> Result<Observed> {
    let mut observed = Observed {
        lab_underlay: underlay.clone(),
        ..Default::default()
    };
    let states = parallel::each(hosts, |host| observe::host(mesh, host.as_ref()));
    for (host, state) in hosts.iter().zip(states) {
        observed.hosts.insert(host.name().to_string(), state?);
    }
    Ok(observed)
}

fn host<'a>(hosts: &'a [Box<dyn HostConn>], name: &str) -> Result<&'a dyn HostConn> {
    hosts
        .iter()
        .find(|h| h.name() == name)
        .map(|h| h.as_ref())
        .with_context(|| format!("host {name} cannot be reached"))
}

/// Run every action, logging each in `log` (if given); returns how many
/// ran and the services started. Hosts go side by side, each host's
/// actions in order; a host stops at its first failure, the others finish
/// theirs, and the first failure (in the file's order of hosts) is the
/// error.
fn apply_changes(
    mesh: &Mesh,
    plan: &Plan,
    changes: &weft_mesh::Changes,
    hosts: &[Box<dyn HostConn>],
    progress: &Progress,
    log: Option<&mut UndoLog>,
) -> Result<(usize, BTreeSet<String>)> {
    let aside = changes.hosts.len() > 1;
    let log = log.map(Mutex::new);
    let ran = parallel::each(&changes.hosts, |hc| -> Result<(usize, BTreeSet<String>)> {
        let conn = host(hosts, &hc.host)?;
        let mut count = 0;
        let mut started = BTreeSet::new();
        for action in &hc.actions {
            let text = action.to_string();
            let run = || apply::run(mesh, plan, conn, action);
            let result = if aside {
                progress.step_aside(&hc.host, &text, run)
            } else {
                progress.step(&hc.host, &text, run)
            };
            if let Some(log) = &log {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.ran(&hc.host, action, result.is_ok());
            }
            result?;
            if let Action::StartService { service } = action {
                started.insert(service.name.clone());
            }
            count += 1;
        }
        Ok((count, started))
    });
    let mut count = 0;
    let mut started = BTreeSet::new();
    let mut first_error = None;
    for result in ran {
        match result {
            Ok((n, s)) => {
                count += n;
                started.extend(s);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((count, started)),
    }
}

pub fn exec_up(ctx: &Context, args: UpArgs) -> Result<()> {
    let mesh = Mesh::load(&args.file)?;
    let progress = Progress::new();
    let previous = mesh.previous()?;
    // Known before anything changes: what to put back if this run fails.
    let mut log = UndoLog::new(&mesh, previous.as_ref());
    // Containers are checked against their hosts before anything changes.
    let hosts = host_conns(ctx, &mesh, true)?;
    let runtimes =
        container::preflight(&mesh, &hosts, &mut |host, text| progress.line(host, text))?;
    let applied = apply_all(
        &mesh,
        &hosts,
        &runtimes,
        previous.as_ref(),
        &progress,
        &mut log,
    );
    let (applied, started, plan) = match applied {
        Ok(applied) => applied,
        Err(failure) => return Err(log.undo(&mesh, &hosts, &progress).after(failure)),
    };
    join_hubs(&plan, &hosts, &progress)?;
    if applied == 0 {
        println!("no changes");
    } else {
        println!("{applied} change(s) applied to mesh {}", mesh.name());
    }
    let result = if args.no_wait {
        Ok(())
    } else {
        wait_until_up(&mesh, &plan, &hosts, &started, args.timeout, &progress)
    };
    for h in &hosts {
        h.close();
    }
    result
}

/// Make the hosts ready and apply the plan, logging every change in
/// `log`; returns how many changes, the services started and the plan.
fn apply_all(
    mesh: &Mesh,
    hosts: &[Box<dyn HostConn>],
    runtimes: &BTreeMap<String, Runtime>,
    previous: Option<&Plan>,
    progress: &Progress,
    log: &mut UndoLog,
) -> Result<(usize, BTreeSet<String>, Plan)> {
    let underlay = prepare_hosts(mesh, progress)?;
    // After the hosts are ready: an SSH host's own weft answers.
    let hypervisors =
        hypervisor::choose_all(mesh, hosts, &mut |host, text| progress.line(host, text))?;
    let mut applied = 0;
    let mut started = BTreeSet::new();
    let mut plan = None;
    // Round one creates networks (their agents make the keys); round two
    // adds the peers whose keys now exist. A third finds nothing to do.
    for _ in 0..3 {
        let observed = observe_all(mesh, hosts, &underlay)?;
        let mut next = weft_mesh::plan(&mesh.file, &observed).context("plan")?;
        for svc in &mut next.services {
            if let Some(runtime) = runtimes.get(&svc.name) {
                svc.set_runtime(*runtime);
            }
            if let Some(choice) = hypervisors.get(&svc.name)
                && let (Some(hypervisor), Some(binary)) = (choice.hypervisor, &choice.binary)
            {
                svc.set_hypervisor(hypervisor, binary, choice.kvm);
            }
        }
        let changes = weft_mesh::diff(&next, &observed, previous);
        let done = changes.is_empty() && next.is_complete();
        log.round(&next, &observed);
        let (count, round_started) =
            apply_changes(mesh, &next, &changes, hosts, progress, Some(log))?;
        applied += count;
        started.extend(round_started);
        mesh.save_plan(&next)?;
        plan = Some(next);
        if done {
            break;
        }
    }
    let plan = plan.expect("at least one round");
    if !plan.is_complete() {
        bail!("some hosts have no keys yet: {:?}", plan.needs_keys);
    }
    // Lab hosts that left the file.
    if let Some(previous) = previous {
        let lab = Lab { mesh };
        for gone in previous
            .hosts
            .iter()
            .filter(|h| plan.host(&h.name).is_none() && h.reach == Reach::Lab)
        {
            progress.step(&gone.name, "remove lab host", || {
                lab.remove_host(&gone.name)
            })?;
            log.irreversible(format!("{}: remove lab host", gone.name));
            applied += 1;
        }
    }
    Ok((applied, started, plan))
}

/// Wait for every peer and service, showing progress; then a summary, or
/// every problem and an error.
fn wait_until_up(
    mesh: &Mesh,
    plan: &Plan,
    hosts: &[Box<dyn HostConn>],
    started: &BTreeSet<String>,
    timeout: u64,
    progress: &Progress,
) -> Result<()> {
    let mut last = String::new();
    let outcome = verify::wait(
        mesh,
        plan,
        hosts,
        started,
        Duration::from_secs(timeout),
        &mut |verdict, waited| {
            let counts = verdict.counts();
            if progress.tty {
                print!(
                    "\r\x1b[Kwaiting for the mesh: {counts} ({}s)",
                    waited.as_secs()
                );
                let _ = std::io::stdout().flush();
            } else if counts != last {
                println!("waiting for the mesh: {counts} ({}s)", waited.as_secs());
            }
            last = counts;
        },
    );
    if progress.tty {
        print!("\r\x1b[K");
    }
    if outcome.is_up() {
        summary::print(plan, &outcome);
        return Ok(());
    }
    println!("not up after {timeout}s:");
    let problems = outcome.problems();
    for problem in &problems {
        println!("  {problem}");
    }
    bail!(
        "mesh {} is not up after {timeout}s ({}): {}",
        plan.mesh,
        outcome.counts(),
        problems.join("; ")
    )
}

/// On hub-and-spoke networks, each spoke joins its hub with backoff.
fn join_hubs(plan: &Plan, hosts: &[Box<dyn HostConn>], progress: &Progress) -> Result<()> {
    for net in plan.networks.iter().filter(|n| n.hub.is_some()) {
        for h in &plan.hosts {
            let backoff = Backoff::new(6, Duration::from_secs(180));
            let Some(config) = JoinConfig::for_spoke(plan, &h.name, &net.name, backoff) else {
                continue;
            };
            let Some(hub) = h.network(&net.name).and_then(|n| n.peers.first()) else {
                continue;
            };
            let conn = host(hosts, &h.name)?;
            connect::join(conn, &net.name, hub, config, &mut |line| {
                progress.line(&h.name, &format!("{}: {line}", net.name))
            })
            .with_context(|| format!("{}: join the hub of {}", h.name, net.name))?;
        }
    }
    Ok(())
}

pub fn exec_down(ctx: &Context, args: Args) -> Result<()> {
    let mesh = Mesh::load(&args.file)?;
    let progress = Progress::new();
    let (hosts, underlay) = connect_existing(ctx, &mesh)?;
    let previous = mesh.previous()?;
    let observed = observe_all(&mesh, &hosts, &underlay)?;
    let plan = match weft_mesh::plan(&mesh.file, &observed) {
        Ok(plan) => plan,
        Err(e) => previous.clone().ok_or(e).context("plan")?,
    };
    let changes = weft_mesh::teardown(&plan, &observed, previous.as_ref());
    let (mut removed, _) = apply_changes(&mesh, &plan, &changes, &hosts, &progress, None)?;
    // A namespace `up` made for a service that never started, or whose
    // directory is gone, is in no directory `service-stop` reads.
    let services: Vec<&weft_mesh::ServicePlan> = plan
        .services
        .iter()
        .chain(previous.iter().flat_map(|p| &p.services))
        .collect();
    let per_host = parallel::each(&hosts, |h| -> Result<usize> {
        // Services the agents did not report (a container removed by hand,
        // a supervisor gone) still have their namespace and record.
        let dir = crate::mesh::host::quote(&mesh.services_dir(h.as_ref()));
        h.sh(&format!(
            "for d in {dir}/*/; do [ -d \"$d\" ] && {} service-stop --dir \"$d\"; done; rm -rf {dir}",
            crate::mesh::host::quote(&h.weft_bin())
        ))?;
        let here = services.iter().filter(|s| s.host == h.name());
        apply::remove_service_namespaces(&mesh, h.as_ref(), here.map(|s| s.name.as_str()))
    });
    for n in per_host {
        removed += n?;
    }
    let lab = Lab { mesh: &mesh };
    if !lab.underlay().is_empty() {
        progress.step("lab", "remove lab hosts and underlay", || lab.remove_all())?;
        removed += 1;
    }
    for h in &hosts {
        h.close();
    }
    let _ = std::fs::remove_dir_all(&mesh.dir);
    if removed == 0 {
        println!("nothing to remove");
    } else {
        println!("mesh {} removed", mesh.name());
    }
    Ok(())
}
