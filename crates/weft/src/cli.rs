//! The command line's definition: every command, flag and help text. `main`
//! parses it; `weft completions` and `weft man` generate from it, so the
//! shell completions and the man pages in docs/man/ cannot drift from it.

use crate::{commands, output};
use clap::{CommandFactory as _, Parser, Subcommand};
use std::path::PathBuf;

/// `weft --version`: the version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(env!("WEFT_VERSION"), " (commit ", env!("WEFT_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "weft",
    version = VERSION,
    about = "Flat, encrypted, isolated networks for containers, VMs and processes on many hosts",
    long_about = "weft gives workloads on many Linux hosts flat, WireGuard-encrypted networks.\n\
                  Run `weft agent` on each host; the other commands talk to it over its Unix socket."
)]
pub struct Cli {
    /// The agent's API socket.
    #[arg(long, global = true, env = "WEFT_SOCKET", default_value = weft_agent::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Output format: tables for people, JSON for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = output::Format::Table)]
    pub output: output::Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the per-host agent (as root).
    Agent(commands::agent::Args),
    /// Create, list and remove networks.
    #[command(subcommand)]
    Network(commands::network::Command),
    /// Add and remove WireGuard peers (other hosts) of a network.
    #[command(subcommand)]
    Peer(commands::peer::Command),
    /// Attach a workload (a network namespace, or a VM with --vm) to a network.
    Attach(commands::attach::AttachArgs),
    /// Detach a workload from a network. Detaching an unknown workload succeeds.
    Detach(commands::attach::DetachArgs),
    /// List attachments.
    Attachments(commands::attach::ListArgs),
    /// Live state of networks and their peers, read from the data plane.
    Status(commands::status::Args),
    /// DNS names given to a network by an outside source.
    #[command(subcommand)]
    Names(commands::names::Command),
    /// Bring up a whole mesh from one file.
    ///
    /// Lab hosts on this machine, this machine's agent, or hosts over SSH;
    /// keys, blocks, peers, services, DNS.
    Up(commands::up::UpArgs),
    /// Remove everything `weft up FILE` made.
    Down(commands::up::Args),
    /// Run a command inside a mesh's lab host or service: `weft exec web -- ping db`.
    Exec(commands::exec::Args),
    /// Run and supervise one service of a mesh (run by `weft up` on the
    /// service's host).
    #[command(hide = true, name = "service-run")]
    ServiceRun(commands::service::RunArgs),
    /// Stop a service started by `service-run`.
    #[command(hide = true, name = "service-stop")]
    ServiceStop(commands::service::DirArgs),
    /// The state of every service under a directory, as JSON.
    #[command(hide = true, name = "service-status")]
    ServiceStatus(commands::service::DirArgs),
    /// A VM's NICs as its hypervisor or guest takes them.
    #[command(subcommand)]
    Vm(commands::vm::Command),
    /// Generate WireGuard keys.
    #[command(subcommand)]
    Key(commands::key::Command),
    /// The optional control plane: serve it, manage tenants and enrollment
    /// tokens, and, as a tenant, everything its REST API does.
    ///
    /// `serve`, `tenant` and `token create --tenant` are the operator's
    /// (against the store: --state-dir, --store). The others are a
    /// tenant's: each calls one REST route with the tenant's key (--api,
    /// --api-key, --ca, or WEFT_API, WEFT_API_KEY, WEFT_CA).
    Control(commands::control::Args),
    /// Print a shell's completion script for weft (bash, zsh, fish, …).
    #[command(after_long_help = commands::completions::WHERE_TO_PUT_IT)]
    Completions(commands::completions::Args),
    /// Write weft's man pages (weft.1, weft-network-create.1, …) into a
    /// directory: docs/man/ in the source tree, or a package's.
    #[command(hide = true)]
    Man(commands::man::Args),
}

/// The command line as clap builds it, for the generators.
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests;
