use super::*;

fn cpuinfo(dir: &Path, flags: &str) -> PathBuf {
    let path = dir.join("cpuinfo");
    std::fs::write(
        &path,
        format!("processor\t: 0\nflags\t\t: fpu {flags} sse\n"),
    )
    .unwrap();
    path
}

#[test]
fn the_override_decides_and_says_so() {
    let nowhere = Path::new("/nonexistent/kvm");
    assert!(kvm(Some("yes"), nowhere, nowhere).usable());
    let no = kvm(Some("no"), Path::new("/dev/kvm"), nowhere);
    assert_eq!(no.why(), "WEFT_KVM=no");
    let junk = kvm(Some("maybe"), nowhere, nowhere);
    assert!(
        !junk.usable() && junk.why().contains("\"maybe\""),
        "{junk:?}"
    );
}

#[test]
fn a_missing_or_foreign_device_is_not_kvm() {
    let dir = tempfile::tempdir().unwrap();
    let flags = cpuinfo(dir.path(), "vmx");
    let missing = kvm(None, &dir.path().join("kvm"), &flags);
    assert!(
        !missing.usable() && missing.why().starts_with("open "),
        "{missing:?}"
    );
    // A regular file opens, but is no KVM: the API version call fails.
    let file = dir.path().join("not-kvm");
    std::fs::write(&file, "").unwrap();
    let foreign = kvm(None, &file, &flags);
    assert!(
        !foreign.usable() && foreign.why().contains("API version"),
        "{foreign:?}"
    );
}

#[test]
fn cpu_flags_are_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(cpu_virtualisation(&cpuinfo(dir.path(), "vmx")), Some("vmx"));
    assert_eq!(cpu_virtualisation(&cpuinfo(dir.path(), "svm")), Some("svm"));
    assert_eq!(cpu_virtualisation(&cpuinfo(dir.path(), "vmxx avx")), None);
}

/// On a host with a /dev/kvm that answers, the CPU's flags decide; on
/// one without, the device's absence does.
#[test]
fn a_device_that_answers_needs_the_cpus_flags_too() {
    let device = Path::new("/dev/kvm");
    let dir = tempfile::tempdir().unwrap();
    let with = kvm(None, device, &cpuinfo(dir.path(), "vmx"));
    let without = kvm(None, device, &cpuinfo(dir.path(), "avx"));
    assert!(!without.usable(), "{without:?}");
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .is_ok()
    {
        assert!(with.usable(), "{with:?}");
        assert!(without.why().contains("no vmx or svm"), "{without:?}");
    } else {
        assert!(with.why().starts_with("open /dev/kvm"), "{with:?}");
    }
}
