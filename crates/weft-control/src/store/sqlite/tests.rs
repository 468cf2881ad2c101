use super::*;
use crate::model::NewHost;
use crate::secret::SecretKind;
use crate::store::TokenRefusal;
use crate::store::conformance::{Shared, conformance_tests};

fn fresh() -> (Shared, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("control.db")).unwrap();
    (Arc::new(store), dir)
}

conformance_tests!(fresh());

/// The one case that wants two handles on the same state: here two
/// stores on one file (two processes, in effect).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listeners_see_the_revision_move() {
    let (one, dir) = fresh();
    let two: Shared = Arc::new(SqliteStore::open(&dir.path().join("control.db")).unwrap());
    crate::store::conformance::listeners_see_the_revision_move(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_through_two_replicas_number_every_record_once() {
    let (one, dir) = fresh();
    let two: Shared = Arc::new(SqliteStore::open(&dir.path().join("control.db")).unwrap());
    crate::store::conformance::appends_through_two_replicas_number_every_record_once(one, two)
        .await;
}

const NOW: i64 = 1_800_000_000;

/// Two stores on one file (two processes, in effect), each with its own
/// connections, redeeming one token from many threads at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redemptions_racing_through_two_stores_on_one_file_spend_a_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    let one = Arc::new(SqliteStore::open(&path).unwrap());
    let two = Arc::new(SqliteStore::open(&path).unwrap());
    let key = Secret::generate(SecretKind::ApiKey);
    let t = one.create_tenant("acme", &key, NOW).await.unwrap().id;
    for round in 0..5 {
        let token = Secret::generate(SecretKind::EnrollToken);
        one.create_token(&t, &token, NOW + 60, 1, NOW)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let host = NewHost {
                    id: HostId::generate(),
                    name: format!("r{round}-h{i}"),
                };
                store.redeem_token(&token, &host, NOW).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::TokenRefused { reason, .. }) => {
                    assert_eq!(reason, TokenRefusal::UsedUp)
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
    assert_eq!(two.list_hosts(&t).await.unwrap().len(), 5);
}

#[tokio::test]
async fn the_file_holds_hashes_never_keys_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    let store = SqliteStore::open(&path).unwrap();
    let key = Secret::generate(SecretKind::ApiKey);
    let t = store.create_tenant("acme", &key, NOW).await.unwrap().id;
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("control.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [&key, &token] {
        let secret_part = secret.expose().rsplit('_').next().unwrap();
        assert!(!text.contains(secret_part), "{secret:?} stored in clear");
        assert!(text.contains(&secret.hash().to_hex()));
    }
}

#[tokio::test]
async fn state_survives_reopening_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    let store = SqliteStore::open(&path).unwrap();
    let key = Secret::generate(SecretKind::ApiKey);
    let t = store.create_tenant("acme", &key, NOW).await.unwrap().id;
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", true, "x.test", None).unwrap();
    let net = store.create_network(&t, &spec, NOW).await.unwrap();
    let rev = store.revision().await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.list_networks(&t).await.unwrap(), [net]);
    assert_eq!(store.revision().await.unwrap(), rev);
    drop(store);
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().unwrap().to_string();
    assert!(err.contains("schema version"), "{err}");
}

/// A store written by the first schema: its networks keep all their
/// hosts, and agents resuming from before the upgrade get a snapshot
/// (the store kept no changes then).
#[tokio::test]
async fn a_first_schema_store_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::SCHEMA_V1).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('schema', '1'), ('revision', '7');
         INSERT INTO tenants VALUES ('00000000000000aa', 'acme', 0);
         INSERT INTO networks VALUES
             ('00000000000000aa', 'blue', '10.42.0.0/16', 'wireguard', 0, 'mesh.local', 24, 0);",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let t = TenantId::parse("tenant", "00000000000000aa").unwrap();
    assert!(store.network_hosts(&t, "blue").await.unwrap().all);
    assert_eq!(store.changes_since(&t, 5).await.unwrap(), None);
    assert_eq!(
        store.changes_since(&t, 7).await.unwrap(),
        Some(Default::default())
    );
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    let new = NewHost {
        id: HostId::generate(),
        name: "a".into(),
    };
    store.redeem_token(&token, &new, NOW).await.unwrap();
    assert_eq!(
        store.network_hosts(&t, "blue").await.unwrap().blocks.len(),
        1
    );
    assert_eq!(
        store.changes_since(&t, 7).await.unwrap().unwrap().changed,
        ["blue".to_string()].into()
    );
}

/// The database holds the hashes of API keys and tokens: it and its WAL
/// and shared-memory files are the owner's only, also when an older weft
/// left it readable by everyone.
#[tokio::test]
async fn the_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.db");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let store = SqliteStore::open(&path).unwrap();
    let key = Secret::generate(SecretKind::ApiKey);
    store.create_tenant("acme", &key, NOW).await.unwrap();
    for file in ["control.db", "control.db-wal", "control.db-shm"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    drop(store);
    for file in ["control.db", "control.db-wal", "control.db-shm"] {
        let p = dir.path().join(file);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let _again = SqliteStore::open(&path).unwrap();
    for file in ["control.db", "control.db-wal", "control.db-shm"] {
        let p = dir.path().join(file);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{file} after an older weft");
        }
    }
}
