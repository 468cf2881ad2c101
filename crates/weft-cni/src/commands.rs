//! The six CNI commands.

use crate::agent::{AgentApi, to_cni};
use crate::config::{self, NetConf};
use crate::env::{CniEnv, Command};
use crate::error::{CniError, Result, code};
use crate::result;
use ipnet::IpNet;
use serde_json::{Value, json};
use std::path::Path;
use tonic::Code;
use weft_proto::agent as pb;

/// How the commands reach the agent (a real socket, or a fake in tests).
pub type Connect<'a> = dyn FnMut(&Path) -> std::io::Result<Box<dyn AgentApi>> + 'a;

/// Run one command. `Ok(Some(doc))` is printed on stdout.
pub fn run(env: &CniEnv, stdin: &[u8], connect: &mut Connect<'_>) -> Result<Option<Value>> {
    if env.command == Command::Version {
        return Ok(Some(json!({
            "cniVersion": config::version_of(stdin),
            "supportedVersions": config::SUPPORTED_VERSIONS,
        })));
    }
    let conf = config::parse(stdin)?;
    if matches!(env.command, Command::Status | Command::Gc) && conf.cni_version != "1.1.0" {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "{:?} needs cniVersion 1.1.0, the config has {}",
                env.command, conf.cni_version
            ),
        ));
    }
    let unreachable = |e: std::io::Error, code: u32| CniError::new(code, e.to_string());
    match env.command {
        Command::Version => unreachable!("handled above"),
        Command::Status => {
            let mut agent =
                connect(&conf.agent_socket).map_err(|e| unreachable(e, code::NOT_AVAILABLE))?;
            status(&conf, agent.as_mut()).map(|()| None)
        }
        command => {
            let mut agent =
                connect(&conf.agent_socket).map_err(|e| unreachable(e, code::TRY_AGAIN))?;
            let agent = agent.as_mut();
            match command {
                Command::Add => add(env, &conf, agent).map(Some),
                Command::Del => del(env, &conf, agent).map(|()| None),
                Command::Check => check(env, &conf, agent).map(|()| None),
                Command::Gc => gc(&conf, agent).map(|()| None),
                Command::Status | Command::Version => unreachable!("handled above"),
            }
        }
    }
}

fn find_network(conf: &NetConf, agent: &mut dyn AgentApi) -> Result<Option<pb::Network>> {
    let nets = agent.networks().map_err(|s| to_cni(&s))?;
    Ok(nets.into_iter().find(|n| n.name == conf.name))
}

/// The existing network must agree with every setting the configuration
/// gives; a setting it leaves out accepts whatever the network has.
fn check_matches(conf: &NetConf, net: &pb::Network) -> Result<()> {
    let differs = |setting: &str, has: &dyn std::fmt::Display, says: &dyn std::fmt::Display| {
        CniError::invalid_config(format!(
            "network {:?} exists with {setting} {has}, but the config says {says}",
            conf.name
        ))
    };
    // The agent reports networks in canonical form; one it cannot parse
    // cannot equal the config's.
    let same_net = |ours: &IpNet, theirs: &str| theirs.parse::<IpNet>().is_ok_and(|t| t == *ours);
    if let Some(subnet) = &conf.subnet
        && !same_net(subnet, &net.subnet)
    {
        return Err(differs("subnet", &net.subnet, subnet));
    }
    if let Some(block) = &conf.block
        && !same_net(block, &net.block)
    {
        return Err(differs("block", &net.block, block));
    }
    if let Some(mode) = conf.mode
        && mode.as_str() != net.mode
    {
        return Err(CniError::invalid_config(format!(
            "network {:?} exists in mode {}, but the config says {mode}",
            conf.name, net.mode
        )));
    }
    if let Some(internal) = conf.internal
        && internal != net.internal
    {
        return Err(differs("internal", &net.internal, &internal));
    }
    if let Some(domain) = &conf.domain
        && *domain != net.domain
    {
        return Err(differs("domain", &net.domain, domain));
    }
    Ok(())
}

/// The request that creates the network a configuration describes; what it
/// leaves out the agent decides (empty fields are its defaults).
fn new_network(conf: &NetConf, subnet: &IpNet) -> pb::AddNetworkRequest {
    pb::AddNetworkRequest {
        name: conf.name.clone(),
        subnet: subnet.to_string(),
        block: conf.block.map(|b| b.to_string()).unwrap_or_default(),
        mode: conf.mode.unwrap_or_default().as_str().into(),
        internal: conf.internal.unwrap_or(false),
        domain: conf.domain.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// The network, created from the config when it does not exist yet.
/// Returns whether this call created it.
fn ensure_network(conf: &NetConf, agent: &mut dyn AgentApi) -> Result<bool> {
    if let Some(net) = find_network(conf, agent)? {
        check_matches(conf, &net)?;
        return Ok(false);
    }
    if conf.mode == Some(weft_model::Mode::Vxlan) {
        return Err(CniError::invalid_config(format!(
            "network {:?} does not exist on this host: a vxlan network is made with `weft network create {} --mode vxlan --vni N` and its peers with `weft peer add`",
            conf.name, conf.name
        )));
    }
    let Some(subnet) = &conf.subnet else {
        return Err(CniError::invalid_config(format!(
            "network {:?} does not exist on this host: create it with `weft network create` or give \"subnet\" in the config",
            conf.name
        )));
    };
    match agent.add_network(new_network(conf, subnet)) {
        Ok(_) => Ok(true),
        // Another ADD created it first.
        Err(s) if s.code() == Code::AlreadyExists => {
            let net = find_network(conf, agent)?.ok_or_else(|| {
                CniError::new(code::TRY_AGAIN, format!("network {:?} vanished", conf.name))
            })?;
            check_matches(conf, &net)?;
            Ok(false)
        }
        Err(s) => Err(to_cni(&s)),
    }
}

fn add(env: &CniEnv, conf: &NetConf, agent: &mut dyn AgentApi) -> Result<Value> {
    if !Path::new(&env.netns).exists() {
        return Err(CniError::invalid_env(
            "CNI_NETNS",
            format!("{} does not exist", env.netns),
        ));
    }
    let name = workload_name(env, conf)?;
    let created = ensure_network(conf, agent)?;
    let req = pb::AttachRequest {
        network: conf.name.clone(),
        netns: env.netns.clone(),
        id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        name,
        ..Default::default()
    };
    match agent.attach(req) {
        Ok(att) => {
            let dns = result::dns(att.dns.as_ref(), conf.dns.as_ref());
            Ok(result::add_result(
                &conf.cni_version,
                &att,
                &env.netns,
                conf.prev_result.as_ref(),
                Some(&dns),
            ))
        }
        Err(s) => {
            // Nothing of a failed ADD stays: not even the network it made
            // (unless another container joined it meanwhile).
            if created {
                let _ = agent.remove_network(&conf.name);
            }
            let mut err = to_cni(&s);
            if s.code() == Code::NotFound {
                err.code = code::TRY_AGAIN;
            }
            Err(err)
        }
    }
}

/// The container's name for DNS: the runtime's (`K8S_POD_NAME` in
/// `CNI_ARGS`, as Podman and Kubernetes runtimes pass it), else `args.name`
/// in the config. It must be a DNS label.
fn workload_name(env: &CniEnv, conf: &NetConf) -> Result<String> {
    if let Some(name) = env.args.get("K8S_POD_NAME").filter(|n| !n.is_empty()) {
        weft_model::names::validate_workload_name(name)
            .map_err(|e| CniError::invalid_env("CNI_ARGS", format!("K8S_POD_NAME: {e}")))?;
        return Ok(name.clone());
    }
    if let Some(name) = &conf.args_name {
        weft_model::names::validate_workload_name(name)
            .map_err(|e| CniError::invalid_config(format!("args.name: {e}")))?;
        return Ok(name.clone());
    }
    Ok(String::new())
}

fn del(env: &CniEnv, conf: &NetConf, agent: &mut dyn AgentApi) -> Result<()> {
    match agent.detach(&conf.name, &env.container_id) {
        Ok(_) => Ok(()),
        // Gone network, gone attachment: DEL has nothing to do.
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(to_cni(&s)),
    }
}

fn check(env: &CniEnv, conf: &NetConf, agent: &mut dyn AgentApi) -> Result<()> {
    let att = agent
        .check(&conf.name, &env.container_id)
        .map_err(|s| to_cni(&s))?;
    if att.ifname != env.ifname {
        return Err(CniError::new(
            code::OTHER,
            format!(
                "CHECK: container {} is attached as {}, not {}",
                env.container_id, att.ifname, env.ifname
            ),
        ));
    }
    if att.netns != env.netns {
        return Err(CniError::new(
            code::OTHER,
            format!(
                "CHECK: container {} is attached in {}, not {}",
                env.container_id, att.netns, env.netns
            ),
        ));
    }
    match &conf.prev_result {
        Some(prev) => result::check_prev(prev, &att, &env.netns),
        None => Ok(()),
    }
}

fn gc(conf: &NetConf, agent: &mut dyn AgentApi) -> Result<()> {
    let keep = conf
        .valid_attachments
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    match agent.gc(&conf.name, keep) {
        Ok(released) => {
            if !released.is_empty() {
                eprintln!(
                    "weft: GC released {} attachment(s) of {}: {}",
                    released.len(),
                    conf.name,
                    released.join(", ")
                );
            }
            Ok(())
        }
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(to_cni(&s)),
    }
}

/// STATUS: ready when the agent answers and the network can take another
/// workload (or will be created on the first ADD).
fn status(conf: &NetConf, agent: &mut dyn AgentApi) -> Result<()> {
    let not_available = |msg: String| CniError::new(code::NOT_AVAILABLE, msg);
    let nets = agent
        .networks()
        .map_err(|s| not_available(format!("the weft agent does not answer: {}", s.message())))?;
    match nets.into_iter().find(|n| n.name == conf.name) {
        Some(net) if net.allocated >= net.capacity => Err(not_available(format!(
            "the address pool of network {:?} ({}) is exhausted: {} of {} in use",
            net.name, net.block, net.allocated, net.capacity
        ))),
        Some(_) => Ok(()),
        None if conf.subnet.is_some() => Ok(()),
        None => Err(not_available(format!(
            "network {:?} does not exist on this host and the config has no subnet",
            conf.name
        ))),
    }
}

#[cfg(test)]
mod tests;
