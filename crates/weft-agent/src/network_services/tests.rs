use super::*;

#[test]
fn a_peer_giving_a_local_name_does_not_make_it_ambiguous() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let services = NetworkServices::new(rt.handle().clone(), vec![]);
    let zone = services.zone("blue", "mesh.local").unwrap();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let one = |name: &str, addr: &str| Records::from([(name.to_owned(), vec![ip(addr)])]);
    services
        .set_records("blue", LOCAL_SOURCE, one("web", "10.42.1.2"))
        .unwrap();
    // A host that joins later and calls itself `web`.
    services
        .set_records("blue", "peer:k2", one("web", "10.42.2.1"))
        .unwrap();
    assert_eq!(zone.lookup("web"), Some(vec![ip("10.42.1.2")]));
}
