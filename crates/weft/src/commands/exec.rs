//! `weft exec TARGET -- CMD`: run a command inside a lab host (its network
//! and mount namespaces, so `wg show` finds its interfaces) or a service's
//! namespace.

use super::Context;
use crate::mesh::apply::service_netns;
use crate::mesh::find_target;
use anyhow::{Context as _, Result, bail};
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
    let Some((program, rest)) = argv.split_first() else {
        bail!("nothing to run");
    };
    let err = std::process::Command::new(program)
        .args(rest)
        .env_remove("CNI_COMMAND")
        .exec();
    Err(err).with_context(|| format!("run {program}"))
}
