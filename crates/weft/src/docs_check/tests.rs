//! The docs hold against the code; and each check fails on a planted
//! mistake, so a passing run means something.

use super::*;
use clap::CommandFactory;

fn cli() -> clap::Command {
    crate::Cli::command()
}

fn assert_none(what: &str, problems: Vec<Problem>) {
    assert!(
        problems.is_empty(),
        "{what} ({} problem(s)):\n{}",
        problems.len(),
        report(&problems)
    );
}

/// The docs hold, and the check looked at no fewer things than the docs
/// show today (a check that finds nothing to look at proves nothing).
fn assert_holds(what: &str, checked: Checked, at_least: usize) {
    assert_none(what, checked.problems);
    assert!(
        checked.looked_at >= at_least,
        "{what}: only {} looked at, the docs show at least {at_least}: does the check still find them?",
        checked.looked_at
    );
}

// --- the docs as they are ---

#[test]
fn the_docs_name_only_paths_that_exist() {
    let repo = Repo::this();
    let docs = repo.docs();
    assert!(
        docs.iter().any(|d| d.path == "README.md"),
        "README.md not found under {}",
        repo.root.display()
    );
    assert_holds(
        "paths the docs name that do not exist",
        check_paths(&repo, &docs),
        450,
    );
}

#[test]
fn the_docs_show_only_command_lines_the_cli_accepts() {
    let docs = Repo::this().docs();
    assert_holds(
        "command lines the CLI refuses",
        check_commands(&docs, &cli()),
        150,
    );
}

#[test]
fn the_docs_mesh_samples_parse_or_are_marked_refused() {
    let docs = Repo::this().docs();
    assert_holds("mesh samples", check_mesh_samples(&docs), 8);
}

#[test]
fn the_docs_name_only_rest_routes_that_exist() {
    let docs = Repo::this().docs();
    assert_holds("REST paths", check_rest_paths(&docs, &rest::table()), 15);
}

// --- each check catches what it is for ---

fn page(text: &str) -> Vec<Doc> {
    vec![Doc::parse("docs/page.md", text)]
}

fn shown(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_path_that_does_not_exist_is_named_with_its_line() {
    let repo = Repo::of(&[
        "crates/weft/src/main.rs",
        "crates/weft-agent/src/grpc/requests.rs",
        "docs/page.md",
        "docs/other.md",
        "examples/lab.yaml",
    ]);
    let docs = page(
        "# Page\n\
         \n\
         Start at `crates/weft/src/main.rs` and `grpc/requests.rs`.\n\
         Not at `crates/weft-agent/tests/store_crash.rs`,\n\
         nor `gone.rs`; see [lab](../examples/lab.yaml) and [x](other.md#nowhere).\n\
         \n\
         ```sh\n\
         scripts/demo\n\
         ```\n\
         Left alone: `/run/netns/c1`, `foo/tests.rs`, `w<index>-<id>`, `https://x/a.rs`.\n",
    );
    let problems = check_paths(&repo, &docs).problems;
    assert_eq!(
        shown(&problems),
        [
            "docs/page.md:4: `crates/weft-agent/tests/store_crash.rs` does not exist in the repository",
            "docs/page.md:5: `gone.rs` does not exist in the repository",
            "docs/page.md:5: link to `other.md#nowhere`: docs/other.md has no heading with anchor #nowhere",
            "docs/page.md:8: `scripts/demo` does not exist in the repository",
        ]
    );
}

#[test]
fn globs_ellipses_and_items_are_checked() {
    let repo = Repo::this();
    let ok = page(
        "`crates/weft-mesh/tests/integration/*.rs`, `crates/weft-agent/src/…`,\n\
         `crates/weft-agent/src/attachments.rs::commit_attachment`, [top](#page)\n\n# Page\n",
    );
    assert_none("good paths", check_paths(&repo, &ok).problems);
    let bad = page(
        "`crates/weft-mesh/tests/broken/*`\n\n\
         `crates/weft-agent/src/attachments.rs::no_such_function`\n\n\
         `crates/nothing…` [x](#missing)\n",
    );
    let problems = shown(&check_paths(&repo, &bad).problems);
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains("matches no path"), "{problems:#?}");
    assert!(
        problems[1].contains("no `no_such_function` is defined"),
        "{problems:#?}"
    );
    assert!(
        problems[2].contains("nothing in the repository starts with"),
        "{problems:#?}"
    );
    assert!(
        problems[3].contains("no heading with anchor #missing"),
        "{problems:#?}"
    );
}

#[test]
fn cargo_test_targets_must_exist() {
    let repo = Repo::this();
    let ok =
        page("```sh\ncargo test -p weft --test integration -- kernel_guest --nocapture\n```\n");
    assert_none("a real test target", check_paths(&repo, &ok).problems);
    let bad =
        page("```sh\ncargo test -p weft --test store_crash\ncargo test -p weft-nothing\n```\n");
    let problems = shown(&check_paths(&repo, &bad).problems);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("docs/page.md:2: `cargo … --test store_crash`"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("docs/page.md:3: `cargo … -p weft-nothing`"),
        "{problems:#?}"
    );
}

#[test]
fn command_lines_with_placeholders_parse() {
    let docs = page(
        "```sh\n\
         # a comment\n\
         weft network create NAME --subnet CIDR [--block CIDR] [--mode wireguard|bridge|vxlan] \\\n\
             [--listen-port N] [--internal]\n\
         A$ weft peer add blue --public-key $KEY_B --endpoint 192.0.2.2:51820 --allowed-ips 10.42.2.0/24\n\
         ip netns add c1 && weft attach blue --netns /run/netns/c1 --id c1\n\
         weft agent [--wireguard auto|kernel|userspace] [--dns-upstream IP:PORT]...\n\
         qemu-system-x86_64 -m 512 $(weft vm config vm1 --hypervisor qemu)\n\
         weft key generate | weft key public < PRIVATE\n\
         sh -c 'exec target/debug/weft agent --socket /tmp/h1.sock'\n\
         WEFT_ENROLL_TOKEN=wet_… weft agent --control https://cp.example:50051 --ca-fingerprint SHA256:…\n\
         weft exec web -- ping -c 1 db\n\
         ```\n\
         Inline: `weft status --file`, `weft control tenant …`, `weft names set … --source mesh`.\n",
    );
    assert_none("good command lines", check_commands(&docs, &cli()).problems);
}

#[test]
fn a_command_line_the_cli_refuses_is_named_with_its_line() {
    let docs = page(
        "```sh\n\
         weft network create blue --subnet 10.42.0.0/16\n\
         weft network create blue --subnet 10.42.0.0/16 --colour red\n\
         weft agent --wireguard auto|kernel|magic\n\
         weft network make blue\n\
         weft attach blue --netns /run/netns/c1\n\
         weft network create blue --subnet CIDR --listen-port many\n\
         ```\n\
         Inline: `weft peer add blue --key K` and `weft status --file` (fine).\n",
    );
    let problems = shown(&check_commands(&docs, &cli()).problems);
    let expected = [
        ("docs/page.md:3:", "unexpected argument '--colour'"),
        ("docs/page.md:4:", "invalid value 'magic'"),
        ("docs/page.md:5:", "unrecognized subcommand 'make'"),
        ("docs/page.md:6:", "required arguments were not provided"),
        ("docs/page.md:7:", "invalid value 'many'"),
        ("docs/page.md:9:", "unexpected argument '--key'"),
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, (at, what)) in problems.iter().zip(expected) {
        assert!(
            problem.starts_with(at) && problem.contains(what),
            "want {at} … {what}, got {problem}"
        );
    }
}

#[test]
fn mesh_samples_parse_are_completed_and_refusals_are_checked() {
    let docs = page(
        "```yaml\n\
         services:\n\
         \x20 - {name: web, host: h1, kind: process, networks: [blue], command: [sleep, '9']}\n\
         ```\n\
         \n\
         ```yaml\n\
         hosts:\n\
         \x20 - {name: h1, lab: true}\n\
         \x20 - {name: h2, ssh: ops@192.0.2.2}\n\
         ```\n\
         \n\
         <!-- refused: hosts[1].ssh -->\n\
         ```yaml\n\
         hosts:\n\
         \x20 - {name: h1, lab: true}\n\
         \x20 - {name: h2, ssh: ops@192.0.2.2}\n\
         ```\n\
         \n\
         <!-- refused -->\n\
         ```yaml\n\
         networks: [{name: blue}]\n\
         ```\n\
         \n\
         <!-- not a mesh file -->\n\
         ```yaml\n\
         version: 2\n\
         ```\n",
    );
    let problems = shown(&check_mesh_samples(&docs).problems);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0]
            .starts_with("docs/page.md:7: this mesh sample is refused by weft-mesh: hosts[1]"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with(
            "docs/page.md:21: this mesh sample is marked refused, but weft-mesh accepts it"
        ),
        "{problems:#?}"
    );
}

#[test]
fn rest_paths_must_be_routes_with_their_methods() {
    let docs = page(
        "`GET /v1/networks/{name}/hosts`, `PUT /v1/networks/blue/hosts`, `/v1/openapi.json`\n\n\
         `/v1/tenants`, `PATCH /v1/networks/{name}`\n\n\
         ```sh\n\
         curl -X DELETE https://cp.example:8443/v1/hosts/3f2a\n\
         curl https://cp.example:8443/v1/nothing\n\
         ```\n",
    );
    let problems = shown(&check_rest_paths(&docs, &rest::table()).problems);
    assert_eq!(
        problems,
        [
            "docs/page.md:3: `/v1/tenants` is not a route of the control plane's REST API",
            "docs/page.md:3: `PATCH /v1/networks/{name}`: the route has no PATCH",
            "docs/page.md:7: `/v1/nothing` is not a route of the control plane's REST API",
        ]
    );
}

#[test]
fn paths_are_told_from_what_is_not_a_path() {
    use paths::named;
    for not_a_path in [
        "/run/netns/c1",
        "/var/lib/weft",
        "~/.cache/weft-guest",
        "10.42.0.0/16",
        "w<index>-<id>",
        "https://cp.example/x.rs",
        "--file",
        "foo/tests.rs",
        "state.db",
        "IP:PORT",
        "/v1/networks/{name}/hosts",
    ] {
        assert_eq!(named(not_a_path), None, "{not_a_path}");
    }
    for path in [
        "crates/weft/src/main.rs",
        "./scripts/test",
        "grpc/requests.rs",
        "Cargo.toml",
        "(docs/state.md).",
        "vms.rs::dhcp_plan",
    ] {
        assert!(named(path).is_some(), "{path}");
    }
    assert!(paths::defines(
        "pub(crate) fn dhcp_plan(&self)",
        "dhcp_plan"
    ));
    assert!(!paths::defines(
        "let dhcp_plan = 1; fn dhcp_plans()",
        "dhcp_plan"
    ));
}
