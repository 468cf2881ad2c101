use super::*;

fn env(vars: &[(&str, &str)]) -> Result<CniEnv> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    CniEnv::from_vars(|k| vars.get(k).cloned())
}

const ADD: [(&str, &str); 4] = [
    ("CNI_COMMAND", "ADD"),
    ("CNI_CONTAINERID", "abc123"),
    ("CNI_NETNS", "/run/netns/x"),
    ("CNI_IFNAME", "eth0"),
];

#[test]
fn add_needs_its_variables() {
    assert!(env(&ADD).is_ok());
    for missing in ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"] {
        let vars: Vec<_> = ADD.iter().copied().filter(|(k, _)| *k != missing).collect();
        let err = env(&vars).unwrap_err();
        assert_eq!(err.code, 4);
        assert!(err.msg.contains(missing), "{err}");
    }
}

#[test]
fn del_does_not_need_the_namespace() {
    let vars: Vec<_> = ADD
        .iter()
        .copied()
        .filter(|(k, _)| *k != "CNI_NETNS")
        .map(|(k, v)| {
            if k == "CNI_COMMAND" {
                (k, "DEL")
            } else {
                (k, v)
            }
        })
        .collect();
    assert_eq!(env(&vars).unwrap().command, Command::Del);
}

#[test]
fn bad_values_name_the_variable() {
    for (var, value) in [
        ("CNI_IFNAME", "much-too-long-ifname"),
        ("CNI_IFNAME", "a/b"),
        ("CNI_CONTAINERID", "x y"),
        ("CNI_ARGS", "novalue"),
        ("CNI_COMMAND", "FROB"),
    ] {
        let vars: Vec<_> = ADD
            .iter()
            .copied()
            .filter(|(k, _)| *k != var)
            .chain([(var, value)])
            .collect();
        let err = env(&vars).unwrap_err();
        assert_eq!(err.code, 4, "{var}={value}");
        assert!(err.msg.starts_with(var), "{err}");
    }
    assert_eq!(env(&[]).unwrap_err().code, 4);
}

#[test]
fn args_are_parsed() {
    let vars: Vec<_> = ADD
        .iter()
        .copied()
        .chain([("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web")])
        .collect();
    assert_eq!(env(&vars).unwrap().args["K8S_POD_NAME"], "web");
}
