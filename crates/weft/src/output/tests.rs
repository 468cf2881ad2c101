use super::*;

#[test]
fn sizes_and_ages() {
    assert_eq!(bytes(10), "10 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    assert_eq!(age(0, 100), "never");
    assert_eq!(age(95, 100), "5s ago");
    assert_eq!(age(1000 - 182, 1000), "3m 2s ago");
    assert_eq!(age(10000 - 7300, 10000), "2h 1m ago");
}

#[test]
fn error_chains_print_each_cause_once_in_order() {
    let err = anyhow::anyhow!("inner problem")
        .context("outer")
        .context("top");
    assert_eq!(one_line(&err), "top: outer: inner problem");
    let multi_line = anyhow::anyhow!("first\nsecond").context("read x");
    assert_eq!(one_line(&multi_line), "read x: first second");
}

/// A chain as a user sees it: context of the binary, a library error
/// that says what it was doing, the OS error as its source.
#[test]
fn a_library_chain_reads_once() {
    #[derive(Debug)]
    struct Bind {
        port: u16,
        ifname: String,
        source: std::io::Error,
    }
    impl std::fmt::Display for Bind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "bind UDP port {} for {}", self.port, self.ifname)
        }
    }
    impl std::error::Error for Bind {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }
    let err = anyhow::Error::new(Bind {
        port: 51820,
        ifname: "wg0".into(),
        source: std::io::Error::from_raw_os_error(libc::EADDRINUSE),
    })
    .context("create network blue");
    assert_eq!(
        one_line(&err),
        "create network blue: bind UDP port 51820 for wg0: Address already in use (os error 98)"
    );
}

/// The library errors the CLI prints follow the rule: the message does
/// not contain the source's text.
#[test]
fn library_errors_do_not_repeat_their_source() {
    let wg = weft_wg::WgError::Tun {
        ifname: "wg0".into(),
        source: std::io::Error::from_raw_os_error(libc::EBUSY),
    };
    let err = anyhow::Error::new(wg);
    assert_eq!(
        one_line(&err),
        "create TUN wg0: Device or resource busy (os error 16)"
    );
}
