//! weft-net's own helpers for the privileged tests (the root check, waiting
//! and ping come from weft-testkit). Each test makes its own anonymous
//! namespaces, so nothing outside them is touched and everything disappears
//! when the handles drop.

#![allow(dead_code)] // each test binary uses a different subset

use weft_net::{Link, Netlink, Netns};

/// A fresh namespace and a netlink handle inside it.
pub fn lab() -> (Netns, Netlink) {
    let ns = Netns::new_anonymous().expect("create anonymous netns");
    let nl = Netlink::in_netns(&ns).expect("netlink in anonymous netns");
    (ns, nl)
}

pub fn link(nl: &mut Netlink, name: &str) -> Link {
    nl.link_by_name(name)
        .expect("look up link")
        .unwrap_or_else(|| panic!("link {name} missing"))
}

/// A link that is up with carrier, for tests that need somewhere to put
/// addresses and routes: one end of a veth pair (peer `<name>p`, also up).
/// Not a dummy: this machine's kernel has no dummy driver.
pub fn up_link(nl: &mut Netlink, name: &str) -> Link {
    let peer = format!("{name}p");
    nl.create_veth(name, &peer, None).expect("create veth");
    for end in [name, peer.as_str()] {
        let index = link(nl, end).index;
        nl.set_up(index).expect("set veth up");
    }
    link(nl, name)
}
