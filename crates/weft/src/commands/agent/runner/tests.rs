use super::*;

#[test]
fn the_supervisors_exit_is_said_shorter() {
    assert_eq!(ended("exited with code 3"), "exited 3");
    assert_eq!(ended("killed by signal 9"), "killed by signal 9");
}

#[test]
fn a_hypervisor_weft_does_not_run_is_refused() {
    let err = hypervisor("vmware").unwrap_err().to_string();
    assert!(err.contains("vmware"), "{err}");
}
