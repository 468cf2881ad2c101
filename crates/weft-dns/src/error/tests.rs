use super::*;

#[test]
fn socket_errors_say_what_and_keep_the_os_error_as_source() {
    let err = DnsError::socket(
        "bind udp",
        "127.0.0.1:53".parse().unwrap(),
        io::Error::new(io::ErrorKind::AddrInUse, "port taken"),
    );
    assert_eq!(err.to_string(), "bind udp 127.0.0.1:53");
    let source = std::error::Error::source(&err).expect("source kept");
    assert_eq!(source.to_string(), "port taken");
}
