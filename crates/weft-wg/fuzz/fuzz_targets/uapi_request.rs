//! `cargo +nightly fuzz run uapi_request` (from crates/weft-wg): arbitrary
//! text through the parser of the UAPI socket, as the server reads it.
//! Whatever it accepts must write back to the same request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_wg::uapi::proto::{Request, format_set_request, parse_request};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(Request::Set(config)) = parse_request(&text) {
        let again = format_set_request(&config);
        assert!(matches!(parse_request(&again), Ok(Request::Set(_))));
    }
});
