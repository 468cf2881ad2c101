use super::*;

fn host(found: &[Hypervisor], kvm: bool) -> HostVirt {
    HostVirt {
        found: Hypervisor::ALL
            .into_iter()
            .map(|h| {
                (
                    h,
                    found
                        .contains(&h)
                        .then(|| format!("/usr/bin/{}", h.binary())),
                )
            })
            .collect(),
        kvm: if kvm {
            Kvm::Usable {
                why: "/dev/kvm opens, API 12, the CPU has vmx".into(),
            }
        } else {
            Kvm::Unusable {
                why: "the CPU offers no vmx or svm".into(),
            }
        },
    }
}

use Hypervisor::{CloudHypervisor as Ch, Firecracker as Fc, Qemu};

#[test]
fn cloud_hypervisor_then_firecracker_then_qemu() {
    let all = [Ch, Fc, Qemu];
    assert_eq!(choose(&host(&all, true)).hypervisor, Some(Ch));
    assert_eq!(choose(&host(&[Fc, Qemu], true)).hypervisor, Some(Fc));
    assert_eq!(choose(&host(&[Qemu], true)).hypervisor, Some(Qemu));
    let c = choose(&host(&all, true));
    assert_eq!(c.binary.as_deref(), Some("/usr/bin/cloud-hypervisor"));
    assert!(c.kvm);
    assert_eq!(c.considered[1].why, "cloud-hypervisor comes first");
}

#[test]
fn without_kvm_only_qemu_runs_and_emulates() {
    let c = choose(&host(&[Ch, Fc, Qemu], false));
    assert_eq!(c.hypervisor, Some(Qemu));
    assert!(!c.kvm);
    assert_eq!(
        c.summary(),
        "qemu (TCG: KVM not usable: the CPU offers no vmx or svm)"
    );
    for considered in &c.considered[..2] {
        assert!(!considered.chosen);
        assert!(considered.why.starts_with("needs KVM"), "{considered:?}");
    }
    assert!(c.considered[2].chosen);
}

#[test]
fn nothing_found_is_no_choice_with_a_reason_each() {
    let c = choose(&host(&[], true));
    assert_eq!(c.hypervisor, None);
    assert_eq!(c.binary, None);
    assert!(
        c.considered
            .iter()
            .all(|h| h.why.ends_with("not found on PATH"))
    );
    let c = choose(&host(&[Ch, Fc], false));
    assert_eq!(c.hypervisor, None, "without KVM and QEMU nothing runs");
}

#[test]
fn specs_read_and_print_as_the_file_writes_them() {
    for text in ["auto", "qemu", "cloud-hypervisor", "firecracker"] {
        let spec: HypervisorSpec = text.parse().unwrap();
        assert_eq!(spec.to_string(), text);
    }
    assert_eq!(HypervisorSpec::default(), HypervisorSpec::Auto);
    let err = "xen".parse::<HypervisorSpec>().unwrap_err().to_string();
    assert!(err.contains("\"xen\"") && err.contains("auto"), "{err}");
    let json: HypervisorSpec = serde_json::from_str("\"qemu\"").unwrap();
    assert_eq!(json, HypervisorSpec::Named(Qemu));
}
