//! Taking actions back, for an `up` that fails half-way. [`Action::inverse`]
//! knows only the action: what it made new can be removed again.
//! [`Action::restoring`] also knows the host as it was before the run, so
//! an action that turns out to have replaced something is put back as it
//! was where the host's state says how, and left alone where it does not.

use super::Action;
use crate::observed::HostState;
use crate::plan::{PeerPlan, VtepPlan};

impl Action {
    /// The action that removes what this one made, for an action that makes
    /// something: a network, a peer, a VTEP, an attachment, a started
    /// service. `None` for one that removes or stops something (what was
    /// there cannot be made again from the action alone) or replaces it
    /// (`UpdatePeer`, `SetDns`: the old value is not in the action).
    pub fn inverse(&self) -> Option<Action> {
        match self {
            Action::CreateNetwork { network, .. } => Some(Action::RemoveNetwork {
                network: network.clone(),
            }),
            Action::AddPeer { network, peer } => Some(Action::RemovePeer {
                network: network.clone(),
                public_key: peer.public_key,
            }),
            Action::AddVtep { network, vtep } => Some(Action::RemoveVtep {
                network: network.clone(),
                address: vtep.address,
            }),
            Action::Attach {
                network,
                workload_id,
                ..
            } => Some(Action::Detach {
                network: network.clone(),
                workload_id: workload_id.clone(),
            }),
            Action::StartService { service } => Some(Action::StopService {
                service: service.name.clone(),
            }),
            Action::StopService { .. }
            | Action::Detach { .. }
            | Action::RemovePeer { .. }
            | Action::RemoveVtep { .. }
            | Action::RemoveNetwork { .. }
            | Action::UpdatePeer { .. }
            | Action::ReplacePeer { .. }
            | Action::SetDns { .. } => None,
        }
    }

    /// The action that puts back what this one changed on a host that was
    /// `before` (as observed before the run that ran it changed anything):
    /// what it made new is removed ([`Action::inverse`]); a peer, a VTEP or
    /// DNS records it replaced get their old values again. `None` when it
    /// cannot be taken back: a removal or a stop, a network or an
    /// attachment made again in place of one that was there, a service
    /// restarted with a new definition.
    pub fn restoring(&self, before: &HostState) -> Option<Action> {
        let network_before = |network: &str| before.networks.get(network);
        match self {
            Action::CreateNetwork { network, .. } if network_before(network).is_some() => None,
            Action::AddPeer { network, peer } | Action::UpdatePeer { network, peer } => {
                match network_before(network)
                    .and_then(|n| n.peers.iter().find(|p| p.public_key == peer.public_key))
                {
                    // Not there before the run (an update may follow this
                    // run's own add): the run added it.
                    None => Some(Action::RemovePeer {
                        network: network.clone(),
                        public_key: peer.public_key,
                    }),
                    Some(old) => Some(Action::UpdatePeer {
                        network: network.clone(),
                        peer: PeerPlan {
                            endpoint: old.endpoint.clone()?,
                            allowed_ips: old.allowed_ips.clone(),
                            keepalive: old.keepalive,
                            ..peer.clone()
                        },
                    }),
                }
            }
            // The old key's peer as it was, replacing the new one again.
            Action::ReplacePeer { network, old, peer } => {
                let was = network_before(network)?
                    .peers
                    .iter()
                    .find(|p| p.public_key == *old)?;
                Some(Action::ReplacePeer {
                    network: network.clone(),
                    old: peer.public_key,
                    peer: PeerPlan {
                        public_key: *old,
                        endpoint: was.endpoint.clone()?,
                        allowed_ips: was.allowed_ips.clone(),
                        keepalive: was.keepalive,
                        ..peer.clone()
                    },
                })
            }
            Action::AddVtep { network, vtep } => {
                match network_before(network)
                    .and_then(|n| n.vteps.iter().find(|v| v.address == vtep.address))
                {
                    None => self.inverse(),
                    Some(old) => Some(Action::AddVtep {
                        network: network.clone(),
                        vtep: VtepPlan {
                            block: old.block?,
                            ..vtep.clone()
                        },
                    }),
                }
            }
            Action::SetDns { network, .. } => {
                // A network new in this run had no records; one whose
                // responder did not say what it had cannot be put back.
                let records = match network_before(network) {
                    None => Vec::new(),
                    Some(n) => n.dns.clone()?,
                };
                Some(Action::SetDns {
                    network: network.clone(),
                    records,
                })
            }
            Action::Attach {
                network,
                workload_id,
                ..
            } if network_before(network)
                .is_some_and(|n| n.attachments.contains_key(workload_id)) =>
            {
                None
            }
            Action::StartService { service } if before.services.contains_key(&service.name) => None,
            _ => self.inverse(),
        }
    }
}

#[cfg(test)]
mod tests;
