use super::*;

#[test]
fn saved_identities_load_back_0600_and_open_keys_are_refused() {
    let state = tempfile::tempdir().unwrap();
    assert!(Identity::load(state.path()).unwrap().is_none());
    let id = Identity {
        host_id: "0123456789abcdef".into(),
        cert_pem: "CERT".into(),
        key_pem: "KEY".into(),
        ca_pem: "CA".into(),
    };
    id.save(state.path()).unwrap();
    let back = Identity::load(state.path()).unwrap().unwrap();
    assert_eq!(
        (back.host_id, back.cert_pem, back.key_pem),
        (id.host_id.clone(), id.cert_pem.clone(), id.key_pem.clone())
    );
    for file in ["host.key", "host.pem", "host_id", "ca.pem"] {
        let mode = std::fs::metadata(dir(state.path()).join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    assert!(!format!("{id:?}").contains("KEY"));
    assert!(load_replicas(state.path()).is_empty());
    let replicas = vec!["cp1:50051".to_string(), "[2001:db8::1]:50051".to_string()];
    save_replicas(state.path(), &replicas).unwrap();
    assert_eq!(load_replicas(state.path()), replicas);
    let key = dir(state.path()).join("host.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = Identity::load(state.path()).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");
}
