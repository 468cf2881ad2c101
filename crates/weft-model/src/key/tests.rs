use super::*;

// From the WireGuard documentation's example pair (wg genkey | wg pubkey).
const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

#[test]
fn derives_the_public_key_wg_derives() {
    let key = PrivateKey::from_base64(PRIV).unwrap();
    assert_eq!(key.public_key().to_base64(), PUB);
}

#[test]
fn base64_and_hex_round_trip() {
    let key = PrivateKey::generate();
    assert_eq!(PrivateKey::from_base64(&key.to_base64()).unwrap(), key);
    assert_eq!(PrivateKey::from_hex(&key.to_hex()).unwrap(), key);
    let public = key.public_key();
    assert_eq!(PublicKey::from_hex(&public.to_hex()).unwrap(), public);
}

#[test]
fn generated_keys_are_clamped_and_distinct() {
    let a = PrivateKey::generate();
    let b = PrivateKey::generate();
    assert_ne!(a, b);
    assert_eq!(a.as_bytes()[0] & 7, 0);
    assert_eq!(a.as_bytes()[31] & 0xc0, 0x40);
}

#[test]
fn malformed_keys_are_refused() {
    assert!(matches!(
        PublicKey::from_base64("abc"),
        Err(KeyError::Base64 { .. })
    ));
    assert!(
        PublicKey::from_base64(&"A".repeat(44)).is_err(),
        "44 chars but not 32 bytes"
    );
    assert!(PublicKey::from_hex("zz").is_err());
    assert!(PublicKey::from_hex(&"g".repeat(64)).is_err());
}

#[test]
fn errors_show_no_part_of_the_key() {
    let almost = format!("{PRIV}x");
    let err = PrivateKey::from_base64(&almost).unwrap_err().to_string();
    assert!(!err.contains(&PRIV[..4]), "{err}");
    assert!(err.contains("45 characters"), "{err}");
    let err = PrivateKey::from_hex(&"g".repeat(64))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("gg"), "{err}");
}

#[test]
fn debug_hides_private_keys() {
    let key = PrivateKey::from_base64(PRIV).unwrap();
    assert!(!format!("{key:?}").contains("yAnz"));
}
