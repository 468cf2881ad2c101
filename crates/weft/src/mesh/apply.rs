//! Carrying out `weft-mesh`'s actions on one host. Most actions are one
//! `weft` CLI call against the host's agent; the arguments are built by
//! pure functions below, the calls made by [`run`].

use super::container;
use super::host::{HostConn, quote, quote_all};
use super::{Mesh, NAMES_SOURCE};
use anyhow::{Result, bail};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_mesh::plan::{DnsRecord, PeerPlan, VxlanNetworkPlan};
use weft_mesh::{Action, Kind, Plan, ServicePlan};

/// The namespace a service with addresses of its own lives in.
pub fn service_netns(mesh: &str, service: &str) -> String {
    super::netns_name(mesh, service)
}

/// Run one action of `plan` on `host`.
pub fn run(mesh: &Mesh, plan: &Plan, host: &dyn HostConn, action: &Action) -> Result<()> {
    let domain = plan.domain.as_str();
    match action {
        Action::StopService { service } => stop_service(mesh, host, service),
        Action::Detach {
            network,
            workload_id,
        } => weft(host, &["detach", network, "--id", workload_id]),
        Action::RemovePeer {
            network,
            public_key,
        } => weft(
            host,
            &[
                "peer",
                "rm",
                network,
                "--public-key",
                &public_key.to_base64(),
            ],
        ),
        Action::RemoveVtep { network, address } => weft(
            host,
            &["peer", "rm", network, "--endpoint", &address.to_string()],
        ),
        Action::RemoveNetwork { network } => weft(host, &["network", "rm", network, "--force"]),
        Action::CreateNetwork {
            network,
            subnet,
            block,
            listen_port,
            internal,
            vxlan,
        } => weft(
            host,
            &network_create_args(
                network,
                *subnet,
                *block,
                *listen_port,
                *internal,
                domain,
                vxlan.as_ref(),
            ),
        ),
        Action::AddVtep { network, vtep } => weft(
            host,
            &[
                "peer",
                "add",
                network,
                "--endpoint",
                &vtep.address.to_string(),
                "--allowed-ips",
                &vtep.block.to_string(),
            ],
        ),
        Action::AddPeer { network, peer } | Action::UpdatePeer { network, peer } => {
            weft(host, &peer_add_args(network, peer))
        }
        Action::ReplacePeer { network, old, peer } => {
            let mut args = peer_add_args(network, peer);
            args.extend(["--replaces".into(), old.to_base64()]);
            weft(host, &args)
        }
        Action::SetDns { network, records } => {
            weft(host, &names_set_args(network, domain, records))
        }
        Action::Attach {
            network,
            service,
            workload_id,
            address,
        } => {
            let is_vm = plan
                .services
                .iter()
                .any(|s| s.name == *service && s.kind == Kind::Vm);
            if is_vm {
                attach_vm(host, network, service, workload_id, *address)
            } else {
                attach(mesh, host, network, service, workload_id, *address)
            }
        }
        Action::StartService { service } if service.kind == Kind::Vm => {
            super::launch::start_vm(mesh, host, service)
        }
        Action::StartService { service } if service.container.is_some() => {
            start_container(mesh, plan, host, service)
        }
        Action::StartService { service } => start_service(mesh, host, service),
    }
}

/// One `weft` call on the host whose output is not needed.
fn weft<S: AsRef<str>>(host: &dyn HostConn, args: &[S]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    host.weft(&args).map(drop)
}

fn stop_service(mesh: &Mesh, host: &dyn HostConn, service: &str) -> Result<()> {
    let dir = mesh.service_dir(host, service);
    host.sh(&format!(
        "{} service-stop --dir {}",
        quote(&host.weft_bin()),
        quote(&dir)
    ))
    .map(drop)
}

fn network_create_args(
    network: &str,
    subnet: IpNet,
    block: IpNet,
    listen_port: u16,
    internal: bool,
    domain: &str,
    vxlan: Option<&VxlanNetworkPlan>,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "network".into(),
        "create".into(),
        network.into(),
        "--subnet".into(),
        subnet.to_string(),
        "--block".into(),
        block.to_string(),
    ];
    match vxlan {
        None => args.extend(["--listen-port".into(), listen_port.to_string()]),
        Some(vx) => {
            args.extend([
                "--mode".into(),
                "vxlan".into(),
                "--vni".into(),
                vx.vni.to_string(),
            ]);
            if let Some(over) = &vx.over {
                args.extend(["--over".into(), over.clone()]);
            }
        }
    }
    args.extend(["--domain".into(), domain.into()]);
    if internal {
        args.push("--internal".into());
    }
    args
}

/// `peer add` both adds and replaces a peer.
fn peer_add_args(network: &str, peer: &PeerPlan) -> Vec<String> {
    let allowed = peer
        .allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    vec![
        "peer".into(),
        "add".into(),
        network.into(),
        "--public-key".into(),
        peer.public_key.to_base64(),
        "--endpoint".into(),
        peer.endpoint.clone(),
        "--allowed-ips".into(),
        allowed,
        "--keepalive".into(),
        peer.keepalive.unwrap_or(0).to_string(),
    ]
}

fn names_set_args(network: &str, domain: &str, records: &[DnsRecord]) -> Vec<String> {
    let mut names: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let suffix = format!(".{domain}");
    for r in records {
        // Agents keep labels; the plan names them in full.
        let label = r.name.strip_suffix(&suffix).unwrap_or(&r.name);
        names.entry(label).or_default().push(r.address.to_string());
    }
    let mut args: Vec<String> = vec![
        "names".into(),
        "set".into(),
        network.into(),
        "--source".into(),
        NAMES_SOURCE.into(),
    ];
    args.extend(names.iter().map(|(n, a)| format!("{n}={}", a.join(","))));
    args
}

/// A VM's next NIC: a TAP on `network` with the planned address (the
/// guest learns it by DHCP).
fn attach_vm(
    host: &dyn HostConn,
    network: &str,
    service: &str,
    workload_id: &str,
    address: IpAddr,
) -> Result<()> {
    weft(
        host,
        &[
            "attach",
            network,
            "--vm",
            workload_id,
            "--ip",
            &address.to_string(),
            "--name",
            service,
        ],
    )
}

/// Make the service's namespace if it has none, attach it to `network`,
/// and give it a resolver.
fn attach(
    mesh: &Mesh,
    host: &dyn HostConn,
    network: &str,
    service: &str,
    workload_id: &str,
    address: IpAddr,
) -> Result<()> {
    let ns = service_netns(mesh.name(), service);
    host.sh(&format!(
        "[ -e /run/netns/{0} ] || ip netns add {0}",
        quote(&ns)
    ))?;
    let netns = format!("/run/netns/{ns}");
    let out = host.weft(&[
        "attach",
        network,
        "--netns",
        &netns,
        "--id",
        workload_id,
        "--ip",
        &address.to_string(),
        "--name",
        service,
    ])?;
    // The first network's responder resolves the service's names:
    // `ip netns exec` (and so `weft exec` and the supervisor) bind
    // /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
    let attachment: serde_json::Value = serde_json::from_str(&out)?;
    host.sh(&format!(
        "mkdir -p /etc/netns/{0} && [ -e /etc/netns/{0}/resolv.conf ] || printf %s {1} > /etc/netns/{0}/resolv.conf",
        quote(&ns),
        quote(&resolv_conf(&attachment))
    ))
    .map(drop)
}

/// Remove the namespaces of `services` on `host` that are still there,
/// and their `/etc/netns` directories; returns how many namespaces went.
/// Stopping a service removes the namespace its directory records: these
/// are the ones of services that never started, or whose directory is gone.
pub fn remove_service_namespaces<'a>(
    mesh: &Mesh,
    host: &dyn HostConn,
    services: impl IntoIterator<Item = &'a str>,
) -> Result<usize> {
    let script: Vec<String> = services
        .into_iter()
        .map(|service| {
            let ns = quote(&service_netns(mesh.name(), service));
            format!(
                "if [ -e /run/netns/{ns} ]; then ip netns del {ns} || exit 1; echo {ns}; fi; rm -rf /etc/netns/{ns}"
            )
        })
        .collect();
    if script.is_empty() {
        return Ok(0);
    }
    Ok(host.sh(&script.join("\n"))?.lines().count())
}

/// resolv.conf for an attachment, from the `dns` of `weft attach -o json`.
fn resolv_conf(attachment: &serde_json::Value) -> String {
    let strings = |key: &str| -> Vec<&str> {
        attachment["dns"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect()
    };
    let search = strings("search");
    strings("nameservers")
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .chain((!search.is_empty()).then(|| format!("search {}\n", search.join(" "))))
        .collect()
}

fn start_service(mesh: &Mesh, host: &dyn HostConn, svc: &ServicePlan) -> Result<()> {
    let argv = supervisor_argv(
        host.weft_bin(),
        mesh.service_dir(host, &svc.name),
        mesh.name(),
        svc,
    )?;
    start_supervisor(mesh, host, svc, &argv)
}

/// Start `weft service-run` as `argv` in the host's namespace, in the
/// background, and wait until it has written its state.
pub(super) fn start_supervisor(
    mesh: &Mesh,
    host: &dyn HostConn,
    svc: &ServicePlan,
    argv: &[String],
) -> Result<()> {
    // The supervisor runs in the host's network namespace (for published
    // ports and `network: host`) and outlives this command.
    host.sh_net(&format!(
        "setsid {} </dev/null >/dev/null 2>&1 &",
        quote_all(argv)
    ))?;
    // Wait until it has written its state, so the next observation sees it.
    let dir = mesh.service_dir(host, &svc.name);
    host.sh(&format!(
        "for i in $(seq 100); do [ -e {0}/started ] && exit 0; sleep 0.05; done; echo 'the service did not start' >&2; exit 1",
        quote(&dir)
    ))
    .map(drop)
}

/// Run a container from its image through `weft service-run` on its host,
/// which records it (so `service-stop` finds it) and starts it.
fn start_container(mesh: &Mesh, plan: &Plan, host: &dyn HostConn, svc: &ServicePlan) -> Result<()> {
    let (Some(c), Some(runtime)) = (&svc.container, svc.runtime()) else {
        bail!("service {}: no container runtime settled for it", svc.name);
    };
    let own = svc.network_type.has_own_address();
    let network = if own {
        container::Network::Own {
            netns: service_netns(mesh.name(), &svc.name),
        }
    } else {
        container::Network::Host {
            netns: host.netns(),
        }
    };
    let mut argv: Vec<String> = vec![
        host.weft_bin(),
        "service-run".into(),
        "--dir".into(),
        mesh.service_dir(host, &svc.name),
        "--name".into(),
        svc.name.clone(),
        "--fingerprint".into(),
        svc.fingerprint(),
    ];
    if own {
        argv.extend(["--netns".into(), service_netns(mesh.name(), &svc.name)]);
    }
    argv.extend([
        "--runtime".into(),
        runtime.command().into(),
        "--container".into(),
        container::container_name(mesh.name(), &svc.name),
        "--image".into(),
        c.image.clone(),
        "--mesh".into(),
        mesh.name().into(),
        "--".into(),
    ]);
    argv.extend(container::run_args(plan, svc, runtime, &network));
    // The runtime runs at the host's top level: Podman finds the namespace
    // by its path, Docker its daemon by its socket.
    host.sh(&quote_all(&argv)).map(drop)
}

/// The `weft service-run` command line that supervises `svc`.
pub(super) fn supervisor_argv(
    weft_bin: String,
    dir: String,
    mesh: &str,
    svc: &ServicePlan,
) -> Result<Vec<String>> {
    let mut argv: Vec<String> = vec![
        weft_bin,
        "service-run".into(),
        "--dir".into(),
        dir,
        "--name".into(),
        svc.name.clone(),
        "--fingerprint".into(),
        svc.fingerprint(),
    ];
    // A VM has no namespace: its NICs are TAPs in the host's.
    if svc.network_type.has_own_address() && svc.kind != Kind::Vm {
        argv.extend(["--netns".into(), service_netns(mesh, &svc.name)]);
    }
    if svc.network_type.uses_host_ports() && svc.network_type.has_own_address() {
        let Some(first) = svc.addresses.first() else {
            bail!(
                "service {} has no address to publish its ports to",
                svc.name
            );
        };
        for port in &svc.ports {
            argv.extend([
                "--forward".into(),
                format!("{port}={}:{port}", first.address),
            ]);
        }
    }
    match svc.kind {
        Kind::Process => {
            argv.push("--".into());
            argv.extend(svc.command.clone().unwrap_or_default());
        }
        // A VM's hypervisor is added by `launch.rs`.
        Kind::Container | Kind::Vm => {}
    }
    Ok(argv)
}

#[cfg(test)]
mod tests;
