//! Taking back what a failed `weft up` made. `up` logs every action it
//! runs, with each host as the run first observed it; when something fails
//! while it applies the plan, the log is undone newest first (each action
//! by [`Action::restoring`]), the namespaces of the services the run
//! attached go, the lab hosts it made are removed, and the mesh's state
//! files are put back. What cannot be taken back (a removal, a restart, a
//! network made again) stays and is named. Errors of the undo never take
//! the place of the failure: they are said after it.

use super::{Progress, host};
use crate::mesh::host::HostConn;
use crate::mesh::lab::Lab;
use crate::mesh::{Mesh, apply};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use weft_mesh::{Action, HostState, Observed, Plan};

/// What this run of `up` changed, to take it back if the run fails.
pub(super) struct UndoLog<'a> {
    /// The plan applied before this run (`plan.json`), put back on undo.
    previous: Option<&'a Plan>,
    /// The lab hosts' underlay addresses before this run (`lab.json`):
    /// a lab host not among them was made by this run.
    lab_before: BTreeMap<String, IpAddr>,
    /// Whether the mesh's state directory was there before this run.
    dir_existed: bool,
    /// Every host as this run's first observation found it, before any
    /// action of the run.
    before: Option<Observed>,
    /// The plan of the latest round: undo actions run against it.
    plan: Option<Plan>,
    /// The actions run, oldest first, with their host.
    applied: Vec<(String, Action)>,
    /// The actions that failed (one per host at most, hosts running side
    /// by side); each may have done part of its work.
    failed: Vec<(String, Action)>,
    /// Changes that are no action and cannot be taken back.
    irreversible: Vec<String>,
}

impl<'a> UndoLog<'a> {
    /// Start the log before the run changes anything.
    pub(super) fn new(mesh: &Mesh, previous: Option<&'a Plan>) -> Self {
        Self {
            previous,
            lab_before: Lab { mesh }.underlay(),
            dir_existed: mesh.dir.exists(),
            before: None,
            plan: None,
            applied: Vec::new(),
            failed: Vec::new(),
            irreversible: Vec::new(),
        }
    }

    /// A round begins: `plan` is applied to hosts as `observed`.
    pub(super) fn round(&mut self, plan: &Plan, observed: &Observed) {
        self.before.get_or_insert_with(|| observed.clone());
        self.plan = Some(plan.clone());
    }

    /// `action` ran on `host`, done or failed.
    pub(super) fn ran(&mut self, host: &str, action: &Action, done: bool) {
        let entry = (host.to_owned(), action.clone());
        if done {
            self.applied.push(entry);
        } else {
            self.failed.push(entry);
        }
    }

    /// A change that is not an action and cannot be taken back.
    pub(super) fn irreversible(&mut self, change: String) {
        self.irreversible.push(change);
    }

    /// Take back what the run made, as far as it can be, and close the
    /// connections to the hosts (an SSH connection's socket lives in the
    /// state directory, which may go).
    pub(super) fn undo(
        self,
        mesh: &Mesh,
        hosts: &[Box<dyn HostConn>],
        progress: &Progress,
    ) -> Undone {
        let mut undone = Undone {
            kept: self.irreversible.clone(),
            ..Undone::default()
        };
        let lab = Lab { mesh };
        let lab_now = lab.underlay();
        let made_lab = self.previous.is_none() && self.lab_before.is_empty() && !lab_now.is_empty();
        let new_lab_hosts: BTreeSet<&String> = lab_now
            .keys()
            .filter(|h| !self.lab_before.contains_key(*h))
            .collect();
        if let Some(plan) = &self.plan {
            self.undo_actions(mesh, plan, hosts, progress, &new_lab_hosts, &mut undone);
        }
        self.remove_namespaces(mesh, hosts, &mut undone);
        if made_lab {
            match progress.step("lab", "undo: remove lab hosts and underlay", || {
                lab.remove_all()
            }) {
                Ok(()) => undone.lab_hosts = new_lab_hosts.into_iter().cloned().collect(),
                Err(e) => undone
                    .failed
                    .push(format!("remove the lab: {}", one_line(&e))),
            }
        } else if !new_lab_hosts.is_empty() {
            let mut underlay = self.lab_before.clone();
            for name in new_lab_hosts {
                match progress.step(name, "undo: remove lab host", || lab.remove_host(name)) {
                    Ok(()) => undone.lab_hosts.push(name.clone()),
                    Err(e) => {
                        // Kept in lab.json, so `down` finds it.
                        underlay.insert(name.clone(), lab_now[name]);
                        let why = one_line(&e);
                        undone
                            .failed
                            .push(format!("{name}: remove lab host: {why}"));
                    }
                }
            }
            if let Err(e) = lab.set_underlay(&underlay) {
                undone.failed.push(one_line(&e));
            }
        }
        for h in hosts {
            h.close();
        }
        self.restore_state(mesh, &mut undone);
        undone
    }

    /// Newest first, each action's restoring one; a failed start first
    /// loses whatever part of it runs.
    fn undo_actions(
        &self,
        mesh: &Mesh,
        plan: &Plan,
        hosts: &[Box<dyn HostConn>],
        progress: &Progress,
        removed_hosts: &BTreeSet<&String>,
        undone: &mut Undone,
    ) {
        for (name, action) in &self.failed {
            let Action::StartService { service } = action else {
                continue;
            };
            let stop = Action::StopService {
                service: service.name.clone(),
            };
            // Its start's error is the news; this one is only logged.
            if let Err(e) = host(hosts, name).and_then(|h| apply::run(mesh, plan, h, &stop)) {
                tracing::warn!("{name}: stop what started of {}: {e:#}", service.name);
            }
        }
        let empty = HostState::default();
        let before = self.before.as_ref();
        for (name, action) in self.applied.iter().rev() {
            let state = before.and_then(|b| b.hosts.get(name)).unwrap_or(&empty);
            let Some(back) = action.restoring(state) else {
                if removed_hosts.contains(name) {
                    // It goes with its lab host.
                    undone.count += 1;
                } else {
                    undone.kept.push(format!("{name}: {action}"));
                }
                continue;
            };
            let ran = host(hosts, name).and_then(|h| {
                progress.step(name, &format!("undo: {back}"), || {
                    apply::run(mesh, plan, h, &back)
                })
            });
            match ran {
                Ok(()) => undone.count += 1,
                Err(e) => undone
                    .failed
                    .push(format!("{name}: {back}: {}", one_line(&e))),
            }
        }
    }

    /// The namespaces of services new in this run that it attached or
    /// started: stopping a service removes the namespace its directory
    /// records, but one that never started has none.
    fn remove_namespaces(&self, mesh: &Mesh, hosts: &[Box<dyn HostConn>], undone: &mut Undone) {
        let mut new: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (name, action) in self.applied.iter().chain(&self.failed) {
            let service = match action {
                Action::Attach { service, .. } => service.as_str(),
                Action::StartService { service } => service.name.as_str(),
                _ => continue,
            };
            let existed = self
                .before
                .as_ref()
                .and_then(|b| b.hosts.get(name))
                .is_some_and(|h| h.services.contains_key(service));
            if !existed {
                new.entry(name).or_default().insert(service);
            }
        }
        for (name, services) in new {
            let removed = host(hosts, name)
                .and_then(|h| apply::remove_service_namespaces(mesh, h, services.iter().copied()));
            if let Err(e) = removed {
                undone.failed.push(format!(
                    "{name}: remove the namespaces of {}: {}",
                    services.into_iter().collect::<Vec<_>>().join(", "),
                    one_line(&e)
                ));
            }
        }
    }

    /// Put back `plan.json` (and remove the state directory this run
    /// made) when everything was undone. Otherwise the last plan saved
    /// stays: it names all this run may have left, for `down` or the next
    /// `up` to find.
    fn restore_state(&self, mesh: &Mesh, undone: &mut Undone) {
        if !undone.failed.is_empty() {
            return;
        }
        let restored = if !self.dir_existed {
            std::fs::remove_dir_all(&mesh.dir)
                .or_else(ignore_not_found)
                .map_err(|e| anyhow::anyhow!("remove {}: {e}", mesh.dir.display()))
        } else if let Some(previous) = self.previous {
            mesh.save_plan(previous)
        } else {
            std::fs::remove_file(mesh.plan_path())
                .or_else(ignore_not_found)
                .map_err(|e| anyhow::anyhow!("remove {}: {e}", mesh.plan_path().display()))
        };
        if let Err(e) = restored {
            undone.failed.push(one_line(&e));
        }
    }
}

fn ignore_not_found(e: std::io::Error) -> std::io::Result<()> {
    match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(e),
    }
}

fn one_line(e: &anyhow::Error) -> String {
    crate::output::one_line(e)
}

/// What the undo of a failed `up` did.
#[derive(Debug, Default)]
pub(super) struct Undone {
    /// Changes taken back (those on lab hosts removed with their host
    /// included).
    count: usize,
    /// Lab hosts this run made, removed again.
    lab_hosts: Vec<String>,
    /// Changes that cannot be taken back, as `host: change`.
    kept: Vec<String>,
    /// What could not be undone, each with why.
    failed: Vec<String>,
}

impl Undone {
    /// The error `up` ends with: the failure, then what was undone; the
    /// failure alone when the run had made nothing.
    pub(super) fn after(self, failure: anyhow::Error) -> anyhow::Error {
        let nothing = self.count == 0
            && self.lab_hosts.is_empty()
            && self.kept.is_empty()
            && self.failed.is_empty();
        if nothing {
            return failure;
        }
        UpFailed {
            failure,
            undone: self,
        }
        .into()
    }
}

impl fmt::Display for Undone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "undone: {} change(s) this up made", self.count)?;
        if !self.lab_hosts.is_empty() {
            write!(f, " and its lab hosts ({})", self.lab_hosts.join(", "))?;
        }
        if !self.kept.is_empty() {
            write!(
                f,
                "; not undone, as they changed what the mesh had: {}",
                self.kept.join(", ")
            )?;
        }
        if !self.failed.is_empty() {
            write!(f, "; could not undo: {}", self.failed.join("; "))?;
        }
        Ok(())
    }
}

/// A failed `up` and what its undo did. The failure comes first, whole:
/// it is the news. As a `source` it would be printed after the undo, so it
/// is shown in the message instead and kept here as a value.
#[derive(Debug)]
struct UpFailed {
    failure: anyhow::Error,
    undone: Undone,
}

impl fmt::Display for UpFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", one_line(&self.failure), self.undone)
    }
}

impl std::error::Error for UpFailed {}

#[cfg(test)]
mod tests;
