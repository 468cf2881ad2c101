//! The `vteps` table: a VXLAN network's remote tunnel endpoints, keyed by
//! network and address.

use super::{Result, Store, parse};
use crate::records::VtepRecord;
use rusqlite::params;

impl Store {
    pub fn vteps(&self, network: &str) -> Result<Vec<VtepRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT address, block FROM vteps WHERE network = ?1 ORDER BY address")?;
        let rows = stmt.query_map([network], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        rows.map(|row| {
            let (address, block) = row?;
            Ok(VtepRecord {
                network: network.to_string(),
                address: parse("VTEP address", &address)?,
                block: block.map(|b| parse("VTEP block", &b)).transpose()?,
            })
        })
        .collect()
    }

    /// Insert or replace a VTEP (keyed by network and address).
    pub fn upsert_vtep(&self, vtep: &VtepRecord) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO vteps (network, address, block) VALUES (?1, ?2, ?3)",
            params![
                vtep.network,
                vtep.address.to_string(),
                vtep.block.map(|b| b.to_string())
            ],
        )?;
        Ok(())
    }

    pub fn delete_vtep(&self, network: &str, address: std::net::IpAddr) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM vteps WHERE network = ?1 AND address = ?2",
            params![network, address.to_string()],
        )? > 0)
    }
}
