//! `weft control … --store etcd://…`: the operator's commands against the
//! control plane's etcd (a member on loopback, started here).

use std::process::Output;
use weft_testkit::etcd::Member;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn weft(state: &std::path::Path, store: &str, args: &[&str]) -> Output {
    std::process::Command::new(WEFT)
        .arg("control")
        .arg("--state-dir")
        .arg(state)
        .args(["--store", store])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn tenants_and_tokens_are_made_in_etcd() {
    let Some(mut member) = Member::start() else {
        return;
    };
    // Nothing in the state directory: the store is etcd's.
    let state = tempfile::tempdir().unwrap();
    let store = format!(
        "{}/test/{}/",
        member.client_url().replace("http://", "etcd://"),
        std::process::id()
    );
    let made = weft(state.path(), &store, &["tenant", "create", "acme"]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(
        text(&made.stdout).contains("wak_"),
        "{}",
        text(&made.stdout)
    );
    let again = weft(state.path(), &store, &["tenant", "create", "acme"]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    let token = weft(
        state.path(),
        &store,
        &["token", "create", "--tenant", "acme", "-o", "json"],
    );
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert!(text(&token.stdout).contains("wet_"));
    assert!(!state.path().join("control.db").exists());
    let listed = weft(state.path(), &store, &["tenant", "ls"]);
    assert!(
        text(&listed.stdout).contains("acme"),
        "{}",
        text(&listed.stdout)
    );

    member.kill();
    let down = weft(state.path(), &store, &["tenant", "ls"]);
    assert!(!down.status.success());
    let err = text(&down.stderr);
    assert!(
        err.starts_with(&format!(
            "weft: error: the control plane's store (etcd at {}) could not be reached or did not answer",
            member.client_url()
        )),
        "{err}"
    );
}
