use super::*;

fn err(json: &str) -> CniError {
    parse(json.as_bytes()).unwrap_err()
}

#[test]
fn a_full_config() {
    let conf = parse(
        br#"{"cniVersion":"1.1.0","name":"blue","type":"weft","subnet":"10.42.0.0/16",
                 "block":"10.42.1.0/24","agentSocket":"/tmp/a.sock","args":{"x":1},
                 "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}"#,
    )
    .unwrap();
    assert_eq!(conf.name, "blue");
    assert_eq!(conf.agent_socket, PathBuf::from("/tmp/a.sock"));
    assert_eq!(conf.valid_attachments, vec![("c1".into(), "eth0".into())]);
    assert_eq!(conf.subnet, Some("10.42.0.0/16".parse().unwrap()));
    assert_eq!(conf.block, Some("10.42.1.0/24".parse().unwrap()));
}

/// What the config leaves out stays unknown: the defaults are the
/// agent's business when it creates the network, and an existing
/// network is whatever it is.
#[test]
fn absent_settings_stay_absent() {
    let conf = parse(br#"{"cniVersion":"1.1.0","name":"br","type":"weft"}"#).unwrap();
    assert_eq!(
        (
            conf.subnet,
            conf.block,
            conf.mode,
            conf.internal,
            conf.domain
        ),
        (None, None, None, None, None)
    );
    // Empty strings always meant "the default": absent too.
    let conf = parse(br#"{"cniVersion":"1.1.0","name":"br","mode":"","domain":""}"#).unwrap();
    assert_eq!((conf.mode, conf.domain), (None, None));
    let conf = parse(
            br#"{"cniVersion":"1.1.0","name":"br","mode":"bridge","internal":false,"domain":"corp.example"}"#,
        )
        .unwrap();
    assert_eq!(conf.mode, Some(Mode::Bridge));
    assert_eq!(conf.internal, Some(false));
    assert_eq!(conf.domain.as_deref(), Some("corp.example"));
}

/// A block only makes sense for a network this config may create.
#[test]
fn a_block_needs_a_subnet() {
    let wrong = err(r#"{"cniVersion":"1.1.0","name":"x","block":"10.0.0.0/24"}"#);
    assert_eq!(wrong.code, 7);
    assert!(wrong.msg.contains("without subnet"), "{wrong}");
}

#[test]
fn the_spec_codes() {
    assert_eq!(err("{not json").code, 6);
    assert_eq!(err("[1,2]").code, 6);
    assert_eq!(err(r#"{"cniVersion":"9.9.9","name":"x"}"#).code, 1);
    let unknown = err(r#"{"cniVersion":"1.0.0","name":"x","frobnicate":true}"#);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.msg.contains("frobnicate") && unknown.msg.contains("true"),
        "{unknown}"
    );
    assert_eq!(err(r#"{"cniVersion":"1.0.0"}"#).code, 7);
    assert_eq!(err(r#"{"name":"x"}"#).code, 7);
    let small = err(r#"{"cniVersion":"1.0.0","name":"x","subnet":"10.0.0.0/31"}"#);
    assert_eq!(small.code, 7);
    assert!(
        small.msg.contains("subnet") && small.msg.contains("too small"),
        "{small}"
    );
    let outside =
        err(r#"{"cniVersion":"1.0.0","name":"x","subnet":"10.0.0.0/16","block":"10.1.0.0/24"}"#);
    assert_eq!(outside.code, 7);
    assert_eq!(
        err(r#"{"cniVersion":"1.0.0","name":"x","mode":"vlan"}"#).code,
        7
    );
    assert_eq!(err(r#"{"cniVersion":"1.0.0","name":"Bad_Name"}"#).code, 7);
    assert_eq!(
        err(r#"{"cniVersion":"1.0.0","name":"x","subnet":5}"#).code,
        7
    );
}

/// Random and mutated input never panics, and every refusal carries one
/// of the codes a config can earn.
#[test]
fn any_input_gets_a_spec_error_or_a_config() {
    let valid = br#"{"cniVersion":"1.1.0","name":"blue","type":"weft","subnet":"10.42.0.0/16","block":"10.42.1.0/24","mode":"bridge","internal":true,"domain":"mesh.local","cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}],"prevResult":{"ips":[]}}"#;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let mut input = valid.to_vec();
        if round % 4 == 0 {
            input = (0..next() % 64).map(|_| next() as u8).collect();
        } else {
            const NOISE: &[u8] = b"{}[],:\"0a ";
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % input.len();
                match next() % 3 {
                    0 => input[at] = next() as u8,
                    1 => {
                        input.remove(at);
                    }
                    _ => input.insert(at, NOISE[(next() as usize) % NOISE.len()]),
                }
                if input.is_empty() {
                    break;
                }
            }
        }
        if let Err(e) = parse(&input) {
            assert!(
                [1, 2, 6, 7].contains(&e.code),
                "code {} for {:?}",
                e.code,
                String::from_utf8_lossy(&input)
            );
            assert!(!e.msg.is_empty());
        }
    }
}

#[test]
fn version_for_errors() {
    assert_eq!(version_of(br#"{"cniVersion":"0.4.0"}"#), "0.4.0");
    assert_eq!(version_of(br#"{"cniVersion":"7"}"#), LATEST);
    assert_eq!(version_of(b"garbage"), LATEST);
}
