use super::*;

fn req(json: serde_json::Value) -> RunRequest {
    serde_json::from_value(json).unwrap()
}

fn field_of(json: serde_json::Value) -> String {
    req(json).check().unwrap_err().field
}

#[test]
fn defaults_are_512_mib_one_vcpu_and_auto() {
    let run = req(serde_json::json!({"kernel": "/boot/vmlinuz"}))
        .check()
        .unwrap();
    assert_eq!((run.memory, run.vcpus), (DEFAULT_MEMORY, 1));
    assert_eq!(run.hypervisor, HypervisorSpec::Auto);
    assert_eq!(run.initrd, None);
}

#[test]
fn every_bad_field_is_named() {
    use serde_json::json;
    assert_eq!(field_of(json!({})), "run.kernel");
    assert_eq!(field_of(json!({"kernel": "vmlinuz"})), "run.kernel");
    let k = "/boot/vmlinuz";
    assert_eq!(field_of(json!({"kernel": k, "initrd": "x"})), "run.initrd");
    assert_eq!(
        field_of(json!({"kernel": k, "rootfs": "/a\nb"})),
        "run.rootfs"
    );
    let comma = json!({"kernel": k, "rootfs": "/img,file=/etc/shadow"});
    assert_eq!(
        field_of(comma),
        "run.rootfs",
        "a comma would add QEMU options"
    );
    assert_eq!(
        field_of(json!({"kernel": k, "cmdline": "a\nb"})),
        "run.cmdline"
    );
    assert_eq!(field_of(json!({"kernel": k, "memory": 8})), "run.memory");
    assert_eq!(field_of(json!({"kernel": k, "vcpus": 0})), "run.vcpus");
    assert_eq!(field_of(json!({"kernel": k, "vcpus": 256})), "run.vcpus");
    let bad = req(json!({"kernel": k, "hypervisor": "vmware"}))
        .check()
        .unwrap_err();
    assert_eq!(bad.field, "run.hypervisor");
    assert!(bad.why.contains("cloud-hypervisor"), "{bad}");
    let named = req(json!({"kernel": k, "hypervisor": "firecracker", "memory": 128, "vcpus": 2}))
        .check()
        .unwrap();
    assert_eq!(named.hypervisor.to_string(), "firecracker");
    assert_eq!((named.memory, named.vcpus), (128, 2));
}
