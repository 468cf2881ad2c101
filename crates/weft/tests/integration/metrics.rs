//! The metrics endpoint as an attacker and as Prometheus meet it: idle
//! connections from an unprivileged user never starve the gRPC API (nor
//! exhaust the agent's descriptors, nor spin a CPU); only `GET /metrics`
//! answers, in the format the client asked for; `promtool check metrics`
//! finds nothing to complain about.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 9586;

/// A TCP connection to the agent's metrics port inside namespace `ns`:
/// made on a thread of its own that enters the namespace (a socket stays
/// in the namespace it was made in).
fn connect(lab: &Lab, ns: &str) -> std::io::Result<TcpStream> {
    let path = lab.netns_path(ns);
    std::thread::spawn(move || {
        let netns = std::fs::File::open(&path)?;
        nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)?;
        TcpStream::connect(("127.0.0.1", PORT))
    })
    .join()
    .expect("connect thread does not panic")
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Send `method path` with `headers` and read the whole reply.
fn request(lab: &Lab, method: &str, path: &str, headers: &[&str]) -> std::io::Result<Reply> {
    let mut conn = connect(lab, "h1")?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP head in {raw:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {raw:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_string(),
    })
}

/// `weft network create` on h1; its time. Killed after 10 s: a starved
/// agent may never answer.
fn create_network(lab: &Lab, name: &str, octet: u8) -> Duration {
    let start = Instant::now();
    let mut cli = Command::new(WEFT)
        .args(["network", "create", name])
        .args(["--subnet", &format!("10.{octet}.0.0/16")])
        .args(["--block", &format!("10.{octet}.1.0/24")])
        .env("WEFT_SOCKET", &lab.agents["h1"].socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weft");
    loop {
        if let Some(status) = cli.try_wait().unwrap() {
            let mut stderr = String::new();
            cli.stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            assert!(status.success(), "network create {name}: {stderr}");
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = cli.kill();
            let _ = cli.wait();
            panic!("network create {name}: no answer in 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// How many of `pid`'s descriptors are connections on the metrics port:
/// the sockets of its namespace's /proc/net/tcp with that local port, not
/// listening, matched to its descriptors by inode.
fn metrics_connections(pid: u32) -> usize {
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    let port = format!(":{PORT:04X}");
    let inodes: std::collections::HashSet<String> = tcp
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f[1].ends_with(&port) && f[3] != "0A")
        .map(|f| format!("socket:[{}]", f[9]))
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| inodes.contains(&*target.to_string_lossy()))
        .count()
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; fields are counted after its ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn idle_connections_from_an_unprivileged_user_do_not_starve_the_api() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_netns("h1");
    lab.start_agent_with("h1", &["--metrics", &format!("127.0.0.1:{PORT}")]);
    let pid = lab.agents["h1"].pid();
    // The agent raises its soft limit to the hard one at start; put it back
    // to the usual 1024 so that what protects it here is the metrics
    // server's connection limit, not a large descriptor table.
    sh(&format!("prlimit --pid {pid} --nofile=1024:1024"));
    let baseline = create_network(&lab, "n0", 50);
    let fds_before = open_descriptors(pid);
    eprintln!("network create before: {baseline:?}; agent descriptors: {fds_before}");

    // 2,000 idle connections from `nobody` (who may raise its own soft limit
    // to the hard one; give it room for them). The system's python: a
    // per-user one under /root is not nobody's to run.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hold_connections.py"
    );
    let mut holder = Command::new("ip")
        .args(["netns", "exec", &lab.ns("h1")])
        .args(["prlimit", "--nofile=4096:4096"])
        .args([
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ])
        .args([
            "/usr/bin/python3",
            "-u",
            script,
            "127.0.0.1",
            &PORT.to_string(),
            "2000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the connection holder");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    lab.keep(holder);
    assert_eq!(line.trim(), "held 2000 of 2000", "the holder's connects");

    // The agent keeps answering promptly while they are held…
    for (i, name) in ["n1", "n2", "n3"].into_iter().enumerate() {
        let took = create_network(&lab, name, 51 + i as u8);
        eprintln!("network create {name} with 2,000 idle connections held: {took:?}");
        assert!(
            took < Duration::from_secs(1),
            "network create took {took:?} with 2,000 idle metrics connections held"
        );
    }
    lab.weft_ok("h1", &["network", "ls"]);
    // …holds only a bounded number of them (its connection limit)…
    let (fds_during, held) = (open_descriptors(pid), metrics_connections(pid));
    eprintln!(
        "agent descriptors with the connections held: {fds_during}, {held} of them metrics connections"
    );
    assert!(held <= 32, "the agent holds {held} metrics connections");
    assert!(
        fds_during < 512,
        "the agent holds {fds_during} descriptors (was {fds_before})"
    );
    let log = lab.agent_log("h1");
    assert!(
        log.contains("metrics: connection limit reached"),
        "the agent says nothing of the flood:\n{log}"
    );
    // …and does not spin: at most a quarter of a CPU over two seconds.
    let ticks = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - ticks;
    eprintln!("agent CPU over 2 s with the connections held: {used} ticks");
    assert!(used <= 50, "the agent used {used} ticks of CPU in 2 s");
    // Idle connections are dropped after the header timeout, so Prometheus
    // gets through again although the attacker still holds its sockets.
    wait_for(
        "a scrape to succeed again",
        Duration::from_secs(15),
        || matches!(request(&lab, "GET", "/metrics", &[]), Ok(r) if r.status == 200),
    );
    lab.finish();
}

#[test]
fn only_get_metrics_answers_in_the_negotiated_format() {
    if !require_root() {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_netns("h1");
    lab.start_agent_with("h1", &["--metrics", &format!("127.0.0.1:{PORT}")]);
    // A network with a peer, so that every metric family has samples.
    create_network(&lab, "blue", 42);
    let key = run_sh(&format!("{WEFT} key generate | {WEFT} key public"));
    let key = String::from_utf8(key.stdout).unwrap();
    lab.weft_ok(
        "h1",
        &[
            "peer",
            "add",
            "blue",
            "--public-key",
            key.trim(),
            "--endpoint",
            "192.0.2.2:51820",
            "--allowed-ips",
            "10.42.2.0/24",
        ],
    );

    // Prometheus text by default.
    let text = request(&lab, "GET", "/metrics", &[]).unwrap();
    assert_eq!(text.status, 200, "{}", text.body);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "# HELP weft_peer_rx_bytes_total ",
        "# TYPE weft_peer_rx_bytes_total counter",
        "# HELP weft_reconcile_runs_total ",
        "weft_network_attachments{network=\"blue\"} 0",
    ] {
        assert!(text.body.contains(line), "no {line:?} in:\n{}", text.body);
    }
    assert!(!text.body.contains("# EOF"), "{}", text.body);
    // A client that prefers plain text gets it too.
    let plain = request(&lab, "GET", "/metrics", &["Accept: text/plain"]).unwrap();
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    // OpenMetrics when asked, with Prometheus's own Accept header.
    let open = request(
        &lab,
        "GET",
        "/metrics",
        &["Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"],
    )
    .unwrap();
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert!(
        open.body.contains("# TYPE weft_peer_rx_bytes counter"),
        "{}",
        open.body
    );

    // Nothing else answers 200.
    for path in ["/", "/metricsx", "/metrics/", "/favicon.ico"] {
        let r = request(&lab, "GET", path, &[]).unwrap();
        assert_eq!(r.status, 404, "GET {path}: {}", r.body);
    }
    for method in ["POST", "PUT", "DELETE", "HEAD"] {
        let r = request(&lab, method, "/metrics", &["Content-Length: 0"]).unwrap();
        assert_eq!(r.status, 405, "{method} /metrics: {}", r.body);
        assert_eq!(r.header("allow"), Some("GET"), "{method} /metrics");
    }

    // promtool finds nothing to complain about.
    match which("promtool") {
        None => {
            skip("promtool check: promtool missing (package prometheus; scripts/deps installs it)")
        }
        Some(promtool) => {
            let mut check = Command::new(promtool)
                .args(["check", "metrics"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn promtool");
            check
                .stdin
                .take()
                .unwrap()
                .write_all(text.body.as_bytes())
                .unwrap();
            let out = check.wait_with_output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && said.trim().is_empty(),
                "promtool check metrics ({}): {said}\non:\n{}",
                out.status,
                text.body
            );
        }
    }
    lab.finish();
}
