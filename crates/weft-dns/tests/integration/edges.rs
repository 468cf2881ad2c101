//! Protocol corner cases, through the same entry the fuzzer uses (no
//! sockets): EDNS versions, op codes, question counts, classes.

use crate::common;

use std::net::SocketAddr;

use common::*;
use hickory_server::proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Name, RecordType};
use weft_dns::fuzzing::answer_packet;

fn src() -> SocketAddr {
    "10.42.1.2:5353".parse().unwrap()
}

async fn answer(message: &Message) -> Message {
    let zone = zone_with("c1", &["10.42.1.2"]);
    let bytes = answer_packet(&zone, &message.to_vec().unwrap(), src())
        .await
        .expect("an answer");
    Message::from_vec(&bytes).unwrap()
}

fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.id = 99;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    message
}

#[tokio::test]
async fn an_unknown_edns_version_gets_badvers() {
    let mut message = query("c1.mesh.local.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    message.set_edns(edns);
    let reply = answer(&message).await;
    // BADVERS is extended rcode 16 (high bits in the OPT record); hickory
    // decodes 16 as BADSIG, which shares the number.
    assert_eq!(
        u16::from(reply.metadata.response_code),
        u16::from(ResponseCode::BADVERS)
    );
    assert!(reply.edns.is_some());
    assert!(reply.answers.is_empty());
}

#[tokio::test]
async fn other_op_codes_are_not_implemented() {
    let mut message = query("c1.mesh.local.", RecordType::A);
    message.metadata.op_code = OpCode::Status;
    assert_eq!(
        answer(&message).await.metadata.response_code,
        ResponseCode::NotImp
    );
    message.metadata.op_code = OpCode::Update;
    assert_eq!(
        answer(&message).await.metadata.response_code,
        ResponseCode::NotImp
    );
}

#[tokio::test]
async fn zero_or_two_questions_are_formerr() {
    let mut message = Message::query();
    message.metadata.id = 5;
    assert_eq!(
        answer(&message).await.metadata.response_code,
        ResponseCode::FormErr
    );
    let mut message = query("c1.mesh.local.", RecordType::A);
    message.add_query(Query::query(
        Name::from_ascii("h1.mesh.local.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        answer(&message).await.metadata.response_code,
        ResponseCode::FormErr
    );
}

#[tokio::test]
async fn other_classes_in_the_zone_are_refused() {
    let mut message = Message::query();
    message.metadata.id = 6;
    let mut q = Query::query(Name::from_ascii("c1.mesh.local.").unwrap(), RecordType::A);
    q.set_query_class(DNSClass::CH);
    message.add_query(q);
    assert_eq!(
        answer(&message).await.metadata.response_code,
        ResponseCode::Refused
    );
}

#[tokio::test]
async fn any_gets_every_address_and_responses_are_ignored() {
    let zone = zone_with("c1", &["10.42.1.2", "fd42::2"]);
    let bytes = answer_packet(
        &zone,
        &query_bytes("c1.mesh.local.", RecordType::ANY, 1),
        src(),
    )
    .await
    .unwrap();
    let reply = Message::from_vec(&bytes).unwrap();
    assert_eq!(addresses(&reply), ["10.42.1.2", "fd42::2"]);

    // A response sent to the server is dropped, not answered (no reflection).
    let mut response = query("c1.mesh.local.", RecordType::A);
    response.metadata.message_type = hickory_server::proto::op::MessageType::Response;
    assert!(
        answer_packet(&zone, &response.to_vec().unwrap(), src())
            .await
            .is_none()
    );
}
