//! The metrics document and its HTTP server, without root: the server on a
//! loopback port with a stand-in renderer, the document from an agent on
//! the in-memory data plane.

use super::exposition::to_prometheus_text;
use super::http::{self, Limits, Render, Throttle, accept_backoff};
use crate::agent::Agent;
use crate::fake::FakeDataplane;
use crate::networks::NetworkSpec;
use crate::peers::PeerSpec;
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use weft_model::PrivateKey;

const DOCUMENT: &str = "\
# HELP weft_reconcile_runs Reconcile passes since the agent started.
# TYPE weft_reconcile_runs counter
weft_reconcile_runs_total 3
# EOF
";

fn fixed() -> Render {
    Arc::new(|| Some(DOCUMENT.to_string()))
}

async fn start(render: Render, limits: Limits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    http::spawn(listener, render, limits);
    addr
}

/// Everything the server sends until it closes, within 5 s.
async fn read_all(conn: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut raw))
        .await
        .expect("the server closes the connection")
        .expect("read the reply");
    String::from_utf8(raw).unwrap()
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> Reply {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n");
    for h in headers {
        head.push_str(&format!("{h}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    let raw = read_all(&mut conn).await;
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP reply");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

#[tokio::test]
async fn get_metrics_is_prometheus_text_unless_openmetrics_is_asked_for() {
    let addr = start(fixed(), Limits::default()).await;
    let text = request(addr, "GET", "/metrics", &[]).await;
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        text.body,
        "# HELP weft_reconcile_runs_total Reconcile passes since the agent started.\n\
         # TYPE weft_reconcile_runs_total counter\nweft_reconcile_runs_total 3\n"
    );
    // A query string does not change the path.
    assert_eq!(request(addr, "GET", "/metrics?x=1", &[]).await.status, 200);

    let open = request(
        addr,
        "GET",
        "/metrics",
        &["Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5"],
    )
    .await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(open.body, DOCUMENT);
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405_with_allow() {
    let addr = start(fixed(), Limits::default()).await;
    for path in ["/", "/metric", "/metrics/", "/metrics/x", "/x/metrics"] {
        let reply = request(addr, "GET", path, &[]).await;
        assert_eq!(reply.status, 404, "GET {path}");
        assert!(!reply.body.contains("weft_"), "GET {path}: {}", reply.body);
    }
    for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let reply = request(addr, method, "/metrics", &["Content-Length: 0"]).await;
        assert_eq!(reply.status, 405, "{method} /metrics");
        assert_eq!(reply.header("allow"), Some("GET"), "{method} /metrics");
    }
}

#[tokio::test]
async fn a_failed_render_is_500() {
    let addr = start(Arc::new(|| None), Limits::default()).await;
    assert_eq!(request(addr, "GET", "/metrics", &[]).await.status, 500);
}

fn quick() -> Limits {
    Limits {
        max_connections: 2,
        header_timeout: Duration::from_millis(300),
        connection_deadline: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn idle_and_half_sent_requests_are_closed_at_the_header_timeout() {
    let addr = start(fixed(), quick()).await;
    for sent in ["", "GET /metrics HTTP/1.1\r\nHost: x\r\n"] {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(sent.as_bytes()).await.unwrap();
        let start = Instant::now();
        let reply = read_all(&mut conn).await;
        let took = start.elapsed();
        assert!(!reply.contains(" 200 "), "{sent:?}: {reply}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{sent:?}: closed after {took:?}"
        );
    }
}

/// True when the server closed `conn` (or reset it) within `within`.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, conn.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once_and_slots_come_back() {
    let limits = Limits {
        header_timeout: Duration::from_secs(30),
        ..quick()
    };
    let addr = start(fixed(), limits).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    // Both are taken in turn before the third; the third finds no slot.
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut third, Duration::from_secs(2)).await,
        "a connection past the limit stays open"
    );
    assert!(!closed_within(&mut first, Duration::from_millis(200)).await);
    assert!(!closed_within(&mut second, Duration::from_millis(10)).await);
    // A client that leaves gives its slot back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        if read_all(&mut conn).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(second);
}

#[tokio::test]
async fn a_connection_ends_at_its_deadline_even_mid_render() {
    let limits = Limits {
        connection_deadline: Duration::from_millis(300),
        ..quick()
    };
    let slow: Render = Arc::new(|| {
        std::thread::sleep(Duration::from_secs(1));
        Some(DOCUMENT.to_string())
    });
    let addr = start(slow, limits).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let reply = read_all(&mut conn).await;
    assert!(reply.is_empty(), "{reply}");
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_rendered_one_at_a_time() {
    let active = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let render: Render = {
        let (active, most) = (active.clone(), most.clone());
        Arc::new(move || {
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            active.fetch_sub(1, Ordering::SeqCst);
            Some(DOCUMENT.to_string())
        })
    };
    let limits = Limits {
        max_connections: 8,
        ..Limits::default()
    };
    let addr = start(render, limits).await;
    let scrapes: Vec<_> = (0..6)
        .map(|_| tokio::spawn(async move { request(addr, "GET", "/metrics", &[]).await.status }))
        .collect();
    for scrape in scrapes {
        assert_eq!(scrape.await.unwrap(), 200);
    }
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[test]
fn accept_backoff_doubles_up_to_a_second() {
    let mut pause = None;
    let mut seen = vec![];
    for _ in 0..10 {
        let next = accept_backoff(pause);
        seen.push(next.as_millis());
        pause = Some(next);
    }
    assert_eq!(seen, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
}

#[test]
fn what_clients_can_cause_is_logged_at_most_once_a_minute() {
    let mut throttle = Throttle::default();
    assert_eq!(throttle.happened(), Some(1));
    for _ in 0..1000 {
        assert_eq!(throttle.happened(), None);
    }
}

/// The agent's own document: in Prometheus text, every sample's name has
/// a HELP and a TYPE line (what `promtool check metrics` first asks), and
/// promtool itself, when installed, finds nothing to say.
#[test]
fn the_agents_document_has_help_and_type_for_every_sample() {
    let mut agent = Agent::new(Store::in_memory().unwrap(), FakeDataplane::default());
    let peer = PrivateKey::generate().public_key();
    agent
        .add_network(
            NetworkSpec::try_from(weft_proto::agent::AddNetworkRequest {
                name: "blue".into(),
                subnet: "10.42.0.0/16".into(),
                block: "10.42.1.0/24".into(),
                ..Default::default()
            })
            .unwrap(),
        )
        .unwrap();
    agent
        .add_peer(
            PeerSpec::try_from(weft_proto::agent::AddPeerRequest {
                network: "blue".into(),
                public_key: peer.to_base64(),
                endpoint: "192.0.2.2:51820".into(),
                allowed_ips: vec!["10.42.2.0/24".into()],
                keepalive: 0,
                ..Default::default()
            })
            .unwrap(),
        )
        .unwrap();
    // A probe that never answered: a peer that does not run weft.
    agent.health_book().record("blue", peer, false);
    let text = to_prometheus_text(&super::render(&agent).unwrap());
    let peer_label = format!("network=\"blue\",peer=\"{peer}\"");
    for (state, value) in [("ok", 0), ("failed", 0), ("not_applicable", 1)] {
        let sample = format!("weft_peer_probe{{{peer_label},state=\"{state}\"}} {value}");
        assert!(text.contains(&sample), "no {sample} in:\n{text}");
    }
    let described = |kind: &str, name: &str| {
        text.lines()
            .any(|l| l.strip_prefix(kind).and_then(|r| r.split(' ').next()) == Some(name))
    };
    let mut samples = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(described("# HELP ", name), "no HELP for {name} in:\n{text}");
        assert!(described("# TYPE ", name), "no TYPE for {name} in:\n{text}");
        samples += 1;
    }
    // attachments, rx, tx, four health states, runs, errors.
    assert!(samples >= 9, "{text}");

    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut promtool) = promtool else {
        weft_testkit::skip(
            "promtool check: promtool missing (package prometheus; scripts/deps installs it)",
        );
        return;
    };
    use std::io::Write as _;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\non:\n{text}"
    );
}

/// A VXLAN network's VTEPs are in `weft_peer_health`, named by address.
#[test]
fn vteps_show_their_health_by_address() {
    let mut agent = Agent::new(Store::in_memory().unwrap(), FakeDataplane::default());
    agent
        .add_network(
            NetworkSpec::try_from(weft_proto::agent::AddNetworkRequest {
                name: "red".into(),
                mode: "vxlan".into(),
                vni: 100,
                subnet: "10.50.0.0/16".into(),
                block: "10.50.1.0/24".into(),
                ..Default::default()
            })
            .unwrap(),
        )
        .unwrap();
    let address: std::net::IpAddr = "192.0.2.2".parse().unwrap();
    agent
        .add_vtep(crate::vxlan::VtepSpec {
            network: "red".into(),
            address,
            block: Some("10.50.2.0/24".parse().unwrap()),
        })
        .unwrap();
    let sample = |state: &str, value: u8| {
        format!("weft_peer_health{{network=\"red\",peer=\"192.0.2.2\",state=\"{state}\"}} {value}")
    };
    let text = to_prometheus_text(&super::render(&agent).unwrap());
    assert!(text.contains(&sample("disconnected", 1)), "{text}");
    agent
        .health_book()
        .record("red", crate::health::PeerRef::Vtep(address), true);
    let text = to_prometheus_text(&super::render(&agent).unwrap());
    assert!(text.contains(&sample("healthy", 1)), "{text}");
    assert!(text.contains(&sample("disconnected", 0)), "{text}");
}
