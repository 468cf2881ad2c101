//! Errors as a client sees them: one line with every cause once, the gRPC
//! code, and the kind in the status's metadata; what exists or conflicts
//! carried as data.

use super::*;
use crate::error::{Conflict, Existing};
use tonic::Code;
use weft_proto::ErrorKind;

fn status(err: AgentError) -> tonic::Status {
    err.into()
}

#[test]
fn the_chain_is_built_once_and_the_kind_travels() {
    let mut a = agent();
    a.dataplane().lock().fail_ensure_network = true;
    let s = status(a.add_network_pb(blue()).unwrap_err());
    assert_eq!(s.code(), Code::Internal);
    assert_eq!(ErrorKind::of(&s), Some(ErrorKind::Internal));
    assert_eq!(s.message(), "ensure network: injected failure");
    a.dataplane().lock().fail_ensure_network = false;
    a.add_network_pb(blue()).unwrap();

    let s = status(
        a.attach_pb(pb::AttachRequest {
            netns: "/run/netns/missing".into(),
            ..attach_req("blue", "c1")
        })
        .unwrap_err(),
    );
    assert_eq!(s.code(), Code::InvalidArgument);
    assert_eq!(ErrorKind::of(&s), Some(ErrorKind::InvalidNetns));
    assert_eq!(
        s.message(),
        "invalid netns \"/run/netns/missing\": no network namespace at this path"
    );
    let s = status(
        a.attach_pb(pb::AttachRequest {
            netns: String::new(),
            ..attach_req("blue", "c1")
        })
        .unwrap_err(),
    );
    assert_eq!(ErrorKind::of(&s), Some(ErrorKind::InvalidNetns));
    assert!(s.message().contains("a namespace path is required"));

    let s = status(
        a.attach_pb(pb::AttachRequest {
            ip: "ten".into(),
            ..attach_req("blue", "c1")
        })
        .unwrap_err(),
    );
    assert_eq!(ErrorKind::of(&s), Some(ErrorKind::Invalid));
    assert_eq!(s.message(), "invalid ip \"ten\": not an IP address");

    let s = status(a.remove_network("nope", false).unwrap_err());
    assert_eq!(
        (s.code(), ErrorKind::of(&s)),
        (Code::NotFound, Some(ErrorKind::NotFound))
    );
}

#[test]
fn what_exists_or_conflicts_is_data() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let err = a.add_network_pb(blue()).unwrap_err();
    match &err {
        AgentError::Exists(e) => assert_eq!(
            **e,
            Existing::Network {
                name: "blue".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    let s = status(err);
    assert_eq!(ErrorKind::of(&s), Some(ErrorKind::Exists));
    assert_eq!(s.code(), Code::AlreadyExists);
    assert_eq!(s.message(), "network \"blue\" already exists");

    let c1 = a.attach_pb(attach_req("blue", "c1")).unwrap();
    match a.attach_pb(attach_req("blue", "c1")).unwrap_err() {
        AgentError::Exists(e) => assert_eq!(
            *e,
            Existing::Attachment {
                workload: "c1".into(),
                network: "blue".into(),
                ifname: "eth0".into(),
                ip: c1.record.ip,
            }
        ),
        other => panic!("{other:?}"),
    }
    a.attach_pb(attach_req("blue", "c2")).unwrap();
    match a.remove_network("blue", false).unwrap_err() {
        AgentError::Conflict(c) => assert_eq!(
            *c,
            Conflict::StillAttached {
                network: "blue".into(),
                workloads: vec!["c1".into(), "c2".into()],
            }
        ),
        other => panic!("{other:?}"),
    }
    a.add_network_pb(bridge_net()).unwrap();
    let k = PrivateKey::generate().public_key().to_base64();
    let err = a
        .add_peer_pb(pb::AddPeerRequest {
            network: "br".into(),
            ..peer_req(&k, "10.99.0.0/24")
        })
        .unwrap_err();
    let s = status(err);
    assert_eq!(
        (s.code(), ErrorKind::of(&s)),
        (Code::FailedPrecondition, Some(ErrorKind::Conflict))
    );
}

#[test]
fn an_exhausted_pool_is_its_own_kind() {
    let mut a = agent();
    a.add_network_pb(pb::AddNetworkRequest {
        block: "10.42.1.0/30".into(),
        ..blue()
    })
    .unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    let s = status(a.attach_pb(attach_req("blue", "c2")).unwrap_err());
    assert_eq!(
        (s.code(), ErrorKind::of(&s)),
        (Code::ResourceExhausted, Some(ErrorKind::Exhausted))
    );
}
