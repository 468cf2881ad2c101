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

#[test]
fn a_vms_files_must_be_files_of_the_allowed_directories() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("images");
    std::fs::create_dir(&allowed).unwrap();
    let kernel = allowed.join("vmlinuz");
    std::fs::write(&kernel, "k").unwrap();
    let dirs = [allowed.clone()];
    check_file("kernel", kernel.to_str().unwrap(), &dirs).unwrap();
    // Outside, through a link from inside, or up and out: refused.
    let outside = dir.path().join("secret");
    std::fs::write(&outside, "s").unwrap();
    let link = allowed.join("link");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let up = format!("{}/../secret", allowed.display());
    for path in [
        outside.to_str().unwrap(),
        link.to_str().unwrap(),
        &up,
        allowed.to_str().unwrap(),
    ] {
        let err = check_file("rootfs", path, &dirs).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "run.rootfs {path} is not a file in the directories"
            )),
            "{err}"
        );
    }
    let err = check_file("initrd", "/nonexistent/initrd", &dirs)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "run.initrd /nonexistent/initrd does not exist on this host"
    );
}
