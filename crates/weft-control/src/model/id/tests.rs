use super::*;

#[test]
fn ids_are_16_hex_digits() {
    let id = HostId::generate();
    assert_eq!(HostId::parse("host", id.as_str()).unwrap(), id);
    let tenant = TenantId::parse("tenant", id.as_str()).unwrap();
    assert_eq!(tenant.to_string(), id.to_string());
    for bad in [
        "",
        "0123",
        "0123456789abcdeF",
        "../../etc/passwd",
        "0123456789abcdef0",
    ] {
        let err = HostId::parse("host", bad).unwrap_err().to_string();
        assert!(err.contains("host"), "{err}");
        let err = TenantId::parse("tenant", bad).unwrap_err().to_string();
        assert!(err.contains("tenant"), "{err}");
    }
}

#[test]
fn ids_are_bare_text_on_the_wire() {
    let id = TenantId::parse("tenant", "00000000000000aa").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), r#""00000000000000aa""#);
    let id = HostId::parse("host", "00000000000000bb").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), r#""00000000000000bb""#);
}
