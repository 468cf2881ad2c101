use super::*;
use std::path::Path;

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

/// A host that answers the checks from a script: which runtimes are
/// installed, which paths exist, which images it has or can pull.
struct Fake {
    name: &'static str,
    installed: &'static str,
    paths: &'static [&'static str],
    images: &'static [&'static str],
}

impl HostConn for Fake {
    fn name(&self) -> &str {
        self.name
    }
    fn weft(&self, _args: &[&str]) -> Result<String> {
        unreachable!("the checks do not ask the agent")
    }
    fn sh(&self, script: &str) -> Result<String> {
        if script.starts_with("for r in podman docker") {
            return Ok(self.installed.into());
        }
        if let Some(path) = script
            .strip_prefix("[ -e ")
            .and_then(|s| s.strip_suffix(" ]"))
        {
            return match self.paths.contains(&path) {
                true => Ok(String::new()),
                false => bail!("h1: exit status: 1"),
            };
        }
        if script.contains(" image inspect ") || script.contains(" pull ") {
            return match self.images.iter().any(|i| script.contains(i)) {
                true => Ok(String::new()),
                false => bail!("h1: Error: initializing source docker://x: connection refused"),
            };
        }
        panic!("unexpected script {script}")
    }
    fn sh_net(&self, _script: &str) -> Result<String> {
        unreachable!()
    }
    fn weft_bin(&self) -> String {
        "weft".into()
    }
    fn mesh_dir(&self, _mesh: &Mesh) -> String {
        "/nonexistent".into()
    }
    fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
        cmd.to_vec()
    }
}

fn check(services: &str, host: Fake) -> (Result<BTreeMap<String, Runtime>>, Vec<String>) {
    let text = format!(
        "name: m\nnetworks: [{{name: blue}}]\nhosts: [{{name: h1, ssh: root@192.0.2.1}}]\nservices:\n{services}"
    );
    let mesh = Mesh {
        file: weft_mesh::ValidMesh::parse(&text).unwrap_or_else(|e| panic!("{e}")),
        dir: "/nonexistent".into(),
    };
    let hosts: Vec<Box<dyn HostConn>> = vec![Box::new(host)];
    let mut pulled = vec![];
    let result = preflight(&mesh, &hosts, &mut |_, line| pulled.push(line.to_string()));
    (result, pulled)
}

fn fake(installed: &'static str, images: &'static [&'static str]) -> Fake {
    Fake {
        name: "h1",
        installed,
        paths: &["/srv"],
        images,
    }
}

#[test]
fn the_runtime_is_podman_where_installed_else_docker_else_an_error() {
    let svc = "  - {name: web, host: h1, kind: container, image: app, networks: [blue]}\n";
    let (got, _) = check(svc, fake("docker\npodman\n", &["app"]));
    assert_eq!(got.unwrap()["web"], Runtime::Podman);
    let (got, _) = check(svc, fake("docker\n", &["app"]));
    assert_eq!(got.unwrap()["web"], Runtime::Docker);
    let (got, _) = check(svc, fake("", &["app"]));
    assert_eq!(
        got.unwrap_err().to_string(),
        "service web (services[0].image): host h1 has no container runtime (install podman or docker)"
    );
    let docker = "  - {name: web, host: h1, kind: container, image: app, runtime: docker, networks: [blue]}\n";
    let (got, _) = check(docker, fake("podman\n", &["app"]));
    assert_eq!(
        got.unwrap_err().to_string(),
        "service web (services[0].runtime): docker is not installed on host h1"
    );
}

#[test]
fn missing_volumes_and_images_name_the_service_and_key() {
    let svc = "  - {name: web, host: h1, kind: container, image: app, volumes: ['/srv:/a', '/gone:/b'], networks: [blue]}\n";
    let (got, _) = check(svc, fake("podman\n", &["app"]));
    assert_eq!(
        got.unwrap_err().to_string(),
        "service web (services[0].volumes[1]): /gone does not exist on host h1"
    );
    let svc = "  - {name: web, host: h1, kind: container, image: registry.example/none, networks: [blue]}\n";
    let (got, pulled) = check(svc, fake("podman\n", &[]));
    assert_eq!(
        got.unwrap_err().to_string(),
        "service web (services[0].image): image \"registry.example/none\" is not on host h1 and cannot be pulled: \
         h1: Error: initializing source docker://x: connection refused"
    );
    assert_eq!(
        pulled,
        ["pull registry.example/none (podman)"],
        "the pull is shown"
    );
}

#[test]
fn a_missing_localhost_image_is_said_to_be_made_on_its_host() {
    let svc =
        "  - {name: web, host: h1, kind: container, image: localhost/none, networks: [blue]}\n";
    let (got, pulled) = check(svc, fake("docker\n", &[]));
    assert_eq!(
        got.unwrap_err().to_string(),
        "service web (services[0].image): image \"localhost/none\" is not on host h1 and cannot be pulled: \
         localhost/ images are made on their host: docker build, import or load it there first"
    );
    assert_eq!(pulled, ["pull localhost/none (docker)"], "still tried");
}

/// `weft up examples/lab.yaml` by hand, before `scripts/demo` made its
/// image: the checks stop it before anything changes, saying which image
/// is missing where and what makes it.
#[test]
fn the_lab_examples_missing_image_says_what_makes_it() {
    let mesh = Mesh {
        file: weft_mesh::ValidMesh::parse(include_str!("../../../../../examples/lab.yaml"))
            .unwrap_or_else(|e| panic!("{e}")),
        dir: "/nonexistent".into(),
    };
    let hosts: Vec<Box<dyn HostConn>> = ["h1", "h2", "h3"]
        .into_iter()
        .map(|name| -> Box<dyn HostConn> {
            Box::new(Fake {
                name,
                ..fake("podman\n", &[])
            })
        })
        .collect();
    let got = preflight(&mesh, &hosts, &mut |_, _| {}).unwrap_err();
    assert_eq!(
        got.to_string(),
        "service www (services[2].image): image \"localhost/weft-demo:latest\" is not on host h3 \
         and cannot be pulled: localhost/ images are made on their host: podman build, import or \
         load it there first (this is examples/lab.yaml's image: scripts/demo-image in weft's \
         source tree makes it, and scripts/demo runs that)"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo-image");
    let script = std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{script:?}: {e}"));
    assert!(
        script.contains(DEMO_IMAGE),
        "scripts/demo-image makes another image"
    );
}

#[test]
fn services_without_an_image_are_not_checked() {
    let svc = "  - {name: ns, host: h1, kind: container, networks: [blue]}\n";
    let host = fake("", &[]);
    let (got, _) = check(svc, host);
    assert!(got.unwrap().is_empty());
}
