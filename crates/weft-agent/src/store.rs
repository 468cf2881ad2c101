//! The agent's persistent state: one SQLite database under the state
//! directory. SQLite's journal makes every change atomic, so a `kill -9` in the
//! middle of a write leaves either the old or the new state, never a mix.
//!
//! The store holds what the user asked for (networks, peers, attachments);
//! the kernel is made to match it at start-up and after every change.

use ipnet::IpNet;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use weft_model::{Mode, PrivateKey, PublicKey};

/// The schema as first released (version 1); later versions are the
/// migrations below, applied in order — to new databases too, so there is
/// one definition of each table.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS networks (
    name        TEXT PRIMARY KEY,
    mode        TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    subnet      TEXT NOT NULL,
    block       TEXT NOT NULL,
    -- WireGuard networks only; NULL for bridges.
    listen_port INTEGER UNIQUE,
    private_key TEXT,
    UNIQUE (mode, idx)
);
CREATE TABLE IF NOT EXISTS peers (
    network     TEXT NOT NULL REFERENCES networks(name) ON DELETE CASCADE,
    public_key  TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    keepalive   INTEGER NOT NULL,
    PRIMARY KEY (network, public_key)
);
CREATE TABLE IF NOT EXISTS attachments (
    network       TEXT NOT NULL REFERENCES networks(name),
    workload_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    netns         TEXT NOT NULL,
    netns_dev     INTEGER NOT NULL,
    netns_ino     INTEGER NOT NULL,
    ifname        TEXT NOT NULL,
    host_ifname   TEXT NOT NULL UNIQUE,
    ip            TEXT NOT NULL,
    default_route INTEGER NOT NULL,
    PRIMARY KEY (network, workload_id),
    UNIQUE (network, ip)
);
";

/// `MIGRATIONS[i]` takes a database from version i + 1 to i + 2.
const MIGRATIONS: &[&str] = &[
    // 2: networks gain `internal` (no masquerade, no upstream DNS) and `domain`.
    "ALTER TABLE networks ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE networks ADD COLUMN domain TEXT NOT NULL DEFAULT 'mesh.local';",
    // 3: DNS names given by outside sources (the mesh file…).
    "CREATE TABLE IF NOT EXISTS names (
         network TEXT NOT NULL REFERENCES networks(name) ON DELETE CASCADE,
         source  TEXT NOT NULL,
         name    TEXT NOT NULL,
         address TEXT NOT NULL,
         PRIMARY KEY (network, source, name, address)
     );",
];

/// The version this build writes.
const SCHEMA_VERSION: usize = MIGRATIONS.len() + 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state store holds a malformed {what} {value:?}")]
    Corrupt { what: &'static str, value: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRecord {
    pub name: String,
    pub mode: Mode,
    /// Names the network's interfaces (wg0, weft-br1, …); unique per mode.
    pub index: u32,
    pub subnet: IpNet,
    pub block: IpNet,
    /// Set for WireGuard networks, None for bridges.
    pub wireguard: Option<WireguardSettings>,
    /// No egress masquerade and no upstream DNS.
    pub internal: bool,
    /// DNS domain of the network's names.
    pub domain: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WireguardSettings {
    pub listen_port: u16,
    pub private_key: PrivateKey,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PeerRecord {
    pub network: String,
    pub public_key: PublicKey,
    /// As the user gave it: `host:port`, resolved when applied.
    pub endpoint: String,
    pub allowed_ips: Vec<IpNet>,
    pub keepalive: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttachmentRecord {
    pub network: String,
    pub workload_id: String,
    pub name: String,
    pub netns: String,
    /// Identity of the namespace when attached: a path that now names another
    /// namespace means the workload is gone.
    pub netns_id: (u64, u64),
    pub ifname: String,
    pub host_ifname: String,
    pub ip: IpAddr,
    pub default_route: bool,
}

pub struct Store {
    conn: Connection,
}

fn corrupt(what: &'static str, value: &str) -> StoreError {
    StoreError::Corrupt {
        what,
        value: value.to_string(),
    }
}

fn parse<T: std::str::FromStr>(what: &'static str, text: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(what, text))
}

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
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // FULL sync: a committed change survives power loss, not only kill -9.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory store for tests.
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        let store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        let found: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let version = match found.as_deref() {
            None => {
                tx.execute_batch(SCHEMA_V1)?;
                1
            }
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=SCHEMA_VERSION).contains(&n) => n,
                _ => return Err(corrupt("schema version (newer weft?)", v)),
            },
        };
        for migration in &MIGRATIONS[version - 1..] {
            tx.execute_batch(migration)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?1)",
            [SCHEMA_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// SQLite's own consistency check: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    // ---- networks ----

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

    // ---- peers ----

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

    // ---- names from outside sources ----

    /// Replace one source's names on a network, in one transaction.
    pub fn set_names(
        &self,
        network: &str,
        source: &str,
        names: &std::collections::BTreeMap<String, Vec<IpAddr>>,
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
    pub fn names(
        &self,
        network: &str,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<IpAddr>>>>
    {
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
        let mut out: std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, Vec<IpAddr>>,
        > = Default::default();
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

    // ---- attachments ----

    fn attachments_where(&self, clause: &str, args: &[&str]) -> Result<Vec<AttachmentRecord>> {
        let sql = format!(
            "SELECT network, workload_id, name, netns, netns_dev, netns_ino, ifname, host_ifname,
                    ip, default_route
             FROM attachments {clause} ORDER BY network, workload_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                AttachmentRecord {
                    network: r.get(0)?,
                    workload_id: r.get(1)?,
                    name: r.get(2)?,
                    netns: r.get(3)?,
                    netns_id: (r.get::<_, i64>(4)? as u64, r.get::<_, i64>(5)? as u64),
                    ifname: r.get(6)?,
                    host_ifname: r.get(7)?,
                    ip: IpAddr::from([0, 0, 0, 0]),
                    default_route: r.get(9)?,
                },
                r.get::<_, String>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (mut rec, ip) = row?;
            rec.ip = parse("address", &ip)?;
            Ok(rec)
        })
        .collect()
    }

    pub fn attachments(&self) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("", &[])
    }

    pub fn attachments_of_network(&self, network: &str) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("WHERE network = ?1", &[network])
    }

    /// Every attachment of one workload, across networks.
    pub fn attachments_of_workload(&self, workload_id: &str) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("WHERE workload_id = ?1", &[workload_id])
    }

    pub fn attachment(&self, network: &str, workload_id: &str) -> Result<Option<AttachmentRecord>> {
        Ok(self
            .attachments_where(
                "WHERE network = ?1 AND workload_id = ?2",
                &[network, workload_id],
            )?
            .pop())
    }

    /// Addresses in use on a network.
    pub fn used_ips(&self, network: &str) -> Result<BTreeSet<IpAddr>> {
        Ok(self
            .attachments_of_network(network)?
            .into_iter()
            .map(|a| a.ip)
            .collect())
    }

    /// Host-side interface names in use, on every network.
    pub fn host_ifnames(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT host_ifname FROM attachments")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Record an attachment. The UNIQUE constraints make a duplicate address
    /// or host interface impossible even if two callers race.
    pub fn insert_attachment(&self, a: &AttachmentRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO attachments (network, workload_id, name, netns, netns_dev, netns_ino,
                                      ifname, host_ifname, ip, default_route)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                a.network,
                a.workload_id,
                a.name,
                a.netns,
                a.netns_id.0 as i64,
                a.netns_id.1 as i64,
                a.ifname,
                a.host_ifname,
                a.ip.to_string(),
                a.default_route
            ],
        )?;
        Ok(())
    }

    pub fn delete_attachment(&self, network: &str, workload_id: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM attachments WHERE network = ?1 AND workload_id = ?2",
            [network, workload_id],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, index: u32, port: u16) -> NetworkRecord {
        NetworkRecord {
            name: name.into(),
            mode: Mode::Wireguard,
            index,
            subnet: "10.42.0.0/16".parse().unwrap(),
            block: "10.42.1.0/24".parse().unwrap(),
            wireguard: Some(WireguardSettings {
                listen_port: port,
                private_key: PrivateKey::generate(),
            }),
            internal: false,
            domain: "mesh.local".into(),
        }
    }

    fn bridge(name: &str, index: u32) -> NetworkRecord {
        NetworkRecord {
            name: name.into(),
            mode: Mode::Bridge,
            index,
            subnet: "10.88.0.0/16".parse().unwrap(),
            block: "10.88.0.0/16".parse().unwrap(),
            wireguard: None,
            internal: true,
            domain: "lab.example".into(),
        }
    }

    fn att(network: &str, id: &str, ip: &str, host: &str) -> AttachmentRecord {
        AttachmentRecord {
            network: network.into(),
            workload_id: id.into(),
            name: id.into(),
            netns: format!("/run/netns/{id}"),
            netns_id: (4, 4026532000),
            ifname: "eth0".into(),
            host_ifname: host.into(),
            ip: ip.parse().unwrap(),
            default_route: true,
        }
    }

    #[test]
    fn networks_round_trip_and_are_unique() {
        let store = Store::in_memory().unwrap();
        let blue = net("blue", 0, 51820);
        store.insert_network(&blue).unwrap();
        assert_eq!(store.networks().unwrap(), vec![blue.clone()]);
        assert!(
            store.insert_network(&net("blue", 1, 51821)).is_err(),
            "same name"
        );
        assert!(
            store.insert_network(&net("red", 0, 51821)).is_err(),
            "same index"
        );
        assert!(
            store.insert_network(&net("red", 1, 51820)).is_err(),
            "same port"
        );
        assert_eq!(store.networks().unwrap().len(), 1);
        // Bridges have no port or key, and their own index space.
        store.insert_network(&bridge("br", 0)).unwrap();
        store.insert_network(&bridge("br2", 1)).unwrap();
        assert!(
            store.insert_network(&bridge("br3", 1)).is_err(),
            "same bridge index"
        );
        assert_eq!(store.network("br").unwrap().unwrap(), bridge("br", 0));
        assert!(store.delete_network("blue").unwrap());
        assert!(!store.delete_network("blue").unwrap());
    }

    #[test]
    fn peers_upsert_and_cascade() {
        let store = Store::in_memory().unwrap();
        store.insert_network(&net("blue", 0, 51820)).unwrap();
        let mut peer = PeerRecord {
            network: "blue".into(),
            public_key: PrivateKey::generate().public_key(),
            endpoint: "192.0.2.2:51820".into(),
            allowed_ips: vec![
                "10.42.2.0/24".parse().unwrap(),
                "fd00::/64".parse().unwrap(),
            ],
            keepalive: 25,
        };
        store.upsert_peer(&peer).unwrap();
        peer.keepalive = 0;
        store.upsert_peer(&peer).unwrap();
        assert_eq!(store.peers("blue").unwrap(), vec![peer.clone()]);
        store.delete_network("blue").unwrap();
        assert!(store.peers("blue").unwrap().is_empty());
    }

    #[test]
    fn attachments_cannot_share_an_address_or_host_interface() {
        let store = Store::in_memory().unwrap();
        store.insert_network(&net("blue", 0, 51820)).unwrap();
        store
            .insert_attachment(&att("blue", "c1", "10.42.1.2", "w0-c1"))
            .unwrap();
        assert!(
            store
                .insert_attachment(&att("blue", "c2", "10.42.1.2", "w0-c2"))
                .is_err()
        );
        assert!(
            store
                .insert_attachment(&att("blue", "c2", "10.42.1.3", "w0-c1"))
                .is_err()
        );
        assert!(
            store
                .insert_attachment(&att("blue", "c1", "10.42.1.4", "w0-x"))
                .is_err()
        );
        store
            .insert_attachment(&att("blue", "c2", "10.42.1.3", "w0-c2"))
            .unwrap();
        let used: Vec<String> = store
            .used_ips("blue")
            .unwrap()
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(used, ["10.42.1.2", "10.42.1.3"]);
        assert_eq!(
            store.attachment("blue", "c2").unwrap().unwrap().host_ifname,
            "w0-c2"
        );
        assert!(
            store.delete_network("blue").is_err(),
            "attachments keep their network"
        );
        assert!(store.delete_attachment("blue", "c1").unwrap());
        assert!(!store.delete_attachment("blue", "c1").unwrap());
        assert_eq!(store.attachments().unwrap().len(), 1);
    }

    #[test]
    fn version_1_databases_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema', '1');
                 CREATE TABLE networks (name TEXT PRIMARY KEY, mode TEXT NOT NULL, idx INTEGER NOT NULL,
                     subnet TEXT NOT NULL, block TEXT NOT NULL, listen_port INTEGER UNIQUE,
                     private_key TEXT, UNIQUE (mode, idx));
                 INSERT INTO networks VALUES ('br', 'bridge', 0, '10.88.0.0/16', '10.88.0.0/16', NULL, NULL);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let br = store.network("br").unwrap().unwrap();
        let names = std::collections::BTreeMap::from([(
            "web".to_string(),
            vec!["10.88.0.5".parse().unwrap()],
        )]);
        store.set_names("br", "mesh", &names).unwrap();
        assert_eq!(
            store.names("br").unwrap()["mesh"],
            names,
            "version 3's table exists"
        );
        assert!(!br.internal);
        assert_eq!(br.domain, "mesh.local");
        drop(store);
        // Opening again finds version 2 and changes nothing.
        assert_eq!(Store::open(&path).unwrap().networks().unwrap().len(), 1);
    }

    #[test]
    fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let blue = net("blue", 0, 51820);
        {
            let store = Store::open(&path).unwrap();
            store.insert_network(&blue).unwrap();
            store
                .insert_attachment(&att("blue", "c1", "10.42.1.2", "w0-c1"))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.networks().unwrap(), vec![blue]);
        assert_eq!(store.attachments().unwrap().len(), 1);
    }
}
