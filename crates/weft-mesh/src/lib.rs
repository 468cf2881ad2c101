//! The brain of `weft up FILE`: read a mesh file, plan every host, work out
//! what to change, join hubs with backoff, judge peer health. Pure: no
//! files, sockets or clocks — text and observations in, plans and steps out.
//! The executor (SSH, lab namespaces, agent calls, the CLI) lives elsewhere
//! and drives this crate.
//!
//! # Reading
//!
//! [`MeshFile::parse`] reads YAML (syntax, types, unknown keys, malformed
//! values); [`MeshFile::validate`] checks the file against itself and gives
//! a [`ValidMesh`]. Every error names the key: `hosts[2].ssh: …`
//! ([`MeshError`]). `docs/mesh-file.md` is the reference of the format.
//!
//! The YAML reader is `serde-saphyr`: pure Rust (no `unsafe-libyaml`, which
//! the deprecated `serde_yaml` and its forks such as `serde_norway` wrap),
//! panic-free with limits on alias expansion, maintained, and usable with
//! `serde_path_to_error`, which gives the key paths.
//!
//! # Planning
//!
//! [`plan()`]`(&ValidMesh, &Observed) -> Result<Plan, PlanError>` — the
//! executor first asks every host's agent what it has ([`Observed`]: per
//! host, each network's subnet, block, port, public key, peers and
//! attachments; the services it runs; and the lab underlay addresses it
//! gave, see [`assign_lab_underlay`]). The plan keeps everything that exists
//! and still fits, and gives new hosts the lowest free block and new
//! services the lowest free address, after setting aside all that is kept:
//! adding a host or a service anywhere in the file changes nothing for the
//! others. A host network without a key yet (the agent makes keys; private
//! keys never leave their host) is listed in [`Plan::needs_keys`] and its
//! peers are left out until the next round.
//!
//! Topology per network: full mesh (each host peers with every other,
//! carrying its block), or hub-and-spoke with `hub:` — the hub peers with
//! every spoke (carrying the spoke's block); a spoke peers with the hub
//! only, carrying the whole subnet less its own block
//! ([`weft_model::blocks::complement`]), so spoke↔spoke traffic is routed by the hub and
//! a new spoke changes no other spoke.
//!
//! # Applying
//!
//! [`diff()`]`(&Plan, &Observed, previous: Option<&Plan>) -> Changes` lists the
//! [`Action`]s per host in the order to run them; empty means "no changes".
//! [`teardown`] lists what `down` removes. The executor loop for `up`:
//!
//! 1. make lab hosts (namespaces, underlay, agents) and reach every host;
//! 2. observe every host (an unreachable host is an error, not an empty one);
//! 3. `plan`, `diff`, run each host's actions in order;
//! 4. if the plan was not complete ([`Changes::waiting_for_keys`]), observe,
//!    plan and diff again: the second round adds the peers whose keys now
//!    exist;
//! 5. keep the applied plan (it is serde) as `previous` for the next run;
//! 6. on hub networks, run a [`Connector`] on every spoke.
//!
//! When an action fails in steps 1–5, the executor takes back what the run
//! did, newest first: [`Action::restoring`] (given the host as the run's
//! first observation found it) removes what an action made and puts back
//! what it replaced, where that can be done.
//!
//! # Joining and health
//!
//! [`Backoff`] (2 s, 4 s, … capped at 60 s, a retry limit and an overall
//! timeout) and the [`Connector`] state machine, fed [`Event`]s with the
//! driver's clock, returning [`Step`]s; [`health()`] turns a handshake age
//! and a probe result into a [`Health`].

pub use weft_model::backoff;
pub mod changes;
pub mod connector;
pub mod container;
pub mod diff;
pub mod error;
pub mod health;
mod limits;
pub mod observed;
pub mod plan;
pub mod planner;
pub mod schema;
pub mod validate;
pub mod values;

pub use backoff::{Backoff, GiveUp};
pub use changes::{Action, Changes, HostChanges};
pub use connector::{Attempt, Connector, Event, JoinConfig, JoinError, Joined, Step};
pub use container::{Runtime, Volume};
pub use diff::{diff, teardown};
pub use error::{MeshError, PlanError};
pub use health::{DEFAULT_DEGRADED_AFTER, Health, health};
pub use observed::{HostState, NetworkState, Observed, PeerState, ServiceState, VtepState};
pub use plan::{
    ContainerPlan, DnsRecord, HostNetworkPlan, HostPlan, KeyNeeded, NetworkPlan, PeerPlan, Plan,
    Role, ServiceAddress, ServicePlan, VmPlan, VtepPlan, VxlanNetworkPlan, owned_service,
    workload_id,
};
pub use planner::{assign_lab_underlay, plan};
pub use schema::{
    Accel, HostSpec, Hypervisor, HypervisorSpec, Kind, MeshFile, NetworkSpec, NetworkType, Reach,
    ServiceSpec,
};
pub use validate::ValidMesh;
pub use values::{Address, Domain, Name, SshTarget};
