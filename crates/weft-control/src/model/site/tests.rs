use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_site_takes_a_label_name_and_tidy_labels() {
    let spec = SiteSpec::new(
        "edge-1",
        labels(&[("region", "eu-west"), ("k8s.io/zone", "a")]),
    );
    assert_eq!(spec.unwrap().labels.len(), 2);
}

#[test]
fn site_errors_name_their_field() {
    let long = "v".repeat(64);
    let many: Vec<(String, String)> = (0..=MAX_LABELS)
        .map(|i| (format!("k{i}"), String::new()))
        .collect();
    let many: BTreeMap<String, String> = many.into_iter().collect();
    let cases = [
        ("Edge", BTreeMap::new(), "site"),
        ("", BTreeMap::new(), "site"),
        ("edge", labels(&[("a b", "x")]), "labels"),
        ("edge", labels(&[("", "x")]), "labels"),
        ("edge", labels(&[("k", &long)]), "labels"),
        ("edge", labels(&[("k", "a\nb")]), "labels"),
        ("edge", many, "labels"),
    ];
    for (name, labels, field) in cases {
        let err = SiteSpec::new(name, labels).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("invalid {field}")),
            "{field}: {err}"
        );
    }
}
