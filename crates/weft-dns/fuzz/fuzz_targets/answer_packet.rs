//! `cargo +nightly fuzz run answer_packet` (from crates/weft-dns): arbitrary
//! bytes through the same decoding and answer logic as a received query.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use weft_dns::Zone;
use weft_dns::fuzzing::answer_packet;

fn zone() -> &'static Arc<Zone> {
    static ZONE: OnceLock<Arc<Zone>> = OnceLock::new();
    ZONE.get_or_init(|| {
        let zone = Zone::new("mesh.local").expect("valid domain");
        zone.upsert("local", "c1", vec!["10.42.1.2".parse().unwrap(), "fd42::2".parse().unwrap()])
            .expect("valid name");
        zone
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let src: SocketAddr = "10.42.1.2:5353".parse().unwrap();
    if let Some(answer) = runtime().block_on(answer_packet(zone(), data, src)) {
        // Whatever we answer must carry the query's ID.
        assert_eq!(answer.get(..2), data.get(..2));
    }
});
