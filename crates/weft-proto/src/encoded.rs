//! `AgentControl`'s server with `Watch` sending bytes encoded beforehand.
//!
//! A change of desired state concerns many agents' streams; encoding it
//! once and handing each stream the same [`Bytes`] (a reference count, not
//! a copy) keeps the cost of a change proportional to what changed, not
//! to the streams open. A message may be several chunks: a snapshot is
//! this host's few own bytes (its block in each network) around each
//! network's peer list, encoded once per network and shared by every
//! host's snapshot ([`PeerList`]). On the wire it is a plain
//! `DesiredState`: agents decode it with the ordinary generated type.

use crate::control as pb;
use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/encoded/weft.control.v1.rs"));
}

pub use generated::agent_control_server;

// Field numbers of control.proto, for the pieces put together here.
const STATE_NETWORKS: u32 = 3;
const STATE_REMOVED: u32 = 4;
const STATE_PATCHES: u32 = 5;
const NETWORK_PEERS: u32 = 6;

/// A `DesiredState` already encoded (protobuf, without length prefix), as
/// chunks sent one after the other. Encode-only: the server never decodes
/// what it sends, so decoding into it skips every field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedDesiredState {
    chunks: Vec<Bytes>,
}

impl EncodedDesiredState {
    pub fn encode(msg: &pb::DesiredState) -> EncodedDesiredState {
        EncodedDesiredState {
            chunks: vec![Bytes::from(msg.encode_to_vec())],
        }
    }

    /// The chunks, in the order sent (shared ones are the same buffers).
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The message in one buffer (a copy when it has several chunks).
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [one] => one.clone(),
            many => many.concat().into(),
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl prost::Message for EncodedDesiredState {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for chunk in &self.chunks {
            buf.put_slice(chunk);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.len()
    }

    fn clear(&mut self) {
        self.chunks.clear();
    }
}

/// A network's peers as the `peers` entries of a `DesiredNetwork`,
/// encoded once and shared by every host's copy of that network (each
/// host ignores the entry naming itself).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerList(Bytes);

impl PeerList {
    pub fn encode<'a>(peers: impl IntoIterator<Item = &'a pb::DesiredPeer>) -> PeerList {
        let mut buf = BytesMut::new();
        for peer in peers {
            prost::encoding::message::encode(NETWORK_PEERS, peer, &mut buf);
        }
        PeerList(buf.freeze())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A `NetworkPatch` as a `patches` entry of a `DesiredState`, encoded once
/// and shared by every message that carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedPatch(Bytes);

impl EncodedPatch {
    pub fn encode(patch: &pb::NetworkPatch) -> EncodedPatch {
        let mut buf = BytesMut::new();
        prost::encoding::message::encode(STATE_PATCHES, patch, &mut buf);
        EncodedPatch(buf.freeze())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Puts a `DesiredState` together from this message's own fields and
/// shared pieces ([`PeerList`], [`EncodedPatch`]), copying none of these.
pub struct DesiredStateBuilder {
    chunks: Vec<Bytes>,
    own: BytesMut,
}

impl DesiredStateBuilder {
    pub fn new(revision: u64, snapshot: bool) -> DesiredStateBuilder {
        let head = pb::DesiredState {
            revision,
            snapshot,
            ..Default::default()
        };
        DesiredStateBuilder {
            chunks: Vec::new(),
            own: BytesMut::from(head.encode_to_vec().as_slice()),
        }
    }

    /// A whole network: `settings` (its peers left empty) and `peers`.
    pub fn network(&mut self, settings: &pb::DesiredNetwork, peers: &PeerList) -> &mut Self {
        debug_assert!(settings.peers.is_empty());
        let len = settings.encoded_len() + peers.len();
        encode_key(STATE_NETWORKS, WireType::LengthDelimited, &mut self.own);
        encode_varint(len as u64, &mut self.own);
        settings.encode_raw(&mut self.own);
        self.shared(peers.0.clone())
    }

    pub fn removed(&mut self, name: &str) -> &mut Self {
        prost::encoding::string::encode(STATE_REMOVED, &name.to_string(), &mut self.own);
        self
    }

    pub fn patch(&mut self, patch: &EncodedPatch) -> &mut Self {
        self.shared(patch.0.clone())
    }

    fn shared(&mut self, bytes: Bytes) -> &mut Self {
        if !self.own.is_empty() {
            self.chunks.push(self.own.split().freeze());
        }
        if !bytes.is_empty() {
            self.chunks.push(bytes);
        }
        self
    }

    pub fn finish(mut self) -> EncodedDesiredState {
        if !self.own.is_empty() {
            self.chunks.push(self.own.split().freeze());
        }
        EncodedDesiredState {
            chunks: self.chunks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str) -> pb::DesiredPeer {
        pb::DesiredPeer {
            host_id: id.into(),
            public_key: format!("key-{id}"),
            allowed_ips: vec!["10.42.1.0/24".into()],
            ..Default::default()
        }
    }

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
            patches: vec![],
        };
        let encoded = EncodedDesiredState::encode(&msg);
        let framed = prost::Message::encode_to_vec(&encoded);
        assert_eq!(framed, prost::Message::encode_to_vec(&msg));
        let back: pb::DesiredState = prost::Message::decode(framed.as_slice()).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn pieces_put_together_decode_as_the_whole_and_stay_shared() {
        let peers = vec![peer("a"), peer("b")];
        let list = PeerList::encode(&peers);
        let patch = pb::NetworkPatch {
            network: "red".into(),
            peers: vec![peer("c")],
            removed_peers: vec!["d".into()],
        };
        let encoded_patch = EncodedPatch::encode(&patch);
        let settings = |block: &str| pb::DesiredNetwork {
            name: "blue".into(),
            subnet: "10.42.0.0/16".into(),
            block: block.into(),
            internal: true,
            domain: "mesh.local".into(),
            peers: vec![],
        };
        let mut built = DesiredStateBuilder::new(9, false);
        built
            .network(&settings("10.42.0.0/24"), &list)
            .removed("green")
            .patch(&encoded_patch);
        let built = built.finish();
        let want = pb::DesiredState {
            revision: 9,
            snapshot: false,
            networks: vec![pb::DesiredNetwork {
                peers: peers.clone(),
                ..settings("10.42.0.0/24")
            }],
            removed: vec!["green".into()],
            patches: vec![patch],
        };
        let back: pb::DesiredState = prost::Message::decode(built.to_bytes()).unwrap();
        assert_eq!(back, want);
        assert_eq!(built.len(), want.encoded_len());
        // The peer list and the patch are the very buffers given.
        let shares = |b: &Bytes| built.chunks().iter().any(|c| c.as_ptr() == b.as_ptr());
        assert!(shares(&list.0) && shares(&encoded_patch.0));
        // Another host's copy of the network shares the same peer list.
        let mut other = DesiredStateBuilder::new(9, true);
        other.network(&settings("10.42.1.0/24"), &list);
        let other = other.finish();
        assert!(other.chunks().iter().any(|c| c.as_ptr() == list.0.as_ptr()));
        let back: pb::DesiredState = prost::Message::decode(other.to_bytes()).unwrap();
        assert_eq!(back.networks[0].peers, peers);
        assert_eq!(back.networks[0].block, "10.42.1.0/24");
    }
}
