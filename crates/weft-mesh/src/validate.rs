//! Everything a mesh file must agree with itself on. Each problem is
//! reported at the path of the key to change: for a duplicate, the second
//! occurrence; for a clash, the later of the two. The first problem in file
//! order (networks, then hosts, then services) is the one reported.

use crate::error::MeshError;
use crate::limits::{MAX_PATH_BYTES, check_service_texts, check_text};
use crate::schema::{Kind, MeshFile, NetworkType};
use crate::values::Name;
use std::collections::BTreeMap;
use weft_model::Mode;
use weft_model::addressing::{capacity, overlaps, validate_subnet};

mod vm;
use vm::check_vm;
pub use vm::{MAX_VM_VCPUS, MIN_VM_MEMORY};

/// A mesh file that passed [`MeshFile::validate`]: what the planner takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMesh(MeshFile);

impl ValidMesh {
    /// Parse and validate in one go.
    pub fn parse(text: &str) -> Result<ValidMesh> {
        MeshFile::parse(text)?.validate()
    }
    pub fn file(&self) -> &MeshFile {
        &self.0
    }
    pub fn into_inner(self) -> MeshFile {
        self.0
    }
}

impl std::ops::Deref for ValidMesh {
    type Target = MeshFile;
    fn deref(&self) -> &MeshFile {
        &self.0
    }
}

type Result<T = ()> = std::result::Result<T, MeshError>;

fn err<T>(path: impl Into<String>, message: impl Into<String>) -> Result<T> {
    Err(MeshError::at(path, message))
}

/// The index of each name, refusing the second of two equal ones.
fn index_names<'a>(
    section: &str,
    names: impl Iterator<Item = &'a Name>,
) -> Result<BTreeMap<&'a str, usize>> {
    let mut seen = BTreeMap::new();
    for (i, name) in names.enumerate() {
        if let Some(first) = seen.insert(name.as_str(), i) {
            return err(
                format!("{section}[{i}].name"),
                format!("{name:?} is already the name of {section}[{first}]"),
            );
        }
    }
    Ok(seen)
}

/// Hosts and services name namespaces (`weft-<mesh>-<name>`), and the
/// lab's underlay has one of its own.
const RESERVED_NAMES: [&str; 1] = ["underlay"];

fn not_reserved<'a>(section: &str, names: impl Iterator<Item = &'a Name>) -> Result {
    for (i, name) in names.enumerate() {
        if RESERVED_NAMES.contains(&name.as_str()) {
            return err(
                format!("{section}[{i}].name"),
                format!("{name:?} is reserved: the lab's underlay namespace is weft-<mesh>-{name}"),
            );
        }
    }
    Ok(())
}

impl MeshFile {
    /// Check the file as a whole. Returns the first problem, at the path of
    /// the key to change.
    pub fn validate(self) -> Result<ValidMesh> {
        if self.name.len() > 32 {
            return err(
                "name",
                format!("{:?} is longer than 32 characters", self.name),
            );
        }
        self.check_networks()?;
        self.check_hosts()?;
        self.check_services()?;
        Ok(ValidMesh(self))
    }

    /// `vni` and `over` belong to VXLAN networks: a VNI unique in the file,
    /// carried (`over`) by a WireGuard network listed before it.
    fn check_vxlan(&self, i: usize) -> Result {
        let net = &self.networks[i];
        let at = |key: &str| format!("networks[{i}].{key}");
        if net.mode != Mode::Vxlan {
            for (key, given) in [("vni", net.vni.is_some()), ("over", net.over.is_some())] {
                if given {
                    return err(at(key), "only a vxlan network (mode: vxlan) has one");
                }
            }
            return Ok(());
        }
        let Some(vni) = net.vni else {
            return err(at("vni"), "a vxlan network needs one (1 to 16777215)");
        };
        if let Err(e) = weft_model::network::validate_vni(vni) {
            return err(at("vni"), e.to_string());
        }
        if let Some(j) = self.networks[..i].iter().position(|o| o.vni == Some(vni)) {
            return err(at("vni"), format!("{vni} is networks[{j}]'s too"));
        }
        if net.hub.is_some() {
            return err(at("hub"), "a vxlan network is one segment: it has no hub");
        }
        if let Some(over) = &net.over {
            let carrier = self.networks[..i].iter().find(|o| o.name == *over);
            if !carrier.is_some_and(|o| o.mode == Mode::Wireguard) {
                return err(
                    at("over"),
                    format!("{over:?} is not a wireguard network listed before this one"),
                );
            }
        }
        Ok(())
    }

    fn check_networks(&self) -> Result {
        if self.networks.is_empty() {
            return err("networks", "at least one network is required");
        }
        index_names("networks", self.networks.iter().map(|n| &n.name))?;
        let hosts = self.hosts.len() as u128;
        for (i, net) in self.networks.iter().enumerate() {
            let at = |key: &str| format!("networks[{i}].{key}");
            if let Err(e) = weft_model::names::validate_network_name(&net.name) {
                return err(at("name"), e.to_string());
            }
            if net.mode == Mode::Bridge {
                return err(
                    at("mode"),
                    format!(
                        "{:?}: a {} network lives on one host; a mesh file takes wireguard and vxlan networks",
                        net.mode.as_str(),
                        net.mode
                    ),
                );
            }
            self.check_vxlan(i)?;
            if let Err(e) = validate_subnet(&net.subnet) {
                return err(at("subnet"), e.to_string());
            }
            if let Some((j, other)) = self.networks[..i]
                .iter()
                .enumerate()
                .find(|(_, o)| overlaps(&o.subnet, &net.subnet))
            {
                return err(
                    at("subnet"),
                    format!(
                        "{} overlaps {} of networks[{j}] ({:?})",
                        net.subnet, other.subnet, other.name
                    ),
                );
            }
            let prefix = net.block_prefix();
            let max = net.subnet.max_prefix_len();
            if prefix < net.subnet.prefix_len() || prefix > max {
                return err(
                    at("block_prefix"),
                    format!(
                        "/{prefix} does not fit {}: give a prefix from /{} to /{max}",
                        net.subnet,
                        net.subnet.prefix_len()
                    ),
                );
            }
            let block = ipnet::IpNet::new(net.subnet.network(), prefix)
                .expect("prefix checked against the family's maximum");
            if capacity(&block) < 2 {
                return err(
                    at("block_prefix"),
                    format!("a /{prefix} block cannot hold a host and a workload"),
                );
            }
            let blocks = weft_model::blocks::block_count(&net.subnet, prefix);
            if hosts > blocks {
                let key = if net.block_prefix.is_some() {
                    "block_prefix"
                } else {
                    "subnet"
                };
                return err(
                    at(key),
                    format!(
                        "{} holds {blocks} blocks of /{prefix}, but the mesh has {hosts} hosts",
                        net.subnet
                    ),
                );
            }
            if let Some(hub) = &net.hub
                && !self.hosts.iter().any(|h| h.name == *hub)
            {
                return err(at("hub"), format!("no host is named {hub:?}"));
            }
        }
        Ok(())
    }

    fn check_hosts(&self) -> Result {
        if self.hosts.is_empty() {
            return err("hosts", "at least one host is required");
        }
        index_names("hosts", self.hosts.iter().map(|h| &h.name))?;
        not_reserved("hosts", self.hosts.iter().map(|h| &h.name))?;
        let mut local: Option<usize> = None;
        let mut first_lab: Option<usize> = None;
        let mut first_ssh: Option<usize> = None;
        let networks = self.networks.len();
        for (i, host) in self.hosts.iter().enumerate() {
            let at = |key: &str| format!("hosts[{i}].{key}");
            // Exactly one way to reach the host; the second one named is the
            // key reported.
            let ways: Vec<&str> = [
                ("local", host.local),
                ("ssh", host.ssh.is_some()),
                ("lab", host.lab),
            ]
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(key, _)| key)
            .collect();
            match ways.as_slice() {
                [] => {
                    return err(
                        format!("hosts[{i}]"),
                        "say how to reach the host: `local: true`, `ssh: user@addr[:port]` or `lab: true`",
                    );
                }
                [_] => {}
                [first, second, ..] => {
                    return err(
                        at(second),
                        format!(
                            "a host is reached one way only, and this one already has `{first}`"
                        ),
                    );
                }
            }
            if host.identity.is_some() && host.ssh.is_none() {
                return err(at("identity"), "only an ssh host takes an identity file");
            }
            if let Some(identity) = &host.identity {
                check_text(at("identity"), identity, MAX_PATH_BYTES, "a path")?;
            }
            if host.local {
                if let Some(first) = local {
                    return err(
                        at("local"),
                        format!("only one host can be this machine, and hosts[{first}] already is"),
                    );
                }
                local = Some(i);
            }
            if host.lab {
                first_lab.get_or_insert(i);
            }
            if host.ssh.is_some() {
                first_ssh.get_or_insert(i);
            }
            if let (Some(lab), Some(ssh)) = (first_lab, first_ssh) {
                let (key, other, other_way) = if host.lab {
                    ("lab", ssh, "reached over ssh")
                } else {
                    ("ssh", lab, "a lab namespace")
                };
                return err(
                    at(key),
                    format!(
                        "lab and ssh hosts cannot be mixed: hosts[{other}] is {other_way}, and lab namespaces on this machine cannot be reached from other machines"
                    ),
                );
            }
            if host.local && host.endpoint.is_none() && self.hosts.len() > 1 {
                return err(
                    at("endpoint"),
                    "the local host needs the underlay address its peers reach it on",
                );
            }
            let last = u32::from(host.listen_port) + networks as u32 - 1;
            if last > u32::from(u16::MAX) {
                return err(
                    at("listen_port"),
                    format!(
                        "{} leaves no room for {networks} networks (one port each, counting up)",
                        host.listen_port
                    ),
                );
            }
            self.check_endpoint_clash(i)?;
        }
        Ok(())
    }

    /// Two hosts on one underlay address (behind one NAT, say) need ports
    /// that do not overlap: each uses `listen_port..listen_port+networks`.
    fn check_endpoint_clash(&self, i: usize) -> Result {
        let host = &self.hosts[i];
        let Some(address) = host.file_endpoint() else {
            return Ok(());
        };
        let n = self.networks.len() as u32;
        let range = |p: u16| (u32::from(p), u32::from(p) + n - 1);
        let (lo, hi) = range(host.listen_port);
        for (j, other) in self.hosts[..i].iter().enumerate() {
            if other.file_endpoint() != Some(address) {
                continue;
            }
            let (olo, ohi) = range(other.listen_port);
            if lo <= ohi && olo <= hi {
                return err(
                    format!("hosts[{i}].listen_port"),
                    format!(
                        "ports {lo}-{hi} on {address} clash with hosts[{j}] ({:?}), which uses ports {olo}-{ohi} there",
                        other.name
                    ),
                );
            }
        }
        Ok(())
    }

    fn check_services(&self) -> Result {
        index_names("services", self.services.iter().map(|s| &s.name))?;
        not_reserved("services", self.services.iter().map(|s| &s.name))?;
        let hosts = index_names("hosts", self.hosts.iter().map(|h| &h.name))?;
        let networks = index_names("networks", self.networks.iter().map(|n| &n.name))?;
        // (host, port) → the service that publishes it on the host.
        let mut host_ports: BTreeMap<(&str, u16), usize> = BTreeMap::new();
        // (host, network) → workloads needing an address there.
        let mut workloads: BTreeMap<(&str, usize), u128> = BTreeMap::new();
        for (i, svc) in self.services.iter().enumerate() {
            let at = |key: &str| format!("services[{i}].{key}");
            check_service_texts(i, svc)?;
            if let Some(&h) = hosts.get(svc.name.as_str()) {
                return err(
                    at("name"),
                    format!(
                        "{:?} is also the name of hosts[{h}]; both would be {}",
                        svc.name,
                        self.domain.qualify(&svc.name)
                    ),
                );
            }
            if !hosts.contains_key(svc.host.as_str()) {
                return err(at("host"), format!("no host is named {:?}", svc.host));
            }
            if svc.networks.is_empty() {
                return err(at("networks"), "name at least one network");
            }
            for (k, name) in svc.networks.iter().enumerate() {
                let Some(&n) = networks.get(name.as_str()) else {
                    return err(
                        format!("services[{i}].networks[{k}]"),
                        format!("no network is named {name:?}"),
                    );
                };
                if svc.networks[..k].contains(name) {
                    return err(
                        format!("services[{i}].networks[{k}]"),
                        format!("{name:?} is listed twice"),
                    );
                }
                if svc.network.has_own_address() {
                    let count = workloads.entry((svc.host.as_str(), n)).or_default();
                    *count += 1;
                    let net = &self.networks[n];
                    let room = weft_model::blocks::workload_room(&net.subnet, net.block_prefix());
                    if *count > room {
                        return err(
                            format!("services[{i}].networks[{k}]"),
                            format!(
                                "host {:?} has room for {room} workload(s) in a /{} block of {name:?}, and this is one more",
                                svc.host,
                                net.block_prefix()
                            ),
                        );
                    }
                }
            }
            match (svc.kind, &svc.command) {
                (Kind::Process, None) => {
                    return err(at("command"), "a process needs a command (argv list)");
                }
                (Kind::Process, Some(argv)) if argv.is_empty() || argv[0].is_empty() => {
                    return err(at("command"), "the command must not be empty");
                }
                (Kind::Vm, Some(_)) => {
                    return err(
                        at("command"),
                        format!("only a process takes a command, and this is a {}", svc.kind),
                    );
                }
                _ => {}
            }
            check_vm(svc, &at)?;
            crate::container::check(i, svc)?;
            if svc.kind == Kind::Vm && svc.network == NetworkType::Host {
                return err(
                    at("network"),
                    "a vm has interfaces of its own; use mesh or dual",
                );
            }
            for (k, &port) in svc.ports.iter().enumerate() {
                let at = format!("services[{i}].ports[{k}]");
                if svc.ports[..k].contains(&port) {
                    return err(at, format!("port {port} is listed twice"));
                }
                if !svc.network.uses_host_ports() {
                    continue;
                }
                if let Some(&j) = host_ports.get(&(svc.host.as_str(), port)) {
                    let other = &self.services[j];
                    return err(
                        at,
                        format!(
                            "port {port} on host {:?} is already taken by services[{j}] ({:?}, network: {})",
                            svc.host, other.name, other.network
                        ),
                    );
                }
                host_ports.insert((svc.host.as_str(), port), i);
            }
        }
        Ok(())
    }
}
