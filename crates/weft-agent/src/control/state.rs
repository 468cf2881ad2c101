//! The connection to the control plane as `weft status` shows it.

use std::sync::{Arc, Mutex, PoisonError};
use weft_proto::agent as pb;

#[derive(Clone, Default)]
pub struct ControlState {
    inner: Arc<Mutex<pb::ControlStatus>>,
    /// Signalled when a network's key changed (`weft network rotate-key`):
    /// the session reports at once.
    keys: Arc<tokio::sync::Notify>,
}

fn now() -> i64 {
    super::unix_now()
}

impl ControlState {
    pub fn new(url: &str) -> ControlState {
        let state = ControlState::default();
        state.update(|s| {
            s.url = url.to_string();
            s.state = "enrolling".into();
            s.since = now();
        });
        state
    }

    fn update(&self, f: impl FnOnce(&mut pb::ControlStatus)) {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Move to `state` (its time kept when it does not change), with why.
    pub fn set(&self, state: &str, error: Option<String>) {
        self.update(|s| {
            if s.state != state {
                s.state = state.to_string();
                s.since = now();
            }
            s.error = error.unwrap_or_default();
        });
    }

    pub fn set_host(&self, host_id: &str) {
        self.update(|s| s.host_id = host_id.to_string());
    }

    /// The replica it talks to now.
    pub fn set_replica(&self, address: &str) {
        self.update(|s| s.replica = address.to_string());
    }

    pub fn set_revision(&self, revision: u64) {
        self.update(|s| s.revision = revision);
    }

    /// A key changed: report it without waiting for the heartbeat.
    pub fn keys_changed(&self) {
        self.keys.notify_one();
    }

    /// Resolves once a key changed since the last call.
    pub async fn key_change(&self) {
        self.keys.notified().await;
    }

    pub fn get(&self) -> pb::ControlStatus {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests;
