//! One file per subcommand, each with an `exec` entry.

use crate::output::Format;
use std::path::PathBuf;

pub mod agent;
pub mod attach;
pub mod completions;
pub mod control;
pub mod exec;
pub mod key;
pub mod man;
pub mod names;
pub mod network;
pub mod peer;
pub mod service;
pub mod status;
pub mod up;
pub mod vm;

/// What every subcommand gets from the global flags.
pub struct Context {
    pub socket: PathBuf,
    pub output: Format,
}
