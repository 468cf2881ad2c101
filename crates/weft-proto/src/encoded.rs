//! `AgentControl`'s server with `Watch` sending bytes encoded beforehand.
//!
//! A change of desired state concerns many agents' streams; encoding it
//! once and handing each stream the same [`Bytes`] (a reference count, not
//! a copy) keeps the cost of a change proportional to the hosts it
//! concerns, not to the streams open. On the wire it is a plain
//! `DesiredState`: agents decode it with the ordinary generated type.

use bytes::{BufMut, Bytes};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/encoded/weft.control.v1.rs"));
}

pub use generated::agent_control_server;

/// A `DesiredState` already encoded (protobuf, without length prefix).
/// Encode-only: the server never decodes what it sends, so decoding into
/// it skips every field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedDesiredState(pub Bytes);

impl EncodedDesiredState {
    pub fn encode(msg: &crate::control::DesiredState) -> EncodedDesiredState {
        EncodedDesiredState(Bytes::from(prost::Message::encode_to_vec(msg)))
    }
}

impl prost::Message for EncodedDesiredState {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control as pb;

    #[test]
    fn the_bytes_decode_as_the_message() {
        let msg = pb::DesiredState {
            revision: 7,
            snapshot: true,
            networks: vec![pb::DesiredNetwork {
                name: "blue".into(),
                ..Default::default()
            }],
            removed: vec!["red".into()],
        };
        let encoded = EncodedDesiredState::encode(&msg);
        let framed = prost::Message::encode_to_vec(&encoded);
        assert_eq!(framed, prost::Message::encode_to_vec(&msg));
        let back: pb::DesiredState = prost::Message::decode(framed.as_slice()).unwrap();
        assert_eq!(back, msg);
    }
}
