//! Running store calls on the pool of connections, on tokio's blocking
//! pool; writes in `BEGIN IMMEDIATE` transactions that publish the new
//! revision once committed.

use super::*;
use rusqlite::{Transaction, TransactionBehavior};

impl SqliteStore {
    /// Run `f` on a connection of the pool, on the blocking pool.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let path = self.path.clone();
        let idle = Arc::clone(&self.idle);
        tokio::task::spawn_blocking(move || {
            let pooled = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&path)?,
            };
            let out = f(&mut conn);
            let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }

    /// Run `f` in a write transaction, committed when it returns `Ok`.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let sender = Arc::clone(&self.revision);
        let _turn = self.writer.lock().await;
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            SqliteStore::publish(&sender, conn)?;
            Ok(out)
        })
        .await
    }
}
