//! The `peers` table: per network, keyed by public key.

use super::{Result, Store, corrupt, parse};
use crate::records::PeerRecord;
use ipnet::IpNet;
use rusqlite::params;
use weft_model::PublicKey;

fn join_nets(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn split_nets(text: &str) -> Result<Vec<IpNet>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse("allowed-ip", s))
        .collect()
}

impl Store {
    pub fn peers(&self, network: &str) -> Result<Vec<PeerRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT public_key, endpoint, allowed_ips, keepalive FROM peers
             WHERE network = ?1 ORDER BY public_key",
        )?;
        let rows = stmt.query_map([network], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u16>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (key, endpoint, allowed, keepalive) = row?;
            Ok(PeerRecord {
                network: network.to_string(),
                public_key: PublicKey::from_base64(&key)
                    .map_err(|_| corrupt("public key", &key))?,
                endpoint,
                allowed_ips: split_nets(&allowed)?,
                keepalive,
            })
        })
        .collect()
    }

    /// Insert or replace a peer (keyed by network and public key).
    pub fn upsert_peer(&self, peer: &PeerRecord) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO peers (network, public_key, endpoint, allowed_ips, keepalive)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                peer.network,
                peer.public_key.to_base64(),
                peer.endpoint,
                join_nets(&peer.allowed_ips),
                peer.keepalive
            ],
        )?;
        Ok(())
    }

    pub fn delete_peer(&self, network: &str, key: &PublicKey) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM peers WHERE network = ?1 AND public_key = ?2",
            params![network, key.to_base64()],
        )? > 0)
    }
}
