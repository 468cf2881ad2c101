//! `cargo +nightly fuzz run request` (from crates/weft-dhcp): arbitrary
//! bytes as a guest's datagram, through the decoder and the answer, as the
//! responder takes them. Never a panic; never an answer to a MAC without a
//! lease; an answer always encodes and decodes back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use weft_dhcp::{Lease, Message, answer};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = Message::decode(data) else {
        return;
    };
    let router = Ipv4Addr::new(10, 42, 1, 1);
    let address = "10.42.1.2/32".parse().unwrap();
    let lease = Lease {
        mac: [0x02, 0, 0, 0, 0, 1],
        address,
        router,
        dns_servers: vec![router],
        domain: "mesh.local".into(),
        mtu: 1420,
        routes: Lease::routes_for(address, router, "10.42.0.0/16".parse().unwrap(), true),
        host_name: None,
    };
    if let Some(reply) = answer(&request, std::slice::from_ref(&lease), router) {
        assert_eq!(reply.chaddr, lease.mac);
        assert_eq!(Message::decode(&reply.encode()).unwrap(), reply);
    }
});
