//! The mesh file as written: serde types with explicit key names, unknown
//! keys refused, defaults filled in, and every malformed value reported at
//! the path of its key. Checks that relate several keys live in
//! `validate.rs`.

use crate::container::Runtime;
use crate::error::MeshError;
use crate::values::{Address, Domain, Name, SshTarget};
use ipnet::IpNet;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use weft_model::Mode;
pub use weft_model::vm::{Hypervisor, HypervisorSpec};

pub use weft_model::network::DEFAULT_DOMAIN;
pub const DEFAULT_SUBNET: &str = "10.42.0.0/16";
pub const DEFAULT_LISTEN_PORT: u16 = 51820;
/// Keepalive a spoke sends its hub when the network gives none: spokes are
/// the side that may sit behind NAT, and the hub learns their endpoint from
/// it.
pub const DEFAULT_SPOKE_KEEPALIVE: u16 = 25;

/// A whole mesh: what `weft up FILE` reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshFile {
    /// The mesh's name (≤ 32 characters): names what `up` made, so `down`
    /// finds it.
    #[serde(rename = "name")]
    pub name: Name,
    #[serde(rename = "domain", default)]
    pub domain: Domain,
    #[serde(rename = "networks")]
    pub networks: Vec<NetworkSpec>,
    #[serde(rename = "hosts")]
    pub hosts: Vec<HostSpec>,
    #[serde(rename = "services", default)]
    pub services: Vec<ServiceSpec>,
}

/// One isolated L3 network. Every host of the mesh joins every network, with
/// a block of its subnet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    #[serde(rename = "name")]
    pub name: Name,
    #[serde(
        rename = "subnet",
        default = "default_subnet",
        deserialize_with = "cidr"
    )]
    pub subnet: IpNet,
    #[serde(rename = "mode", default, deserialize_with = "mode")]
    pub mode: Mode,
    /// No egress to the outside world and no DNS forwarding.
    #[serde(rename = "internal", default)]
    pub internal: bool,
    /// Prefix length of each host's block (default /24, /64 for IPv6, or
    /// the whole subnet when it is smaller).
    #[serde(rename = "block_prefix", default)]
    pub block_prefix: Option<u8>,
    /// Hub-and-spoke: the host every other host peers with. Absent: full mesh.
    #[serde(rename = "hub", default)]
    pub hub: Option<Name>,
    /// Persistent keepalive in seconds on this network's peers (0: off).
    /// Default: off, except spokes → hub (25 s).
    #[serde(rename = "keepalive", default)]
    pub keepalive: Option<u16>,
    /// `mode: vxlan`: the VXLAN network identifier (1–16777215).
    #[serde(rename = "vni", default)]
    pub vni: Option<u32>,
    /// `mode: vxlan`: a WireGuard network of the file that carries the
    /// segment (its hosts' addresses there are the tunnel endpoints).
    #[serde(rename = "over", default)]
    pub over: Option<Name>,
}

impl NetworkSpec {
    /// The prefix length of each host's block.
    pub fn block_prefix(&self) -> u8 {
        self.block_prefix.unwrap_or_else(|| {
            weft_model::network::default_block(self.mode, &self.subnet).prefix_len()
        })
    }
}

/// A machine running `weft agent`, and how `up` reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    #[serde(rename = "name")]
    pub name: Name,
    /// This machine: the agent is reached directly.
    #[serde(rename = "local", default)]
    pub local: bool,
    /// Another machine, reached over SSH.
    #[serde(rename = "ssh", default)]
    pub ssh: Option<SshTarget>,
    /// The SSH identity file (only with `ssh`).
    #[serde(rename = "identity", default)]
    pub identity: Option<String>,
    /// A network namespace this machine creates (`lab: true` or `lab: {}`).
    #[serde(rename = "lab", default, deserialize_with = "lab_flag")]
    pub lab: bool,
    /// The underlay address peers send to. Default: the SSH address; a lab
    /// host's is assigned by the executor.
    #[serde(rename = "endpoint", default)]
    pub endpoint: Option<Address>,
    /// The host's first WireGuard port; its networks use the ports from here
    /// on, one each.
    #[serde(
        rename = "listen_port",
        default = "default_listen_port",
        deserialize_with = "port"
    )]
    pub listen_port: u16,
}

/// How `up` reaches a host (exactly one per host after validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    Local,
    Ssh {
        target: SshTarget,
        identity: Option<String>,
    },
    Lab,
}

impl HostSpec {
    /// How to reach this host. Meaningful on a validated file.
    pub fn reach(&self) -> Reach {
        match (&self.ssh, self.lab) {
            (Some(target), _) => Reach::Ssh {
                target: target.clone(),
                identity: self.identity.clone(),
            },
            (None, true) => Reach::Lab,
            (None, false) => Reach::Local,
        }
    }

    /// The underlay address peers use, when the file says it: `endpoint`,
    /// else the SSH address. Lab hosts without an endpoint get theirs from
    /// the executor.
    pub fn file_endpoint(&self) -> Option<&Address> {
        self.endpoint
            .as_ref()
            .or(self.ssh.as_ref().map(|t| &t.address))
    }
}

/// What runs as a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A command, in its own namespace (or the host's, with `network: host`).
    Process,
    /// With `image`: a container its runtime runs, in a namespace attached
    /// to its networks. Without: that namespace alone, for a runtime to
    /// join (or `weft exec SERVICE -- CMD`).
    Container,
    /// A virtual machine: `up` makes its TAP devices and addresses and
    /// runs its hypervisor.
    Vm,
}

/// How a service meets the network (the harness seed's `mesh | host | dual`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkType {
    /// Its own namespace and an address of its own on each of its networks.
    #[default]
    Mesh,
    /// The host's namespace: reached at the host's address on each network.
    Host,
    /// Its own addresses, and its ports also published on the host.
    Dual,
}

impl NetworkType {
    /// Does the service get addresses of its own?
    pub fn has_own_address(self) -> bool {
        matches!(self, NetworkType::Mesh | NetworkType::Dual)
    }
    /// Are its ports bound on (or published from) the host's namespace?
    pub fn uses_host_ports(self) -> bool {
        matches!(self, NetworkType::Host | NetworkType::Dual)
    }
}

macro_rules! lowercase_display {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let text = format!("{self:?}").to_ascii_lowercase();
                f.write_str(&text)
            }
        }
    )*};
}
lowercase_display!(Kind, NetworkType);

/// A workload of the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(rename = "name")]
    pub name: Name,
    #[serde(rename = "host")]
    pub host: Name,
    #[serde(rename = "kind")]
    pub kind: Kind,
    #[serde(rename = "networks", default)]
    pub networks: Vec<Name>,
    #[serde(rename = "network", default)]
    pub network: NetworkType,
    #[serde(rename = "ports", default, deserialize_with = "ports")]
    pub ports: Vec<u16>,
    /// argv of a process (required), or of a container's image (optional,
    /// instead of the image's own); refused otherwise.
    #[serde(rename = "command", default)]
    pub command: Option<Vec<String>>,
    /// A VM's hypervisor (`auto`, the default for a `vm`: the one its host
    /// offers, see `weft vm hypervisors`; refused on other kinds); its NICs
    /// are its `networks`, in order (eth0 first).
    #[serde(rename = "hypervisor", default)]
    pub hypervisor: Option<HypervisorSpec>,
    /// The hypervisor's executable, when not its usual name on `PATH`
    /// (with a hypervisor named, not `auto`).
    #[serde(rename = "binary", default)]
    pub binary: Option<String>,
    /// The guest kernel (an absolute path on the service's host).
    #[serde(rename = "kernel", default)]
    pub kernel: Option<String>,
    #[serde(rename = "initrd", default)]
    pub initrd: Option<String>,
    /// A disk image or root file system, the guest's first disk.
    #[serde(rename = "disk", default)]
    pub disk: Option<String>,
    /// The guest kernel's command line.
    #[serde(rename = "cmdline", default)]
    pub cmdline: Option<String>,
    /// Guest memory in MiB (default 512).
    #[serde(rename = "memory", default)]
    pub memory: Option<u32>,
    /// Guest vCPUs (default 1).
    #[serde(rename = "vcpus", default)]
    pub vcpus: Option<u32>,
    /// QEMU's accelerator: `kvm` (the default; software emulation where
    /// KVM is missing) or `tcg` (always software: where /dev/kvm exists
    /// but does not work, as in nested set-ups).
    #[serde(rename = "accel", default)]
    pub accel: Option<Accel>,
    /// The image a container runs (without one, a container is a namespace
    /// to join).
    #[serde(rename = "image", default)]
    pub image: Option<String>,
    /// `KEY=VALUE` entries of a container's environment.
    #[serde(rename = "env", default)]
    pub env: Vec<String>,
    /// `host-path:container-path[:ro]` mounts of a container.
    #[serde(rename = "volumes", default)]
    pub volumes: Vec<String>,
    /// Which runtime runs the image (default: Podman where installed, else
    /// Docker).
    #[serde(rename = "runtime", default)]
    pub runtime: Option<Runtime>,
}

/// QEMU's accelerator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    #[default]
    Kvm,
    Tcg,
}

impl ServiceSpec {
    /// The keys only a `vm` takes, with whether this service gives each.
    pub fn vm_keys(&self) -> [(&'static str, bool); 9] {
        [
            ("hypervisor", self.hypervisor.is_some()),
            ("binary", self.binary.is_some()),
            ("kernel", self.kernel.is_some()),
            ("initrd", self.initrd.is_some()),
            ("disk", self.disk.is_some()),
            ("cmdline", self.cmdline.is_some()),
            ("memory", self.memory.is_some()),
            ("vcpus", self.vcpus.is_some()),
            ("accel", self.accel.is_some()),
        ]
    }
}

fn default_subnet() -> IpNet {
    DEFAULT_SUBNET.parse().expect("the default subnet is valid")
}

fn default_listen_port() -> u16 {
    DEFAULT_LISTEN_PORT
}

fn cidr<'de, D: Deserializer<'de>>(de: D) -> Result<IpNet, D::Error> {
    let text = String::deserialize(de)?;
    weft_model::addressing::parse_cidr("subnet", &text).map_err(de::Error::custom)
}

/// A port, 1–65535, refused with a message that says so.
#[derive(Deserialize)]
#[serde(try_from = "i64")]
struct Port(u16);

impl TryFrom<i64> for Port {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match u16::try_from(n) {
            Ok(port) if port > 0 => Ok(Port(port)),
            _ => Err(format!("{n} is not a port; give 1 to 65535")),
        }
    }
}

fn port<'de, D: Deserializer<'de>>(de: D) -> Result<u16, D::Error> {
    Port::deserialize(de).map(|p| p.0)
}

fn ports<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<u16>, D::Error> {
    Ok(Vec::<Port>::deserialize(de)?
        .into_iter()
        .map(|p| p.0)
        .collect())
}

fn mode<'de, D: Deserializer<'de>>(de: D) -> Result<Mode, D::Error> {
    let text = String::deserialize(de)?;
    Mode::parse(&text).map_err(de::Error::custom)
}

/// `lab: true`, `lab: false` or `lab: {}` (a map, for options to come).
fn lab_flag<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    struct LabVisitor;
    impl<'de> Visitor<'de> for LabVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true or {}")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            if let Some(key) = map.next_key::<String>()? {
                return Err(de::Error::custom(format!(
                    "unknown key `{key}`: lab takes no options"
                )));
            }
            Ok(true)
        }
    }
    de.deserialize_any(LabVisitor)
}

impl MeshFile {
    /// Read a mesh file's text. Syntax, types, unknown keys and malformed
    /// values are refused here; call [`MeshFile::validate`] for the rest.
    pub fn parse(text: &str) -> Result<MeshFile, MeshError> {
        // The path is known inside the closure only; the location only on
        // the error the YAML reader returns.
        let mut failed_at: Option<(String, String)> = None;
        let result = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize::<_, MeshFile>(de).map_err(|err| {
                let path = match err.path().to_string().as_str() {
                    "." | "?" => String::new(),
                    path => path.to_owned(),
                };
                let message = err.inner().to_string();
                failed_at = Some((path, quoted_values_cut(strip_location(&message))));
                err.into_inner()
            })
        });
        result.map_err(|err| {
            let location = err
                .location()
                .map(|l| (l.line(), l.column()))
                .filter(|&(line, _)| line > 0);
            let (path, message) = failed_at.unwrap_or_else(|| {
                let text = err.to_string();
                (String::new(), quoted_values_cut(strip_location(&text)))
            });
            MeshError {
                path,
                message,
                location,
            }
        })
    }
}

/// The reader's messages quote the file's values in backticks (``unknown
/// variant `x`, expected …``): each is shown as every error of weft shows
/// a value ([`weft_model::error::shown`]: cut when long, never when it
/// has a key's shape).
fn quoted_values_cut(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            0 => part.to_owned(),
            _ => {
                let shown = weft_model::error::shown(part);
                // `shown` quotes; the reader's own quoting stays.
                match shown.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    Some(plain) if !plain.contains('"') => format!("`{plain}`"),
                    _ => shown,
                }
            }
        })
        .collect()
}

/// The YAML reader appends " at line L, column C"; the location is kept
/// apart, so drop it from the message.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(", column ") => &message[..at],
        _ => message,
    }
}

#[cfg(test)]
mod tests;
