//! VMs in the store, one definition for both backends: a change
//! ([`VmChange`]) is worked out here against the rows the backend read
//! inside its write ([`change_vm`]), and the backend writes what comes
//! out, moves the revision and marks the networks touched.

use super::{Result, StoreError};
use crate::model::{
    HostBlock, HostId, Network, TenantId, Vm, VmError, VmNicSpec, VmSpec, check_placement,
};
use std::collections::BTreeSet;

/// What a tenant asks of its VMs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmChange {
    Create(VmSpec),
    /// Attach one NIC (last in guest order) to VM `vm`.
    Attach {
        vm: String,
        nic: VmNicSpec,
    },
    /// Detach VM `vm`'s NIC on `network`.
    Detach {
        vm: String,
        network: String,
    },
    Delete {
        vm: String,
    },
}

impl VmChange {
    /// The VM it is about.
    pub fn vm(&self) -> &str {
        match self {
            VmChange::Create(spec) => &spec.id,
            VmChange::Attach { vm, .. } | VmChange::Detach { vm, .. } | VmChange::Delete { vm } => {
                vm
            }
        }
    }
}

/// The rows of the tenant a change is checked against.
pub(crate) struct VmRows<'a> {
    /// The VM of that id as stored, if any.
    pub current: Option<Vm>,
    pub networks: &'a [Network],
    /// The tenant's blocks (of every host).
    pub blocks: &'a [HostBlock],
    /// Whether a host is a live host of the tenant.
    pub live: &'a dyn Fn(&HostId) -> bool,
}

/// What a change leaves: the VM (`None`: deleted) and the networks whose
/// desired state it changed: every network of the VM, before and after
/// (a NIC's place among the VM's NICs is part of the state its host gets
/// on each network, and it moves when one before it is detached).
#[derive(Debug)]
pub(crate) struct VmOutcome {
    pub vm: Option<Vm>,
    pub touched: BTreeSet<String>,
}

/// A NIC's placement refused: a request that cannot hold on its host.
fn refused(err: VmError) -> StoreError {
    StoreError::VmRefused(err)
}

fn not_found(vm: &str) -> StoreError {
    StoreError::NotFound {
        what: "VM",
        name: vm.to_string(),
    }
}

/// `change` of `tenant`'s VMs against `rows`, at `now`.
pub(crate) fn change_vm(
    tenant: &TenantId,
    change: VmChange,
    rows: VmRows<'_>,
    now: i64,
) -> Result<VmOutcome> {
    let host_blocks = |host: &HostId| -> Vec<HostBlock> {
        (rows.blocks.iter())
            .filter(|b| &b.host == host)
            .cloned()
            .collect()
    };
    let networks_of =
        |vm: &Vm| -> BTreeSet<String> { vm.spec.nics.iter().map(|n| n.network.clone()).collect() };
    match change {
        VmChange::Create(spec) => {
            if rows.current.is_some() {
                return Err(StoreError::VmExists(spec.id));
            }
            if !(rows.live)(&spec.host) {
                return Err(refused(VmError::new(
                    "host",
                    spec.host.as_str(),
                    "not a live host of this tenant",
                )));
            }
            let blocks = host_blocks(&spec.host);
            check_placement(&spec.nics, 0, rows.networks, &blocks).map_err(refused)?;
            let vm = Vm {
                tenant: tenant.clone(),
                spec,
                created_at: now,
            };
            Ok(VmOutcome {
                touched: networks_of(&vm),
                vm: Some(vm),
            })
        }
        VmChange::Attach { vm, nic } => {
            let mut current = rows.current.ok_or_else(|| not_found(&vm))?;
            if current.spec.nics.iter().any(|n| n.network == nic.network) {
                return Err(StoreError::VmNicExists {
                    vm,
                    network: nic.network,
                });
            }
            let index = current.spec.nics.len();
            let one = std::slice::from_ref(&nic);
            let blocks = host_blocks(&current.spec.host);
            check_placement(one, index, rows.networks, &blocks).map_err(refused)?;
            current.spec.nics.push(nic);
            crate::model::check_nics(&current.spec.nics).map_err(refused)?;
            Ok(VmOutcome {
                touched: networks_of(&current),
                vm: Some(current),
            })
        }
        VmChange::Detach { vm, network } => {
            let mut current = rows.current.ok_or_else(|| not_found(&vm))?;
            let touched = networks_of(&current);
            let before = current.spec.nics.len();
            current.spec.nics.retain(|n| n.network != network);
            if current.spec.nics.len() == before {
                return Err(StoreError::NotFound {
                    what: "NIC of the VM on network",
                    name: network,
                });
            }
            // Its host runs it on its first NIC's desired state: keep one.
            if current.spec.nics.is_empty() && current.spec.run.is_some() {
                return Err(refused(VmError::new(
                    "network",
                    &network,
                    "the VM's last NIC: its host runs it (delete the VM instead)",
                )));
            }
            Ok(VmOutcome {
                touched,
                vm: Some(current),
            })
        }
        VmChange::Delete { vm } => {
            let current = rows.current.ok_or_else(|| not_found(&vm))?;
            Ok(VmOutcome {
                touched: networks_of(&current),
                vm: None,
            })
        }
    }
}

#[cfg(test)]
mod tests;
