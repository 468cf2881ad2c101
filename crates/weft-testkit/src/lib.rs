//! Test support shared by weft's crates (a dev-dependency only).
//!
//! - [`skip`]: the one way a test skips (not root, a tool missing). Every
//!   skip is printed and, when `WEFT_TEST_SKIP_LOG` names a file, recorded
//!   there, so `scripts/test` can fail a root run in which anything skipped.
//! - [`process`]: running commands and shell lines, finding tools, and
//!   child processes stopped on drop.
//! - [`wait`]: polling a condition until a deadline instead of sleeping.
//! - [`netns`]: named network namespaces deleted on drop, a veth underlay
//!   between two of them, ping from inside one.
//! - [`lab`]: hosts and containers as namespaces with real `weft agent`
//!   processes and the real CLI, removed on drop; [`cni`] drives the binary
//!   as a CNI runtime does; [`capture`] records and checks an underlay.
//! - [`etcd`]: real etcd members and clusters (loopback or namespaces),
//!   killed and cleaned up on drop.
//! - [`guest`]: a Debian kernel and a busybox initramfs booted under QEMU
//!   (software emulation), for what this machine's kernel lacks (its
//!   WireGuard module) and for VMs; results come back as named reports.
//!
//! Nothing here touches the host's own links, routes or firewall: all of it
//! happens inside namespaces the tests create.

pub mod capture;
pub mod cni;
pub mod etcd;
pub mod guest;
pub mod lab;
pub mod netns;
pub mod process;
pub mod skip;
pub mod wait;

pub use lab::{Agent, Lab, assert_clean};
pub use netns::{NamedNetns, ping_from};
pub use process::{
    Spawned, in_netns, in_netns_with_private_mounts, ok, run, run_sh, sh, stdout_of, stop_child,
    which,
};
pub use skip::{is_root, require_root, require_tools, skip};
pub use wait::{poll_until, wait_for, wait_for_value, wait_until};
