//! The `names` table: DNS names given by outside sources (the mesh file…),
//! per network and source.

use super::{Result, Store, parse};
use rusqlite::params;
use std::collections::BTreeMap;
use std::net::IpAddr;

impl Store {
    /// Replace one source's names on a network, in one transaction.
    pub fn set_names(
        &self,
        network: &str,
        source: &str,
        names: &BTreeMap<String, Vec<IpAddr>>,
    ) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM names WHERE network = ?1 AND source = ?2",
            [network, source],
        )?;
        for (name, addrs) in names {
            for a in addrs {
                tx.execute(
                    "INSERT OR IGNORE INTO names (network, source, name, address) VALUES (?1, ?2, ?3, ?4)",
                    params![network, source, name, a.to_string()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A network's names per source.
    pub fn names(&self, network: &str) -> Result<BTreeMap<String, BTreeMap<String, Vec<IpAddr>>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, name, address FROM names WHERE network = ?1 ORDER BY source, name, address")?;
        let rows = stmt.query_map([network], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out: BTreeMap<String, BTreeMap<String, Vec<IpAddr>>> = Default::default();
        for row in rows {
            let (source, name, addr) = row?;
            out.entry(source)
                .or_default()
                .entry(name)
                .or_default()
                .push(parse("address", &addr)?);
        }
        Ok(out)
    }
}
