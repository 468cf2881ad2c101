//! The one screen `up` ends with once the mesh is up: each host's peers
//! per network with their last handshake, and each service's state.

use crate::mesh::verify::Verdict;
use crate::output;
use std::collections::BTreeMap;
use weft_mesh::Plan;

pub fn print(plan: &Plan, verdict: &Verdict) {
    println!("mesh {} is up: {}", plan.mesh, verdict.counts());
    // (host, network) → "peer (handshake age)", in plan order.
    let mut peers: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for p in &verdict.peers {
        let h = plan
            .hosts
            .iter()
            .position(|h| h.name == p.host)
            .unwrap_or(0);
        let n = plan
            .networks
            .iter()
            .position(|n| n.name == p.network)
            .unwrap_or(0);
        let age = p
            .handshake_age
            .map(|a| format!(" {a}s"))
            .unwrap_or_default();
        peers
            .entry((h, n))
            .or_default()
            .push(format!("{}{age}", p.peer));
    }
    let rows: Vec<Vec<String>> = peers
        .into_iter()
        .map(|((h, n), list)| {
            vec![
                plan.hosts[h].name.clone(),
                plan.networks[n].name.clone(),
                list.join(", "),
            ]
        })
        .collect();
    if !rows.is_empty() {
        output::table(&["HOST", "NETWORK", "PEERS (LAST HANDSHAKE)"], &rows);
    }
    let rows: Vec<Vec<String>> = verdict
        .services
        .iter()
        .map(|s| {
            let addresses = plan
                .service(&s.name)
                .map(|svc| {
                    svc.addresses
                        .iter()
                        .map(|a| format!("{}={}", a.network, a.address))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            vec![s.name.clone(), s.host.clone(), s.state.clone(), addresses]
        })
        .collect();
    if !rows.is_empty() {
        println!();
        output::table(&["SERVICE", "HOST", "STATE", "ADDRESSES"], &rows);
    }
}
