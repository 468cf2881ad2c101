//! Status: each network as the store has it and as the data plane has it,
//! with every peer's health.

use crate::agent::{Agent, Result};
use crate::dataplane::{Dataplane, NetworkKind};
use crate::health::{Health, PeerRef, Probe, peer_health, vtep_health};
use crate::networks::NetworkView;
use crate::records::VtepRecord;
use std::collections::HashMap;
use weft_model::PublicKey;
use weft_model::error::chain;
use weft_wg::DeviceInfo;

#[derive(Clone, Debug)]
pub struct NetworkStatusView {
    pub network: NetworkView,
    /// Live WireGuard state (None on bridges), or why the interface is not
    /// as it should be.
    pub device: std::result::Result<Option<DeviceInfo>, String>,
    /// Per peer of the device: its health and what the probe says.
    pub health: HashMap<PublicKey, (Health, Probe)>,
    /// A VXLAN network's remote VTEPs, each with its health.
    pub vteps: Vec<VtepStatus>,
}

#[derive(Clone, Debug)]
pub struct VtepStatus {
    pub record: VtepRecord,
    pub health: Health,
    pub probe: Probe,
}

impl<D: Dataplane> Agent<D> {
    pub fn status(&self, network: Option<&str>) -> Result<Vec<NetworkStatusView>> {
        let nets = match network {
            Some(n) => vec![self.network_record(n)?],
            None => self.store.networks()?,
        };
        nets.into_iter()
            .map(|net| {
                let plan = self.network_plan(&net)?;
                let view = self.view(net)?;
                let what = match &plan.kind {
                    NetworkKind::Vxlan(vx) => {
                        format!("{} or its VXLAN device {}", plan.ifname, vx.ifname)
                    }
                    _ => plan.ifname.clone(),
                };
                let device = match plan.kind {
                    NetworkKind::Wireguard { .. } => self
                        .dp
                        .network_status(&view.ifname)
                        .map(Some)
                        .map_err(|e| chain(&e)),
                    NetworkKind::Bridge | NetworkKind::Vxlan(_) => {
                        match self.dp.network_present(&plan) {
                            Ok(true) => Ok(None),
                            Ok(false) => Err(format!("{what} is missing or not configured")),
                            Err(e) => Err(chain(&e)),
                        }
                    }
                };
                let now = std::time::SystemTime::now();
                let health = match &device {
                    Ok(Some(d)) => d
                        .peers
                        .iter()
                        .map(|p| {
                            let age = p
                                .last_handshake
                                .map(|t| now.duration_since(t).unwrap_or_default());
                            let probe = self.health.probe(&view.record.name, p.public_key);
                            (
                                p.public_key,
                                (peer_health(age, probe, &self.health_settings), probe),
                            )
                        })
                        .collect(),
                    _ => HashMap::new(),
                };
                let vteps = self
                    .store
                    .vteps(&view.record.name)?
                    .into_iter()
                    .map(|record| {
                        let probe = self
                            .health
                            .probe(&view.record.name, PeerRef::Vtep(record.address));
                        VtepStatus {
                            record,
                            health: vtep_health(probe),
                            probe,
                        }
                    })
                    .collect();
                Ok(NetworkStatusView {
                    network: view,
                    device,
                    health,
                    vteps,
                })
            })
            .collect()
    }
}
