use super::*;
use anyhow::Context as _;

fn failure() -> anyhow::Error {
    Err::<(), _>(anyhow::anyhow!("exited with code 3"))
        .context("service vx: qemu stopped at once")
        .unwrap_err()
}

#[test]
fn a_run_that_made_nothing_fails_with_its_error_alone() {
    let err = Undone::default().after(failure());
    assert_eq!(
        crate::output::one_line(&err),
        "service vx: qemu stopped at once: exited with code 3"
    );
}

#[test]
fn the_failure_comes_first_then_what_was_undone() {
    let undone = Undone {
        count: 5,
        lab_hosts: vec!["h1".into(), "h2".into()],
        ..Undone::default()
    };
    assert_eq!(
        crate::output::one_line(&undone.after(failure())),
        "service vx: qemu stopped at once: exited with code 3; \
         undone: 5 change(s) this up made and its lab hosts (h1, h2)"
    );
}

#[test]
fn what_stays_and_what_could_not_be_undone_are_named() {
    let undone = Undone {
        count: 2,
        kept: vec![
            "h1: remove network red".into(),
            "h3: remove lab host".into(),
        ],
        failed: vec!["h2: remove network blue: no such network".into()],
        ..Undone::default()
    };
    assert_eq!(
        crate::output::one_line(&undone.after(failure())),
        "service vx: qemu stopped at once: exited with code 3; \
         undone: 2 change(s) this up made; \
         not undone, as they changed what the mesh had: h1: remove network red, h3: remove lab host; \
         could not undo: h2: remove network blue: no such network"
    );
}
