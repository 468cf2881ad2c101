use super::*;
use clap::CommandFactory as _;

/// Routes made for a browser, not for a command, and why.
const NOT_FOR_A_COMMAND: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/",
        "the dashboard's page: a browser's, and it holds no data",
    ),
    (
        "GET",
        "/assets/{file}",
        "the dashboard's scripts and style sheet",
    ),
    (
        "GET",
        "/v1/events",
        "the dashboard's live feed: 'something changed' only, which `weft control status` answers whole",
    ),
];

/// Every route of the control plane's table has a `weft` command, and
/// every command's route is in the table: the table is the one source.
#[test]
fn every_route_has_a_command_and_every_command_a_route() {
    let routes = weft_control::api::routes();
    assert!(
        routes.len() >= 20,
        "the route table: {} routes",
        routes.len()
    );
    let missing: Vec<String> = routes
        .iter()
        .filter(|r| {
            !ENDPOINTS
                .iter()
                .any(|e| e.method == r.method.as_str() && e.path == r.path)
                && !NOT_FOR_A_COMMAND
                    .iter()
                    .any(|(m, p, _)| *m == r.method.as_str() && *p == r.path)
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a weft command: {missing:?}"
    );
    for e in ENDPOINTS {
        assert!(
            routes
                .iter()
                .any(|r| r.method.as_str() == e.method && r.path == e.path),
            "{} calls {} {}, which is not a route",
            e.command,
            e.method,
            e.path
        );
    }
}

/// Each endpoint's command is a real subcommand of the CLI, and its
/// `--help` names the route it calls.
#[test]
fn each_command_exists_and_its_help_names_its_route() {
    for e in ENDPOINTS {
        let words: Vec<&str> = e.command.split(' ').collect();
        assert_eq!(words[0], "weft", "{}", e.command);
        let mut cmd = crate::Cli::command();
        for word in &words[1..] {
            cmd = cmd
                .find_subcommand(word)
                .unwrap_or_else(|| panic!("{}: no subcommand {word}", e.command))
                .clone();
        }
        let help = cmd.render_long_help().to_string();
        let route = format!("{} {}", e.method, e.path);
        assert!(
            help.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&route),
            "{}: its help does not name {route}: {help}",
            e.command
        );
    }
}

#[test]
fn path_parts_are_filled_in_order_and_percent_encoded() {
    assert_eq!(NETWORK_SHOW.path_with(&["blue"]), "/v1/networks/blue");
    assert_eq!(
        VXLAN_LS.path_with(&["edge-1"]),
        "/v1/sites/edge-1/vxlan-networks"
    );
    // A value cannot climb to another route or add a query.
    assert_eq!(
        SITE_SHOW.path_with(&["../tokens?x=1#"]),
        "/v1/sites/..%2Ftokens%3Fx%3D1%23"
    );
    assert_eq!(STATUS.path_with(&[]), "/v1/status");
}

#[test]
fn labels_are_key_equals_value() {
    assert_eq!(args::label("zone=a"), Ok(("zone".into(), "a".into())));
    assert_eq!(args::label("empty="), Ok(("empty".into(), String::new())));
    for bad in ["zone", "=a", ""] {
        assert!(args::label(bad).unwrap_err().contains("KEY=VALUE"), "{bad}");
    }
}
