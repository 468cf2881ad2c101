//! The text of the cross-platform WireGuard UAPI
//! (<https://www.wireguard.com/xplatform/>), with no I/O: parsing requests
//! and responses, formatting them.
//!
//! A request is `get=1` or `set=1` followed by `key=value` lines and ended by
//! an empty line; the answer to both ends with `errno=N` and an empty line.
//! Errors are sent negated (`errno=-22`), as wireguard-go does and as `wg`
//! reads them.
//!
//! Every function here takes untrusted text and must return an error rather
//! than panic: `proto/tests.rs` feeds it tens of thousands of mutated
//! requests and responses on every test run, and `fuzz/` has a cargo-fuzz
//! target for [`parse_request`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use weft_model::{PrivateKey, PublicKey};

use crate::{DeviceConfig, DeviceInfo, PeerConfig, PeerInfo};

/// A parsed UAPI request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Get,
    Set(DeviceConfig),
}

/// Why a request or response could not be read. Never quotes values, which
/// may be private keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("empty request")]
    Empty,
    #[error("line 1: expected get=1 or set=1")]
    UnknownOperation,
    #[error("line {line}: expected key=value")]
    Malformed { line: usize },
    #[error("line {line}: unknown key {key:?}")]
    UnknownKey { line: usize, key: String },
    #[error("line {line}: invalid {key}: {reason}")]
    InvalidValue {
        line: usize,
        key: &'static str,
        reason: String,
    },
    #[error("line {line}: {key} before any public_key line")]
    OutsidePeer { line: usize, key: &'static str },
}

impl ProtoError {
    /// The errno to answer with (positive).
    pub fn errno(&self) -> i32 {
        match self {
            ProtoError::Empty | ProtoError::UnknownOperation => libc::EPROTO,
            _ => libc::EINVAL,
        }
    }
}

/// What a `get=1` answer carries: [`DeviceInfo`] plus the secrets the UAPI
/// reports (the private key and preshared keys).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceDump {
    pub private_key: Option<PrivateKey>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub peers: Vec<PeerDump>,
}

/// `Debug` does not show the preshared key.
#[derive(Clone, PartialEq)]
pub struct PeerDump {
    pub info: PeerInfo,
    pub preshared_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for PeerDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerDump")
            .field("info", &self.info)
            .field("preshared_key", &self.preshared_key.map(|_| "<hidden>"))
            .finish()
    }
}

impl DeviceDump {
    pub fn into_info(self, ifname: &str) -> DeviceInfo {
        DeviceInfo {
            ifname: ifname.to_owned(),
            public_key: self.private_key.as_ref().map(PrivateKey::public_key),
            listen_port: self.listen_port,
            fwmark: self.fwmark,
            peers: self.peers.into_iter().map(|p| p.info).collect(),
            retiring_peers: 0,
        }
    }
}

/// Split `key=value`, refusing lines without `=`.
fn split_line(line: &str, number: usize) -> Result<(&str, &str), ProtoError> {
    line.split_once('=')
        .ok_or(ProtoError::Malformed { line: number })
}

/// The lines of one request or response: up to (not including) the first
/// empty line. A trailing `\r` is not accepted; the protocol is `\n` only.
fn request_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .take_while(|(_, l)| !l.is_empty())
}

/// Parse one request (the text up to its empty line; more text after it is
/// ignored).
pub fn parse_request(text: &str) -> Result<Request, ProtoError> {
    let mut lines = request_lines(text);
    let (_, first) = lines.next().ok_or(ProtoError::Empty)?;
    match first {
        "get=1" => {
            // A get carries nothing else; wireguard-go refuses extra keys too.
            if let Some((line, rest)) = lines.next() {
                let key = rest.split('=').next().unwrap_or_default().to_owned();
                return Err(ProtoError::UnknownKey { line, key });
            }
            Ok(Request::Get)
        }
        "set=1" => parse_set(lines).map(Request::Set),
        _ => Err(ProtoError::UnknownOperation),
    }
}

fn invalid(line: usize, key: &'static str, reason: impl ToString) -> ProtoError {
    ProtoError::InvalidValue {
        line,
        key,
        reason: reason.to_string(),
    }
}

fn parse_bool(line: usize, key: &'static str, value: &str) -> Result<bool, ProtoError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(line, key, "expected true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(
    line: usize,
    key: &'static str,
    value: &str,
) -> Result<T, ProtoError> {
    // `u16::from_str` accepts a leading '+'; the protocol has plain digits.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(line, key, "expected a decimal number"));
    }
    value
        .parse()
        .map_err(|_| invalid(line, key, "number out of range"))
}

fn parse_key(line: usize, key: &'static str, value: &str) -> Result<[u8; 32], ProtoError> {
    PublicKey::from_hex(value)
        .map(|k| k.0)
        .map_err(|e| invalid(line, key, e))
}

/// `endpoint=` is `a.b.c.d:port` or `[v6]:port`.
pub fn parse_endpoint(value: &str) -> Option<SocketAddr> {
    value.parse().ok()
}

fn parse_allowed_ip(line: usize, value: &str) -> Result<IpNet, ProtoError> {
    const KEY: &str = "allowed_ip";
    if value.starts_with('-') {
        return Err(invalid(
            line,
            KEY,
            "removing a single allowed IP is not supported",
        ));
    }
    if !value.contains('/') {
        return Err(invalid(line, KEY, "expected address/prefix"));
    }
    let net: IpNet = value.parse().map_err(|e| invalid(line, KEY, e))?;
    Ok(net.trunc())
}

fn parse_set<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Result<DeviceConfig, ProtoError> {
    let mut config = DeviceConfig::default();
    for (line, text) in lines {
        let (key, value) = split_line(text, line)?;
        if key == "public_key" {
            let public_key = PublicKey(parse_key(line, "public_key", value)?);
            config.peers.push(PeerConfig::new(public_key));
            continue;
        }
        let Some(peer) = config.peers.last_mut() else {
            match key {
                "private_key" => {
                    let bytes = parse_key(line, "private_key", value)?;
                    config.private_key = Some(PrivateKey::from_bytes(bytes));
                }
                "listen_port" => config.listen_port = Some(parse_num(line, "listen_port", value)?),
                "fwmark" => config.fwmark = Some(parse_num(line, "fwmark", value)?),
                "replace_peers" => config.replace_peers = parse_bool(line, "replace_peers", value)?,
                "preshared_key"
                | "endpoint"
                | "persistent_keepalive_interval"
                | "remove"
                | "update_only"
                | "replace_allowed_ips"
                | "allowed_ip"
                | "protocol_version" => {
                    let key = PEER_KEYS
                        .iter()
                        .find(|k| **k == key)
                        .copied()
                        .unwrap_or("peer key");
                    return Err(ProtoError::OutsidePeer { line, key });
                }
                _ => {
                    return Err(ProtoError::UnknownKey {
                        line,
                        key: key.to_owned(),
                    });
                }
            }
            continue;
        };
        match key {
            "remove" => peer.remove = parse_bool(line, "remove", value)?,
            "update_only" => peer.update_only = parse_bool(line, "update_only", value)?,
            "preshared_key" => peer.preshared_key = Some(parse_key(line, "preshared_key", value)?),
            "endpoint" => {
                let endpoint = parse_endpoint(value)
                    .ok_or_else(|| invalid(line, "endpoint", "expected ip:port or [ipv6]:port"))?;
                peer.endpoint = Some(endpoint);
            }
            "persistent_keepalive_interval" => {
                peer.persistent_keepalive =
                    Some(parse_num(line, "persistent_keepalive_interval", value)?);
            }
            "replace_allowed_ips" => {
                peer.replace_allowed_ips = parse_bool(line, "replace_allowed_ips", value)?;
            }
            "allowed_ip" => peer.allowed_ips.push(parse_allowed_ip(line, value)?),
            "protocol_version" => {
                if value != "1" {
                    return Err(invalid(line, "protocol_version", "only version 1 exists"));
                }
            }
            _ => {
                return Err(ProtoError::UnknownKey {
                    line,
                    key: key.to_owned(),
                });
            }
        }
    }
    Ok(config)
}

const PEER_KEYS: [&str; 8] = [
    "preshared_key",
    "endpoint",
    "persistent_keepalive_interval",
    "remove",
    "update_only",
    "replace_allowed_ips",
    "allowed_ip",
    "protocol_version",
];

fn hex(bytes: &[u8; 32]) -> String {
    PublicKey(*bytes).to_hex()
}

fn format_endpoint(addr: &SocketAddr) -> String {
    // `SocketAddr`'s Display already brackets IPv6 (`[::1]:51820`).
    addr.to_string()
}

/// The answer to a request: `errno=0` on success, the negated errno otherwise.
pub fn format_errno(errno: i32) -> String {
    format!("errno={}\n\n", -errno.abs())
}

/// The full answer to `get=1`, in wireguard-go's key order.
pub fn format_get_response(dump: &DeviceDump) -> String {
    let mut out = String::with_capacity(128 + dump.peers.len() * 256);
    // Writing to a String cannot fail.
    if let Some(key) = &dump.private_key {
        let _ = writeln!(out, "private_key={}", key.to_hex());
    }
    let _ = writeln!(out, "listen_port={}", dump.listen_port);
    if dump.fwmark != 0 {
        let _ = writeln!(out, "fwmark={}", dump.fwmark);
    }
    for peer in &dump.peers {
        let info = &peer.info;
        let _ = writeln!(out, "public_key={}", info.public_key.to_hex());
        if let Some(psk) = &peer.preshared_key {
            let _ = writeln!(out, "preshared_key={}", hex(psk));
        }
        let _ = writeln!(out, "protocol_version=1");
        if let Some(endpoint) = &info.endpoint {
            let _ = writeln!(out, "endpoint={}", format_endpoint(endpoint));
        }
        let (sec, nsec) = handshake_time_parts(info.last_handshake);
        let _ = writeln!(out, "last_handshake_time_sec={sec}");
        let _ = writeln!(out, "last_handshake_time_nsec={nsec}");
        let _ = writeln!(out, "tx_bytes={}", info.tx_bytes);
        let _ = writeln!(out, "rx_bytes={}", info.rx_bytes);
        let _ = writeln!(
            out,
            "persistent_keepalive_interval={}",
            info.persistent_keepalive.unwrap_or(0)
        );
        for net in &info.allowed_ips {
            let _ = writeln!(out, "allowed_ip={net}");
        }
    }
    out.push_str(&format_errno(0));
    out
}

/// A `set=1` request for `config`, as `wg set` would send it.
pub fn format_set_request(config: &DeviceConfig) -> String {
    let mut out = String::from("set=1\n");
    if let Some(key) = &config.private_key {
        let _ = writeln!(out, "private_key={}", key.to_hex());
    }
    if let Some(port) = config.listen_port {
        let _ = writeln!(out, "listen_port={port}");
    }
    if let Some(mark) = config.fwmark {
        let _ = writeln!(out, "fwmark={mark}");
    }
    if config.replace_peers {
        out.push_str("replace_peers=true\n");
    }
    for peer in &config.peers {
        let _ = writeln!(out, "public_key={}", peer.public_key.to_hex());
        if peer.remove {
            out.push_str("remove=true\n");
            continue;
        }
        if peer.update_only {
            out.push_str("update_only=true\n");
        }
        if let Some(psk) = &peer.preshared_key {
            let _ = writeln!(out, "preshared_key={}", hex(psk));
        }
        if let Some(endpoint) = &peer.endpoint {
            let _ = writeln!(out, "endpoint={}", format_endpoint(endpoint));
        }
        if let Some(keepalive) = peer.persistent_keepalive {
            let _ = writeln!(out, "persistent_keepalive_interval={keepalive}");
        }
        if peer.replace_allowed_ips {
            out.push_str("replace_allowed_ips=true\n");
        }
        for net in &peer.allowed_ips {
            let _ = writeln!(out, "allowed_ip={net}");
        }
    }
    out.push('\n');
    out
}

/// Read the `errno=` of an answer (as sent: negative for errors).
pub fn parse_errno(text: &str) -> Result<i32, ProtoError> {
    for (line, text) in request_lines(text) {
        if let Some(value) = text.strip_prefix("errno=") {
            return value
                .parse()
                .map_err(|_| invalid(line, "errno", "expected an integer"));
        }
    }
    Err(invalid(0, "errno", "missing"))
}

/// Parse the answer to `get=1`. Returns the dump and the answer's errno.
/// Unknown keys are skipped, as `wg` does.
pub fn parse_get_response(text: &str) -> Result<(DeviceDump, i32), ProtoError> {
    let mut dump = DeviceDump {
        private_key: None,
        listen_port: 0,
        fwmark: 0,
        peers: Vec::new(),
    };
    let mut errno = None;
    let mut handshake = (0u64, 0u32);
    let finish_handshake = |peer: Option<&mut PeerDump>, (sec, nsec): (u64, u32)| {
        if let Some(peer) = peer
            && (sec, nsec) != (0, 0)
        {
            peer.info.last_handshake = Some(UNIX_EPOCH + Duration::new(sec, nsec));
        }
    };
    for (line, text) in request_lines(text) {
        let (key, value) = split_line(text, line)?;
        match key {
            "errno" => {
                errno = Some(
                    value
                        .parse()
                        .map_err(|_| invalid(line, "errno", "expected an integer"))?,
                );
                continue;
            }
            "public_key" => {
                finish_handshake(dump.peers.last_mut(), handshake);
                handshake = (0, 0);
                dump.peers.push(PeerDump {
                    info: PeerInfo::new(PublicKey(parse_key(line, "public_key", value)?)),
                    preshared_key: None,
                });
                continue;
            }
            _ => {}
        }
        let Some(peer) = dump.peers.last_mut() else {
            match key {
                "private_key" => {
                    let key = parse_key(line, "private_key", value)?;
                    dump.private_key = Some(PrivateKey::from_bytes(key));
                }
                "listen_port" => dump.listen_port = parse_num(line, "listen_port", value)?,
                "fwmark" => dump.fwmark = parse_num(line, "fwmark", value)?,
                _ => {}
            }
            continue;
        };
        match key {
            "preshared_key" => {
                let psk = parse_key(line, "preshared_key", value)?;
                peer.preshared_key = (psk != [0; 32]).then_some(psk);
            }
            "endpoint" => {
                peer.info.endpoint = Some(
                    parse_endpoint(value)
                        .ok_or_else(|| invalid(line, "endpoint", "expected ip:port"))?,
                );
            }
            "last_handshake_time_sec" => {
                handshake.0 = parse_num(line, "last_handshake_time_sec", value)?
            }
            "last_handshake_time_nsec" => {
                handshake.1 = parse_num(line, "last_handshake_time_nsec", value)?;
                if handshake.1 >= 1_000_000_000 {
                    return Err(invalid(
                        line,
                        "last_handshake_time_nsec",
                        "not below one second",
                    ));
                }
            }
            "tx_bytes" => peer.info.tx_bytes = parse_num(line, "tx_bytes", value)?,
            "rx_bytes" => peer.info.rx_bytes = parse_num(line, "rx_bytes", value)?,
            "persistent_keepalive_interval" => {
                let interval: u16 = parse_num(line, "persistent_keepalive_interval", value)?;
                peer.info.persistent_keepalive = (interval != 0).then_some(interval);
            }
            "allowed_ip" => peer.info.allowed_ips.push(parse_allowed_ip(line, value)?),
            _ => {}
        }
    }
    finish_handshake(dump.peers.last_mut(), handshake);
    let errno = errno.ok_or_else(|| invalid(0, "errno", "missing"))?;
    Ok((dump, errno))
}

/// A wall-clock time as the UAPI carries it: seconds and nanoseconds since
/// the Unix epoch, zero for "never".
pub fn handshake_time_parts(time: Option<SystemTime>) -> (u64, u32) {
    let d = time
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

#[cfg(test)]
mod tests;
