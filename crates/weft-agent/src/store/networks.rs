//! The `networks` table.

use super::{Result, Store, corrupt, parse};
use crate::records::{NetworkRecord, WireguardSettings};
use rusqlite::params;
use weft_model::{Mode, PrivateKey};

impl Store {
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, mode, idx, subnet, block, listen_port, private_key, internal, domain
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
            ))
        })?;
        rows.map(|row| {
            let (name, mode, index, subnet, block, listen_port, key, internal, domain) = row?;
            let wireguard = match (listen_port, key) {
                (Some(listen_port), Some(key)) => Some(WireguardSettings {
                    listen_port,
                    private_key: PrivateKey::from_base64(&key)
                        .map_err(|_| corrupt("private key", "<hidden>"))?,
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
        self.conn.execute(
            "INSERT INTO networks (name, mode, idx, subnet, block, listen_port, private_key,
                                   internal, domain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                net.name,
                net.mode.as_str(),
                net.index,
                net.subnet.to_string(),
                net.block.to_string(),
                wg.map(|w| w.listen_port),
                wg.map(|w| w.private_key.to_base64()),
                net.internal,
                net.domain
            ],
        )?;
        Ok(())
    }

    /// Delete a network with its peers. Its attachments must be gone first.
    pub fn delete_network(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM networks WHERE name = ?1", [name])?
            > 0)
    }
}
