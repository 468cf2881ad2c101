//! Carrying out `weft-mesh`'s actions on one host.

use super::host::{HostConn, quote, quote_all};
use super::{Mesh, NAMES_SOURCE};
use anyhow::{Result, bail};
use weft_mesh::{Action, Kind, ServicePlan};

/// The namespace a service with addresses of its own lives in.
pub fn service_netns(mesh: &str, service: &str) -> String {
    super::netns_name(mesh, service)
}

/// Run one action on `host`.
pub fn run(mesh: &Mesh, domain: &str, host: &dyn HostConn, action: &Action) -> Result<()> {
    match action {
        Action::StopService { service } => {
            let dir = mesh.service_dir(host, service);
            host.sh(&format!(
                "{} service-stop --dir {}",
                quote(&host.weft_bin()),
                quote(&dir)
            ))?;
        }
        Action::Detach {
            network,
            workload_id,
        } => {
            host.weft(&["detach", network, "--id", workload_id])?;
        }
        Action::RemovePeer {
            network,
            public_key,
        } => {
            host.weft(&[
                "peer",
                "rm",
                network,
                "--public-key",
                &public_key.to_base64(),
            ])?;
        }
        Action::RemoveNetwork { network } => {
            host.weft(&["network", "rm", network, "--force"])?;
        }
        Action::CreateNetwork {
            network,
            subnet,
            block,
            listen_port,
            internal,
        } => {
            let (subnet, block, port) = (
                subnet.to_string(),
                block.to_string(),
                listen_port.to_string(),
            );
            let mut args = vec![
                "network", "create", network, "--subnet", &subnet, "--block", &block,
            ];
            args.extend(["--listen-port", &port, "--domain", domain]);
            if *internal {
                args.push("--internal");
            }
            host.weft(&args)?;
        }
        Action::AddPeer { network, peer } | Action::UpdatePeer { network, peer } => {
            let allowed = peer
                .allowed_ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let keepalive = peer.keepalive.unwrap_or(0).to_string();
            host.weft(&[
                "peer",
                "add",
                network,
                "--public-key",
                &peer.public_key.to_base64(),
                "--endpoint",
                &peer.endpoint,
                "--allowed-ips",
                &allowed,
                "--keepalive",
                &keepalive,
            ])?;
        }
        Action::SetDns { network, records } => {
            let mut names: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            let suffix = format!(".{domain}");
            for r in records {
                // Agents keep labels; the plan names them in full.
                let label = r.name.strip_suffix(&suffix).unwrap_or(&r.name);
                names.entry(label).or_default().push(r.address.to_string());
            }
            let items: Vec<String> = names
                .iter()
                .map(|(n, a)| format!("{n}={}", a.join(",")))
                .collect();
            let mut args = vec!["names", "set", network, "--source", NAMES_SOURCE];
            args.extend(items.iter().map(String::as_str));
            host.weft(&args)?;
        }
        Action::Attach {
            network,
            service,
            workload_id,
            address,
        } => {
            let ns = service_netns(mesh.name(), service);
            host.sh(&format!(
                "[ -e /run/netns/{0} ] || ip netns add {0}",
                quote(&ns)
            ))?;
            let netns = format!("/run/netns/{ns}");
            let addr = address.to_string();
            let out = host.weft(&[
                "attach",
                network,
                "--netns",
                &netns,
                "--id",
                workload_id,
                "--ip",
                &addr,
                "--name",
                service,
            ])?;
            // The first network's responder resolves the service's names:
            // `ip netns exec` (and so `weft exec` and the supervisor) bind
            // /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
            let att: serde_json::Value = serde_json::from_str(&out)?;
            let servers: Vec<&str> = att["dns"]["nameservers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let search: Vec<&str> = att["dns"]["search"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let conf = servers
                .iter()
                .map(|s| format!("nameserver {s}\n"))
                .chain((!search.is_empty()).then(|| format!("search {}\n", search.join(" "))))
                .collect::<String>();
            host.sh(&format!(
                "mkdir -p /etc/netns/{0} && [ -e /etc/netns/{0}/resolv.conf ] || printf %s {1} > /etc/netns/{0}/resolv.conf",
                quote(&ns),
                quote(&conf)
            ))?;
        }
        Action::StartService { service } => start_service(mesh, host, service)?,
    }
    Ok(())
}

fn start_service(mesh: &Mesh, host: &dyn HostConn, svc: &ServicePlan) -> Result<()> {
    let dir = mesh.service_dir(host, &svc.name);
    let mut argv: Vec<String> = vec![
        host.weft_bin(),
        "service-run".into(),
        "--dir".into(),
        dir,
        "--name".into(),
        svc.name.clone(),
        "--fingerprint".into(),
        svc.fingerprint(),
    ];
    if svc.network_type.has_own_address() {
        argv.extend(["--netns".into(), service_netns(mesh.name(), &svc.name)]);
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
            let command = svc.command.clone().unwrap_or_default();
            argv.push("--".into());
            argv.extend(command);
        }
        Kind::Container => {}
        Kind::Vm => bail!("service {}: weft up does not run VMs yet", svc.name),
    }
    // The supervisor runs in the host's network namespace (for published
    // ports and `network: host`) and outlives this command.
    host.sh_net(&format!(
        "setsid {} </dev/null >/dev/null 2>&1 &",
        quote_all(&argv)
    ))?;
    // Wait until it has written its state, so the next observation sees it.
    let dir = mesh.service_dir(host, &svc.name);
    host.sh(&format!(
        "for i in $(seq 100); do [ -e {0}/started ] && exit 0; sleep 0.05; done; echo 'the service did not start' >&2; exit 1",
        quote(&dir)
    ))?;
    Ok(())
}
