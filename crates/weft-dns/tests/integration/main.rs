//! The integration tests of this crate, one binary (one link) for all:
//! each module was a test binary of its own. `scripts/test` runs every
//! test in a process of its own (cargo-nextest).

mod common;

mod dig;
mod edges;
mod fuzz;
mod server;
