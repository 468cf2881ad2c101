use super::*;

fn args(url: Option<&str>, key: Option<&str>) -> ApiArgs {
    ApiArgs {
        url: url.map(str::to_string),
        key: key.map(str::to_string),
        ca: Some(PathBuf::from(SYSTEM_CAS)),
    }
}

fn error(args: &ApiArgs) -> String {
    match ApiClient::new(args) {
        Ok(_) => panic!("accepted"),
        Err(err) => format!("{err:#}"),
    }
}

#[test]
fn the_url_and_key_are_asked_for_and_checked_without_echoing_the_key() {
    if !Path::new(SYSTEM_CAS).exists() {
        weft_testkit::skip("no system CA bundle to trust in this test");
        return;
    }
    assert!(error(&args(None, Some("k"))).contains("--api"));
    assert!(error(&args(Some("https://cp:8443"), None)).contains("WEFT_API_KEY"));
    for bad in [
        "http://cp:8443",
        "https://cp",
        "https://cp:x",
        "https://:8443",
        "https://cp:8443/other",
    ] {
        let err = error(&args(Some(bad), Some("wak_secret")));
        assert!(err.contains("--api"), "{bad}: {err}");
        assert!(!err.contains("wak_secret"), "{err}");
    }
    for good in [
        "https://cp:8443",
        "https://cp:8443/",
        "https://cp:8443/v1",
        "https://[::1]:8443",
    ] {
        let client = ApiClient::new(&args(Some(good), Some(" key "))).unwrap();
        assert_eq!(client.port, 8443, "{good}");
        assert_eq!(client.key, "key");
    }
}
