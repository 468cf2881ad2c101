//! Every kind of broken mesh file, each refused at the exact path of the key
//! to change, with a message naming the problem.

use weft_mesh::{MeshError, ValidMesh};

/// (what is wrong, the file, the path reported, a piece of the message)
const CASES: &[(&str, &str, &str, &str)] = &[
    // --- reading: syntax, types, unknown keys, malformed values ---
    (
        "unknown top-level key",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nnetwork: []\n",
        "network",
        "unknown field `network`",
    ),
    (
        "unknown host key",
        "name: m\nnetworks: [{name: blue}]\nhosts:\n  - {name: h1, lab: true}\n  - {name: h2, lab: true}\n  - {name: h3, sshh: root@192.0.2.3}\n",
        "hosts[2].sshh",
        "unknown field `sshh`",
    ),
    (
        "ssh target without a user",
        "name: m\nnetworks: [{name: blue}]\nhosts:\n  - {name: h1, ssh: root@192.0.2.1}\n  - {name: h2, ssh: root@192.0.2.2}\n  - {name: h3, ssh: bob}\n",
        "hosts[2].ssh",
        "\"bob\": no user",
    ),
    (
        "ssh port out of range",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, ssh: 'ops@h1.example:99999'}]\n",
        "hosts[0].ssh",
        "the port must be a number from 1 to 65535",
    ),
    (
        "network name with capitals",
        "name: m\nnetworks: [{name: Blue}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].name",
        "'B' is not allowed",
    ),
    (
        "subnet that is not a CIDR",
        "name: m\nnetworks: [{name: blue}, {name: red, subnet: 10.43.0.0/33}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[1].subnet",
        "not a CIDR",
    ),
    (
        "subnet with host bits",
        "name: m\nnetworks: [{name: blue, subnet: 10.42.1.7/16}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].subnet",
        "did you mean 10.42.0.0/16?",
    ),
    (
        "unknown network mode",
        "name: m\nnetworks: [{name: blue, mode: vlan}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].mode",
        "expected wireguard, bridge or vxlan",
    ),
    (
        "unknown service kind",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h1, kind: pod, networks: [blue]}]\n",
        "services[0].kind",
        "unknown variant `pod`",
    ),
    (
        "port out of range",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue], ports: [70000]}]\n",
        "services[0].ports[0]",
        "70000 is not a port; give 1 to 65535",
    ),
    (
        "lab with options",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: {cpus: 2}}]\n",
        "hosts[0].lab",
        "lab takes no options",
    ),
    (
        "endpoint with a port",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, local: true, endpoint: '192.0.2.1:51820'}]\n",
        "hosts[0].endpoint",
        "the port is the host's listen_port",
    ),
    (
        "invalid domain",
        "name: m\ndomain: Mesh_Local\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\n",
        "domain",
        "not a DNS name",
    ),
    (
        "no networks key",
        "name: m\nhosts: [{name: h1, lab: true}]\n",
        "",
        "missing field `networks`",
    ),
    // --- validation: the file against itself ---
    (
        "mesh name too long",
        "name: a-very-long-mesh-name-that-goes-on-and-on\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\n",
        "name",
        "longer than 32 characters",
    ),
    (
        "no networks",
        "name: m\nnetworks: []\nhosts: [{name: h1, lab: true}]\n",
        "networks",
        "at least one network",
    ),
    (
        "duplicate network names",
        "name: m\nnetworks: [{name: blue}, {name: blue, subnet: 10.43.0.0/16}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[1].name",
        "\"blue\" is already the name of networks[0]",
    ),
    (
        "network name too long for an interface alias",
        "name: m\nnetworks: [{name: a-network-name-of-thirty-three-ch}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].name",
        "longer than 32 characters",
    ),
    (
        "bridge network in a mesh",
        "name: m\nnetworks: [{name: blue, mode: bridge}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].mode",
        "a mesh file takes wireguard and vxlan networks",
    ),
    (
        "vxlan network without a vni",
        "name: m\nnetworks: [{name: l2, mode: vxlan}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].vni",
        "a vxlan network needs one",
    ),
    (
        "vni out of range",
        "name: m\nnetworks: [{name: l2, mode: vxlan, vni: 16777216}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].vni",
        "from 1 to 16777215",
    ),
    (
        "one vni twice",
        "name: m\nnetworks: [{name: a, mode: vxlan, vni: 5, subnet: 10.50.0.0/16}, {name: b, mode: vxlan, vni: 5, subnet: 10.51.0.0/16}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[1].vni",
        "is networks[0]'s too",
    ),
    (
        "vni on a wireguard network",
        "name: m\nnetworks: [{name: blue, vni: 5}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].vni",
        "only a vxlan network",
    ),
    (
        "over a network that is not wireguard",
        "name: m\nnetworks: [{name: a, mode: vxlan, vni: 5, subnet: 10.50.0.0/16}, {name: b, mode: vxlan, vni: 6, over: a, subnet: 10.51.0.0/16}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[1].over",
        "is not a wireguard network listed before this one",
    ),
    (
        "overlapping subnets",
        "name: m\nnetworks: [{name: blue, subnet: 10.42.0.0/16}, {name: red, subnet: 10.42.128.0/17}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[1].subnet",
        "10.42.128.0/17 overlaps 10.42.0.0/16 of networks[0]",
    ),
    (
        "more hosts than blocks",
        "name: m\nnetworks: [{name: blue, subnet: 10.42.0.0/23}]\nhosts: [{name: h1, lab: true}, {name: h2, lab: true}, {name: h3, lab: true}]\n",
        "networks[0].subnet",
        "holds 2 blocks of /24, but the mesh has 3 hosts",
    ),
    (
        "more hosts than blocks of an explicit size",
        "name: m\nnetworks: [{name: blue, subnet: 10.42.0.0/24, block_prefix: 25}]\nhosts: [{name: h1, lab: true}, {name: h2, lab: true}, {name: h3, lab: true}]\n",
        "networks[0].block_prefix",
        "holds 2 blocks of /25",
    ),
    (
        "block too small for a workload",
        "name: m\nnetworks: [{name: blue, block_prefix: 31}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].block_prefix",
        "cannot hold a host and a workload",
    ),
    (
        "block larger than the subnet",
        "name: m\nnetworks: [{name: blue, subnet: 10.42.0.0/16, block_prefix: 8}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].block_prefix",
        "/8 does not fit 10.42.0.0/16",
    ),
    (
        "unknown hub",
        "name: m\nnetworks: [{name: blue, hub: h9}]\nhosts: [{name: h1, lab: true}]\n",
        "networks[0].hub",
        "no host is named \"h9\"",
    ),
    (
        "no hosts",
        "name: m\nnetworks: [{name: blue}]\nhosts: []\n",
        "hosts",
        "at least one host",
    ),
    (
        "duplicate host names",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}, {name: h2, lab: true}, {name: h1, lab: true}]\n",
        "hosts[2].name",
        "\"h1\" is already the name of hosts[0]",
    ),
    (
        "host with no way to reach it",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}, {name: h2}]\n",
        "hosts[1]",
        "say how to reach the host",
    ),
    (
        "host reached two ways",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, local: true, lab: true, endpoint: 192.0.2.1}]\n",
        "hosts[0].lab",
        "already has `local`",
    ),
    (
        "identity without ssh",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true, identity: ~/.ssh/id_ed25519}]\n",
        "hosts[0].identity",
        "only an ssh host takes an identity",
    ),
    (
        "two local hosts",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, local: true, endpoint: 192.0.2.1}, {name: h2, local: true, endpoint: 192.0.2.2}]\n",
        "hosts[1].local",
        "hosts[0] already is",
    ),
    (
        "lab hosts mixed with ssh hosts",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}, {name: h2, ssh: root@192.0.2.2}]\n",
        "hosts[1].ssh",
        "lab and ssh hosts cannot be mixed",
    ),
    (
        "local host without an endpoint",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, local: true}, {name: h2, ssh: root@192.0.2.2}]\n",
        "hosts[0].endpoint",
        "needs the underlay address",
    ),
    (
        "listen port zero",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true, listen_port: 0}]\n",
        "hosts[0].listen_port",
        "0 is not a port",
    ),
    (
        "listen ports past 65535",
        "name: m\nnetworks: [{name: blue}, {name: red, subnet: 10.43.0.0/16}]\nhosts: [{name: h1, lab: true, listen_port: 65535}]\n",
        "hosts[0].listen_port",
        "no room for 2 networks",
    ),
    (
        "two hosts on one endpoint and port",
        "name: m\nnetworks: [{name: blue}, {name: red, subnet: 10.43.0.0/16}]\nhosts:\n  - {name: h1, ssh: root@192.0.2.1}\n  - {name: h2, ssh: 'root@192.0.2.1:2222', listen_port: 51821}\n",
        "hosts[1].listen_port",
        "ports 51821-51822 on 192.0.2.1 clash with hosts[0]",
    ),
    (
        "duplicate service names",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices:\n  - {name: web, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n  - {name: web, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n",
        "services[1].name",
        "\"web\" is already the name of services[0]",
    ),
    (
        "service named like a host",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: h1, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}]\n",
        "services[0].name",
        "both would be h1.mesh.local",
    ),
    (
        "service on an unknown host",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h2, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}]\n",
        "services[0].host",
        "no host is named \"h2\"",
    ),
    (
        "service on no network",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz}]\n",
        "services[0].networks",
        "name at least one network",
    ),
    (
        "service on an unknown network",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue, red]}]\n",
        "services[0].networks[1]",
        "no network is named \"red\"",
    ),
    (
        "process without a command",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: web, host: h1, kind: process, networks: [blue]}]\n",
        "services[0].command",
        "a process needs a command",
    ),
    (
        "container with a command",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, networks: [blue], command: [redis-server]}]\n",
        "services[0].command",
        "a container runs a command only from an image: give `image`",
    ),
    (
        "a service named like the lab's underlay",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: underlay, host: h1, kind: process, command: [x], networks: [blue]}]\n",
        "services[0].name",
        "\"underlay\" is reserved",
    ),
    (
        "a host named like the lab's underlay",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: underlay, lab: true}]\n",
        "hosts[0].name",
        "\"underlay\" is reserved",
    ),
    (
        "an image named like an option",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: \"--help\", networks: [blue]}]\n",
        "services[0].image",
        "\"--help\" is not an image name: it starts with '-' and a container runtime would take it as an option",
    ),
    (
        "an image named like a short option",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: -v/:/host, networks: [blue]}]\n",
        "services[0].image",
        "starts with '-'",
    ),
    (
        "an environment entry with a colon for '='",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, env: [\"PASSWORD:hunter2\"], networks: [blue]}]\n",
        "services[0].env[0]",
        "an entry starting \"PASSWORD\" (the rest not shown) is not KEY=VALUE",
    ),
    (
        "process with an image",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: process, image: redis, command: [x], networks: [blue]}]\n",
        "services[0].image",
        "only a container takes `image`, and this is a process",
    ),
    (
        "container env without an image",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, env: [A=1], networks: [blue]}]\n",
        "services[0].env",
        "`env` needs `image`",
    ),
    (
        "env entry that is not KEY=VALUE",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, env: [A=1, DEBUG], networks: [blue]}]\n",
        "services[0].env[1]",
        "\"DEBUG\" is not KEY=VALUE",
    ),
    (
        "env key set twice",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, env: [A=1, A=2], networks: [blue]}]\n",
        "services[0].env[1]",
        "A is already set by env[0]",
    ),
    (
        "volume that is not host:container",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, volumes: [/data], networks: [blue]}]\n",
        "services[0].volumes[0]",
        "\"/data\" is not host-path:container-path[:ro]",
    ),
    (
        "volume with a relative host path",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, volumes: ['data:/data:ro'], networks: [blue]}]\n",
        "services[0].volumes[0]",
        "the host path \"data\" is not absolute",
    ),
    (
        "unknown runtime",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, runtime: rkt, networks: [blue]}]\n",
        "services[0].runtime",
        "unknown variant `rkt`, expected one of podman, docker",
    ),
    (
        "empty container command",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: db, host: h1, kind: container, image: redis, command: [], networks: [blue]}]\n",
        "services[0].command",
        "the command must not be empty",
    ),
    (
        "vm on the host network",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, network: host, networks: [blue]}]\n",
        "services[0].network",
        "a vm has interfaces of its own",
    ),
    (
        "port listed twice",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue], ports: [80, 80]}]\n",
        "services[0].ports[1]",
        "port 80 is listed twice",
    ),
    (
        "port clash on a host",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices:\n  - {name: api, host: h1, kind: process, network: host, networks: [blue], ports: [8000], command: [api]}\n  - {name: web, host: h1, kind: container, network: dual, networks: [blue], ports: [443, 8000]}\n",
        "services[1].ports[1]",
        "port 8000 on host \"h1\" is already taken by services[0] (\"api\", network: host)",
    ),
    (
        "more workloads than a block holds",
        "name: m\nnetworks: [{name: blue, block_prefix: 30}]\nhosts: [{name: h1, lab: true}]\nservices:\n  - {name: a, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n  - {name: b, host: h1, kind: vm, hypervisor: qemu, kernel: /vmlinuz, networks: [blue]}\n",
        "services[1].networks[0]",
        "room for 1 workload(s)",
    ),
    (
        "vm with hypervisor auto (the default) and a binary",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, kernel: /vmlinuz, binary: /opt/qemu, networks: [blue]}]\n",
        "services[0].binary",
        "binary goes with a hypervisor named, not auto",
    ),
    (
        "vm with hypervisor auto and an accelerator",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: auto, kernel: /vmlinuz, accel: tcg, networks: [blue]}]\n",
        "services[0].accel",
        "accel goes with a hypervisor named, not auto",
    ),
    (
        "vm with hypervisor auto and a disk but no kernel",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, disk: /var/lib/vm.img, networks: [blue]}]\n",
        "services[0].kernel",
        "a vm with hypervisor auto needs a kernel to boot",
    ),
    (
        "unknown hypervisor",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: vmware, networks: [blue]}]\n",
        "services[0].hypervisor",
        "unknown hypervisor \"vmware\" (auto, cloud-hypervisor, firecracker or qemu)",
    ),
    (
        "firecracker vm without a kernel",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: firecracker, disk: /rootfs.ext4, networks: [blue]}]\n",
        "services[0].kernel",
        "a firecracker vm needs a kernel",
    ),
    (
        "vm kernel path that is relative",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: vmlinuz, networks: [blue]}]\n",
        "services[0].kernel",
        "\"vmlinuz\" is not an absolute path",
    ),
    (
        "vm with too little memory",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: /k, memory: 16, networks: [blue]}]\n",
        "services[0].memory",
        "16 MiB is too little",
    ),
    (
        "vm with no vcpus",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: qemu, kernel: /k, vcpus: 0, networks: [blue]}]\n",
        "services[0].vcpus",
        "give 1 to 64",
    ),
    (
        "a process with a hypervisor",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: p, host: h1, kind: process, command: [sleep, '9'], hypervisor: qemu, networks: [blue]}]\n",
        "services[0].hypervisor",
        "only a vm takes hypervisor, and this is a process",
    ),
    (
        "a container with a kernel",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: c, host: h1, kind: container, kernel: /k, networks: [blue]}]\n",
        "services[0].kernel",
        "only a vm takes kernel, and this is a container",
    ),
    (
        "accel on a hypervisor that is not qemu",
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, lab: true}]\nservices: [{name: vm1, host: h1, kind: vm, hypervisor: firecracker, kernel: /k, accel: tcg, networks: [blue]}]\n",
        "services[0].accel",
        "only qemu takes accel, and this is firecracker",
    ),
];

#[test]
fn every_broken_file_is_refused_at_its_key() {
    assert!(CASES.len() >= 20);
    let mut failures = Vec::new();
    for (what, text, path, fragment) in CASES {
        let err: MeshError = match ValidMesh::parse(text) {
            Ok(_) => {
                failures.push(format!("{what}: accepted"));
                continue;
            }
            Err(err) => err,
        };
        let shown = err.to_string();
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}: ")
        };
        if err.path != *path || !shown.starts_with(&prefix) || !shown.contains(fragment) {
            failures.push(format!(
                "{what}: want `{prefix}…{fragment}…`, got `{shown}` (path {:?})",
                err.path
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn reading_errors_say_where_in_the_text() {
    let err =
        ValidMesh::parse("name: m\nnetworks: [{name: blue}]\nhosts:\n  - {name: h1, lab: 7}\n")
            .unwrap_err();
    assert_eq!(err.path, "hosts[0].lab");
    assert_eq!(err.location.map(|(line, _)| line), Some(4), "{err}");
    let err = ValidMesh::parse("name: m\nname: n\n").unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    let err = ValidMesh::parse("name: [unclosed\n").unwrap_err();
    assert!(err.location.is_some(), "{err}");
}

#[test]
fn a_minimal_file_takes_every_default() {
    let mesh =
        ValidMesh::parse("name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, local: true}]\n")
            .unwrap();
    assert_eq!(mesh.domain.as_str(), "mesh.local");
    let net = &mesh.networks[0];
    assert_eq!(net.subnet.to_string(), "10.42.0.0/16");
    assert_eq!(net.mode, weft_model::Mode::Wireguard);
    assert_eq!(net.block_prefix(), 24);
    assert!(!net.internal && net.hub.is_none() && net.keepalive.is_none());
    assert_eq!(mesh.hosts[0].listen_port, 51820);
    assert_eq!(mesh.hosts[0].reach(), weft_mesh::Reach::Local);
}
