//! Names from outside sources: checked, kept in the store, given to the
//! data plane, and given again after a restart.

use super::*;
use crate::dataplane::Records;
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
