use super::*;

#[test]
fn fingerprints_parse_in_both_forms_and_print_back() {
    let hex = "ab".repeat(32);
    let a = Fingerprint::parse(&format!("SHA256:{hex}")).unwrap();
    let colons: Vec<String> = (0..32).map(|_| "AB".to_string()).collect();
    let b = Fingerprint::parse(&format!("sha256:{}", colons.join(":"))).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), format!("SHA256:{hex}"));
    for bad in [
        "",
        "SHA256:",
        "MD5:00",
        "SHA256:zz",
        &format!("SHA256:{}", "a".repeat(63)),
    ] {
        let err = Fingerprint::parse(bad).unwrap_err().to_string();
        assert!(err.starts_with("invalid CA fingerprint"), "{err}");
    }
}
