//! Interop with a real client: `dig` (bind9-dnsutils) over UDP and TCP.

use crate::common;

use std::net::SocketAddr;

use common::*;
use weft_dns::DnsServer;

/// `dig @addr -p port ARGS +short` (plus `+tcp` when asked); None when dig
/// is not installed.
async fn dig(server: SocketAddr, args: &[&str]) -> Option<(String, String)> {
    let server_arg = format!("@{}", server.ip());
    let port = server.port().to_string();
    let mut command = tokio::process::Command::new("dig");
    command
        .arg(server_arg)
        .args(["-p", &port, "+time=2", "+tries=1"])
        .args(args);
    let out = command.output().await.ok()?;
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn dig_gets_answers_nxdomain_and_forwarded_names() {
    weft_testkit::require_tools!("dig");
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    let zone = zone_with("web", &["10.42.1.5", "fd42::5"]);
    let server = DnsServer::start(
        "127.0.0.1:0".parse().unwrap(),
        zone,
        Some(vec![upstream.addr]),
    )
    .await
    .unwrap();
    let addr = server.local_addr();

    for transport in ["+notcp", "+tcp"] {
        let (out, err) = dig(addr, &[transport, "+short", "WEB.mesh.local", "A"])
            .await
            .unwrap();
        assert_eq!(out.trim(), "10.42.1.5", "{transport}: {err}");
        let (out, _) = dig(addr, &[transport, "+short", "web.mesh.local", "AAAA"])
            .await
            .unwrap();
        assert_eq!(out.trim(), "fd42::5", "{transport}");
        let (out, _) = dig(addr, &[transport, "nope.mesh.local", "A"])
            .await
            .unwrap();
        assert!(out.contains("status: NXDOMAIN"), "{transport}: {out}");
        assert!(out.contains(" aa"), "authoritative flag: {out}");
        let (out, _) = dig(addr, &[transport, "+short", "example.com", "A"])
            .await
            .unwrap();
        assert_eq!(out.trim(), UPSTREAM_ANSWER.to_string(), "{transport}");
        // A bare name, as `nslookup web GATEWAY` asks it: `web.`.
        let (out, err) = dig(addr, &[transport, "+short", "web", "A"]).await.unwrap();
        assert_eq!(out.trim(), "10.42.1.5", "{transport}: {err}");
        let (out, _) = dig(addr, &[transport, "nope", "A"]).await.unwrap();
        assert!(out.contains("status: NXDOMAIN"), "{transport}: {out}");
    }
    // Only example.com went upstream, once per transport.
    assert_eq!(upstream.queries(), 2);
    server.stop().await;
}
