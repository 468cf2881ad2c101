//! Entry point for fuzzing the answer logic without sockets: the same
//! decoding the server does, then the responder, on arbitrary bytes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

use crate::handler::Responder;
use crate::zone::Zone;

/// Feeds `packet` (one DNS message, as received over UDP from `src`) to a
/// responder for `zone` that never forwards, and returns the encoded answer
/// (`None` when the server would send none: an undecodable message, which
/// hickory-server answers with FORMERR itself, or a response message).
/// Must run inside a Tokio runtime.
pub async fn answer_packet(zone: &Arc<Zone>, packet: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
    let request = Request::from_bytes(packet.to_vec(), src, Protocol::Udp).ok()?;
    if request.metadata.message_type == hickory_server::proto::op::MessageType::Response {
        return None;
    }
    let responder = Responder {
        zone: Arc::clone(zone),
        forwarder: None,
        ttl: 5,
    };
    let sink = Collector::default();
    responder
        .handle_request::<_, TokioTime>(&request, sink.clone())
        .await;
    sink.0.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// A response handler that keeps the encoded answer instead of sending it.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Collector {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        // As over UDP without EDNS: the tightest limit the server applies.
        encoder.set_max_size(512);
        let info = response.destructive_emit(&mut encoder)?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(bytes);
        Ok(info)
    }
}
