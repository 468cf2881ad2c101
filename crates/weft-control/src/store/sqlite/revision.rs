//! The SQLite store's side of [`Store::revisions`]: its own writes are
//! published at once (`write` calls [`SqliteStore::publish`]); other
//! processes' writes on the same file are found by a poll every [`POLL`].

use super::*;

/// How often the revision is read for writes by other processes on the
/// same file (this process's own are seen at once).
pub(super) const POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl SqliteStore {
    /// Read the revision again and tell listeners when it moved.
    pub(super) fn publish(
        sender: &tokio::sync::watch::Sender<u64>,
        conn: &Connection,
    ) -> Result<()> {
        let now = read_revision(conn)?;
        sender.send_if_modified(|seen| {
            let moved = now > *seen;
            if moved {
                *seen = now;
            }
            moved
        });
        Ok(())
    }

    /// Poll the file for other writers' changes while anyone listens and
    /// the store lives.
    pub(super) fn start_polling(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let sender = Arc::downgrade(&self.revision);
        let (path, idle) = (self.path.clone(), Arc::downgrade(&self.idle));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                let (Some(sender), Some(idle)) = (sender.upgrade(), idle.upgrade()) else {
                    return;
                };
                let path = path.clone();
                let polled = tokio::task::spawn_blocking(move || -> Result<()> {
                    let pooled = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
                    let conn = match pooled {
                        Some(conn) => conn,
                        None => open_connection(&path)?,
                    };
                    let out = SqliteStore::publish(&sender, &conn);
                    let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
                    if idle.len() < IDLE_CONNECTIONS {
                        idle.push(conn);
                    }
                    out
                })
                .await;
                if let Ok(Err(err)) = polled {
                    tracing::warn!(error = %weft_model::error::chain(&err), "read the control plane store's revision");
                }
            }
        });
    }
}

pub(super) fn read_revision(conn: &Connection) -> Result<u64> {
    let text: String =
        conn.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
            r.get(0)
        })?;
    text.parse().map_err(|_| corrupt("revision", text))
}
