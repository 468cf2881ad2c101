//! The small value types of the mesh file, each checked as it is read so a
//! malformed value is reported at its own key: names, the DNS domain,
//! underlay addresses and SSH targets.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use weft_model::error::shown;

/// A name of the mesh, a network, a host or a service: one lowercase DNS
/// label (letters, digits and '-', 1–63 characters, no '-' at either end),
/// because every one of them ends up in a DNS name (`<name>.<domain>`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        check_label(&text, 63)?;
        Ok(Self(text))
    }
}

impl FromStr for Name {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::try_from(text.to_owned())
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One DNS label, lowercase, at most `max` characters: why not, if not.
fn label_problem(text: &str, max: usize) -> Option<String> {
    if text.is_empty() {
        return Some("must not be empty".into());
    }
    if text.len() > max {
        return Some(format!("longer than {max} characters"));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "{c:?} is not allowed (use lowercase letters, digits and '-')"
        ));
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Some("must not start or end with '-'".into());
    }
    None
}

fn check_label(text: &str, max: usize) -> Result<(), String> {
    match label_problem(text, max) {
        Some(why) => Err(format!("{}: {why}", shown(text))),
        None => Ok(()),
    }
}

/// A DNS name of one or more lowercase labels (`mesh.local`), a trailing
/// dot allowed; the model's rule for domains.
fn check_dns_name(text: &str) -> Result<(), String> {
    let bare = text.strip_suffix('.').unwrap_or(text);
    weft_model::names::validate_domain(bare).map_err(|_| {
        format!(
            "{} is not a DNS name (lowercase letters, digits and '-' in labels joined by dots)",
            shown(text)
        )
    })
}

/// The DNS domain workloads and hosts are named in (`web.mesh.local`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `<label>.<domain>`
    pub fn qualify(&self, label: &str) -> String {
        format!("{label}.{}", self.0)
    }
}

impl TryFrom<String> for Domain {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        check_dns_name(&text)?;
        Ok(Self(text.trim_end_matches('.').to_owned()))
    }
}

impl From<Domain> for String {
    fn from(domain: Domain) -> String {
        domain.0
    }
}

impl Default for Domain {
    fn default() -> Self {
        Self(weft_model::network::DEFAULT_DOMAIN.to_owned())
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Where a machine is reached on the underlay: an IP address or a DNS name
/// (kept as written, lowercased; peers resolve it).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Address {
    Ip(IpAddr),
    Dns(String),
}

impl Address {
    /// `addr:port`, IPv6 in brackets, as WireGuard and SSH expect.
    pub fn with_port(&self, port: u16) -> String {
        match self {
            Address::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            other => format!("{other}:{port}"),
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::Ip(ip) => Some(*ip),
            Address::Dns(_) => None,
        }
    }
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(&text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Address::Ip(ip));
        }
        if let Some((_, port)) = text.rsplit_once(':')
            && port.parse::<u16>().is_ok()
        {
            return Err(format!(
                "{}: give the address only; the port is the host's listen_port",
                shown(&text)
            ));
        }
        let lower = text.to_ascii_lowercase();
        check_dns_name(&lower)
            .map_err(|_| format!("{} is neither an IP address nor a DNS name", shown(&text)))?;
        Ok(Address::Dns(lower))
    }
}

impl FromStr for Address {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::try_from(text.to_owned())
    }
}

impl From<Address> for String {
    fn from(address: Address) -> String {
        address.to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(ip) => write!(f, "{ip}"),
            Address::Dns(name) => f.write_str(name),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// `user@addr[:port]` (IPv6 as `user@[addr]:port`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SshTarget {
    pub user: String,
    pub address: Address,
    pub port: u16,
}

pub const DEFAULT_SSH_PORT: u16 = 22;

impl TryFrom<String> for SshTarget {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = |why: &str| format!("{}: {why} (expected user@addr[:port])", shown(&text));
        let (user, rest) = text.split_once('@').ok_or_else(|| bad("no user"))?;
        if user.is_empty() {
            return Err(bad("the user is empty"));
        }
        if user.starts_with('-')
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(bad("the user may hold letters, digits, '_', '-' and '.'"));
        }
        let (addr, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, after) = inner.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after {
                "" => (addr, None),
                _ => (
                    addr,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("junk after ']'"))?,
                    ),
                ),
            }
        } else if rest.parse::<IpAddr>().is_ok() {
            (rest, None)
        } else {
            match rest.rsplit_once(':') {
                Some((addr, port)) => (addr, Some(port)),
                None => (rest, None),
            }
        };
        if addr.is_empty() {
            return Err(bad("the address is empty"));
        }
        let port = match port {
            None => DEFAULT_SSH_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad("the port must be a number from 1 to 65535")),
            },
        };
        let address = Address::try_from(addr.to_owned()).map_err(|why| bad(&why))?;
        Ok(SshTarget {
            user: user.to_owned(),
            address,
            port,
        })
    }
}

impl FromStr for SshTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::try_from(text.to_owned())
    }
}

impl From<SshTarget> for String {
    fn from(target: SshTarget) -> String {
        target.to_string()
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.address.with_port(self.port))
    }
}

impl fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests;
