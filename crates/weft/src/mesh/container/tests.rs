use super::*;

fn plan(services: &str) -> Plan {
    let text = format!(
        "name: m\nnetworks: [{{name: blue}}, {{name: red, subnet: 10.43.0.0/16}}]\n\
         hosts: [{{name: h1, ssh: root@192.0.2.1}}]\nservices:\n{services}"
    );
    let mesh = weft_mesh::ValidMesh::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    weft_mesh::plan(&mesh, &weft_mesh::Observed::default()).unwrap_or_else(|e| panic!("{e}"))
}

const WEB: &str = "  - {name: web, host: h1, kind: container, image: 'localhost/bb:1', \
    networks: [red, blue], env: ['A=1', 'B=x y'], volumes: ['/srv:/www:ro'], \
    command: [httpd, -f]}\n";

#[test]
fn podman_joins_the_namespace_weft_made() {
    let plan = plan(WEB);
    let svc = plan.service("web").unwrap();
    let netns = Network::Own {
        netns: "weft-m-web".into(),
    };
    assert_eq!(
        run_args(&plan, svc, Runtime::Podman, &netns).join(" "),
        "-d --name weft-m-web --label weft.mesh=m --label weft.service=web --hostname web \
         --network ns:/run/netns/weft-m-web --dns 10.43.0.1 --dns-search mesh.local \
         -e A=1 -e B=x y -v /srv:/www:ro localhost/bb:1 httpd -f"
    );
}

#[test]
fn docker_starts_without_a_network_and_host_services_use_the_hosts() {
    let plan = plan(WEB);
    let svc = plan.service("web").unwrap();
    let own = Network::Own {
        netns: "weft-m-web".into(),
    };
    let args = run_args(&plan, svc, Runtime::Docker, &own);
    let at = args.iter().position(|a| a == "--network").unwrap();
    assert_eq!(args[at + 1], "none");

    let plan = plan_host();
    let svc = plan.service("api").unwrap();
    let lab = Network::Host {
        netns: Some("weft-m-h1".into()),
    };
    let args = run_args(&plan, svc, Runtime::Podman, &lab).join(" ");
    assert!(args.contains("--network ns:/run/netns/weft-m-h1"), "{args}");
    assert!(!args.contains("--dns"), "the host's own resolver: {args}");
    let here = Network::Host { netns: None };
    let args = run_args(&plan, svc, Runtime::Docker, &here).join(" ");
    assert!(args.contains("--network host"), "{args}");
    assert!(
        args.ends_with("localhost/api"),
        "the image's own command: {args}"
    );
}

fn plan_host() -> Plan {
    plan(
        "  - {name: api, host: h1, kind: container, image: localhost/api, network: host, networks: [blue]}\n",
    )
}

#[test]
fn exec_runs_in_the_container() {
    let plan = plan(WEB);
    let svc = plan.service("web").unwrap();
    let cmd = ["sh".to_string(), "-c".into(), "id".into()];
    assert_eq!(
        exec_argv("m", svc, Runtime::Docker, false, &cmd).join(" "),
        "docker exec -i weft-m-web sh -c id"
    );
    assert_eq!(
        exec_argv("m", svc, Runtime::Podman, true, &cmd)[..4],
        ["podman", "exec", "-i", "-t"]
    );
}

#[test]
fn states_read_from_the_runtime() {
    assert_eq!(parse_state("running 0"), State::Running);
    assert_eq!(parse_state("exited 3"), State::Exited(3));
    assert_eq!(parse_state("created 0"), State::Other("created 0".into()));
}
