//! The device's keys: set, rotated, and the retiring one kept while a
//! peer may still know only it.
//!
//! A rotation keeps traffic flowing because a session's transport keys do
//! not depend on the static key until the next handshake: each peer's
//! tunnel, sessions and all, becomes its retiring tunnel, and a fresh one
//! takes the new key. Handshakes sent to the old public key (a peer that
//! has not learnt the new one) still pass mac1 under the retiring key and
//! go to the retiring tunnel; the first packet a peer sends under the new
//! key drops its retiring tunnel. The agent forgets the old key once no
//! peer has one (`DeviceInfo::retiring_peers`).

use super::device::State;
use super::peer::{DeviceKeys, Slot};
use std::sync::PoisonError;
use weft_model::PrivateKey;

impl State {
    /// Set the device's key. When `retiring` names the key it replaces,
    /// this is a rotation: each peer's tunnel, sessions and all, becomes
    /// its retiring one and a fresh tunnel takes the new key, so traffic
    /// flows on while the peers learn the new public key.
    pub(super) fn set_private_key(
        &mut self,
        key: &PrivateKey,
        retiring: Option<&Option<PrivateKey>>,
    ) {
        if key.as_bytes() == &[0; 32] {
            // The UAPI's way of removing the key: no handshakes from now on.
            self.keys = None;
            self.retiring = None;
            for peer in self.peers.values() {
                let mut ps = peer.lock();
                ps.tunn = None;
                ps.drop_retiring();
            }
            return;
        }
        if self.keys.as_ref().is_some_and(|k| k.private == *key) {
            return;
        }
        let keys = DeviceKeys::new(key);
        // A peer with our own public key cannot exist (the kernel drops it).
        let own = keys.public_key();
        self.remove_peer(&own);
        let old = self.keys.take();
        let rotating = matches!(
            (retiring, &old),
            (Some(Some(wanted)), Some(old)) if old.private == *wanted
        );
        for peer in self.peers.values() {
            let mut ps = peer.lock();
            if rotating && ps.tunn.is_some() {
                ps.rotate(
                    &peer.public_key,
                    &keys,
                    &self.index_table,
                    &self.timer_params,
                );
            } else {
                ps.drop_retiring();
                ps.set_keys(
                    &peer.public_key,
                    &keys,
                    &self.index_table,
                    &self.timer_params,
                );
            }
        }
        if rotating {
            // Every index so far is a session or handshake of a tunnel
            // that is now retiring.
            for (_, slot) in self
                .by_index
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .values_mut()
            {
                *slot = Slot::Retiring;
            }
        }
        self.keys = Some(keys);
        self.retiring = if rotating { old } else { None };
        if rotating {
            tracing::info!(public_key = %own, "private key rotated; the old one answers until peers know the new one");
        }
    }

    /// Keep answering handshakes for `key` besides the device's own (a
    /// restart in the middle of a rotation), or (`None`) stop.
    pub(super) fn set_retiring_key(&mut self, key: Option<&PrivateKey>) {
        let same = match (&self.retiring, key) {
            (Some(have), Some(want)) => have.private == *want,
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        let own = self.keys.as_ref().map(|k| k.private.clone());
        let keys = key
            .filter(|k| own.as_ref() != Some(*k) && k.as_bytes() != &[0; 32])
            .map(DeviceKeys::new);
        for peer in self.peers.values() {
            let mut ps = peer.lock();
            ps.drop_retiring();
            if let Some(keys) = &keys
                && ps.tunn.is_some()
            {
                ps.retiring = Some(ps.new_tunn(
                    &peer.public_key,
                    keys,
                    &self.index_table,
                    &self.timer_params,
                ));
            }
        }
        if keys.is_none() && self.retiring.is_some() {
            tracing::info!("retired key forgotten");
        }
        self.retiring = keys;
    }
}

#[cfg(test)]
mod tests;
