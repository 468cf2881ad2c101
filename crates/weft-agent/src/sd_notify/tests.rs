use super::*;

#[test]
fn readiness_reaches_a_path_socket_and_an_abstract_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let listener = UnixDatagram::bind(&path).unwrap();
    notify(path.as_os_str(), "READY=1").unwrap();
    let mut buf = [0u8; 64];
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");

    use std::os::linux::net::SocketAddrExt as _;
    let name = format!("weft-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let abstract_listener = UnixDatagram::bind_addr(&addr).unwrap();
    notify(OsStr::new(&format!("@{name}")), "READY=1").unwrap();
    let n = abstract_listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    assert!(notify(OsStr::new("/nonexistent/notify"), "READY=1").is_err());
}
