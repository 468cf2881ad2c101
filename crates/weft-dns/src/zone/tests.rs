use std::str::FromStr;

use super::*;

fn records(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<IpAddr>> {
    pairs
        .iter()
        .map(|(name, addr)| ((*name).to_owned(), vec![ip(addr)]))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn lower(s: &str) -> LowerName {
    LowerName::from_str(s).unwrap()
}

#[test]
fn clients_see_the_zones_of_their_other_networks() {
    let blue = Zone::new("mesh.local").unwrap();
    let red = Zone::new("mesh.local").unwrap();
    let other = Zone::new("other.example").unwrap();
    red.upsert("local", "c", vec![ip("10.43.1.5")]).unwrap();
    other.upsert("local", "c", vec![ip("10.9.9.9")]).unwrap();
    blue.upsert("local", "b", vec![ip("10.42.1.2")]).unwrap();
    let (red2, other2) = (red.clone(), other.clone());
    blue.link_clients(Arc::new(move |client| {
        if client == ip("10.42.1.2") {
            vec![other2.clone(), red2.clone()]
        } else {
            vec![]
        }
    }));
    let c = lower("c.mesh.local.");
    assert_eq!(
        blue.answer_for(ip("10.42.1.2"), &c, RecordType::A),
        ZoneAnswer::Known(vec![ip("10.43.1.5")])
    );
    assert_eq!(
        blue.answer_for(ip("10.42.1.9"), &c, RecordType::A),
        ZoneAnswer::Unknown,
        "only clients on red"
    );
    assert_eq!(blue.answer(&c, RecordType::A), ZoneAnswer::Unknown);
    assert_eq!(
        blue.answer_for(ip("10.42.1.2"), &lower("b.mesh.local."), RecordType::A),
        ZoneAnswer::Known(vec![ip("10.42.1.2")])
    );
}

#[test]
fn lookup_is_case_insensitive_and_accepts_labels_and_full_names() {
    let zone = Zone::new("Mesh.Local.").unwrap();
    assert_eq!(zone.domain(), "mesh.local");
    zone.upsert("local", "Web-1", vec![ip("10.42.1.2")])
        .unwrap();
    for name in ["web-1", "WEB-1", "web-1.mesh.local", "Web-1.MESH.local."] {
        assert_eq!(zone.lookup(name), Some(vec![ip("10.42.1.2")]), "{name}");
    }
    assert_eq!(zone.lookup("web-2"), None);
    assert_eq!(zone.lookup("web-1.other.local"), None);
    assert_eq!(zone.lookup("x.web-1.mesh.local"), None);
}

#[test]
fn answers_by_position_in_the_domain() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.upsert("local", "db", vec![ip("fd42::2"), ip("10.42.1.3")])
        .unwrap();
    assert_eq!(
        zone.answer(&lower("example.com."), RecordType::A),
        ZoneAnswer::Outside
    );
    assert_eq!(
        zone.answer(&lower("mesh.example."), RecordType::A),
        ZoneAnswer::Outside
    );
    assert_eq!(zone.answer(&lower("."), RecordType::A), ZoneAnswer::Outside);
    assert_eq!(
        zone.answer(&lower("MESH.local."), RecordType::A),
        ZoneAnswer::Apex
    );
    assert_eq!(
        zone.answer(&lower("DB.mesh.local."), RecordType::A),
        ZoneAnswer::Known(vec![ip("10.42.1.3"), ip("fd42::2")])
    );
    assert_eq!(
        zone.answer(&lower("nope.mesh.local."), RecordType::A),
        ZoneAnswer::Unknown
    );
    assert_eq!(
        zone.answer(&lower("a.db.mesh.local."), RecordType::A),
        ZoneAnswer::Unknown
    );
}

#[test]
fn bare_single_labels_are_names_of_the_zone() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.upsert("local", "web", vec![ip("10.42.1.5")]).unwrap();
    assert_eq!(
        zone.answer(&lower("WEB."), RecordType::A),
        ZoneAnswer::Known(vec![ip("10.42.1.5")])
    );
    assert_eq!(
        zone.answer(&lower("nope."), RecordType::A),
        ZoneAnswer::Unknown
    );
    // Address queries for unknown bare labels are ours (NXDOMAIN), the
    // way dnsmasq's domain-needed keeps them from upstream...
    for qtype in [RecordType::A, RecordType::AAAA, RecordType::ANY] {
        assert_eq!(zone.answer(&lower("com."), qtype), ZoneAnswer::Unknown);
    }
    // ...other types are someone else's: a TLD's DS, NS or SOA.
    for qtype in [
        RecordType::DS,
        RecordType::NS,
        RecordType::SOA,
        RecordType::TXT,
    ] {
        assert_eq!(zone.answer(&lower("com."), qtype), ZoneAnswer::Outside);
    }
    // A bare label the zone has is answered here whatever the type (no
    // data for the types it has nothing of).
    assert_eq!(
        zone.answer(&lower("web."), RecordType::TXT),
        ZoneAnswer::Known(vec![ip("10.42.1.5")])
    );
    // Names below the domain stay ours for every type.
    assert_eq!(
        zone.answer(&lower("nope.mesh.local."), RecordType::DS),
        ZoneAnswer::Unknown
    );
    // A single-label domain: its own name is still the apex.
    let lan = Zone::new("lan").unwrap();
    lan.upsert("local", "web", vec![ip("10.42.1.5")]).unwrap();
    assert_eq!(lan.answer(&lower("lan."), RecordType::A), ZoneAnswer::Apex);
    assert_eq!(
        lan.answer(&lower("web."), RecordType::A),
        ZoneAnswer::Known(vec![ip("10.42.1.5")])
    );
    assert_eq!(
        lan.answer(&lower("web.example."), RecordType::A),
        ZoneAnswer::Outside
    );
    // A client on two networks finds the other's bare names as well.
    let red = Zone::new("mesh.local").unwrap();
    red.upsert("local", "db", vec![ip("10.43.1.7")]).unwrap();
    zone.link_clients(Arc::new(move |_| vec![red.clone()]));
    assert_eq!(
        zone.answer_for(ip("10.42.1.5"), &lower("db."), RecordType::A),
        ZoneAnswer::Known(vec![ip("10.43.1.7")])
    );
    assert_eq!(
        zone.answer_for(ip("10.42.1.5"), &lower("db."), RecordType::NS),
        ZoneAnswer::Known(vec![ip("10.43.1.7")])
    );
    assert_eq!(
        zone.answer_for(ip("10.42.1.5"), &lower("org."), RecordType::NS),
        ZoneAnswer::Outside
    );
}

#[test]
fn a_source_replaces_only_its_own_records() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.upsert("local", "c1", vec![ip("10.42.1.2")]).unwrap();
    zone.set_source(
        "peer:h2",
        BTreeMap::from([
            ("c2".to_string(), vec![ip("10.42.2.2")]),
            ("h2".to_string(), vec![ip("10.42.2.1")]),
        ]),
    )
    .unwrap();
    // The same workload reported by the control plane too: one address.
    zone.upsert("control", "c2", vec![ip("10.42.2.2")]).unwrap();
    assert_eq!(zone.lookup("c2"), Some(vec![ip("10.42.2.2")]));

    // h2 now has only c3: c2 stays (the control plane still has it), h2
    // is gone, the local source is untouched.
    zone.set_source(
        "peer:h2",
        BTreeMap::from([("c3".to_string(), vec![ip("10.42.2.3")])]),
    )
    .unwrap();
    assert_eq!(zone.lookup("c1"), Some(vec![ip("10.42.1.2")]));
    assert_eq!(zone.lookup("c2"), Some(vec![ip("10.42.2.2")]));
    assert_eq!(zone.lookup("c3"), Some(vec![ip("10.42.2.3")]));
    assert_eq!(zone.lookup("h2"), None);

    zone.remove("control", "c2");
    assert_eq!(zone.lookup("c2"), None);
    zone.remove_source("peer:h2");
    assert_eq!(zone.lookup("c3"), None);
    assert_eq!(zone.lookup("c1"), Some(vec![ip("10.42.1.2")]));
}

#[test]
fn two_sources_with_different_addresses_give_the_union() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.upsert("a", "svc", vec![ip("10.42.1.9")]).unwrap();
    zone.upsert("b", "svc", vec![ip("10.42.2.9"), ip("10.42.1.9")])
        .unwrap();
    assert_eq!(
        zone.lookup("svc"),
        Some(vec![ip("10.42.1.9"), ip("10.42.2.9")])
    );
    assert_eq!(
        zone.snapshot()["svc"],
        vec![ip("10.42.1.9"), ip("10.42.2.9")]
    );
}

#[test]
fn the_authoritative_sources_names_are_answered_from_it_alone() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.set_authoritative("local");
    zone.set_source(
        "local",
        records(&[("web", "10.42.1.2"), ("h1", "10.42.1.1")]),
    )
    .unwrap();
    // A peer host that joined later calls itself `web`.
    zone.set_source(
        "peer:k2",
        records(&[("web", "10.42.2.1"), ("db", "10.42.2.5")]),
    )
    .unwrap();
    assert_eq!(zone.lookup("web"), Some(vec![ip("10.42.1.2")]));
    assert_eq!(zone.snapshot()["web"], vec![ip("10.42.1.2")]);
    // Names only others give are theirs; shared ones are still unions.
    assert_eq!(zone.lookup("db"), Some(vec![ip("10.42.2.5")]));
    zone.upsert("mesh", "db", vec![ip("10.42.3.5")]).unwrap();
    assert_eq!(
        zone.lookup("db"),
        Some(vec![ip("10.42.2.5"), ip("10.42.3.5")])
    );
    // Clashes are found for the names touched, once each.
    let labels = ["web".to_owned(), "db".to_owned(), "h1".to_owned()];
    assert_eq!(
        zone.clashes(&zone.read(), &labels),
        [("web".to_owned(), "peer:k2".to_owned())]
    );
    // When this host lets the name go, the peer's answer stands.
    zone.upsert("local", "web", vec![]).unwrap();
    assert_eq!(zone.lookup("web"), Some(vec![ip("10.42.2.1")]));
    assert!(zone.clashes(&zone.read(), &labels).is_empty());
}

#[test]
fn empty_address_lists_remove_and_bad_names_change_nothing() {
    let zone = Zone::new("mesh.local").unwrap();
    zone.upsert("local", "c1", vec![ip("10.42.1.2")]).unwrap();
    let serial = zone.serial();
    zone.upsert("local", "c1", vec![]).unwrap();
    assert_eq!(zone.lookup("c1"), None);
    assert!(zone.serial() > serial);

    zone.upsert("local", "c1", vec![ip("10.42.1.2")]).unwrap();
    for bad in ["", "a.b", "has space", "ünï", &"x".repeat(64)] {
        assert!(
            zone.upsert("local", bad, vec![ip("10.42.1.3")]).is_err(),
            "{bad:?}"
        );
        let records = BTreeMap::from([
            ("ok".to_string(), vec![ip("10.42.1.4")]),
            (bad.to_string(), vec![ip("10.42.1.3")]),
        ]);
        let err = zone.set_source("local", records).unwrap_err();
        assert!(err.to_string().starts_with("record name"), "{err}");
    }
    assert_eq!(zone.lookup("c1"), Some(vec![ip("10.42.1.2")]));
    assert_eq!(zone.lookup("ok"), None);
}

#[test]
fn bad_domains_are_refused() {
    for bad in ["", ".", "a..b", "bad domain", "x/y"] {
        assert!(Zone::new(bad).is_err(), "{bad:?}");
    }
    assert!(Zone::new("weft.internal").is_ok());
}
