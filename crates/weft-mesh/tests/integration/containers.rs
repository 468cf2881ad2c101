//! Containers run from images, through plan → diff → apply against fake
//! agents: an unchanged `up` leaves them be, a new image, command,
//! environment or volume makes them anew, and Docker's container starts
//! before its namespace is attached (Podman's joins the one made first).

use crate::common;

use common::{Cluster, mesh};
use weft_mesh::{Runtime, Volume};

const FILE: &str = "
name: demo
networks:
  - {name: blue}
hosts:
  - {name: h1, ssh: root@192.0.2.1}
  - {name: h2, ssh: root@192.0.2.2}
services:
  - name: web
    host: h1
    kind: container
    image: localhost/web:1
    command: [httpd, -f, -p, '8080']
    env: [GREETING=hi]
    volumes: ['/srv/www:/www:ro']
    networks: [blue]
  - {name: db, host: h2, kind: container, image: localhost/db:1, runtime: docker, networks: [blue]}
  - {name: sandbox, host: h2, kind: container, networks: [blue]}
";

#[test]
fn the_plan_carries_image_command_env_volumes_and_runtime() {
    let mut cluster = Cluster::default();
    let up = cluster.up(&mesh(FILE));
    let web = up.plan.service("web").unwrap();
    let c = web.container.as_ref().expect("web runs an image");
    assert_eq!(c.image, "localhost/web:1");
    assert_eq!(web.command.as_deref().unwrap()[0], "httpd");
    assert_eq!(c.env, ["GREETING=hi"]);
    assert_eq!(c.volumes, [Volume::parse("/srv/www:/www:ro").unwrap()]);
    assert_eq!(c.runtime, None, "settled by the executor on the host");
    assert_eq!(
        up.plan.service("db").unwrap().runtime(),
        Some(Runtime::Docker)
    );
    assert!(
        up.plan.service("sandbox").unwrap().container.is_none(),
        "a container without an image is a namespace only"
    );
    // The plan is kept as JSON between runs: it reads back the same.
    let text = serde_json::to_string(&up.plan).unwrap();
    assert_eq!(
        serde_json::from_str::<weft_mesh::Plan>(&text).unwrap(),
        up.plan
    );
    assert!(
        !text.contains("\"container\":null"),
        "absent, not null: {text}"
    );
}

#[test]
fn docker_starts_before_its_namespace_is_attached_podman_after() {
    let mut cluster = Cluster::default();
    let up = cluster.up(&mesh(FILE));
    let first = &up.rounds[0];
    let actions = |host: &str| -> Vec<String> {
        first
            .host(host)
            .unwrap()
            .actions
            .iter()
            .map(ToString::to_string)
            .filter(|a| a.starts_with("attach") || a.starts_with("start"))
            .collect()
    };
    assert_eq!(
        actions("h1"),
        [
            "attach web to blue at 10.42.0.2",
            "start container web from localhost/web:1"
        ]
    );
    assert_eq!(
        actions("h2"),
        [
            "start container db from localhost/db:1 (docker)",
            "attach db to blue at 10.42.1.2",
            "attach sandbox to blue at 10.42.1.3",
            "start container sandbox",
        ]
    );
}

#[test]
fn an_unchanged_up_keeps_containers_and_a_changed_one_makes_them_anew() {
    let mut cluster = Cluster::default();
    cluster.up(&mesh(FILE));
    let again = cluster.up(&mesh(FILE));
    assert!(again.rounds.is_empty(), "{:#?}", again.rounds);

    let remade = [
        "stop service web",
        "detach weft.demo.web from blue",
        "attach web to blue at 10.42.0.2",
    ];
    for (what, from, to) in [
        ("image", "localhost/web:1", "localhost/web:2"),
        ("command", "'8080']", "'8081']"),
        ("env", "GREETING=hi", "GREETING=hello"),
        ("volumes", "/srv/www:/www:ro", "/srv/www:/www"),
    ] {
        let edited = FILE.replace(from, to);
        let up = cluster.up(&mesh(&edited));
        let h1 = up.actions_of("h1");
        assert_eq!(h1[..3], remade, "{what}: {h1:?}");
        assert!(
            h1[3].starts_with("start container web from "),
            "{what}: {h1:?}"
        );
        assert!(up.actions_of("h2").is_empty(), "{what}");
        // Back to the file as it was, for the next edit.
        cluster.up(&mesh(FILE));
    }

    // Settling another runtime on the host is a change too.
    let mut plan = cluster.up(&mesh(FILE)).plan;
    let before = plan.service("web").unwrap().fingerprint();
    plan.services[0].set_runtime(Runtime::Podman);
    assert_ne!(plan.service("web").unwrap().fingerprint(), before);
}

/// Services without an image keep the digest they had before containers
/// ran images: upgrading weft restarts nothing.
#[test]
fn services_without_an_image_keep_their_fingerprint() {
    let up = Cluster::default().up(&mesh(FILE));
    let sandbox = up.plan.service("sandbox").unwrap();
    let canonical = "container|mesh|[]|None";
    assert_eq!(
        sandbox.fingerprint(),
        format!("{:016x}", weft_model::naming::fnv1a(canonical.as_bytes()))
    );
}
