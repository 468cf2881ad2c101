//! The web dashboard of a fleet in a real browser: in a lab of three
//! agents following `weft control serve`, the overview's counts are the
//! API's, the topology has one node per host and one edge per link in the
//! right colour, and cutting a host's traffic turns its links unhealthy on
//! the open page, without a reload; a VM placed through the API shows on
//! its host's page with its NIC, and a revoked host in the overview's
//! revoked count, as the API says; a mesh file's lab on the read-only
//! page of `weft status --file F --web`. Screenshots under
//! `target/tmp/dashboard/<test>/`.

use crate::browser::{Browser, output_dir};
use crate::control_common::{self, TenantCurl};
use crate::dashboard::{have_browser, sign_in, signed_in};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::process::Spawned;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

const CP: &str = "192.0.2.10";

/// Every host reports a link to each other host, all of them `health`.
fn links_are(hosts: &Value, health: &str) -> bool {
    hosts.as_array().is_some_and(|hs| {
        hs.len() == 3
            && hs.iter().all(|h| {
                let links = h["links"].as_array().cloned().unwrap_or_default();
                links.len() == 2
                    && links
                        .iter()
                        .all(|l| l["health"] == health && l["peer"].is_string())
            })
    })
}

#[test]
fn a_fleet_in_the_browser_counts_links_and_turns_red_without_a_reload() {
    require_root!();
    if !have_browser() {
        return;
    }
    let out = output_dir("fleet_topology");
    let mut lab = Lab::new(WEFT);
    control_common::switch(&mut lab, CP, &["h1", "h2", "h3"]);
    let state = lab.dir.path().join("control");
    let (_control, first) = control_common::start_control(
        WEFT,
        &lab,
        CP,
        &state,
        (&state.with_extension("out"), &state.with_extension("log")),
        &[],
    );
    let fingerprint = control_common::fingerprint(&first);
    let key = control_common::secret(WEFT, &state, &["tenant", "create", "acme"]);
    let token = control_common::secret(
        WEFT,
        &state,
        &["token", "create", "--tenant", "acme", "--uses", "3"],
    );
    let url = format!("https://{CP}:50051");
    for host in ["h1", "h2", "h3"] {
        lab.start_agent_with(
            host,
            &control_common::enroll_args(host, &url, &fingerprint, &token),
        );
    }
    let tenant = TenantCurl {
        ns: "cp".into(),
        addr: CP.into(),
        ca: state.join("ca.pem").display().to_string(),
        key: key.clone(),
    };
    wait_for("three hosts online", Duration::from_secs(30), || {
        let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
        hosts
            .as_array()
            .is_some_and(|h| h.len() == 3 && h.iter().all(|h| h["state"] == "online"))
    });
    tenant.ok(&lab, "POST", "/v1/sites", Some(json!({"name": "edge"})));
    let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
    let id_of = |name: &str| {
        hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (h1, h3) = (id_of("h1"), id_of("h3"));
    for name in ["h1", "h2"] {
        tenant.ok(
            &lab,
            "PUT",
            &format!("/v1/hosts/{}", id_of(name)),
            Some(json!({"site": "edge"})),
        );
    }
    tenant.ok(
        &lab,
        "POST",
        "/v1/networks",
        Some(json!({"name": "blue", "subnet": "10.42.0.0/16"})),
    );
    wait_for(
        "every link reported healthy",
        Duration::from_secs(90),
        || links_are(&tenant.ok(&lab, "GET", "/v1/hosts", None), "healthy"),
    );

    let b = Browser::start(Some(&lab.ns("cp")), &out);
    b.goto(&format!("https://{CP}:8443/"));
    sign_in(&b, &key);
    signed_in(&b);
    // The overview's counts are the API's.
    let status = tenant.ok(&lab, "GET", "/v1/status", None);
    let online = status["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["state"] == "online")
        .count();
    assert_eq!(b.text("[data-count=online] .value"), online.to_string());
    assert_eq!(b.text("[data-count=offline] .value"), "0");
    assert_eq!(
        b.text("[data-count=networks] .value"),
        status["networks"].as_array().unwrap().len().to_string()
    );
    assert_eq!(b.text("[data-count=sites] .value"), "1");
    assert_eq!(
        b.text("[data-count=revoked] .value"),
        status["revoked_hosts"].to_string()
    );
    assert_eq!(b.text("#revision"), status["revision"].to_string());
    b.screenshot("01-overview");

    // Hosts: one row each.
    b.js("location.hash = '#/hosts';", json!([]));
    b.wait_for(
        "the hosts table",
        Duration::from_secs(20),
        "return document.querySelectorAll('#hosts-table tbody tr').length === 3;",
        json!([]),
    );
    b.screenshot("02-hosts");
    b.check_accessibility("hosts");

    // Topology: a node per host, an edge per pair, all green.
    b.js("location.hash = '#/topology';", json!([]));
    b.wait_for(
        "three nodes and three healthy edges",
        Duration::from_secs(20),
        "const s = document.getElementById('topology'); return !!s && s.querySelectorAll('.node').length === 3 \
         && s.querySelectorAll('.edge').length === 3 \
         && [...s.querySelectorAll('.edge')].every((e) => e.dataset.health === 'healthy');",
        json!([]),
    );
    let colours = b.js(
        "return [...document.querySelectorAll('#topology .edge')].map((e) => getComputedStyle(e).stroke);",
        json!([]),
    );
    assert!(
        colours
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c == "rgb(26, 127, 55)"),
        "green: {colours}"
    );
    let pairs = b.js(
        "return [...document.querySelectorAll('#topology .edge')].map((e) => [e.dataset.a, e.dataset.b].sort().join(' ')).sort();",
        json!([]),
    );
    let ids: Vec<String> = ["h1", "h2", "h3"].iter().map(|n| id_of(n)).collect();
    let mut want: Vec<String> = vec![];
    for i in 0..3 {
        for j in i + 1..3 {
            let mut p = [ids[i].clone(), ids[j].clone()];
            p.sort();
            want.push(p.join(" "));
        }
    }
    want.sort();
    assert_eq!(pairs, json!(want));
    assert_eq!(
        b.count("#topology .site"),
        1,
        "h1 and h2 grouped in site edge"
    );
    // Pointing at a link shows its handshake, bytes and endpoint.
    b.hover(&format!(
        "#topology .edge[data-a='{}'], #topology .edge[data-b='{}']",
        h1, h1
    ));
    b.wait_for(
        "the link's details",
        Duration::from_secs(10),
        "const t = document.getElementById('link-details').textContent; return t.includes('handshake') && t.includes('endpoint 192.0.2.');",
        json!([]),
    );
    b.screenshot("03-topology-healthy");
    b.check_accessibility("topology");

    // Cut h3 off: its links turn red on the open page, no reload.
    b.js("window.__sameDocument = 1;", json!([]));
    let cut = std::time::Instant::now();
    lab.exec_ok("h3", "ip link set u0 down");
    // The deadline: red within the heartbeat timeout (a host is
    // offline 30 s after its last report, at most 30 s after the cut)
    // plus 1 s; the poll's own step and a loaded machine get 5 s more.
    b.wait_for(
        "h3's links unhealthy",
        Duration::from_secs(30 + 1 + 5),
        "const h3 = arguments[0]; const s = document.getElementById('topology'); if (!s) return false; \
         const mine = [...s.querySelectorAll('.edge')].filter((e) => e.dataset.a === h3 || e.dataset.b === h3); \
         return mine.length === 2 && mine.every((e) => e.dataset.health === 'unhealthy' && getComputedStyle(e).stroke === 'rgb(207, 34, 46)');",
        json!([h3]),
    );
    eprintln!(
        "h3's links red on the open page {:.1} s after its traffic was cut",
        cut.elapsed().as_secs_f64()
    );
    assert_eq!(
        b.js("return window.__sameDocument;", json!([])),
        1,
        "the page was reloaded"
    );
    let others = b.js(
        "const h3 = arguments[0]; return [...document.querySelectorAll('#topology .edge')].filter((e) => e.dataset.a !== h3 && e.dataset.b !== h3).map((e) => e.dataset.health);",
        json!([h3]),
    );
    assert_eq!(others, json!(["healthy"]), "h1–h2 stays healthy");
    b.screenshot("04-topology-h3-cut-off");

    // A host's page: its networks, peers and logs following live.
    b.js(&format!("location.hash = '#/hosts/{h1}';"), json!([]));
    b.wait_for(
        "h1's page with peers and logs",
        Duration::from_secs(30),
        "return document.querySelectorAll('#peers-table tbody tr').length === 2 && document.querySelectorAll('#logs li').length > 0;",
        json!([]),
    );
    assert_eq!(b.text("#host-name"), "h1");
    b.screenshot("05-host-page");
    b.check_accessibility("a host's page");

    // A VM placed on h1 through the API shows on the open page with its
    // NIC as h1 made it (TAP, MAC, address), no reload.
    let body = json!({"id": "web1", "host": "h1", "nics": [{"network": "blue"}]});
    let (code, created) = tenant.call(&lab, "POST", "/v1/vms", Some(body));
    assert_eq!(code, 201, "{created}");
    let vm = wait_until("web1's NIC made", Duration::from_secs(30), || {
        let vm = tenant.ok(&lab, "GET", "/v1/vms/web1", None);
        (vm["nics"][0]["state"] == "made").then_some(vm)
    });
    assert_eq!(vm["host"], h1.as_str(), "{vm}");
    let nic = &vm["nics"][0];
    let want: Vec<&str> = ["network", "state", "tap", "mac", "address"]
        .iter()
        .map(|f| nic[*f].as_str().unwrap())
        .collect();
    // (The page may show it pending first; it follows the host's report.)
    let cells = "const rows = document.querySelectorAll('#vms [data-vm=web1] .nics tbody tr'); \
                 return rows.length === 1 ? [...rows[0].cells].map((c) => c.textContent) : [];";
    b.wait_for(
        "web1 and its NIC as made on h1's page",
        Duration::from_secs(30),
        &format!(
            "return JSON.stringify((() => {{ {cells} }})()) === JSON.stringify(arguments[0]);"
        ),
        json!([want]),
    );
    assert_eq!(b.js(cells, json!([])), json!(want));
    assert!(b.text("#vms [data-vm=web1] h3").contains("not run"));
    assert_eq!(
        b.js("return window.__sameDocument;", json!([])),
        1,
        "the page was reloaded"
    );
    b.screenshot("06-host-page-vm");
    b.check_accessibility("a host's page with a VM");

    // Revoke h3: the overview's revoked count is the API's.
    let (code, text) = tenant.call(&lab, "DELETE", &format!("/v1/hosts/{h3}"), None);
    assert_eq!(code, 204, "{text}");
    let status = tenant.ok(&lab, "GET", "/v1/status", None);
    assert_eq!(status["revoked_hosts"], 1, "{status}");
    b.js("location.hash = '#/overview';", json!([]));
    b.wait_for(
        "one revoked host, two live",
        Duration::from_secs(30),
        "const v = (n) => { const e = document.querySelector(`[data-count=${n}] .value`); return e && e.textContent; }; \
         return v('revoked') === '1' && v('vms') === '1';",
        json!([]),
    );
    assert_eq!(
        b.text("[data-count=revoked] .value"),
        status["revoked_hosts"].to_string()
    );
    let live = status["hosts"].as_array().unwrap();
    let online = live.iter().filter(|h| h["state"] == "online").count();
    assert_eq!((live.len(), online), (2, 2), "{status}");
    assert_eq!(b.text("[data-count=online] .value"), online.to_string());
    let changes = b.text("#changes");
    assert!(
        changes.contains("VM web1 placed on h1")
            && changes.contains("host h3 deleted, its certificate revoked"),
        "{changes}"
    );
    b.screenshot("07-overview-revoked");
    b.check_accessibility("the overview");
}

#[test]
fn a_mesh_files_lab_in_the_browser_read_only() {
    require_root!();
    if !have_browser() {
        return;
    }
    let out = output_dir("mesh_file");
    let dir = tempfile::Builder::new()
        .prefix("weft-test-dash")
        .tempdir()
        .unwrap();
    let name = format!("d{}", std::process::id());
    let file = dir.path().join("mesh.yaml");
    let state = dir.path().join("state");
    std::fs::write(
        &file,
        format!(
            "name: {name}\nnetworks:\n  - name: blue\n    subnet: 10.42.0.0/16\n\
             hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n"
        ),
    )
    .unwrap();
    let weft = |args: &[&str]| {
        let mut c = Command::new(WEFT);
        c.args(args)
            .env("WEFT_MESH_STATE", &state)
            .env("WEFT_SOCKET", state.join("no-local-agent.sock"))
            .stdin(Stdio::null());
        c
    };
    let file_arg = file.to_str().unwrap();
    // Taken down whatever happens.
    struct Down<F: Fn()>(F);
    impl<F: Fn()> Drop for Down<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let _down = Down(|| {
        let _ = weft(&["down", file_arg]).output();
    });
    stdout_of(weft(&["up", file_arg]).output().unwrap(), "weft up");
    let page_out = dir.path().join("web.out");
    let server = weft(&["status", "--file", file_arg, "--web", "127.0.0.1:0"])
        .stdout(std::fs::File::create(&page_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Spawned::new(server);
    let url = wait_until("the page's link", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&page_out).ok()?;
        let url = text
            .split("read-only): ")
            .nth(1)?
            .lines()
            .next()?
            .trim()
            .to_string();
        Some(url)
    });
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let b = Browser::start(None, &out);
    b.goto(&format!("{url}#/topology"));
    b.wait_for(
        "the lab's two hosts and their healthy link",
        Duration::from_secs(60),
        "const s = document.getElementById('topology'); return !!s && s.querySelectorAll('.node').length === 2 \
         && s.querySelectorAll('.edge').length === 1 && s.querySelector('.edge').dataset.health === 'healthy';",
        json!([]),
    );
    // Read-only: no sign-in, no sign-out, no tokens.
    for hidden in ["signin", "signout", "nav-tokens"] {
        assert_eq!(
            b.js(
                "return getComputedStyle(document.getElementById(arguments[0])).display;",
                json!([hidden])
            ),
            "none",
            "{hidden}"
        );
    }
    b.screenshot("01-mesh-topology");
    b.js("location.hash = '#/hosts';", json!([]));
    b.wait_for(
        "the hosts table",
        Duration::from_secs(20),
        "return document.querySelectorAll('#hosts-table tbody tr').length === 2;",
        json!([]),
    );
    let text = b.text("#hosts-table");
    assert!(text.contains("h1") && text.contains("h2"), "{text}");
    b.screenshot("02-mesh-hosts");
}
