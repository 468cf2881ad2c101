//! The store's tables: the schema as first released and the migrations
//! that took it to this build's version.

/// The schema as first released (version 1); later versions are the
/// migrations below, applied in order — to new databases too, so there is
/// one definition of each table.
pub(super) const SCHEMA_V1: &str = "
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
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 4 (issue 13): VXLAN networks — their VNI, port, MTU and underlay
    // (`routed`, `local:<ip>`, `device:<ifname>`, `over:<network>`), and
    // their remote tunnel endpoints (peers without keys).
    "ALTER TABLE networks ADD COLUMN vni INTEGER;
     ALTER TABLE networks ADD COLUMN vxlan_port INTEGER;
     ALTER TABLE networks ADD COLUMN mtu INTEGER;
     ALTER TABLE networks ADD COLUMN underlay TEXT;
     CREATE UNIQUE INDEX IF NOT EXISTS networks_vni ON networks(vni);
     CREATE TABLE IF NOT EXISTS vteps (
         network TEXT NOT NULL REFERENCES networks(name) ON DELETE CASCADE,
         address TEXT NOT NULL,
         block   TEXT,
         PRIMARY KEY (network, address)
     );",
    // 5 (issue 12): VMs' NICs. `vm_mac` is set for a VM's attachment (its
    // guest MAC, unique per network); `vm_queues` its queue pairs.
    "ALTER TABLE attachments ADD COLUMN vm_mac TEXT;
     ALTER TABLE attachments ADD COLUMN vm_queues INTEGER NOT NULL DEFAULT 0;
     CREATE UNIQUE INDEX IF NOT EXISTS attachments_vm_mac ON attachments (network, vm_mac);",
    // 6 (issue 28): key rotation — the key being retired while a peer may
    // still know only it, and when the current key was made.
    "ALTER TABLE networks ADD COLUMN retiring_key TEXT;
     ALTER TABLE networks ADD COLUMN key_since INTEGER;",
];

/// The version this build writes.
pub(super) const SCHEMA_VERSION: usize = MIGRATIONS.len() + 1;
