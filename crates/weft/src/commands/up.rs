//! `weft up FILE` and `weft down FILE`: a whole mesh from one file.

use super::Context;
use crate::mesh::host::{HostConn, LocalHost, SshHost};
use crate::mesh::lab::Lab;
use crate::mesh::{Mesh, apply, connect, observe};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;
use weft_mesh::{Backoff, JoinConfig, Observed, Plan, Reach};

#[derive(clap::Args)]
pub struct Args {
    /// The mesh file (see docs/mesh-file.md and examples/lab.yaml).
    file: PathBuf,
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

    fn step<T>(&self, host: &str, text: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.tty {
            print!("{host:>8}: {text} …");
            let _ = std::io::stdout().flush();
        }
        let result = f();
        let mark = if result.is_ok() { "✓" } else { "✗" };
        if self.tty {
            println!("\r\x1b[K{host:>8}: {text} {mark}");
        } else {
            println!(
                "{host:>8}: {text}{}",
                if result.is_ok() { "" } else { " (failed)" }
            );
        }
        result
    }
}

/// Connections to the hosts of a mesh.
type Hosts = Vec<Box<dyn HostConn>>;
/// Lab hosts' underlay addresses.
type Underlay = BTreeMap<String, std::net::IpAddr>;

/// Connections to every host of the file. Lab hosts are made (or kept)
/// when `create` is set; SSH hosts get weft and an agent.
fn connect_hosts(
    ctx: &Context,
    mesh: &Mesh,
    create: bool,
    progress: &Progress,
) -> Result<(Hosts, Underlay)> {
    let lab = Lab { mesh };
    let underlay = if create && mesh.file.hosts.iter().any(|h| h.reach() == Reach::Lab) {
        lab.ensure(&mut |host, text| progress.line(host, text))?
    } else {
        lab.underlay()
    };
    let mut hosts: Vec<Box<dyn HostConn>> = vec![];
    for spec in &mesh.file.hosts {
        let name = spec.name.to_string();
        match spec.reach() {
            Reach::Lab => {
                let host = lab.host(&name);
                if create || crate::mesh::lab::agent_answers(&host) {
                    hosts.push(Box::new(host));
                }
            }
            Reach::Local => hosts.push(Box::new(LocalHost {
                name,
                socket: ctx.socket.clone(),
            })),
            Reach::Ssh { target, identity } => {
                std::fs::create_dir_all(&mesh.dir)?;
                let host = SshHost {
                    name: name.clone(),
                    user: target.user.clone(),
                    address: target.address.to_string(),
                    port: target.port,
                    identity,
                    control: mesh.dir.join(format!("ssh-{name}")),
                };
                if !create {
                    host.connect()?;
                }
                if create {
                    progress.step(
                        &name,
                        &format!(
                            "install weft and start its agent over ssh ({}@{})",
                            host.user, host.address
                        ),
                        || host.bootstrap(&name),
                    )?;
                }
                hosts.push(Box::new(host));
            }
        }
    }
    Ok((hosts, underlay))
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
    for host in hosts {
        let state = observe::host(mesh, host.as_ref())?;
        observed.hosts.insert(host.name().to_string(), state);
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

fn apply_changes(
    mesh: &Mesh,
    plan: &Plan,
    changes: &weft_mesh::Changes,
    hosts: &[Box<dyn HostConn>],
    progress: &Progress,
) -> Result<usize> {
    let mut count = 0;
    for hc in &changes.hosts {
        let conn = host(hosts, &hc.host)?;
        for action in &hc.actions {
            progress.step(&hc.host, &action.to_string(), || {
                apply::run(mesh, plan, conn, action)
            })?;
            count += 1;
        }
    }
    Ok(count)
}

pub fn exec_up(ctx: &Context, args: Args) -> Result<()> {
    let mesh = Mesh::load(&args.file)?;
    let progress = Progress::new();
    let (hosts, underlay) = connect_hosts(ctx, &mesh, true, &progress)?;
    let previous = mesh.previous()?;
    let mut applied = 0;
    let mut plan = None;
    // Round one creates networks (their agents make the keys); round two
    // adds the peers whose keys now exist. A third finds nothing to do.
    for _ in 0..3 {
        let observed = observe_all(&mesh, &hosts, &underlay)?;
        let next = weft_mesh::plan(&mesh.file, &observed).context("plan")?;
        let changes = weft_mesh::diff(&next, &observed, previous.as_ref());
        let done = changes.is_empty() && next.is_complete();
        applied += apply_changes(&mesh, &next, &changes, &hosts, &progress)?;
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
    if let Some(previous) = &previous {
        let lab = Lab { mesh: &mesh };
        for gone in previous
            .hosts
            .iter()
            .filter(|h| plan.host(&h.name).is_none() && h.reach == Reach::Lab)
        {
            progress.step(&gone.name, "remove lab host", || {
                lab.remove_host(&gone.name)
            })?;
            applied += 1;
        }
    }
    join_hubs(&plan, &hosts, &progress)?;
    for h in &hosts {
        h.close();
    }
    if applied == 0 {
        println!("no changes");
    } else {
        println!("{applied} change(s) applied to mesh {}", mesh.name());
    }
    Ok(())
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
    let (hosts, underlay) = connect_hosts(ctx, &mesh, false, &progress)?;
    let previous = mesh.previous()?;
    let observed = observe_all(&mesh, &hosts, &underlay)?;
    let plan = match weft_mesh::plan(&mesh.file, &observed) {
        Ok(plan) => plan,
        Err(e) => previous.clone().ok_or(e).context("plan")?,
    };
    let changes = weft_mesh::teardown(&plan, &observed, previous.as_ref());
    let mut removed = apply_changes(&mesh, &plan, &changes, &hosts, &progress)?;
    for h in &hosts {
        h.sh(&format!(
            "rm -rf {}",
            crate::mesh::host::quote(&mesh.services_dir(h.as_ref()))
        ))?;
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
