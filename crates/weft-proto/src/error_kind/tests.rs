use super::*;

#[test]
fn kinds_survive_the_wire_form() {
    for kind in ErrorKind::ALL {
        assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        let status = kind.status("boom");
        assert_eq!(status.code(), kind.code());
        assert_eq!(status.message(), "boom");
        // What a client decodes from the response headers.
        let response = status.into_http::<()>();
        let back = Status::from_header_map(response.headers()).unwrap();
        assert_eq!(ErrorKind::of(&back), Some(kind), "{kind}");
    }
    assert_eq!(ErrorKind::of(&Status::unavailable("no agent")), None);
    assert_eq!(ErrorKind::parse("nonsense"), None);
}
