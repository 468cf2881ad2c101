use super::StoreConfig;

#[test]
fn store_configs_parse() {
    assert_eq!(StoreConfig::parse("sqlite").unwrap(), StoreConfig::Sqlite);
    assert_eq!(
        StoreConfig::parse("etcd://10.0.0.1:2379,etcd-2:2379").unwrap(),
        StoreConfig::Etcd {
            endpoints: vec!["http://10.0.0.1:2379".into(), "http://etcd-2:2379".into()],
            prefix: "/weft/v1/".into(),
        }
    );
    assert_eq!(
        StoreConfig::parse("etcd://[::1]:2379/prod/weft/").unwrap(),
        StoreConfig::Etcd {
            endpoints: vec!["http://[::1]:2379".into()],
            prefix: "/prod/weft/".into(),
        }
    );
    for bad in [
        "",
        "mysql://x:1",
        "etcd://",
        "etcd://host",
        "etcd://a:1,,b:2",
        "etcd://a:x",
    ] {
        let err = StoreConfig::parse(bad).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("invalid --store {bad:?}")),
            "{err}"
        );
    }
}
