//! The SQLite store's tables, and opening and migrating its file.

use super::super::{Result, StoreError};
use super::rows::corrupt;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Version 1. Later versions append to [`MIGRATIONS`].
pub(super) const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
-- Only the SHA-256 of a key or token is kept (see secret.rs).
CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants(id),
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS tokens (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants(id),
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0)
);
CREATE TABLE IF NOT EXISTS hosts (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    endpoint   TEXT,
    version    TEXT,
    last_seen  INTEGER,
    -- JSON, peers by health state ('healthy' → 2, …), as last reported.
    peer_health TEXT NOT NULL DEFAULT '{}'
);
-- A name is taken while its host lives; a revoked host's name is free again.
CREATE UNIQUE INDEX IF NOT EXISTS hosts_live_name ON hosts (tenant, name)
    WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS networks (
    tenant       TEXT NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    subnet       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    internal     INTEGER NOT NULL,
    domain       TEXT NOT NULL,
    block_prefix INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE IF NOT EXISTS blocks (
    tenant  TEXT NOT NULL,
    network TEXT NOT NULL,
    host    TEXT NOT NULL REFERENCES hosts(id),
    block   TEXT NOT NULL,
    PRIMARY KEY (tenant, network, host),
    UNIQUE (tenant, network, block),
    FOREIGN KEY (tenant, network) REFERENCES networks(tenant, name) ON DELETE CASCADE
);
-- What hosts reported they made of each network: public key, port.
CREATE TABLE IF NOT EXISTS host_keys (
    tenant      TEXT NOT NULL,
    network     TEXT NOT NULL,
    host        TEXT NOT NULL REFERENCES hosts(id),
    public_key  TEXT NOT NULL,
    listen_port INTEGER NOT NULL,
    PRIMARY KEY (tenant, network, host),
    FOREIGN KEY (tenant, network) REFERENCES networks(tenant, name) ON DELETE CASCADE
);
";

/// `MIGRATIONS[i]` takes a database from version i + 1 to i + 2.
pub(super) const MIGRATIONS: &[&str] = &[
    // 2: which hosts are in a network. 1: all of the tenant's (hosts
    // enrolled later join it); 0: those with a block there.
    "ALTER TABLE networks ADD COLUMN all_hosts INTEGER NOT NULL DEFAULT 1;",
    // 3: what a resuming agent is re-sent. Each network's last change
    // (of its own, its blocks, or its members' keys or addresses), and
    // deleted networks by when; a store upgraded from before knows no
    // changes older than its revision then (the resume horizon).
    "ALTER TABLE networks ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE IF NOT EXISTS network_tombstones (
         tenant     TEXT NOT NULL,
         name       TEXT NOT NULL,
         deleted_at INTEGER NOT NULL
     );
     CREATE INDEX IF NOT EXISTS network_tombstones_by_tenant
         ON network_tombstones (tenant, deleted_at);
     INSERT OR REPLACE INTO meta (key, value)
         SELECT 'resume_horizon', value FROM meta WHERE key = 'revision';",
    // 4: sites. A host (and the hosts a token enrolls) may be in one; a
    // network may belong to one, and then its hosts are the site's.
    "CREATE TABLE IF NOT EXISTS sites (
         tenant     TEXT NOT NULL REFERENCES tenants(id),
         name       TEXT NOT NULL,
         -- JSON, {key: value}.
         labels     TEXT NOT NULL DEFAULT '{}',
         created_at INTEGER NOT NULL,
         PRIMARY KEY (tenant, name)
     );
     ALTER TABLE hosts ADD COLUMN site TEXT;
     ALTER TABLE tokens ADD COLUMN site TEXT;
     ALTER TABLE networks ADD COLUMN site TEXT;",
    // 5: VXLAN networks (mode 'vxlan', of a site): VNI, MTU (NULL: the
    // largest the underlay carries), the WireGuard network it rides in.
    // A VNI is unique among a site's networks.
    "ALTER TABLE networks ADD COLUMN vni INTEGER;
     ALTER TABLE networks ADD COLUMN mtu INTEGER;
     ALTER TABLE networks ADD COLUMN over TEXT;
     CREATE UNIQUE INDEX IF NOT EXISTS networks_site_vni ON networks (tenant, site, vni)
         WHERE vni IS NOT NULL;",
    // 6: hosts' log records, numbered per host (`seq`), the newest kept.
    "CREATE TABLE IF NOT EXISTS host_logs (
         host    TEXT NOT NULL,
         seq     INTEGER NOT NULL,
         tenant  TEXT NOT NULL,
         time_ms INTEGER NOT NULL,
         level   INTEGER NOT NULL,
         target  TEXT NOT NULL,
         message TEXT NOT NULL,
         PRIMARY KEY (host, seq)
     ) WITHOUT ROWID;",
    // 7: VMs, their NICs as JSON in guest order ([{network, ip}]); and
    // what each host last reported it made of its VMs' NICs.
    "CREATE TABLE IF NOT EXISTS vms (
         tenant     TEXT NOT NULL REFERENCES tenants(id),
         id         TEXT NOT NULL,
         host       TEXT NOT NULL,
         nics       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (tenant, id)
     );
     CREATE TABLE IF NOT EXISTS vm_reports (
         host   TEXT PRIMARY KEY,
         tenant TEXT NOT NULL,
         nics   TEXT NOT NULL
     );",
    // 8 (issue 28): when a host first reported each key, for its age
    // (NULL: reported before this version).
    "ALTER TABLE host_keys ADD COLUMN since INTEGER;",
    // 9: how a VM is run by its host (`run`, JSON), NULL: not run.
    "ALTER TABLE vms ADD COLUMN run TEXT;",
    // 10: hosts' peer links as last reported (JSON list), for the
    // dashboard's topology.
    "ALTER TABLE hosts ADD COLUMN peer_links TEXT NOT NULL DEFAULT '[]';",
];

pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len() + 1;

/// The database holds hashes of API keys and tokens: readable by its
/// owner only (0600), made so before SQLite opens it, and made so again
/// when an older weft left it readable. SQLite gives its `-wal` and `-shm`
/// files the database's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn open_connection(path: &Path) -> Result<Connection> {
    let open_err = |source: rusqlite::Error| StoreError::Open {
        path: path.display().to_string(),
        source: Box::new(source),
    };
    private_file(path).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source: Box::new(source),
    })?;
    let conn = Connection::open(path).map_err(open_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(open_err)?;
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
            tx.execute("INSERT INTO meta (key, value) VALUES ('revision', '0')", [])?;
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
