//! The commented example in examples/lab.yaml parses, validates and plans.

use crate::common;

use common::Cluster;
use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_mesh::{Backoff, JoinConfig, MeshFile, Reach, Role, ValidMesh, assign_lab_underlay};

const LAB: &str = include_str!("../../../../examples/lab.yaml");

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_lab_example_parses_validates_and_plans() {
    let mesh = ValidMesh::parse(LAB).unwrap_or_else(|e| panic!("examples/lab.yaml: {e}"));
    assert_eq!(
        (mesh.hosts.len(), mesh.networks.len(), mesh.services.len()),
        (3, 2, 4)
    );
    assert!(mesh.hosts.iter().all(|h| h.reach() == Reach::Lab));

    let pool = "192.0.2.0/24".parse().unwrap();
    let underlay = assign_lab_underlay(&mesh, &BTreeMap::new(), &pool).unwrap();
    assert_eq!(
        underlay.values().copied().collect::<Vec<_>>(),
        [ip("192.0.2.2"), ip("192.0.2.3"), ip("192.0.2.4")],
        "the pool's first address is left for the executor's side"
    );
    let mut cluster = Cluster::default();
    cluster.observed.lab_underlay = underlay;
    let plan = cluster.up(&mesh).plan;

    let h2 = plan.host("h2").unwrap();
    let backend = h2.network("backend").unwrap();
    assert_eq!(
        (
            backend.block.to_string(),
            backend.listen_port,
            backend.role,
            backend.internal
        ),
        ("10.77.1.0/24".to_owned(), 51821, Role::Spoke, true)
    );
    assert_eq!(backend.peers.len(), 1);
    assert_eq!(backend.peers[0].endpoint, "192.0.2.2:51821");
    assert_eq!(h2.network("blue").unwrap().peers.len(), 2);

    // h3 joins its hub h1 on backend: h1's lab address, backend's port.
    let join = JoinConfig::for_spoke(&plan, "h3", "backend", Backoff::default()).unwrap();
    assert_eq!(
        (join.hub.to_string(), join.port, join.probe_address),
        ("192.0.2.2".to_owned(), 51821, ip("10.77.0.1"))
    );
    assert!(JoinConfig::for_spoke(&plan, "h1", "backend", Backoff::default()).is_none());
    assert!(JoinConfig::for_spoke(&plan, "h3", "blue", Backoff::default()).is_none());

    let web = plan.service("web").unwrap();
    assert_eq!(web.addresses[0].address, ip("10.42.0.2"));
    let cache = plan.service("cache").unwrap();
    assert_eq!(
        cache
            .addresses
            .iter()
            .map(|a| a.address)
            .collect::<Vec<_>>(),
        [ip("10.42.1.2"), ip("10.77.1.2")]
    );
    let www = plan.service("www").unwrap();
    assert_eq!(www.addresses[0].address, ip("10.42.2.2"));
    let image = www.container.as_ref().expect("www runs an image");
    assert_eq!(image.image, "localhost/weft-demo:latest");
    assert_eq!(image.env, ["MESSAGE=hello from a container"]);
    let api = plan.service("api").unwrap();
    assert_eq!(
        api.addresses[1].address,
        ip("10.77.2.1"),
        "h3's own address"
    );

    let dns = &plan.network("backend").unwrap().dns;
    let names: Vec<(&str, String)> = dns
        .iter()
        .map(|r| (r.name.as_str(), r.address.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("api.mesh.local", "10.77.2.1".to_owned()),
            ("cache.mesh.local", "10.77.1.2".to_owned()),
            ("h1.mesh.local", "10.77.0.1".to_owned()),
            ("h2.mesh.local", "10.77.1.1".to_owned()),
            ("h3.mesh.local", "10.77.2.1".to_owned()),
        ]
    );
}

#[test]
fn lab_underlay_addresses_are_kept() {
    let mesh = ValidMesh::parse(LAB).unwrap();
    let pool = "192.0.2.0/24".parse().unwrap();
    let existing = BTreeMap::from([("h2".to_owned(), ip("192.0.2.9"))]);
    let got = assign_lab_underlay(&mesh, &existing, &pool).unwrap();
    assert_eq!(got["h2"], ip("192.0.2.9"));
    assert_eq!(got["h1"], ip("192.0.2.2"));
    assert_eq!(got["h3"], ip("192.0.2.3"));
    let tiny = "192.0.2.0/30".parse().unwrap();
    let err = assign_lab_underlay(&mesh, &BTreeMap::new(), &tiny).unwrap_err();
    assert!(
        err.to_string().contains("no free address for host \"h2\""),
        "{err}"
    );
}

#[test]
fn a_lab_host_without_an_underlay_cannot_be_planned() {
    let mesh = ValidMesh::parse(LAB).unwrap();
    let err = weft_mesh::plan(&mesh, &weft_mesh::Observed::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("host \"h1\" has no underlay address"),
        "{err}"
    );
}

/// Cut the example anywhere: reading, validating and planning may refuse
/// the result, but never panic.
#[test]
fn any_truncation_of_the_example_is_refused_or_planned_without_panic() {
    let pool = "192.0.2.0/24".parse().unwrap();
    let mut planned = 0;
    for (cut, _) in LAB.char_indices() {
        let Ok(file) = MeshFile::parse(&LAB[..cut]) else {
            continue;
        };
        let Ok(mesh) = file.validate() else {
            continue;
        };
        let observed = weft_mesh::Observed {
            lab_underlay: assign_lab_underlay(&mesh, &BTreeMap::new(), &pool).unwrap(),
            ..Default::default()
        };
        weft_mesh::plan(&mesh, &observed).unwrap();
        planned += 1;
    }
    assert!(planned > 0, "some cut after the last service is whole");
}
