//! The integration tests of this crate, one binary (one link) for all:
//! each module was a test binary of its own. `scripts/test` runs every
//! test in a process of its own (cargo-nextest).

mod common;

mod broken_files;
mod connector;
mod containers;
mod example;
mod huge_values;
mod up_cycle;
