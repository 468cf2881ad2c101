//! A peer's health. The rule lives in [`weft_model::health`] (the agent
//! judges its peers with it too); it is re-exported here so the mesh's users
//! keep their paths.

pub use weft_model::health::{DEFAULT_DEGRADED_AFTER, Health, health};
