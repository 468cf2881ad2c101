//! Answering one request: from the zone, by forwarding, or with an error.
//!
//! hickory-server does the transport (UDP, TCP framing, per-connection
//! tasks and idle timeouts), decoding, FORMERR for undecodable messages and
//! truncation to the client's payload size; [`Responder`] decides the
//! answer.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, SOA};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::debug;

use crate::forward::Forwarder;
use crate::zone::{Zone, ZoneAnswer};

/// The largest UDP payload we announce: the DNS flag day 2020 value, which
/// avoids IP fragmentation on every path.
const EDNS_PAYLOAD: u16 = 1232;

/// SOA timers of the synthetic zone (only the minimum matters to clients:
/// RFC 2308 negative caching uses min(SOA TTL, minimum)).
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 86_400;

/// Answers requests for one network: its zone, and either a forwarder for
/// other names or none (internal networks).
pub(crate) struct Responder {
    pub(crate) zone: Arc<Zone>,
    pub(crate) forwarder: Option<Forwarder>,
    /// TTL of every answer, and of negative answers (NXDOMAIN, no data).
    pub(crate) ttl: u32,
}

#[async_trait::async_trait]
impl RequestHandler for Responder {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.respond(request, response_handle).await
    }
}

impl Responder {
    async fn respond<R: ResponseHandler>(&self, request: &Request, mut handle: R) -> ResponseInfo {
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            // hickory truncates UDP answers to the response's payload size: the
            // client's, but never past the fragmentation-safe size.
            edns.set_max_payload(asked.max_payload().clamp(512, EDNS_PAYLOAD));
            edns.set_version(0);
            edns
        });
        let builder = || {
            let mut builder = MessageResponseBuilder::new(&request.queries, None);
            if let Some(edns) = &edns {
                builder.edns(edns);
            }
            builder
        };
        let metadata_with = |code: ResponseCode| {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = code;
            metadata.recursion_available = self.forwarder.is_some();
            metadata
        };

        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            let mut edns = edns.clone().unwrap_or_default();
            edns.set_rcode_high(ResponseCode::BADVERS.high());
            let mut b = MessageResponseBuilder::new(&request.queries, None);
            b.edns(&edns);
            return send(
                &mut handle,
                request,
                b.build_no_records(metadata_with(ResponseCode::BADVERS)),
            )
            .await;
        }
        if request.metadata.op_code != OpCode::Query {
            return send(
                &mut handle,
                request,
                builder().build_no_records(metadata_with(ResponseCode::NotImp)),
            )
            .await;
        }
        let Ok(info) = request.request_info() else {
            // Not exactly one question: nobody sends that in practice.
            return send(
                &mut handle,
                request,
                builder().build_no_records(metadata_with(ResponseCode::FormErr)),
            )
            .await;
        };
        let query = info.query;

        let answer = self
            .zone
            .answer_for(request.src().ip(), query.name(), query.query_type());
        if answer == ZoneAnswer::Outside {
            return match &self.forwarder {
                Some(forwarder) => {
                    self.forwarded(request, handle, forwarder, edns.as_ref())
                        .await
                }
                // Internal network: never forwarded. REFUSED says "not here,
                // by policy" at once: stub resolvers move on to their next
                // server (if the workload has one) instead of retrying us as
                // they would on SERVFAIL, and nothing is cached as a
                // (false) NXDOMAIN for the name.
                None => {
                    send(
                        &mut handle,
                        request,
                        builder().build_no_records(metadata_with(ResponseCode::Refused)),
                    )
                    .await
                }
            };
        }
        if query.query_class() != DNSClass::IN {
            return send(
                &mut handle,
                request,
                builder().build_no_records(metadata_with(ResponseCode::Refused)),
            )
            .await;
        }

        let qname: Name = query.original().name().clone();
        let qtype = query.query_type();
        let mut metadata = metadata_with(ResponseCode::NoError);
        metadata.authoritative = true;
        let soa = [self.soa_record()];
        let mut answers = Vec::new();
        match &answer {
            ZoneAnswer::Known(addrs) => answers = self.address_records(&qname, qtype, addrs),
            ZoneAnswer::Apex if qtype == RecordType::SOA || qtype == RecordType::ANY => {
                answers.push(soa[0].clone());
            }
            ZoneAnswer::Unknown => metadata.response_code = ResponseCode::NXDomain,
            ZoneAnswer::Apex | ZoneAnswer::Outside => {}
        }
        // Negative answers (NXDOMAIN, or a name without records of this type)
        // carry the SOA, so clients cache them for the zone's short TTL.
        let negative: &[Record] = if answers.is_empty() { &soa } else { &[] };
        let response = builder().build(
            metadata,
            answers.iter(),
            [].iter(),
            negative.iter(),
            [].iter(),
        );
        send(&mut handle, request, response).await
    }

    async fn forwarded<R: ResponseHandler>(
        &self,
        request: &Request,
        mut handle: R,
        forwarder: &Forwarder,
        edns: Option<&Edns>,
    ) -> ResponseInfo {
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = edns {
            builder.edns(edns);
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        match forwarder.forward(request.as_slice()).await {
            Ok(reply) => {
                metadata.response_code = reply.metadata.response_code;
                metadata.recursion_available = reply.metadata.recursion_available;
                metadata.authentic_data = reply.metadata.authentic_data;
                let response = builder.build(
                    metadata,
                    reply.answers.iter(),
                    reply.authorities.iter(),
                    [].iter(),
                    reply.additionals.iter(),
                );
                send(&mut handle, request, response).await
            }
            Err(why) => {
                debug!(%why, src = %request.src(), "forwarding failed");
                metadata.response_code = ResponseCode::ServFail;
                send(&mut handle, request, builder.build_no_records(metadata)).await
            }
        }
    }

    fn address_records(&self, name: &Name, qtype: RecordType, addrs: &[IpAddr]) -> Vec<Record> {
        let want_v4 = matches!(qtype, RecordType::A | RecordType::ANY);
        let want_v6 = matches!(qtype, RecordType::AAAA | RecordType::ANY);
        addrs
            .iter()
            .filter_map(|addr| match addr {
                IpAddr::V4(v4) if want_v4 => Some(RData::A(A(*v4))),
                IpAddr::V6(v6) if want_v6 => Some(RData::AAAA(AAAA(*v6))),
                _ => None,
            })
            .map(|rdata| Record::from_rdata(name.clone(), self.ttl, rdata))
            .collect()
    }

    fn soa_record(&self) -> Record {
        let apex = Name::from(self.zone.apex());
        let hostmaster = apex
            .prepend_label("hostmaster")
            .unwrap_or_else(|_| apex.clone());
        let soa = SOA::new(
            apex.clone(),
            hostmaster,
            self.zone.serial(),
            SOA_REFRESH,
            SOA_RETRY,
            SOA_EXPIRE,
            self.ttl,
        );
        Record::from_rdata(apex, self.ttl, RData::SOA(soa))
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    request: &Request,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            // The client went away, or the answer could not be encoded.
            debug!(%error, src = %request.src(), "could not send response");
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}
