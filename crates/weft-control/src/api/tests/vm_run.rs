//! `run` of a VM: each bad field refused by name with nothing made;
//! accepted, it is stored, sent to the VM's host on its first NIC only,
//! and GET shows it `pending` until the host reports how it goes (the
//! state, the hypervisor chosen and why). A VM that runs keeps a NIC.

use super::*;
use crate::model::{ReportedNic, RunReport};

#[tokio::test]
async fn bad_run_fields_are_refused_by_name_and_change_nothing() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let revision = f.store.revision().await.unwrap();
    let nic = r#""nics":[{"network":"blue"}]"#;
    let cases = [
        (r#"{}"#, "invalid run.kernel"),
        (
            r#"{"kernel":"vmlinuz"}"#,
            "invalid run.kernel \"vmlinuz\": not an absolute path",
        ),
        (r#"{"kernel":"/k","initrd":"i"}"#, "invalid run.initrd"),
        (r#"{"kernel":"/k","rootfs":"r"}"#, "invalid run.rootfs"),
        (r#"{"kernel":"/k","memory":1}"#, "invalid run.memory \"1\""),
        (r#"{"kernel":"/k","vcpus":0}"#, "invalid run.vcpus"),
        (
            r#"{"kernel":"/k","hypervisor":"xen"}"#,
            "invalid run.hypervisor \"xen\"",
        ),
        (r#"{"kernel":"/k","disk":"/d"}"#, "disk"),
        (r#"{"kernel":"/k","memory":"lots"}"#, "memory"),
    ];
    for (run, said) in cases {
        let body = format!(r#"{{"id":"web","host":"alpha-host",{nic},"run":{run}}}"#);
        let reply = call(&f.router, &Method::POST, "/v1/vms", key, Some(&body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert!(error_of(&reply).contains(said), "{body}: {}", reply.text);
    }
    let body = r#"{"id":"web","host":"alpha-host","run":{"kernel":"/k"}}"#;
    let reply = call(&f.router, &Method::POST, "/v1/vms", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(error_of(&reply).contains("invalid run"), "{}", reply.text);
    assert!(
        error_of(&reply).contains("at least one NIC"),
        "{}",
        reply.text
    );
    assert_eq!(
        f.store.revision().await.unwrap(),
        revision,
        "a refused request changed state"
    );
}

#[tokio::test]
async fn a_run_is_sent_on_the_first_nic_and_shown_as_its_host_reports_it() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let body = r#"{"id":"web","host":"alpha-host","nics":[{"network":"blue"}],
        "run":{"kernel":"/boot/vmlinuz","initrd":"/boot/initrd","memory":256}}"#;
    let reply = call(&f.router, &Method::POST, "/v1/vms", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let vm = reply.json();
    let run = &vm["run"];
    assert_eq!(run["state"], "pending", "{vm}");
    assert_eq!(
        (
            &run["kernel"],
            &run["initrd"],
            &run["memory"],
            &run["vcpus"],
            &run["hypervisor"]
        ),
        (
            &serde_json::json!("/boot/vmlinuz"),
            &serde_json::json!("/boot/initrd"),
            &serde_json::json!(256),
            &serde_json::json!(1),
            &serde_json::json!("auto")
        )
    );
    // Stored: as it was asked, and sent on the first NIC.
    let vms = f.store.list_vms(&f.tenant_a).await.unwrap();
    let web = vms.iter().find(|v| v.spec.id == "web").unwrap();
    let stored = web.spec.run.clone().unwrap();
    assert_eq!(
        (stored.memory, stored.initrd.as_deref()),
        (256, Some("/boot/initrd"))
    );
    let first = crate::agents::frame::vm_nic(web, 0).unwrap();
    let sent = first.run.unwrap();
    let mut two = web.clone();
    two.spec.nics.push(two.spec.nics[0].clone());
    let second = crate::agents::frame::vm_nic(&two, 1).unwrap();
    assert_eq!(second.run, None, "a run goes on the first NIC only");
    assert_eq!(
        (sent.kernel.as_str(), sent.memory, sent.hypervisor.as_str()),
        ("/boot/vmlinuz", 256, "auto")
    );

    // The host reports it running: GET says so, with the choice.
    let nic = ReportedNic {
        vm: "web".into(),
        network: "blue".into(),
        ifname: "eth0".into(),
        tap: "wv-web-eth0".into(),
        mac: "52:54:00:00:00:0a".into(),
        address: "10.42.0.2/32".parse().unwrap(),
        gateway: "10.42.0.1".parse().unwrap(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        mtu: 1420,
        dns: vec![],
        domain: "mesh.local".into(),
        default_route: true,
        queues: 1,
        run: Some(RunReport {
            state: "running".into(),
            hypervisor: "qemu".into(),
            why: "auto: qemu (TCG: …)".into(),
            error: String::new(),
        }),
    };
    f.store.report_vm_nics(&f.host_a, &[nic]).await.unwrap();
    let vm = call(&f.router, &Method::GET, "/v1/vms/web", key, None)
        .await
        .json();
    assert_eq!(vm["run"]["state"], "running", "{vm}");
    assert_eq!(vm["run"]["chosen"], "qemu", "{vm}");
    assert_eq!(vm["run"]["why"], "auto: qemu (TCG: …)", "{vm}");

    // Its last NIC stays while it runs.
    let reply = call(
        &f.router,
        &Method::DELETE,
        "/v1/vms/web/networks/blue",
        key,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        error_of(&reply).contains("its host runs it"),
        "{}",
        reply.text
    );
    let reply = call(&f.router, &Method::DELETE, "/v1/vms/web", key, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}
