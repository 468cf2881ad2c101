//! weft as a CNI plugin (spec 1.1, also speaking 0.4.0 and 1.0.0).
//!
//! The `weft` binary runs [`main`] when `CNI_COMMAND` is set. The plugin
//! itself keeps no state: it checks its input, then asks the local agent
//! (socket from the config's `agentSocket`, default /run/weft/agent.sock)
//! to create the network if needed and to attach, detach, check or
//! garbage-collect. Errors are the spec's JSON on stdout; logs go to stderr.

pub mod agent;
pub mod commands;
pub mod config;
pub mod env;
pub mod error;
pub mod result;

use std::io::{Read, Write};
use std::process::ExitCode;

/// Is this process being run as a CNI plugin?
pub fn invoked_as_plugin() -> bool {
    std::env::var_os("CNI_COMMAND").is_some()
}

/// The plugin's entry point: environment and stdin in, JSON out.
pub fn main() -> ExitCode {
    let mut stdin = Vec::new();
    let read = std::io::stdin().read_to_end(&mut stdin);
    let version = config::version_of(&stdin);
    let outcome = read
        .map_err(|e| error::CniError::new(error::code::IO_FAILURE, format!("read stdin: {e}")))
        .and_then(|_| env::CniEnv::from_vars(|k| std::env::var(k).ok()))
        .and_then(|env| {
            let mut connect = |socket: &std::path::Path| {
                agent::GrpcAgent::connect(socket).map(|a| Box::new(a) as Box<dyn agent::AgentApi>)
            };
            commands::run(&env, &stdin, &mut connect)
        });
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(doc) => {
            if let Some(doc) = doc {
                let _ = writeln!(out, "{doc}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("weft (CNI): {err}");
            let _ = writeln!(out, "{}", err.to_json(&version));
            ExitCode::FAILURE
        }
    }
}
