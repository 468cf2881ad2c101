//! Sites: a tenant's hosts grouped by where they are (a data centre, an
//! edge location). A host is in at most one site; a VXLAN network belongs
//! to one site and spans exactly its hosts.

use super::{TenantId, validate_label};
use serde::Serialize;
use std::collections::BTreeMap;
use weft_model::ModelError;

/// At most this many labels on a site.
pub const MAX_LABELS: usize = 32;

/// A site as a tenant asks for it, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SiteSpec {
    pub name: String,
    /// Free-form tags (`region: eu-west`): a key is 1–63 of letters,
    /// digits, '-', '_', '.' and '/'; a value at most 63 printable
    /// characters.
    pub labels: BTreeMap<String, String>,
}

impl SiteSpec {
    /// Check a request's fields; each error names its field.
    pub fn new(name: &str, labels: BTreeMap<String, String>) -> Result<SiteSpec, ModelError> {
        validate_site_name(name)?;
        if labels.len() > MAX_LABELS {
            return Err(ModelError::invalid(
                "labels",
                labels.len(),
                format!("at most {MAX_LABELS} labels"),
            ));
        }
        for (key, value) in &labels {
            let key_ok = !key.is_empty()
                && key.len() <= 63
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
            if !key_ok {
                return Err(ModelError::invalid(
                    "labels",
                    key,
                    "a label's key is 1 to 63 of letters, digits, '-', '_', '.' and '/'",
                ));
            }
            if value.chars().count() > 63 || value.chars().any(char::is_control) {
                return Err(ModelError::invalid(
                    "labels",
                    format!("{key}={value}"),
                    "a label's value is at most 63 printable characters",
                ));
            }
        }
        Ok(SiteSpec {
            name: name.to_string(),
            labels,
        })
    }
}

/// A site's name: a DNS label, named `site` in errors.
pub fn validate_site_name(name: &str) -> Result<(), ModelError> {
    validate_label("site", name)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Site {
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: SiteSpec,
    pub created_at: i64,
}

#[cfg(test)]
mod tests;
