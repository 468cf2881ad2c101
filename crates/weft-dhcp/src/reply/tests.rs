use super::*;
use crate::lease::StaticRoute;

const VM: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
const OTHER: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 42, 1, 1);

fn lease() -> Lease {
    let address = "10.42.1.2/32".parse().unwrap();
    Lease {
        mac: VM,
        address,
        router: SERVER,
        dns_servers: vec![SERVER],
        domain: "mesh.local".into(),
        mtu: 1420,
        routes: Lease::routes_for(address, SERVER, "10.42.0.0/16".parse().unwrap(), true),
        host_name: None,
    }
}

fn request(kind: MessageType, mac: [u8; 6]) -> Message {
    Message::request(kind, 42, mac)
}

#[test]
fn discover_gets_an_offer_and_request_an_ack() {
    let offer = answer(&request(MessageType::Discover, VM), &[lease()], SERVER).unwrap();
    assert_eq!(offer.op, OP_REPLY);
    assert_eq!(offer.xid, 42);
    assert_eq!(offer.message_type(), Ok(MessageType::Offer));
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 42, 1, 2));
    assert_eq!(offer.address_option(opt::SERVER_ID), Some(SERVER));
    assert_eq!(offer.address_option(opt::ROUTER), Some(SERVER));
    assert!(offer.options.contains_key(&opt::CLASSLESS_ROUTES));
    // The offer survives the wire.
    assert_eq!(Message::decode(&offer.encode()).unwrap(), offer);

    let mut req = request(MessageType::Request, VM);
    req.options
        .insert(opt::REQUESTED_ADDRESS, vec![10, 42, 1, 2]);
    req.options.insert(opt::SERVER_ID, SERVER.octets().to_vec());
    let ack = answer(&req, &[lease()], SERVER).unwrap();
    assert_eq!(ack.message_type(), Ok(MessageType::Ack));
    assert_eq!(ack.yiaddr, Ipv4Addr::new(10, 42, 1, 2));
    assert_eq!(ack.options[&opt::INTERFACE_MTU], 1420u16.to_be_bytes());

    // Renewing: the address in ciaddr, no option 50.
    let mut renew = request(MessageType::Request, VM);
    renew.ciaddr = Ipv4Addr::new(10, 42, 1, 2);
    let ack = answer(&renew, &[lease()], SERVER).unwrap();
    assert_eq!(ack.message_type(), Ok(MessageType::Ack));
    assert_eq!(ack.ciaddr, renew.ciaddr);
}

#[test]
fn a_foreign_mac_is_never_answered() {
    for kind in [
        MessageType::Discover,
        MessageType::Request,
        MessageType::Inform,
    ] {
        assert_eq!(answer(&request(kind, OTHER), &[lease()], SERVER), None);
        assert_eq!(answer(&request(kind, VM), &[], SERVER), None);
    }
}

#[test]
fn a_wrong_address_is_refused_and_other_servers_are_left_alone() {
    let mut req = request(MessageType::Request, VM);
    req.options
        .insert(opt::REQUESTED_ADDRESS, vec![10, 42, 1, 99]);
    let nak = answer(&req, &[lease()], SERVER).unwrap();
    assert_eq!(nak.message_type(), Ok(MessageType::Nak));
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert!(!nak.options.contains_key(&opt::SUBNET_MASK));
    req.options.insert(opt::SERVER_ID, vec![192, 0, 2, 1]);
    assert_eq!(answer(&req, &[lease()], SERVER), None);
}

#[test]
fn releases_replies_and_non_requests_get_silence() {
    for kind in [
        MessageType::Release,
        MessageType::Decline,
        MessageType::Offer,
        MessageType::Ack,
        MessageType::Nak,
    ] {
        assert_eq!(
            answer(&request(kind, VM), &[lease()], SERVER),
            None,
            "{kind:?}"
        );
    }
    let mut reply = request(MessageType::Discover, VM);
    reply.op = OP_REPLY;
    assert_eq!(answer(&reply, &[lease()], SERVER), None);
}

#[test]
fn inform_gets_options_without_a_lease() {
    let mut inform = request(MessageType::Inform, VM);
    inform.ciaddr = Ipv4Addr::new(10, 42, 1, 2);
    let ack = answer(&inform, &[lease()], SERVER).unwrap();
    assert_eq!(ack.message_type(), Ok(MessageType::Ack));
    assert_eq!(ack.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert!(!ack.options.contains_key(&opt::LEASE_TIME));
    assert!(ack.options.contains_key(&opt::DNS_SERVERS));
}

#[test]
fn the_right_lease_of_several_answers() {
    let mut second = lease();
    second.mac = OTHER;
    second.address = "10.42.1.3/32".parse().unwrap();
    second.routes = vec![StaticRoute {
        destination: "10.42.0.0/16".parse().unwrap(),
        router: SERVER,
    }];
    let offer = answer(
        &request(MessageType::Discover, OTHER),
        &[lease(), second],
        SERVER,
    )
    .unwrap();
    assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 42, 1, 3));
    assert!(!offer.options.contains_key(&opt::ROUTER));
}
