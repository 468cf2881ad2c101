use super::*;
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
struct FakeLinks {
    links: Mutex<Vec<String>>,
}

impl LinkOps for FakeLinks {
    fn create_wireguard(&self, name: &str) -> io::Result<()> {
        self.links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name.to_owned());
        Ok(())
    }
    fn delete(&self, name: &str) -> io::Result<()> {
        self.links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|l| l != name);
        Ok(())
    }
    fn exists(&self, name: &str) -> bool {
        self.links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|l| l == name)
    }
}

#[test]
fn links_go_through_link_ops() {
    let kernel = Kernel::new(Box::new(FakeLinks::default()));
    assert_eq!(kernel.kind(), BackendKind::Kernel);
    kernel.create("wg0").unwrap();
    assert!(kernel.exists("wg0"));
    assert!(matches!(
        kernel.create("wg0"),
        Err(WgError::AlreadyExists { .. })
    ));
    assert!(matches!(
        kernel.create("bad/name"),
        Err(WgError::InvalidName { .. })
    ));
    kernel.delete("wg0").unwrap();
    kernel.delete("wg0").unwrap();
    assert!(!kernel.exists("wg0"));
}

#[test]
fn without_the_module_netlink_errors_name_the_interface() {
    // This machine (and CI) has no wireguard module: the family lookup fails.
    if Genl::connect("wireguard").is_ok() {
        weft_testkit::skip("the wireguard module is loaded here");
        return;
    }
    let kernel = Kernel::new(Box::new(FakeLinks::default()));
    let err = kernel.get("wg0").unwrap_err();
    assert_eq!(err.to_string(), "get device wg0 over generic netlink");
    assert!(std::error::Error::source(&err).is_some(), "the OS error");
    assert!(kernel.list().is_empty());
}

#[test]
fn resolves_an_existing_family() {
    // nlctrl itself always exists; resolving it exercises the request path.
    let genl = Genl::connect("nlctrl").unwrap();
    assert_eq!(genl.family, netlink_packet_generic::constants::GENL_ID_CTRL);
}
