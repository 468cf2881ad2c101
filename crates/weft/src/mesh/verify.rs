//! After `up` applied its changes: is the mesh up? Every peer of every
//! network on every host has a handshake and answers the agent's probe
//! through the tunnel (a VXLAN network's VTEP: answers the probe over the
//! segment), and every service runs (a VM: its hypervisor). [`judge`] says
//! it of one look at the hosts (pure); [`wait`] looks again until it holds
//! or the time is up, and then names exactly what is not up.
//!
//! The agent's health watch probes every few seconds, so its latest
//! result could be the word of a peer that stopped answering a moment ago
//! (its underlay just went down, say). Each look therefore asks every
//! agent to probe its peers there and then (`weft status --probe`): a peer
//! answers when it answered that probe, a VTEP as a peer does. Hosts are
//! looked at side by side, so one look takes about as long as the slowest
//! host's probe — milliseconds when every peer answers.

use super::Mesh;
use super::host::HostConn;
use super::observe::{self, ServiceJson};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use weft_mesh::{Kind, Plan, VtepPlan};

/// One host as seen once: its agent's `weft status` and its services, or
/// why it could not be asked.
pub enum HostLook {
    Seen {
        status: serde_json::Value,
        services: Vec<ServiceJson>,
    },
    Unreachable(String),
}

/// A peer of a host on a network, as judged.
pub struct PeerLine {
    pub host: String,
    pub network: String,
    pub peer: String,
    /// `None` when it is up; else what is wrong.
    pub problem: Option<String>,
    pub handshake_age: Option<i64>,
}

/// A service, as judged.
pub struct ServiceLine {
    pub name: String,
    pub host: String,
    pub state: String,
    pub ok: bool,
}

pub struct Verdict {
    pub peers: Vec<PeerLine>,
    pub services: Vec<ServiceLine>,
    /// Hosts that could not be asked, with why.
    pub unreachable: Vec<(String, String)>,
}

impl Verdict {
    pub fn is_up(&self) -> bool {
        self.unreachable.is_empty()
            && self.peers.iter().all(|p| p.problem.is_none())
            && self.services.iter().all(|s| s.ok)
    }

    /// `4/6 peers up, 2/3 services running`.
    pub fn counts(&self) -> String {
        let peers = self.peers.iter().filter(|p| p.problem.is_none()).count();
        let services = self.services.iter().filter(|s| s.ok).count();
        format!(
            "{peers}/{} peers up, {services}/{} services running",
            self.peers.len(),
            self.services.len()
        )
    }

    /// Every problem, one line each, naming host, network, peer or service.
    pub fn problems(&self) -> Vec<String> {
        let hosts = self
            .unreachable
            .iter()
            .map(|(host, why)| format!("host {host}: cannot ask its agent: {why}"));
        let peers = self.peers.iter().filter_map(|p| {
            let problem = p.problem.as_ref()?;
            Some(format!(
                "host {} network {}: peer {}: {problem}",
                p.host, p.network, p.peer
            ))
        });
        let services = self
            .services
            .iter()
            .filter(|s| !s.ok)
            .map(|s| format!("host {}: service {}: {}", s.host, s.name, s.state));
        hosts.chain(peers).chain(services).collect()
    }
}

/// Judge one look at every host, its probes made for it. `started`: the services
/// this `up` started; one of those that has already exited with an error
/// (a VM: at all) is a failure, while one that ended before (and is not run
/// again, as its definition did not change) is shown as it ended.
pub fn judge(
    plan: &Plan,
    looks: &BTreeMap<String, HostLook>,
    started: &BTreeSet<String>,
    now: i64,
) -> Verdict {
    let host_of_key: BTreeMap<String, &str> = plan
        .hosts
        .iter()
        .flat_map(|h| {
            h.networks
                .iter()
                .filter_map(move |n| Some((n.public_key.as_ref()?.to_base64(), h.name.as_str())))
        })
        .collect();
    let mut verdict = Verdict {
        peers: vec![],
        services: vec![],
        unreachable: vec![],
    };
    for host in &plan.hosts {
        let status = match looks.get(&host.name) {
            Some(HostLook::Seen { status, .. }) => Some(status),
            Some(HostLook::Unreachable(why)) => {
                verdict.unreachable.push((host.name.clone(), why.clone()));
                None
            }
            None => None,
        };
        for net in &host.networks {
            let seen = status.and_then(|s| {
                s["networks"]
                    .as_array()?
                    .iter()
                    .find(|n| n["name"] == net.network.as_str())
            });
            for peer in &net.peers {
                let key = peer.public_key.to_base64();
                let name = host_of_key
                    .get(&key)
                    .map_or_else(|| peer.host.clone(), |h| h.to_string());
                let p = seen.and_then(|n| {
                    n["peers"]
                        .as_array()?
                        .iter()
                        .find(|p| p["public_key"] == key.as_str())
                });
                let handshake = p
                    .and_then(|p| p["latest_handshake"].as_i64())
                    .filter(|t| *t > 0);
                let age = handshake.map(|t| (now - t).max(0));
                let problem = match (status, seen, p, age) {
                    (None, ..) => Some("its host cannot be asked".to_string()),
                    (_, None, ..) => Some("the network is missing on the host".into()),
                    (_, _, None, _) => Some("not configured on the host".into()),
                    (_, _, Some(_), None) => {
                        Some(format!("no handshake (endpoint {})", peer.endpoint))
                    }
                    (_, _, Some(p), Some(age)) => match p["probe"].as_str().unwrap_or_default() {
                        "ok" => None,
                        "failed" => Some(format!(
                            "the probe through the tunnel fails (last handshake {age}s ago, endpoint {})",
                            peer.endpoint
                        )),
                        _ => Some(format!(
                            "the probe through the tunnel has not answered yet (handshake {age}s ago)"
                        )),
                    },
                };
                verdict.peers.push(PeerLine {
                    host: host.name.clone(),
                    network: net.network.clone(),
                    peer: name,
                    problem,
                    handshake_age: age,
                });
            }
            for vtep in &net.vteps {
                verdict.peers.push(PeerLine {
                    host: host.name.clone(),
                    network: net.network.clone(),
                    peer: vtep.host.clone(),
                    problem: vtep_problem(status.is_some(), seen, vtep),
                    handshake_age: None,
                });
            }
        }
    }
    for svc in &plan.services {
        let (state, ok) = match looks.get(&svc.host) {
            Some(HostLook::Seen { services, .. }) => {
                match services.iter().find(|s| s.name == svc.name) {
                    None => ("not started".to_string(), false),
                    Some(s) if s.running => ("running".into(), true),
                    Some(ServiceJson {
                        exit: Some(exit), ..
                    }) => {
                        // A job may finish; a VM that stops (its guest
                        // powered off, or rebooted under `-no-reboot`) is
                        // not up, however it ended.
                        let finished = exit == "exited with code 0" && svc.kind != Kind::Vm;
                        (exit.clone(), finished || !started.contains(&svc.name))
                    }
                    Some(s) => (
                        format!(
                            "not running ({})",
                            s.state.as_deref().unwrap_or("its namespace is gone")
                        ),
                        false,
                    ),
                }
            }
            _ => ("its host cannot be asked".into(), false),
        };
        verdict.services.push(ServiceLine {
            name: svc.name.clone(),
            host: svc.host.clone(),
            state,
            ok,
        });
    }
    verdict
}

/// What is wrong with a VXLAN network's VTEP as its host reports it
/// (`seen`: the network in the host's status), if anything. A VTEP has no
/// handshake and no counters of its own: its probe over the segment is
/// all there is to go by.
fn vtep_problem(asked: bool, seen: Option<&serde_json::Value>, vtep: &VtepPlan) -> Option<String> {
    let address = vtep.address.to_string();
    let p = seen.and_then(|n| {
        n["peers"].as_array()?.iter().find(|p| {
            p["public_key"].as_str().unwrap_or_default().is_empty()
                && p["endpoint"] == address.as_str()
        })
    });
    match (asked, seen, p) {
        (false, ..) => Some("its host cannot be asked".to_string()),
        (_, None, _) => Some("the network is missing on the host".into()),
        (_, _, None) => Some(format!("VTEP {address} is not configured on the host")),
        (_, _, Some(p)) => match p["probe"].as_str().unwrap_or_default() {
            "ok" => None,
            "failed" => Some(format!("the probe over the segment fails (VTEP {address})")),
            _ => Some(format!(
                "the probe over the segment has not answered yet (VTEP {address})"
            )),
        },
    }
}

/// Look at every host once (side by side).
pub fn look(mesh: &Mesh, plan: &Plan, hosts: &[Box<dyn HostConn>]) -> BTreeMap<String, HostLook> {
    let seen = super::parallel::each(&plan.hosts, |h| {
        let Some(conn) = hosts.iter().find(|c| c.name() == h.name) else {
            return HostLook::Unreachable("not connected".into());
        };
        // A host the plan runs no service on has none to look at.
        let has_services = plan.services.iter().any(|s| s.host == h.name);
        conn.weft(&["status", "--probe"])
            .and_then(|text| Ok(serde_json::from_str(&text)?))
            .and_then(|status| {
                let services = if has_services {
                    observe::services(mesh, conn.as_ref())?
                } else {
                    vec![]
                };
                Ok(HostLook::Seen { status, services })
            })
            .unwrap_or_else(|e| HostLook::Unreachable(format!("{e:#}")))
    });
    plan.hosts
        .iter()
        .map(|h| h.name.clone())
        .zip(seen)
        .collect()
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Look until the mesh is up or `timeout` has passed; `progress` is told
/// each verdict and the time waited so far. Returns the last verdict: up,
/// or naming what is not.
pub fn wait(
    mesh: &Mesh,
    plan: &Plan,
    hosts: &[Box<dyn HostConn>],
    started: &BTreeSet<String>,
    timeout: Duration,
    progress: &mut dyn FnMut(&Verdict, Duration),
) -> Verdict {
    let start = Instant::now();
    loop {
        let looks = look(mesh, plan, hosts);
        let verdict = judge(plan, &looks, started, unix_now());
        progress(&verdict, start.elapsed());
        if verdict.is_up() || start.elapsed() >= timeout {
            return verdict;
        }
        std::thread::sleep(Duration::from_secs(1).min(timeout.saturating_sub(start.elapsed())));
    }
}

#[cfg(test)]
mod tests;
