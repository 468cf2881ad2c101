//! Names from outside sources: checked, kept in the store, given to the
//! data plane, and given again after a restart.

use super::*;
use crate::dataplane::{Dataplane as _, Records};
use crate::dns_names::NamesSpec;

fn set_names(
    a: &mut Agent<FakeDataplane>,
    network: &str,
    source: &str,
    records: Records,
) -> Result<()> {
    a.set_names(NamesSpec::new(network.into(), source.into(), records)?)
}

fn records(pairs: &[(&str, &str)]) -> Records {
    let mut out = Records::new();
    for (name, ip) in pairs {
        out.entry(name.to_string())
            .or_default()
            .push(ip.parse().unwrap());
    }
    out
}

#[test]
fn names_of_a_source_are_kept_and_published() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    set_names(&mut a, "blue", "mesh", records(&[("Db", "10.42.2.7")])).unwrap();
    let want = records(&[("db", "10.42.2.7")]);
    assert_eq!(a.get_names("blue", "mesh").unwrap(), want, "lowercased");
    assert_eq!(
        a.dataplane().lock().records[&("blue".to_string(), "mesh".to_string())],
        want
    );
    // Replacing a source's names drops the old ones.
    set_names(&mut a, "blue", "mesh", records(&[("web", "10.42.2.8")])).unwrap();
    assert_eq!(
        a.get_names("blue", "mesh").unwrap(),
        records(&[("web", "10.42.2.8")])
    );
    // A restart: the data plane forgot; the reconcile gives them again.
    a.dataplane().lock().records.clear();
    a.reconcile().unwrap();
    assert_eq!(
        a.dataplane().lock().records[&("blue".to_string(), "mesh".to_string())],
        records(&[("web", "10.42.2.8")])
    );
    assert!(a.get_names("blue", "other").unwrap().is_empty());
}

#[test]
fn reserved_sources_and_bad_names_are_refused() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    for (network, source, names, want) in [
        ("blue", "local", records(&[]), "source"),
        ("blue", "peer:abc", records(&[]), "source"),
        ("blue", "", records(&[]), "source"),
        ("blue", "a b", records(&[]), "source"),
        (
            "blue",
            "mesh",
            records(&[("a.b", "10.42.2.7")]),
            "workload name",
        ),
        (
            "nope",
            "mesh",
            records(&[]),
            "network \"nope\" does not exist",
        ),
    ] {
        let err = set_names(&mut a, network, source, names)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
    assert!(a.get_names("blue", "mesh").unwrap().is_empty());
    assert!(a.get_names("nope", "mesh").is_err());
}

fn attach_named(
    a: &mut Agent<FakeDataplane>,
    network: &str,
    id: &str,
    name: &str,
) -> Result<AttachmentView> {
    a.attach_pb(pb::AttachRequest {
        name: name.into(),
        ..attach_req(network, id)
    })
}

#[test]
fn a_workload_name_taken_on_the_network_is_refused() {
    let mut a = agent().with_host_name("h1").unwrap();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    attach_named(&mut a, "blue", "c1", "web").unwrap();
    let before = snapshot(&a);

    // Another workload with the same name (any case): refused, naming the
    // workload that has it; nothing attached.
    let err = attach_named(&mut a, "blue", "c2", "WEB").unwrap_err();
    assert!(matches!(&err, AgentError::Exists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "name \"web\" is already taken on network \"blue\" by workload \"c1\""
    );
    // This host's own name.
    let err = attach_named(&mut a, "blue", "c2", "h1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "name \"h1\" is already taken on network \"blue\" by this host (--host-name)"
    );
    assert_eq!(snapshot(&a), before);

    // A peer's host: the name its records give its own address.
    let key = PrivateKey::generate().public_key();
    a.add_peer_pb(peer_req(&key.to_base64(), "10.42.2.0/24"))
        .unwrap();
    let source = crate::dataplane::peer_source(&key);
    a.dataplane()
        .set_records(
            "blue",
            &source,
            records(&[("h2", "10.42.2.1"), ("db", "10.42.2.5")]),
        )
        .unwrap();
    let err = attach_named(&mut a, "blue", "c2", "h2").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("name \"h2\" is already taken on network \"blue\" by the host of peer {key}")
    );
    assert_eq!(snapshot(&a), before);
    // A peer's workload is not a host: a workload may move between hosts.
    attach_named(&mut a, "blue", "c2", "db").unwrap();

    // Names are per network; the same workload takes the same name on
    // another network, and a detached workload's name is free again.
    attach_named(&mut a, "red", "c1", "web").unwrap();
    a.detach("blue", "c1").unwrap();
    attach_named(&mut a, "blue", "c3", "web").unwrap();
    // So DNS has one owner per name.
    let local = a.dataplane().lock().records[&("blue".to_string(), "local".to_string())].clone();
    assert_eq!(
        local,
        records(&[
            ("h1", "10.42.1.1"),
            ("db", "10.42.1.3"),
            ("web", "10.42.1.2")
        ])
    );
}
