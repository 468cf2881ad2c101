//! The `networks` table.

use super::{Result, Store, corrupt, parse};
use crate::records::{NetworkRecord, Underlay, VxlanSettings, WireguardSettings};
use rusqlite::params;
use weft_model::{Mode, PrivateKey};

impl Store {
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, mode, idx, subnet, block, listen_port, private_key, internal, domain,
                    vni, vxlan_port, mtu, underlay, retiring_key, key_since
             FROM networks ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<u16>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, String>(8)?,
                (
                    r.get::<_, Option<u32>>(9)?,
                    r.get::<_, Option<u16>>(10)?,
                    r.get::<_, Option<u32>>(11)?,
                    r.get::<_, Option<String>>(12)?,
                ),
                (
                    r.get::<_, Option<String>>(13)?,
                    r.get::<_, Option<i64>>(14)?,
                ),
            ))
        })?;
        rows.map(|row| {
            let (
                name,
                mode,
                index,
                subnet,
                block,
                listen_port,
                key,
                internal,
                domain,
                vxlan,
                (retiring, key_since),
            ) = row?;
            let vxlan = match vxlan {
                (Some(vni), Some(port), Some(mtu), Some(underlay)) => Some(VxlanSettings {
                    vni,
                    port,
                    mtu,
                    underlay: underlay_from_text(&underlay)?,
                }),
                _ => None,
            };
            let wireguard = match (listen_port, key) {
                (Some(listen_port), Some(key)) => Some(WireguardSettings {
                    listen_port,
                    private_key: PrivateKey::from_base64(&key)
                        .map_err(|_| corrupt("private key", "<hidden>"))?,
                    retiring_key: retiring
                        .map(|k| PrivateKey::from_base64(&k))
                        .transpose()
                        .map_err(|_| corrupt("retiring key", "<hidden>"))?,
                    key_since,
                }),
                _ => None,
            };
            Ok(NetworkRecord {
                name,
                mode: Mode::parse(&mode).map_err(|_| corrupt("mode", &mode))?,
                index,
                subnet: parse("subnet", &subnet)?,
                block: parse("block", &block)?,
                wireguard,
                vxlan,
                internal,
                domain,
            })
        })
        .collect()
    }

    pub fn network(&self, name: &str) -> Result<Option<NetworkRecord>> {
        Ok(self.networks()?.into_iter().find(|n| n.name == name))
    }

    pub fn insert_network(&self, net: &NetworkRecord) -> Result<()> {
        let wg = net.wireguard.as_ref();
        let vx = net.vxlan.as_ref();
        self.conn.execute(
            "INSERT INTO networks (name, mode, idx, subnet, block, listen_port, private_key,
                                   internal, domain, vni, vxlan_port, mtu, underlay,
                                   retiring_key, key_since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                net.name,
                net.mode.as_str(),
                net.index,
                net.subnet.to_string(),
                net.block.to_string(),
                wg.map(|w| w.listen_port),
                wg.map(|w| w.private_key.to_base64()),
                net.internal,
                net.domain,
                vx.map(|v| v.vni),
                vx.map(|v| v.port),
                vx.map(|v| v.mtu),
                vx.map(|v| underlay_text(&v.underlay)),
                wg.and_then(|w| w.retiring_key.as_ref())
                    .map(PrivateKey::to_base64),
                wg.and_then(|w| w.key_since),
            ],
        )?;
        Ok(())
    }

    /// Replace a WireGuard network's keys (a rotation, or the retiring key
    /// forgotten): the old values are overwritten, not kept anywhere.
    pub fn set_network_keys(&self, name: &str, wg: &WireguardSettings) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE networks SET private_key = ?2, retiring_key = ?3, key_since = ?4
             WHERE name = ?1 AND private_key IS NOT NULL",
            params![
                name,
                wg.private_key.to_base64(),
                wg.retiring_key.as_ref().map(PrivateKey::to_base64),
                wg.key_since,
            ],
        )? > 0)
    }

    /// Delete a network with its peers. Its attachments must be gone first.
    pub fn delete_network(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM networks WHERE name = ?1", [name])?
            > 0)
    }
}

/// How a VXLAN network's underlay is kept in its column.
fn underlay_text(underlay: &Underlay) -> String {
    match underlay {
        Underlay::Routed => "routed".into(),
        Underlay::Local(ip) => format!("local:{ip}"),
        Underlay::Device(ifname) => format!("device:{ifname}"),
        Underlay::Over(network) => format!("over:{network}"),
    }
}

fn underlay_from_text(text: &str) -> Result<Underlay> {
    match text.split_once(':') {
        None if text == "routed" => Ok(Underlay::Routed),
        Some(("local", ip)) => Ok(Underlay::Local(parse("underlay", ip)?)),
        Some(("device", ifname)) => Ok(Underlay::Device(ifname.to_string())),
        Some(("over", network)) => Ok(Underlay::Over(network.to_string())),
        _ => Err(corrupt("underlay", text)),
    }
}

#[cfg(test)]
mod tests;
