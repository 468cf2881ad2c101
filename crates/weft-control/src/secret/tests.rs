use super::*;

#[test]
fn generated_secrets_parse_back_and_hash_the_same() {
    for kind in [SecretKind::ApiKey, SecretKind::EnrollToken] {
        let s = Secret::generate(kind);
        let back = Secret::parse(kind, s.expose()).unwrap();
        assert_eq!(back, s);
        assert!(s.hash().matches(&back));
        assert_ne!(Secret::generate(kind).expose(), s.expose());
    }
}

#[test]
fn a_secret_of_one_kind_is_not_one_of_the_other() {
    let key = Secret::generate(SecretKind::ApiKey);
    assert!(Secret::parse(SecretKind::EnrollToken, key.expose()).is_err());
}

#[test]
fn malformed_secrets_are_refused_without_echoing_them() {
    let good = Secret::generate(SecretKind::EnrollToken);
    let text = good.expose().to_string();
    let cases = [
        String::new(),
        "wet".into(),
        "wet__".into(),
        text[..text.len() - 1].to_string(),
        format!("{text}0"),
        text.to_uppercase(),
        text.replace('_', "-"),
        format!("x{text}"),
    ];
    for case in cases {
        let err = Secret::parse(SecretKind::EnrollToken, &case).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("malformed enrollment token"), "{shown}");
        assert!(!shown.contains(&text[20..]), "{shown}");
    }
}

#[test]
fn debug_and_display_never_show_the_secret_part() {
    let s = Secret::generate(SecretKind::ApiKey);
    let secret_part = s.expose().rsplit('_').next().unwrap().to_string();
    for shown in [format!("{s:?}"), format!("{s}"), s.redacted()] {
        assert!(shown.contains(s.id()), "{shown}");
        assert!(!shown.contains(&secret_part), "{shown}");
    }
    assert!(!format!("{:?}", s.hash()).contains(&s.hash().to_hex()));
}

#[test]
fn a_different_secret_with_the_same_id_does_not_match() {
    let s = Secret::generate(SecretKind::ApiKey);
    let mut forged = s.expose().to_string();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let forged = Secret::parse(SecretKind::ApiKey, &forged).unwrap();
    assert_eq!(forged.id(), s.id());
    assert!(!s.hash().matches(&forged));
}

#[test]
fn scrub_cuts_secrets_after_their_id() {
    let key = Secret::generate(SecretKind::ApiKey);
    let token = Secret::generate(SecretKind::EnrollToken);
    let text = format!(
        "a {} b \"{}\" wak_x wet_ {}",
        key.expose(),
        token.expose(),
        &key.expose()[..40]
    );
    let scrubbed = scrub(&text);
    assert!(scrubbed.contains(&key.redacted()), "{scrubbed}");
    assert!(
        scrubbed.contains(&format!("\"{}\"", token.redacted())),
        "{scrubbed}"
    );
    assert!(scrubbed.contains(" wak_x wet_ "), "{scrubbed}");
    for s in [&key, &token] {
        assert!(!scrubbed.contains(&s.expose()[18..26]), "{scrubbed}");
    }
    assert_eq!(scrub("nothing here"), "nothing here");
}

#[test]
fn hashes_round_trip_through_hex() {
    let h = Secret::generate(SecretKind::ApiKey).hash();
    assert_eq!(SecretHash::from_hex(&h.to_hex()), Some(h));
    assert_eq!(SecretHash::from_hex("abc"), None);
}
