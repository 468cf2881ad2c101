//! Key rotation of a WireGuard network (`weft network rotate-key`).
//!
//! The rule (docs/networks.md, "Key rotation"): the host switches to the
//! new key at once and keeps the old one as *retiring*; peers learn the
//! new public key the way they learnt the old one (the control plane's
//! report and delta, or the mesh file's next `weft up`). The userspace
//! engine keeps the sessions made under the old key and answers
//! handshakes sent to it, so traffic flows while peers catch up; once no
//! peer needs the old key (every one has shown it knows the new one, see
//! `weft_wg::DeviceInfo::retiring_peers`) the agent forgets it — in the
//! engine and in the store, whose overwritten pages are zeroed. The kernel
//! module holds one key: on it the old key goes at once, and sessions are
//! made again under the new key as soon as each peer knows it.
//!
//! Tested on the fake data plane in `agent/tests/keys.rs`.

use crate::agent::{Agent, Result};
use crate::dataplane::Dataplane;
use crate::error::Conflict;
use crate::networks::NetworkView;
use crate::records::{NetworkRecord, WireguardSettings};
use weft_model::PrivateKey;
use weft_model::error::chain;

/// Seconds since the Unix epoch, for the key's age.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<D: Dataplane> Agent<D> {
    /// Give network `name` a new key pair, keeping the old one as
    /// retiring while a peer may need it.
    pub fn rotate_key(&mut self, name: &str) -> Result<NetworkView> {
        let net = self.network_record(name)?;
        let Some(wg) = net.wireguard.clone() else {
            return Err(Conflict::NoKey {
                network: name.to_string(),
                mode: net.mode,
            }
            .into());
        };
        let rotated = WireguardSettings {
            private_key: PrivateKey::generate(),
            retiring_key: Some(wg.private_key.clone()),
            key_since: Some(unix_now()),
            ..wg.clone()
        };
        // Record first, then the device; put the record back if the
        // device refuses, so store and device never disagree.
        self.store.set_network_keys(name, &rotated)?;
        let record = NetworkRecord {
            wireguard: Some(rotated),
            ..net
        };
        let applied = self
            .network_plan(&record)
            .and_then(|plan| Ok(self.dp.ensure_network(&plan)?));
        if let Err(err) = applied {
            self.store.set_network_keys(name, &wg)?;
            return Err(err);
        }
        let public = record
            .wireguard
            .as_ref()
            .map(|w| w.private_key.public_key());
        tracing::info!(network = name, public_key = ?public, "key rotated");
        let record = self.retire_if_unneeded(record)?;
        self.view(record)
    }

    /// Forget every retiring key no peer needs any more; the networks
    /// whose old key went. Errors are logged: this runs in the background.
    pub fn retire_keys(&mut self) -> Vec<String> {
        let Ok(networks) = self.store.networks() else {
            return vec![];
        };
        let mut retired = vec![];
        for net in networks {
            if net
                .wireguard
                .as_ref()
                .is_none_or(|w| w.retiring_key.is_none())
            {
                continue;
            }
            let name = net.name.clone();
            match self.retire_if_unneeded(net) {
                Ok(net)
                    if net
                        .wireguard
                        .as_ref()
                        .is_some_and(|w| w.retiring_key.is_none()) =>
                {
                    retired.push(name);
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(network = %name, "retire the old key: {}", chain(&err));
                }
            }
        }
        retired
    }

    /// `net` without its retiring key once the data plane says no peer
    /// still knows only that key (always, on the kernel module).
    fn retire_if_unneeded(&mut self, net: NetworkRecord) -> Result<NetworkRecord> {
        let Some(wg) = net.wireguard.clone() else {
            return Ok(net);
        };
        if wg.retiring_key.is_none() {
            return Ok(net);
        }
        let waiting = self.dp.network_status(&net.ifname())?.retiring_peers;
        if waiting > 0 {
            return Ok(net);
        }
        let settled = WireguardSettings {
            retiring_key: None,
            ..wg
        };
        self.store.set_network_keys(&net.name, &settled)?;
        let net = NetworkRecord {
            wireguard: Some(settled),
            ..net
        };
        self.dp.ensure_network(&self.network_plan(&net)?)?;
        self.store.checkpoint()?;
        tracing::info!(network = %net.name, "old key forgotten: no peer needs it");
        Ok(net)
    }
}
