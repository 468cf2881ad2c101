mod enroll;

use super::*;

#[test]
fn control_urls_and_trust_are_checked() {
    let fp = format!("SHA256:{}", "00".repeat(32));
    let c = ControlConfig::new("https://cp.example:50051", None, Some(&fp), None).unwrap();
    assert_eq!((c.server_name.as_str(), c.port), ("cp.example", 50051));
    let c = ControlConfig::new("https://[::1]:9/", None, None, None).unwrap();
    assert_eq!((c.server_name.as_str(), c.port), ("::1", 9));
    for bad in [
        "http://x:1",
        "https://x",
        "https://:1",
        "https://x:99999",
        "https://x:1/path",
    ] {
        let err = ControlConfig::new(bad, None, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--control"), "{bad}: {err}");
    }
    let err = ControlConfig::new("https://x:1", None, Some("SHA256:00"), None).unwrap_err();
    assert!(err.to_string().contains("fingerprint"), "{err}");
    let err = ControlConfig::new(
        "https://x:1",
        None,
        None,
        Some(Path::new("/nonexistent/ca.pem")),
    )
    .unwrap_err();
    assert!(err.to_string().contains("--ca-file"), "{err}");
}

#[test]
fn certificates_are_renewed_in_the_last_third_of_their_life() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(1_000_000 + 3000).unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    assert!(!renewal_due(&pem, 1_000_000 + 1999));
    assert!(renewal_due(&pem, 1_000_000 + 2000));
    assert!(renewal_due(&pem, 1_000_000 + 5000));
    assert!(renewal_due("not a certificate", 0));
}

#[test]
fn backoff_doubles_from_2s_to_60s_with_jitter() {
    for (attempt, base) in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 60.0), (40, 60.0)] {
        for _ in 0..20 {
            let wait = backoff(attempt).as_secs_f64();
            assert!(
                wait >= base * 0.8 && wait <= base * 1.2,
                "{attempt}: {wait}"
            );
        }
    }
}

#[tokio::test]
async fn without_a_token_an_unenrolled_host_says_what_to_give() {
    let state = tempfile::tempdir().unwrap();
    let config = ControlConfig::new("https://127.0.0.1:1", None, None, None).unwrap();
    let err = enrolled(&config, state.path(), "h").await.unwrap_err();
    assert!(matches!(err, ControlError::NotEnrolled), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_unreachable_control_plane_is_a_clear_transient_error() {
    let state = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fp = format!("SHA256:{}", "00".repeat(32));
    let url = format!("https://127.0.0.1:{port}");
    let config = ControlConfig::new(&url, Some("wet_x".into()), Some(&fp), None).unwrap();
    let err = enrolled(&config, state.path(), "h").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(chain(&err).contains(&url), "{}", chain(&err));
    assert!(Identity::load(state.path()).unwrap().is_none());
}
