//! The etcd harness leaves nothing behind and runs members where told.

use std::path::Path;
use weft_testkit::etcd::{Cluster, Member, available};

#[test]
fn a_dropped_member_is_killed_and_its_directory_removed() {
    let Some(mut member) = Member::start() else {
        return;
    };
    let dir = member.dir().to_path_buf();
    assert!(dir.join("data").is_dir());

    member.kill();
    assert!(!member.is_healthy());
    member.restart();
    member.wait_healthy();

    let pid = member.pid().unwrap();
    drop(member);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "etcd {pid} still runs"
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn a_member_runs_inside_a_namespace_on_its_address() {
    weft_testkit::require_root!();
    if !available() {
        return;
    }
    let ns = weft_testkit::NamedNetns::new();
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "lo"]);
    let cluster = Cluster::start_in(&[(&ns.name, "10.77.0.1")]);
    assert_eq!(cluster.endpoints(), ["http://10.77.0.1:2379"]);
    assert!(cluster.members[0].is_healthy());
}
