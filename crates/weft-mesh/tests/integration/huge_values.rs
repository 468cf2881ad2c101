//! A hostile or broken mesh file with huge values: whichever key holds
//! one, the error names the key and shows at most a recognisable start of
//! the value, never the value whole (a 20 MB name used to come back as a
//! 20 MB error). Values shaped like keys are not shown at all.

use weft_mesh::ValidMesh;

/// A file that gives every kind of key a value: each scalar below is
/// replaced, one at a time, by a huge one.
const FILE: &str = r#"name: huge
domain: mesh.local
networks:
  - name: blue
    subnet: 10.42.0.0/16
    mode: wireguard
    block_prefix: 24
    hub: h1
    keepalive: 25
  - name: seg
    subnet: 10.50.0.0/16
    mode: vxlan
    vni: 100
    over: blue
hosts:
  - name: h1
    ssh: root@192.0.2.1
    identity: /root/.ssh/id_ed25519
    endpoint: 192.0.2.1
    listen_port: 51820
  - name: h2
    ssh: root@192.0.2.2
services:
  - name: web
    host: h1
    kind: container
    networks: [blue]
    ports: [8080]
    image: localhost/web:latest
    env:
      - MODE=prod
    volumes:
      - /srv/web:/data:ro
    runtime: podman
    command: [httpd, -f]
  - name: vm1
    host: h2
    kind: vm
    networks: [seg]
    hypervisor: qemu
    binary: /usr/bin/qemu-system-x86_64
    kernel: /var/lib/vm/vmlinuz
    initrd: /var/lib/vm/initrd
    disk: /var/lib/vm/disk.img
    cmdline: console=ttyS0
    memory: 256
    vcpus: 1
    accel: tcg
"#;

const HUGE: usize = 2_000_000;
/// An error may be this long: the path, the reason, a value's start.
const MAX_ERROR: usize = 1024;

/// Each line's scalar value (after `key: ` or `- `), as (line, start).
fn scalars() -> Vec<(usize, usize)> {
    FILE.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let body = line.trim_start();
            let start = line.len() - body.len();
            if let Some(rest) = body.strip_prefix("- ")
                && !rest.contains(": ")
            {
                return Some((n, start + 2));
            }
            let colon = body.find(": ")?;
            let value = &body[colon + 2..];
            (!value.is_empty()).then_some((n, start + colon + 2))
        })
        .collect()
}

fn with_line(n: usize, new: &str) -> String {
    FILE.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == n {
                new.to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_sample_is_valid() {
    ValidMesh::parse(FILE).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_huge_value_at_any_key_gives_a_short_error() {
    let huge = "x".repeat(HUGE);
    let cases = scalars();
    assert!(cases.len() >= 35, "{} scalars", cases.len());
    let mut wrong = Vec::new();
    for (n, at) in cases {
        let line = FILE.lines().nth(n).unwrap();
        // A quoted string where a list or flow value was: still one scalar.
        let file = with_line(n, &format!("{}\"{huge}\"", &line[..at]));
        match ValidMesh::parse(&file) {
            Ok(_) => wrong.push(format!("line {n} ({line:?}): a huge value was accepted")),
            Err(err) => {
                let err = err.to_string();
                if err.len() > MAX_ERROR || err.contains(&"x".repeat(600)) {
                    let start: String = err.chars().take(200).collect();
                    wrong.push(format!(
                        "line {n}: an error of {} bytes: {start}…",
                        err.len()
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_huge_key_gives_a_short_error() {
    // Longer than YAML lets an implicit key be (1024): a syntax error.
    let file = FILE.replace(
        "    keepalive: 25",
        &format!("    {}: 25", "k".repeat(HUGE)),
    );
    let err = ValidMesh::parse(&file).unwrap_err().to_string();
    assert!(err.len() <= MAX_ERROR, "{} bytes", err.len());
    // Within it: an unknown key, named by its start.
    let file = FILE.replace(
        "    keepalive: 25",
        &format!("    {}: 25", "k".repeat(1000)),
    );
    let err = ValidMesh::parse(&file).unwrap_err().to_string();
    assert!(err.len() <= MAX_ERROR, "{} bytes", err.len());
    assert!(err.contains("unknown field \"kkkkkkkk"), "{err}");
    assert!(err.contains("(cut, 1000 characters in all)"), "{err}");
}

#[test]
fn a_value_shaped_like_a_key_is_never_shown() {
    // `wg genkey`'s output pasted where it does not belong.
    let private = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    for (n, at) in scalars() {
        let line = FILE.lines().nth(n).unwrap();
        let file = with_line(n, &format!("{}\"{private}\"", &line[..at]));
        if let Err(err) = ValidMesh::parse(&file) {
            let err = err.to_string();
            assert!(!err.contains(private), "line {n} ({line:?}): {err}");
            assert!(!err.contains(&private[..20]), "line {n} ({line:?}): {err}");
        }
    }
}

#[test]
fn an_environment_entry_is_never_repeated() {
    // An entry is often a secret; a malformed one is named by its place.
    let secret = "hunter2-database-password";
    let file = FILE.replace("      - MODE=prod", &format!("      - {secret}"));
    let err = ValidMesh::parse(&file).unwrap_err().to_string();
    assert!(err.contains("services[0].env"), "{err}");
    assert!(!err.contains(secret), "{err}");
}
