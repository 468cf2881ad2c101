//! The agent's persistent state: one SQLite database under the state
//! directory. SQLite's journal makes every change atomic, so a `kill -9` in the
//! middle of a write leaves either the old or the new state, never a mix.
//!
//! The store holds what the user asked for (networks, peers, attachments,
//! names; see [`crate::records`]); the kernel is made to match it at
//! start-up and after every change. One file per table; the schema and its
//! migrations in `schema.rs`.

mod attachments;
mod names;
mod networks;
mod peers;
mod schema;
mod vteps;

use rusqlite::{Connection, OptionalExtension};
use schema::{MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("open the state store {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state store")]
    Sql(#[from] rusqlite::Error),
    #[error("state store holds a malformed {what} {value:?}")]
    Corrupt { what: &'static str, value: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

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
            // secure_delete: what a change overwrites (a retired private
            // key) is zeroed in the file, not left in a free page.
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;",
        )
        .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory store for tests.
    #[cfg(test)]
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

    /// Copy the write-ahead log into the database and empty it, so that
    /// page images it holds (a retired key) are gone from the disk too.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// SQLite's own consistency check: "ok" when the file is sound.
    #[cfg(test)]
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests;
