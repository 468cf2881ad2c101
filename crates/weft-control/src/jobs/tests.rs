use super::*;
use crate::model::{HostId, NewHost, random_id};
use crate::secret::{Secret, SecretKind};
use crate::store::sqlite::SqliteStore;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

const NOW: i64 = 1_800_000_000;

/// An election the test hands out and takes back.
#[derive(Default)]
struct Handed {
    current: Mutex<Option<watch::Sender<bool>>>,
    granted: tokio::sync::Notify,
}

#[async_trait]
impl Election for Handed {
    async fn lead(&self) -> Result<watch::Receiver<bool>, StoreError> {
        self.granted.notified().await;
        let (tx, rx) = watch::channel(true);
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
        Ok(rx)
    }
}

impl Handed {
    fn take_back(&self) {
        if let Some(tx) = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = tx.send(false);
        }
    }
}

/// A tenant with one dead (single-use, spent) token; how many tokens a
/// redemption of it now finds.
async fn spent_token(store: &dyn Store) -> Secret {
    let t = store
        .create_tenant(
            &format!("t{}", random_id()),
            &Secret::generate(SecretKind::ApiKey),
            NOW,
        )
        .await
        .unwrap()
        .id;
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    let host = NewHost {
        id: HostId::generate(),
        name: "a".into(),
    };
    store.redeem_token(&token, &host, NOW).await.unwrap();
    token
}

fn is_forgotten(err: StoreError) -> bool {
    matches!(
        err,
        StoreError::TokenRefused {
            reason: crate::store::TokenRefusal::Unknown,
            ..
        }
    )
}

#[tokio::test]
async fn jobs_run_only_while_this_replica_leads() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let election = Arc::new(Handed::default());
    let now = Arc::new(AtomicI64::new(NOW + 2 * 86_400));
    let clock: Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::Relaxed))
    };
    let config = JobsConfig {
        every: Duration::from_millis(50),
        ..JobsConfig::default()
    };
    let jobs = tokio::spawn(run(
        Arc::clone(&store),
        Arc::clone(&election) as Arc<dyn Election>,
        clock,
        config,
    ));
    let redeem = |token: Secret| {
        let store = Arc::clone(&store);
        async move {
            let host = NewHost {
                id: HostId::generate(),
                name: "b".into(),
            };
            store.redeem_token(&token, &host, NOW).await.unwrap_err()
        }
    };
    // Not elected: a dead token stays (refused as used up, not unknown).
    let first = spent_token(store.as_ref()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!is_forgotten(redeem(first.clone()).await));
    // Elected: it goes.
    election.granted.notify_one();
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !is_forgotten(redeem(first.clone()).await) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the elected replica did not purge");
    // Leadership lost: a new dead token stays again.
    election.take_back();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = spent_token(store.as_ref()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!is_forgotten(redeem(second).await));
    jobs.abort();
}

#[tokio::test]
async fn alone_always_leads_and_once_respects_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    let alone = Alone::default();
    assert!(*alone.lead().await.unwrap().borrow());
    spent_token(&store).await;
    let config = JobsConfig::default();
    // Within the grace: kept.
    let purged = once(&store, NOW + 60, &config).await.unwrap();
    assert_eq!(purged, Purged::default());
    let purged = once(&store, NOW + config.token_grace + 1, &config)
        .await
        .unwrap();
    assert_eq!(purged.tokens, 1);
}
