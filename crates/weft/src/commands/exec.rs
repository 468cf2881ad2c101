//! `weft exec TARGET -- CMD`: run a command inside a lab host (its network
//! and mount namespaces, so `wg show` finds its interfaces), a service's
//! namespace, or a container run from an image (`podman exec` / `docker
//! exec`).

use super::Context;
use crate::mesh::apply::service_netns;
use crate::mesh::{container, find_target};
use anyhow::{Context as _, Result, bail};
use std::io::IsTerminal as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use weft_mesh::Reach;

#[derive(clap::Args)]
pub struct Args {
    /// The mesh file (default: find TARGET among the meshes brought up here).
    #[arg(long)]
    file: Option<PathBuf>,
    /// A host or a service of the mesh.
    target: String,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn exec(ctx: &Context, args: Args) -> Result<()> {
    let (plan, dir) = find_target(args.file.as_deref(), &args.target)?;
    let argv = if plan.host(&args.target).is_some() {
        crate::mesh::conn_for(&ctx.socket, &plan, &dir, &args.target)?.exec_argv(&args.command)
    } else {
        let svc = plan
            .services
            .iter()
            .find(|s| s.name == args.target)
            .expect("found above");
        if svc.kind == weft_mesh::Kind::Vm {
            bail!(
                "service {} is a vm: it runs its own kernel, and weft exec only enters namespaces (use the guest's console or ssh)",
                svc.name
            );
        }
        let host = crate::mesh::conn_for(&ctx.socket, &plan, &dir, &svc.host)?;
        let over_ssh = matches!(
            plan.host(&svc.host).map(|h| &h.reach),
            Some(Reach::Ssh { .. })
        );
        if let Some(runtime) = svc.runtime() {
            // A container from an image: its runtime runs the command in
            // it, at its host's top level.
            let tty = !over_ssh && std::io::stdin().is_terminal();
            let inner = container::exec_argv(&plan.mesh, svc, runtime, tty, &args.command);
            let argv = if over_ssh {
                host.exec_argv(&inner)
            } else {
                inner
            };
            return run(argv);
        }
        let mut inner: Vec<String> = if svc.network_type.has_own_address() {
            let ns = service_netns(&plan.mesh, &svc.name);
            ["ip", "netns", "exec", &ns].map(String::from).to_vec()
        } else {
            vec![]
        };
        inner.extend(args.command.iter().cloned());
        if svc.network_type.has_own_address() {
            // The service namespace is reached from the host's top level.
            match plan.host(&svc.host).map(|h| &h.reach) {
                Some(Reach::Ssh { .. }) => host.exec_argv(&inner),
                _ => inner,
            }
        } else {
            host.exec_argv(&inner)
        }
    };
    run(argv)
}

fn run(argv: Vec<String>) -> Result<()> {
    let Some((program, rest)) = argv.split_first() else {
        bail!("nothing to run");
    };
    let err = std::process::Command::new(program)
        .args(rest)
        .env_remove("CNI_COMMAND")
        .exec();
    Err(err).with_context(|| format!("run {program}"))
}
