//! `weft`: the agent, the CLI that drives it, and the CNI plugin, in one
//! binary. `main` parses, dispatches and reports; each subcommand lives
//! in `commands/`.

mod client;
mod commands;
mod mesh;
mod output;
mod unix_http;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Flat, encrypted, isolated networks for containers, VMs and processes on many hosts",
    long_about = "weft gives workloads on many Linux hosts flat, WireGuard-encrypted networks.\n\
                  Run `weft agent` on each host; the other commands talk to it over its Unix socket."
)]
struct Cli {
    /// The agent's API socket.
    #[arg(long, global = true, env = "WEFT_SOCKET", default_value = weft_agent::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Output format: tables for people, JSON for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = output::Format::Table)]
    output: output::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Bring up a whole mesh from one file: lab hosts on this machine, this
    /// machine's agent, or hosts over SSH; keys, blocks, peers, services, DNS.
    Up(commands::up::UpArgs),
    /// Remove everything `weft up FILE` made.
    Down(commands::up::Args),
    /// Run a command inside a mesh's lab host or service: `weft exec web -- ping db`.
    Exec(commands::exec::Args),
    #[command(hide = true, name = "service-run")]
    ServiceRun(commands::service::RunArgs),
    #[command(hide = true, name = "service-stop")]
    ServiceStop(commands::service::DirArgs),
    #[command(hide = true, name = "service-status")]
    ServiceStatus(commands::service::DirArgs),
    /// A VM's NICs as its hypervisor or guest takes them.
    #[command(subcommand)]
    Vm(commands::vm::Command),
    /// Generate WireGuard keys.
    #[command(subcommand)]
    Key(commands::key::Command),
}

fn main() -> ExitCode {
    // Runtimes run CNI plugins with CNI_COMMAND set and the config on stdin.
    if weft_cni::invoked_as_plugin() {
        return weft_cni::main();
    }
    let cli = Cli::parse();
    let ctx = commands::Context {
        socket: cli.socket,
        output: cli.output,
    };
    let result = match cli.command {
        Command::Agent(args) => commands::agent::exec(&ctx, args),
        Command::Network(cmd) => commands::network::exec(&ctx, cmd),
        Command::Peer(cmd) => commands::peer::exec(&ctx, cmd),
        Command::Attach(args) => commands::attach::exec_attach(&ctx, args),
        Command::Detach(args) => commands::attach::exec_detach(&ctx, args),
        Command::Attachments(args) => commands::attach::exec_list(&ctx, args),
        Command::Status(args) => commands::status::exec(&ctx, args),
        Command::Names(cmd) => commands::names::exec(&ctx, cmd),
        Command::Key(cmd) => commands::key::exec(cmd),
        Command::Vm(cmd) => commands::vm::exec(&ctx, cmd),
        Command::Up(args) => commands::up::exec_up(&ctx, args),
        Command::Down(args) => commands::up::exec_down(&ctx, args),
        Command::Exec(args) => commands::exec::exec(&ctx, args),
        Command::ServiceRun(args) => commands::service::run(args),
        Command::ServiceStop(args) => commands::service::stop(args),
        Command::ServiceStatus(args) => commands::service::status(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("weft: error: {}", output::one_line(&err));
            ExitCode::FAILURE
        }
    }
}
