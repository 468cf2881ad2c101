//! The host's DHCP responders: one per interface with VMs behind it (a
//! routed network's TAP, or a bridge), kept as the agent's records say.

use crate::dataplane::{DataplaneError, DhcpPlan, DpResult};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use weft_dhcp::Responder;
use weft_dhcp::responder::ifindex;

#[derive(Default)]
pub(super) struct Responders {
    running: Mutex<BTreeMap<String, Responder>>,
}

impl Responders {
    /// Start, update and stop responders until they are exactly `plan`.
    /// A responder whose interface was made again (another index) is
    /// started afresh: its socket is bound to the old one. Every
    /// interface is tried; the first failure is returned.
    pub(super) fn set(&self, plan: DhcpPlan) -> DpResult<()> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.retain(|ifname, responder| {
            plan.contains_key(ifname) && ifindex(ifname) == Some(responder.ifindex())
        });
        let mut first_error = None;
        for (ifname, leases) in plan {
            if let Some(responder) = running.get(&ifname) {
                if responder.leases() != leases {
                    responder.set_leases(leases);
                }
                continue;
            }
            match Responder::start(&ifname, leases) {
                Ok(responder) => {
                    running.insert(ifname, responder);
                }
                Err(e) => {
                    first_error.get_or_insert(DataplaneError::new("DHCP for VMs", e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
