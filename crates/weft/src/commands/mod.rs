//! One file per subcommand, each with an `exec` entry.

use crate::output::Format;
use std::path::PathBuf;

pub mod agent;
pub mod attach;
pub mod key;
pub mod network;
pub mod peer;
pub mod status;

/// What every subcommand gets from the global flags.
pub struct Context {
    pub socket: PathBuf,
    pub output: Format,
}
