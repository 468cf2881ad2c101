use super::*;

#[test]
fn weft_secrets_keep_only_their_id() {
    let token = format!("wet_0123456789ab_{}", "f".repeat(64));
    let text = format!("enroll with {token}, then go");
    assert_eq!(redact(&text), "enroll with wet_0123456789ab_…, then go");
    // Not a secret's shape: left alone.
    assert_eq!(redact("wak_ and wet_x"), "wak_ and wet_x");
}

#[test]
fn pem_blocks_are_cut_whole_or_cut_short() {
    let text =
        "key: -----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n done";
    assert_eq!(redact(text), "key: [pem]\n done");
    let short = "got -----BEGIN CERTIFICATE REQUEST-----\nMIIB";
    assert_eq!(redact(short), "got [pem]");
}

#[test]
fn keys_in_base64_or_hex_are_cut_whatever_their_field() {
    let key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    assert_eq!(redact(&format!("peer {key} added")), "peer [base64] added");
    let hex = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a";
    assert_eq!(redact(&format!("private_key={hex}")), "private_key=[hex]");
    // Ids, names, addresses and words stay.
    let plain = "host 0123456789abcdef joined blue 10.42.0.0/24 at fe80::1 (weft_agent::control)";
    assert_eq!(redact(plain), plain);
    assert_eq!(
        redact("the_quick_brown_fox_jumps_over_the_lazy_dog_again"),
        "the_quick_brown_fox_jumps_over_the_lazy_dog_again"
    );
}

#[test]
fn secret_fields_are_known_by_name() {
    for name in ["private_key", "enroll_token", "PSK", "secret", "password"] {
        assert!(is_secret_field(name), "{name}");
    }
    for name in ["host_id", "public_key_count", "network", "error"] {
        assert!(!is_secret_field(name), "{name}");
    }
}
