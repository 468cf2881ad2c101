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
const STATE_MORE: u32 = 6;
const PATCH_NETWORK: u32 = 1;
/// `peers` of both `DesiredNetwork` and `NetworkPatch`.
const PEERS: u32 = 6;

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

/// The codec of the control plane's `AgentControl` server: prost's, with
/// buffers sized for thousands of mostly idle streams. tonic gives every
/// call an encode (or decode) buffer of `buffer_size` and, on a stream,
/// keeps encoding ready messages into it until `yield_threshold` bytes
/// wait; the buffer then keeps that size for as long as the stream lives.
/// With tonic's defaults (8 KiB, 32 KiB) a `Watch` stream that once sent a
/// snapshot's messages back to back held 16 KiB for good — a fifth of the
/// control plane's memory per connected agent (bench/control). Here a
/// stream hands each message to HTTP/2 as soon as it is encoded
/// (messages are cut at about [`MESSAGE_TARGET`] already) and starts from
/// a small buffer that grows only as far as the largest message.
#[derive(Debug, Clone)]
pub struct LeanCodec<T, U>(std::marker::PhantomData<(T, U)>);

/// [`LeanCodec`]'s buffers: 1 KiB to start with, a stream yields once a
/// message is in.
pub const LEAN_BUFFERS: (usize, usize) = (1024, 1);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        LeanCodec(std::marker::PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for LeanCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = tonic_prost::ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        let (size, threshold) = LEAN_BUFFERS;
        tonic_prost::ProstCodec::<T, U>::raw_encoder(tonic::codec::BufferSettings::new(
            size, threshold,
        ))
    }

    fn decoder(&mut self) -> Self::Decoder {
        let (size, threshold) = LEAN_BUFFERS;
        tonic_prost::ProstCodec::<T, U>::raw_decoder(tonic::codec::BufferSettings::new(
            size, threshold,
        ))
    }
}

/// Peers a piece of a message carries at most (some 4 KiB): a large state
/// goes out as several messages of bounded size, since tonic copies each
/// message it sends into the stream's encode buffer — and that buffer
/// keeps the size of the largest message for as long as the stream lives
/// ([`LeanCodec`]). At 10,000 streams, messages of 64 KiB kept over 1 GiB
/// of such buffers (bench/control).
pub const PEERS_PER_PIECE: usize = 32;
/// A message is cut once it holds this much (unless it holds one piece).
pub const MESSAGE_TARGET: usize = 4 * 1024;

/// A network's peers as `peers` entries (field 6 of both
/// `DesiredNetwork` and `NetworkPatch`), encoded once, in pieces of
/// [`PEERS_PER_PIECE`] that are slices of one buffer, shared by every
/// host's copy of that network (each host ignores the entry naming it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerList {
    pieces: Vec<Bytes>,
}

impl PeerList {
    pub fn encode<'a>(peers: impl IntoIterator<Item = &'a pb::DesiredPeer>) -> PeerList {
        let mut buf = BytesMut::new();
        let mut ends = Vec::new();
        for (i, peer) in peers.into_iter().enumerate() {
            if i > 0 && i % PEERS_PER_PIECE == 0 {
                ends.push(buf.len());
            }
            prost::encoding::message::encode(PEERS, peer, &mut buf);
        }
        ends.push(buf.len());
        let all = buf.freeze();
        let mut start = 0;
        let pieces = ends
            .into_iter()
            .filter(|end| *end > 0)
            .map(|end| {
                let piece = all.slice(start..end);
                start = end;
                piece
            })
            .collect();
        PeerList { pieces }
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// A `NetworkPatch` as `patches` entries of a `DesiredState` (several when
/// it holds more than [`PEERS_PER_PIECE`] peers), encoded once and shared
/// by every message that carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedPatch {
    pieces: Vec<Bytes>,
}

impl EncodedPatch {
    pub fn encode(patch: &pb::NetworkPatch) -> EncodedPatch {
        let mut pieces = Vec::new();
        let mut removed = patch.removed_peers.chunks(PEERS_PER_PIECE * 4);
        let mut peers = patch.peers.chunks(PEERS_PER_PIECE);
        loop {
            let (r, p) = (removed.next(), peers.next());
            if r.is_none() && p.is_none() && !pieces.is_empty() {
                break;
            }
            let piece = pb::NetworkPatch {
                network: patch.network.clone(),
                removed_peers: r.unwrap_or_default().to_vec(),
                peers: p.unwrap_or_default().to_vec(),
            };
            let mut buf = BytesMut::new();
            prost::encoding::message::encode(STATE_PATCHES, &piece, &mut buf);
            pieces.push(buf.freeze());
        }
        EncodedPatch { pieces }
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// Puts a host's message together from its own fields and shared pieces
/// ([`PeerList`], [`EncodedPatch`]), copying none of these; cut into
/// messages of about [`MESSAGE_TARGET`] bytes, each but the last marked
/// `more`. A network's peers beyond its first piece follow as patches.
pub struct EncodedStateBuilder {
    revision: u64,
    done: Vec<EncodedDesiredState>,
    chunks: Vec<Bytes>,
    own: BytesMut,
    /// The message being built holds more than its head.
    body: bool,
}

impl EncodedStateBuilder {
    pub fn new(revision: u64, snapshot: bool) -> EncodedStateBuilder {
        let mut builder = EncodedStateBuilder {
            revision,
            done: Vec::new(),
            chunks: Vec::new(),
            own: BytesMut::new(),
            body: false,
        };
        builder.head(snapshot);
        builder
    }

    fn head(&mut self, snapshot: bool) {
        let head = pb::DesiredState {
            revision: self.revision,
            snapshot,
            ..Default::default()
        };
        head.encode_raw(&mut self.own);
        self.body = false;
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum::<usize>() + self.own.len()
    }

    /// Room for `n` more bytes: past the target, the message so far is
    /// done (marked `more`) and the next begins.
    fn room(&mut self, n: usize) {
        if self.body && self.len() + n > MESSAGE_TARGET {
            prost::encoding::bool::encode(STATE_MORE, &true, &mut self.own);
            self.flush();
            self.done.push(EncodedDesiredState {
                chunks: std::mem::take(&mut self.chunks),
            });
            self.head(false);
        }
        self.body = true;
    }

    /// A whole network: `settings` (its peers left empty) and `peers`.
    pub fn network(&mut self, settings: &pb::DesiredNetwork, peers: &PeerList) -> &mut Self {
        debug_assert!(settings.peers.is_empty());
        let mut pieces = peers.pieces.iter();
        let first = pieces.next().cloned().unwrap_or_default();
        let len = settings.encoded_len() + first.len();
        self.room(len + 8);
        encode_key(STATE_NETWORKS, WireType::LengthDelimited, &mut self.own);
        encode_varint(len as u64, &mut self.own);
        settings.encode_raw(&mut self.own);
        self.shared(first);
        for piece in pieces {
            let len =
                prost::encoding::string::encoded_len(PATCH_NETWORK, &settings.name) + piece.len();
            self.room(len + 8);
            encode_key(STATE_PATCHES, WireType::LengthDelimited, &mut self.own);
            encode_varint(len as u64, &mut self.own);
            prost::encoding::string::encode(PATCH_NETWORK, &settings.name, &mut self.own);
            self.shared(piece.clone());
        }
        self
    }

    pub fn removed(&mut self, name: &str) -> &mut Self {
        let name = name.to_string();
        self.room(prost::encoding::string::encoded_len(STATE_REMOVED, &name));
        prost::encoding::string::encode(STATE_REMOVED, &name, &mut self.own);
        self
    }

    pub fn patch(&mut self, patch: &EncodedPatch) -> &mut Self {
        for piece in &patch.pieces {
            self.room(piece.len());
            self.shared(piece.clone());
        }
        self
    }

    fn flush(&mut self) {
        if !self.own.is_empty() {
            self.chunks.push(self.own.split().freeze());
        }
    }

    fn shared(&mut self, bytes: Bytes) {
        self.flush();
        if !bytes.is_empty() {
            self.chunks.push(bytes);
        }
    }

    /// The messages, in order; all but the last marked `more`.
    pub fn finish(mut self) -> Vec<EncodedDesiredState> {
        self.flush();
        self.done.push(EncodedDesiredState {
            chunks: self.chunks,
        });
        self.done
    }
}

#[cfg(test)]
mod tests;
