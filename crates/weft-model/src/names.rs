//! Names: networks, workload ids, DNS labels and Linux interface names.

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

/// The WireGuard interface of the network with this index: wg0, wg1, …
pub fn wireguard_ifname(index: u32) -> String {
    format!("wg{index}")
}

/// The first `ethN` not in `taken`: a workload's interfaces are named in
/// attach order.
pub fn next_workload_ifname<'a>(taken: impl IntoIterator<Item = &'a str>) -> String {
    let taken: Vec<&str> = taken.into_iter().collect();
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !taken.contains(&name.as_str()))
        .expect("an unbounded range always has a free name")
}

/// Host-side veth prefix of a routed (WireGuard) network: `w<index>-`.
pub fn routed_veth_prefix(network_index: u32) -> String {
    format!("w{network_index}-")
}

/// Host-side veth prefix on bridge networks (the flatnet seed's `fn-`).
pub const BRIDGE_VETH_PREFIX: &str = "fn-";

/// How many characters of the id a bridge veth name keeps.
pub const BRIDGE_VETH_ID_CHARS: usize = 8;

/// The bridge of the bridge network with this index.
pub fn bridge_ifname(index: u32) -> String {
    format!("weft-br{index}")
}

/// The host side of a workload's veth: `prefix` + the start of the id (at
/// most `id_chars` characters), at most 15 characters in all. When that
/// collides with a name in `taken` (two ids sharing a start), the tail
/// becomes a hash of the whole id, then a counter.
pub fn host_veth_name<'a>(
    prefix: &str,
    id_chars: usize,
    workload_id: &str,
    taken: impl IntoIterator<Item = &'a str>,
) -> String {
    let taken: Vec<&str> = taken.into_iter().collect();
    let room = IFNAME_MAX - prefix.len();
    let clean: String = workload_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let first = format!("{prefix}{}", &clean[..clean.len().min(room).min(id_chars)]);
    if !taken.contains(&first.as_str()) && !clean.is_empty() {
        return first;
    }
    let hash = format!("{:08x}", fnv1a(workload_id.as_bytes()) as u32);
    let keep = room.saturating_sub(hash.len() + 1);
    let sep = if keep > 0 && !clean.is_empty() {
        "-"
    } else {
        ""
    };
    let hashed = format!("{prefix}{}{sep}{hash}", &clean[..clean.len().min(keep)]);
    if !taken.contains(&hashed.as_str()) {
        return hashed;
    }
    (2u32..)
        .map(|n| {
            let suffix = format!("{n}");
            format!("{}{}", &hashed[..IFNAME_MAX - suffix.len()], suffix)
        })
        .find(|name| !taken.contains(&name.as_str()))
        .expect("an unbounded range always has a free name")
}

/// FNV-1a: a stable, dependency-free hash for naming (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names_are_dns_labels() {
        assert!(validate_network_name("blue").is_ok());
        assert!(validate_network_name("net-2").is_ok());
        for bad in ["", "Blue", "a_b", "-a", "a-", "a.b", &"x".repeat(33)] {
            let err = validate_network_name(bad).unwrap_err().to_string();
            assert!(err.contains("network name"), "{err}");
        }
    }

    #[test]
    fn workload_names_and_domains() {
        for good in ["web", "c1", "tender_lumiere", "Web-2"] {
            validate_workload_name(good).unwrap();
        }
        for bad in ["", "a.b", "-x", "x-", "a b", "é", &"x".repeat(64)] {
            let err = validate_workload_name(bad).unwrap_err().to_string();
            assert!(err.contains("workload name"), "{err}");
        }
        validate_domain("mesh.local").unwrap();
        validate_domain("a-b.c1.example").unwrap();
        for bad in ["", "Mesh.local", "mesh..local", ".mesh", "a_b.local"] {
            let err = validate_domain(bad).unwrap_err().to_string();
            assert!(err.contains("domain"), "{bad}: {err}");
        }
    }

    #[test]
    fn workload_ids_allow_container_ids() {
        assert!(validate_workload_id("c1").is_ok());
        assert!(validate_workload_id(&"a1b2c3".repeat(10)).is_ok());
        assert!(validate_workload_id("my_ctr.1").is_ok());
        assert!(validate_workload_id("").is_err());
        assert!(validate_workload_id("a/b").is_err());
        assert!(validate_workload_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn ifnames_follow_the_kernel_rules() {
        assert!(validate_ifname("ifname", "eth0").is_ok());
        assert!(validate_ifname("ifname", &"e".repeat(15)).is_ok());
        assert!(validate_ifname("ifname", &"e".repeat(16)).is_err());
        assert!(validate_ifname("ifname", "a/b").is_err());
        assert!(validate_ifname("ifname", "a b").is_err());
        assert!(validate_ifname("ifname", "..").is_err());
        assert!(validate_ifname("ifname", "").is_err());
    }

    #[test]
    fn workload_ifnames_fill_the_lowest_gap() {
        assert_eq!(next_workload_ifname([]), "eth0");
        assert_eq!(next_workload_ifname(["eth0", "eth2"]), "eth1");
        assert_eq!(next_workload_ifname(["eth0", "eth1"]), "eth2");
    }

    #[test]
    fn host_veth_names_are_short_and_unique() {
        let w3 = routed_veth_prefix(3);
        assert_eq!(
            host_veth_name(&routed_veth_prefix(0), 99, "c1", []),
            "w0-c1"
        );
        let long = "a1b2c3d4e5f6a7b8c9d0";
        let first = host_veth_name(&w3, 99, long, []);
        assert_eq!(first, "w3-a1b2c3d4e5f6");
        // A second id sharing the prefix gets a hashed name.
        let other = "a1b2c3d4e5f6ffff";
        let second = host_veth_name(&w3, 99, other, [first.as_str()]);
        assert_ne!(second, first);
        assert!(second.len() <= IFNAME_MAX, "{second}");
        // Even the hashed name taken: still unique, still short.
        let third = host_veth_name(&w3, 99, other, [first.as_str(), second.as_str()]);
        assert!(
            third != first && third != second && third.len() <= IFNAME_MAX,
            "{third}"
        );
        // Ids of only odd characters still give a valid name.
        let odd = host_veth_name(&routed_veth_prefix(1), 99, "...", []);
        assert!(odd.starts_with("w1-") && odd.len() <= IFNAME_MAX, "{odd}");
        // Bridge networks: fn- and the first 8 characters of the id.
        let bridged = host_veth_name(BRIDGE_VETH_PREFIX, BRIDGE_VETH_ID_CHARS, long, []);
        assert_eq!(bridged, "fn-a1b2c3d4");
        let bridged2 = host_veth_name(
            BRIDGE_VETH_PREFIX,
            BRIDGE_VETH_ID_CHARS,
            "a1b2c3d4ff",
            [bridged.as_str()],
        );
        assert!(
            bridged2.starts_with("fn-") && bridged2 != bridged,
            "{bridged2}"
        );
        for name in [&first, &second, &third, &odd, &bridged, &bridged2] {
            validate_ifname("host veth", name).unwrap();
        }
    }
}
