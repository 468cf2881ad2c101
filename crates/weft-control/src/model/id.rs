//! Ids of tenants and hosts: random, 16 hex digits, made here and never
//! taken from a request body (a path segment or a field naming one is
//! parsed). Each kind is a type of its own, so a host's id passed where a
//! tenant's is wanted does not compile; on the wire and in the stores both
//! are the same bare text.

use serde::Serialize;
use std::fmt;
use weft_model::ModelError;

/// 16 random hex digits: what every id is made of (also a replica's id
/// in etcd).
pub fn random_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

fn parse_id(field: &'static str, text: &str) -> Result<String, ModelError> {
    if text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(text.to_string())
    } else {
        Err(ModelError::invalid(field, text, "expected 16 hex digits"))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> $name {
                $name(random_id())
            }

            /// `text` as an id; the error names `field`.
            pub fn parse(field: &'static str, text: &str) -> Result<$name, ModelError> {
                parse_id(field, text).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A tenant's id.
    TenantId
);

id_type!(
    /// A host's id (also what its client certificate names).
    HostId
);

#[cfg(test)]
mod tests;
