//! Checks of the names users give: networks, workload ids and names, DNS
//! domains, interface names. The names weft gives its own objects are in
//! [`crate::naming`].

use crate::error::ModelError;

/// Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// A network name: a DNS label (lowercase letters, digits, '-'), at most 32
/// characters, so it can appear in interface aliases and DNS names.
pub fn validate_network_name(name: &str) -> Result<(), ModelError> {
    validate_label("network name", name, 32, Charset::Lower)
}

/// A workload name as it appears in DNS: one label, 1–63 characters of
/// letters, digits, '-' and '_' (DNS labels may hold '_', and runtimes such
/// as Podman name containers `tender_lumiere`), not starting or ending with
/// '-'. Lookups ignore case.
pub fn validate_workload_name(name: &str) -> Result<(), ModelError> {
    validate_label("workload name", name, 63, Charset::Workload)
}

/// A DNS domain such as `mesh.local`: labels of lowercase letters, digits
/// and '-', joined by dots; at most 253 characters.
pub fn validate_domain(domain: &str) -> Result<(), ModelError> {
    if domain.is_empty() || domain.len() > 253 {
        return Err(ModelError::invalid(
            "domain",
            domain,
            "must be 1 to 253 characters",
        ));
    }
    for label in domain.split('.') {
        validate_label("domain", label, 63, Charset::Lower).map_err(|_| {
            ModelError::invalid(
                "domain",
                domain,
                format!("{label:?} is not a valid label (lowercase letters, digits, '-')"),
            )
        })?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Lowercase letters, digits, '-'.
    Lower,
    /// Letters, digits, '-', '_'.
    Workload,
}

fn validate_label(
    field: &'static str,
    name: &str,
    max: usize,
    charset: Charset,
) -> Result<(), ModelError> {
    let bad = |why: &str| Err(ModelError::invalid(field, name, why));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.len() > max {
        return bad(&format!("longer than {max} characters"));
    }
    let ok_char = |c: char| match charset {
        Charset::Lower => c.is_ascii_digit() || c == '-' || c.is_ascii_lowercase(),
        Charset::Workload => c.is_ascii_alphanumeric() || c == '-' || c == '_',
    };
    if let Some(c) = name.chars().find(|&c| !ok_char(c)) {
        let allowed = match charset {
            Charset::Lower => "lowercase letters, digits and '-'",
            Charset::Workload => "letters, digits, '-' and '_'",
        };
        return bad(&format!("{c:?} is not allowed (use {allowed})"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must not start or end with '-'");
    }
    Ok(())
}

/// A workload id (a container id, a VM id…): 1–128 characters of letters,
/// digits, '-', '_' and '.'.
pub fn validate_workload_id(id: &str) -> Result<(), ModelError> {
    let bad = |why: &str| Err(ModelError::invalid("workload id", id, why));
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.len() > 128 {
        return bad("longer than 128 characters");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(&format!(
            "{c:?} is not allowed (use letters, digits, '-', '_', '.')"
        ));
    }
    Ok(())
}

/// A Linux interface name as the kernel accepts it.
pub fn validate_ifname(field: &'static str, name: &str) -> Result<(), ModelError> {
    let bad = |why: &str| Err(ModelError::invalid(field, name, why));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.len() > IFNAME_MAX {
        return bad(&format!("longer than {IFNAME_MAX} characters"));
    }
    if name == "." || name == ".." {
        return bad("is not a valid interface name");
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad(&format!("{c:?} is not allowed in an interface name"));
    }
    Ok(())
}

/// A name that passed one of the checks above; the type says which, so
/// code that takes one needs no check of its own.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: &str) -> Result<Self, ModelError> {
                let check: fn(&str) -> Result<(), ModelError> = $check;
                check(text)?;
                Ok(Self(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

checked_name!(
    /// A network name ([`validate_network_name`]).
    NetworkName,
    validate_network_name
);
checked_name!(
    /// A workload's DNS name ([`validate_workload_name`]).
    WorkloadName,
    validate_workload_name
);
checked_name!(
    /// A workload id ([`validate_workload_id`]).
    WorkloadId,
    validate_workload_id
);
checked_name!(
    /// A DNS domain ([`validate_domain`]).
    Domain,
    validate_domain
);
checked_name!(
    /// The interface name a workload asked for ([`validate_ifname`]).
    Ifname,
    |text| validate_ifname("ifname", text)
);

#[cfg(test)]
mod tests;
