//! `hypervisor: auto` settled on each VM's host: `weft vm hypervisors -o
//! json` run there (what the host offers is the host's to say: its
//! `PATH`, its `/dev/kvm`), once per host, before the plan is diffed.

use super::Mesh;
use super::host::{HostConn, quote};
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use weft_mesh::{HypervisorSpec, Kind};
use weft_model::vm::Choice;

/// The choice for every `auto` VM of the file, by service name; each is
/// told on `log` (`vm1: hypervisor auto: qemu (TCG: …)`).
pub fn choose_all(
    mesh: &Mesh,
    hosts: &[Box<dyn HostConn>],
    log: &mut dyn FnMut(&str, &str),
) -> Result<BTreeMap<String, Choice>> {
    let mut by_host: BTreeMap<String, Choice> = BTreeMap::new();
    let mut chosen = BTreeMap::new();
    for svc in &mesh.file.services {
        if svc.kind != Kind::Vm || svc.hypervisor.unwrap_or_default() != HypervisorSpec::Auto {
            continue;
        }
        let Some(host) = hosts.iter().find(|h| h.name() == svc.host.as_str()) else {
            continue;
        };
        let choice = match by_host.get(host.name()) {
            Some(choice) => choice.clone(),
            None => {
                let choice = probe(host.as_ref())?;
                by_host.insert(host.name().to_string(), choice.clone());
                choice
            }
        };
        if choice.hypervisor.is_none() {
            let reasons: Vec<String> = choice
                .considered
                .iter()
                .map(|c| format!("{}: {}", c.hypervisor, c.why))
                .collect();
            bail!(
                "service {}: hypervisor auto: host {} has no hypervisor weft can run ({})",
                svc.name,
                svc.host,
                reasons.join("; ")
            );
        }
        log(
            host.name(),
            &format!("{}: hypervisor auto: {}", svc.name, choice.summary()),
        );
        chosen.insert(svc.name.to_string(), choice);
    }
    Ok(chosen)
}

/// What the host's own `weft vm hypervisors` says.
fn probe(host: &dyn HostConn) -> Result<Choice> {
    let out = host
        .sh(&format!(
            "{} -o json vm hypervisors",
            quote(&host.weft_bin())
        ))
        .with_context(|| format!("{}: find hypervisors", host.name()))?;
    serde_json::from_str(&out)
        .with_context(|| format!("{}: read `weft vm hypervisors -o json`", host.name()))
}
