//! `weft`: the agent, the CLI that drives it, and the CNI plugin, in one
//! binary. `main` parses (the command line is defined in `cli.rs`),
//! dispatches and reports; each subcommand lives in `commands/`.

mod api_client;
mod cli;
mod client;
mod commands;
#[cfg(test)]
mod docs_check;
mod mesh;
mod output;
mod unix_http;

use clap::Parser as _;
use cli::{Cli, Command};
use std::process::ExitCode;

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
        Command::Control(args) => commands::control::exec(ctx.output, args),
        Command::Up(args) => commands::up::exec_up(&ctx, args),
        Command::Down(args) => commands::up::exec_down(&ctx, args),
        Command::Exec(args) => commands::exec::exec(&ctx, args),
        Command::ServiceRun(args) => commands::service::run(args),
        Command::ServiceStop(args) => commands::service::stop(args),
        Command::ServiceStatus(args) => commands::service::status(args),
        Command::Completions(args) => commands::completions::exec(args),
        Command::Man(args) => commands::man::exec(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("weft: error: {}", output::one_line(&err));
            ExitCode::FAILURE
        }
    }
}
