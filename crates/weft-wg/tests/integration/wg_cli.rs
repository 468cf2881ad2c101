//! What the real `wg` sends on a UAPI socket, captured with a fake server,
//! must be exactly what our parser expects and our formatter writes.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use common::*;
use weft_wg::uapi::proto::{self, Request};
use weft_wg::{DeviceConfig, PeerConfig, PrivateKey};

/// Run `wg <args>` against a fake `wgx` socket; returns (request text, wg output).
fn capture(dir: &Path, args: &[&str], answer: &'static str) -> (String, std::process::Output) {
    let listener = UnixListener::bind(dir.join("wgx.sock")).unwrap();
    let server = std::thread::spawn(move || {
        loop {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            loop {
                let before = request.len();
                if reader.read_line(&mut request).unwrap() == 0 || &request[before..] == "\n" {
                    break;
                }
            }
            // wg first connects and closes at once, to see that the socket is live.
            if request.is_empty() {
                continue;
            }
            (&stream).write_all(answer.as_bytes()).unwrap();
            return request;
        }
    });
    let mut script = String::from("exec wg");
    for arg in args {
        script.push(' ');
        script.push_str(arg);
    }
    let out = run("unshare", &["-m", "sh", "-c", &with_uapi_dir(dir, &script)]);
    let request = server.join().unwrap();
    std::fs::remove_file(dir.join("wgx.sock")).unwrap();
    (request, out)
}

#[test]
fn wg_set_sends_what_we_parse_and_format() {
    if !privileged() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let private = PrivateKey::generate();
    let psk = PrivateKey::generate();
    let peer_key = PrivateKey::generate().public_key();
    let key_path = key_file(dir.path(), "private.key", &private);
    let psk_path = key_file(dir.path(), "psk.key", &psk);
    let (request, out) = capture(
        dir.path(),
        &[
            "set",
            "wgx",
            "listen-port",
            "51820",
            "fwmark",
            "7",
            "private-key",
            key_path.to_str().unwrap(),
            "peer",
            &peer_key.to_base64(),
            "preshared-key",
            psk_path.to_str().unwrap(),
            "endpoint",
            "192.0.2.2:51820",
            "persistent-keepalive",
            "25",
            "allowed-ips",
            "10.9.0.2/32,fd00::/64",
        ],
        "errno=0\n\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut peer = PeerConfig::new(peer_key);
    peer.preshared_key = Some(*psk.as_bytes());
    peer.endpoint = Some("192.0.2.2:51820".parse().unwrap());
    peer.persistent_keepalive = Some(25);
    peer.replace_allowed_ips = true;
    peer.allowed_ips = vec!["10.9.0.2/32".parse().unwrap(), "fd00::/64".parse().unwrap()];
    let expected = DeviceConfig {
        private_key: Some(private),
        listen_port: Some(51820),
        fwmark: Some(7),
        retiring_key: None,
        replace_peers: false,
        peers: vec![peer],
    };
    assert_eq!(
        request,
        proto::format_set_request(&expected),
        "byte for byte"
    );
    assert_eq!(proto::parse_request(&request), Ok(Request::Set(expected)));

    // Removing a peer, and how wg reports our negated errno.
    let (request, out) = capture(
        dir.path(),
        &["set", "wgx", "peer", &peer_key.to_base64(), "remove"],
        "errno=-22\n\n",
    );
    assert_eq!(
        request,
        format!("set=1\npublic_key={}\nremove=true\n\n", peer_key.to_hex())
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid argument"));

    let (request, _) = capture(
        dir.path(),
        &["show", "wgx", "dump"],
        "listen_port=1\nerrno=0\n\n",
    );
    assert_eq!(proto::parse_request(&request), Ok(Request::Get));
}
