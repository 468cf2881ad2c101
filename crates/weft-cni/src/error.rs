//! CNI errors: the spec's well-known codes, printed as the spec's JSON on
//! stdout.

use serde_json::json;

/// Well-known error codes of the CNI specification.
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN: u32 = 11;
    pub const NOT_AVAILABLE: u32 = 50;
    pub const OTHER: u32 = 999;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("CNI error {code}: {msg}{}", details.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: Option<String>,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    pub fn invalid_config(msg: impl Into<String>) -> Self {
        Self::new(code::INVALID_CONFIG, msg)
    }

    pub fn invalid_env(var: &str, why: impl std::fmt::Display) -> Self {
        Self::new(code::INVALID_ENV, format!("{var}: {why}"))
    }

    /// The spec's error document.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        let mut doc = json!({
            "cniVersion": cni_version,
            "code": self.code,
            "msg": self.msg,
        });
        if let Some(details) = &self.details {
            doc["details"] = json!(details);
        }
        doc
    }
}

pub type Result<T> = std::result::Result<T, CniError>;
