//! The services of a plan: each service's address on each of its
//! networks, and the DNS records every network serves.

use super::fits;
use crate::container::Volume;
use crate::error::PlanError;
use crate::observed::HostState;
use crate::plan::{
    ContainerPlan, DEFAULT_VM_MEMORY, DnsRecord, HostNetworkPlan, ServiceAddress, ServicePlan,
    VmPlan, owned_service, workload_id,
};
use crate::schema::{Accel, Hypervisor, HypervisorSpec, Kind};
use crate::validate::ValidMesh;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use weft_model::addressing::{allocate, check_requested};

/// Services and their addresses. Per host and network: the addresses the
/// agent already gave this mesh's services are kept (when the network
/// itself is kept), addresses it gave anything else are left alone, and new
/// services get the lowest free address in file order.
pub(super) fn service_plans(
    mesh: &ValidMesh,
    states: &[&HostState],
    host_nets: &[Vec<HostNetworkPlan>],
) -> Result<Vec<ServicePlan>, PlanError> {
    let host_index: BTreeMap<&str, usize> = mesh
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.as_str(), i))
        .collect();
    let net_index: BTreeMap<&str, usize> = mesh
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    // (host, network) → addresses in use there, and (service, network) →
    // the address kept for it.
    let mut used: BTreeMap<(usize, usize), BTreeSet<IpAddr>> = BTreeMap::new();
    let mut kept: BTreeMap<(usize, usize), IpAddr> = BTreeMap::new();
    let wanted_here = |h: usize, n: usize, name: &str| {
        mesh.services.iter().any(|s| {
            s.name.as_str() == name
                && host_index[s.host.as_str()] == h
                && s.network.has_own_address()
                && s.networks.iter().any(|x| net_index[x.as_str()] == n)
        })
    };
    for (h, state) in states.iter().enumerate() {
        for (n, net) in mesh.networks.iter().enumerate() {
            let hn = &host_nets[h][n];
            let set = used.entry((h, n)).or_default();
            let Some(have) = state.networks.get(net.name.as_str()) else {
                continue;
            };
            if !fits(have, hn) {
                continue; // recreated: every attachment on it goes
            }
            for (id, ip) in &have.attachments {
                match owned_service(&mesh.name, id) {
                    Some(svc) if wanted_here(h, n, svc) => {}
                    _ => {
                        set.insert(*ip);
                    }
                }
            }
        }
    }
    // First keep, then assign, so a service added anywhere never takes an
    // address a later service already has.
    for (s, svc) in mesh.services.iter().enumerate() {
        let h = host_index[svc.host.as_str()];
        if !svc.network.has_own_address() {
            continue;
        }
        let id = workload_id(&mesh.name, &svc.name);
        for name in &svc.networks {
            let n = net_index[name.as_str()];
            let hn = &host_nets[h][n];
            let Some(have) = states[h]
                .networks
                .get(name.as_str())
                .filter(|st| fits(st, hn))
            else {
                continue;
            };
            let set = used.get_mut(&(h, n)).expect("filled for every pair");
            if let Some(ip) = have.attachments.get(&id)
                && check_requested(&hn.block, *ip, set).is_ok()
            {
                set.insert(*ip);
                kept.insert((s, n), *ip);
            }
        }
    }
    let mut plans = Vec::new();
    for (s, svc) in mesh.services.iter().enumerate() {
        let h = host_index[svc.host.as_str()];
        let mut addresses = Vec::new();
        for name in &svc.networks {
            let n = net_index[name.as_str()];
            let hn = &host_nets[h][n];
            let address = if !svc.network.has_own_address() {
                hn.address
            } else if let Some(ip) = kept.get(&(s, n)) {
                *ip
            } else {
                let set = used.get_mut(&(h, n)).expect("filled for every pair");
                let ip = allocate(&hn.block, set).map_err(|source| PlanError::NoFreeAddress {
                    network: name.to_string(),
                    host: svc.host.to_string(),
                    service: svc.name.to_string(),
                    source: Box::new(source),
                })?;
                set.insert(ip);
                ip
            };
            addresses.push(ServiceAddress {
                network: name.to_string(),
                address,
            });
        }
        plans.push(ServicePlan {
            name: svc.name.to_string(),
            host: svc.host.to_string(),
            workload_id: workload_id(&mesh.name, &svc.name),
            kind: svc.kind,
            network_type: svc.network,
            ports: svc.ports.clone(),
            command: svc.command.clone(),
            addresses,
            vm: (svc.kind == Kind::Vm).then(|| {
                let requested = svc.hypervisor.unwrap_or_default();
                // `auto` is settled on the host by the executor
                // (ServicePlan::set_hypervisor); until then, QEMU with
                // software emulation, which runs anywhere QEMU does.
                let hypervisor = requested.named().unwrap_or(Hypervisor::Qemu);
                VmPlan {
                    requested,
                    hypervisor,
                    binary: svc
                        .binary
                        .clone()
                        .unwrap_or_else(|| hypervisor.binary().to_string()),
                    kernel: svc.kernel.clone(),
                    initrd: svc.initrd.clone(),
                    disk: svc.disk.clone(),
                    cmdline: svc.cmdline.clone(),
                    memory: svc.memory.unwrap_or(DEFAULT_VM_MEMORY),
                    vcpus: svc.vcpus.unwrap_or(1),
                    accel: match requested {
                        HypervisorSpec::Auto => Accel::Tcg,
                        HypervisorSpec::Named(_) => svc.accel.unwrap_or_default(),
                    },
                }
            }),
            container: svc.image.as_ref().map(|image| ContainerPlan {
                image: image.clone(),
                env: svc.env.clone(),
                volumes: svc
                    .volumes
                    .iter()
                    .map(|v| Volume::parse(v).expect("checked by validate"))
                    .collect(),
                runtime: svc.runtime,
            }),
        });
    }
    Ok(plans)
}

/// Every host and every service of network `n`, by name.
pub(super) fn dns_records(
    mesh: &ValidMesh,
    n: usize,
    host_nets: &[Vec<HostNetworkPlan>],
    services: &[ServicePlan],
) -> Vec<DnsRecord> {
    let net = mesh.networks[n].name.as_str();
    let hosts = mesh
        .hosts
        .iter()
        .zip(host_nets)
        .map(|(host, nets)| DnsRecord {
            name: mesh.domain.qualify(&host.name),
            address: nets[n].address,
        });
    let services = services.iter().flat_map(|svc| {
        svc.addresses
            .iter()
            .filter(|a| a.network == net)
            .map(|a| DnsRecord {
                name: mesh.domain.qualify(&svc.name),
                address: a.address,
            })
    });
    let mut records: Vec<DnsRecord> = hosts.chain(services).collect();
    records.sort();
    records
}
