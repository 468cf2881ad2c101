use super::*;

#[test]
fn enrollment_rates_are_rate_slash_burst() {
    assert_eq!(parse_rate("5/20"), Ok((5.0, 20)));
    assert_eq!(parse_rate("0.5/1"), Ok((0.5, 1)));
    for bad in ["", "5", "5/", "/20", "x/20", "5/x", "5/-1"] {
        let err = parse_rate(bad).unwrap_err();
        assert!(err.contains("RATE/BURST"), "{bad}: {err}");
    }
    for bad in ["0/20", "5/0", "-1/20", "inf/20", "NaN/3"] {
        let err = parse_rate(bad).unwrap_err();
        assert!(err.contains("positive"), "{bad}: {err}");
    }
}

#[test]
fn advertised_replicas_are_host_and_port() {
    for good in ["cp1.example:50051", "192.0.2.10:1", "[2001:db8::1]:50051"] {
        assert_eq!(host_port(good).as_deref(), Ok(good));
    }
    for bad in [
        "cp1",
        "cp1:",
        ":50051",
        "cp1:0",
        "cp1:70000",
        "2001:db8::1:50051",
        "[nope]:1",
        "https://cp1:1",
    ] {
        let err = host_port(bad).unwrap_err();
        assert!(err.contains("HOST:PORT"), "{bad}: {err}");
    }
}
