//! The integration tests of this crate, one binary (one link) for all:
//! each module was a test binary of its own. `scripts/test` runs every
//! test in a process of its own (cargo-nextest).

mod etcd_harness;
mod guest_boot;
mod skips_fail_the_suite;
