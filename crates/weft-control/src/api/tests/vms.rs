//! The VMs' routes: placed by host id or name, NICs attached and
//! detached one at a time, what the host reported shown with every
//! hypervisor's configuration; every bad field refused by name.

use super::*;
use crate::model::ReportedNic;

fn reported(vm: &str, network: &str, ifname: &str, address: &str) -> ReportedNic {
    ReportedNic {
        vm: vm.into(),
        network: network.into(),
        ifname: ifname.into(),
        tap: format!("wv-{vm}-{ifname}"),
        mac: "52:54:00:00:00:0a".into(),
        address: address.parse().unwrap(),
        gateway: "10.42.0.1".parse().unwrap(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        mtu: 1420,
        dns: vec!["10.42.0.1".parse().unwrap()],
        domain: "mesh.local".into(),
        default_route: ifname == "eth0",
        queues: 1,
        run: None,
    }
}

#[tokio::test]
async fn a_vm_shows_its_nics_as_the_host_made_them_and_every_hypervisors_config() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let body = r#"{"id":"web","host":"alpha-host","nics":[{"network":"blue","ip":"10.42.0.7"}]}"#;
    let reply = call(&f.router, &Method::POST, "/v1/vms", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let vm = reply.json();
    assert_eq!(vm["host"], f.host_a.as_str());
    assert_eq!(vm["host_name"], "alpha-host");
    assert_eq!(vm["nics"][0]["state"], "pending");
    assert_eq!(vm["nics"][0]["ip"], "10.42.0.7");
    assert!(
        vm["config"].is_null(),
        "no config before the host made the NICs"
    );

    // The host reports what it made: TAP, MAC, address, and the config.
    let nic = reported("web", "blue", "eth0", "10.42.0.7/32");
    f.store.report_vm_nics(&f.host_a, &[nic]).await.unwrap();
    let vm = call(&f.router, &Method::GET, "/v1/vms/web", key, None)
        .await
        .json();
    assert_eq!(vm["nics"][0]["state"], "made");
    assert_eq!(vm["nics"][0]["tap"], "wv-web-eth0");
    assert_eq!(vm["nics"][0]["mac"], "52:54:00:00:00:0a");
    assert_eq!(vm["nics"][0]["address"], "10.42.0.7/32");
    let config = &vm["config"];
    assert_eq!(
        config["cloud_hypervisor"],
        serde_json::json!(["--net", "tap=wv-web-eth0,mac=52:54:00:00:00:0a"])
    );
    assert_eq!(config["firecracker"][0]["path"], "/network-interfaces/eth0");
    assert_eq!(
        config["firecracker"][0]["body"]["host_dev_name"],
        "wv-web-eth0"
    );
    assert!(
        config["qemu"][1]
            .as_str()
            .unwrap()
            .contains("ifname=wv-web-eth0"),
        "{config}"
    );
    assert!(
        config["kernel_ip"]
            .as_str()
            .unwrap()
            .starts_with("ip=10.42.0.7::10.42.0.1:255.255.0.0:web:eth0")
    );
    assert!(
        config["cloud_init"]
            .as_str()
            .unwrap()
            .contains("52:54:00:00:00:0a")
    );

    // A second NIC, attached: pending until reported; then detached.
    let red = NetworkSpec::new("green", "10.44.0.0/16", "", false, "", None).unwrap();
    let a = tenant_a(&f).await;
    f.store.create_network(&a, &red, NOW).await.unwrap();
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/vms/web/networks",
        key,
        Some(r#"{"network":"green"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let vm = reply.json();
    assert_eq!(vm["nics"][1]["network"], "green");
    assert_eq!(vm["nics"][1]["state"], "pending");
    assert!(vm["config"].is_null());
    let again = call(
        &f.router,
        &Method::POST,
        "/v1/vms/web/networks",
        key,
        Some(r#"{"network":"green"}"#),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let list = call(&f.router, &Method::GET, "/v1/vms", key, None)
        .await
        .json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["vm1", "web"]);
    let reply = call(
        &f.router,
        &Method::DELETE,
        "/v1/vms/web/networks/green",
        key,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["nics"].as_array().unwrap().len(), 1);
    let reply = call(
        &f.router,
        &Method::DELETE,
        "/v1/vms/web/networks/green",
        key,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);

    let reply = call(&f.router, &Method::DELETE, "/v1/vms/web", key, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = call(&f.router, &Method::GET, "/v1/vms/web", key, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // Tenant B never sees it, nor A's host.
    let b = call(&f.router, &Method::GET, "/v1/vms", Some(&f.key_b), None).await;
    assert_eq!(b.json(), serde_json::json!([]));
}

#[tokio::test]
async fn bad_vm_requests_are_refused_naming_the_field_and_change_nothing() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let revision = f.store.revision().await.unwrap();
    let cases = [
        (r#"{"id":"Web","host":"alpha-host"}"#, 400, "invalid id"),
        (r#"{"id":"web","host":"b1"}"#, 400, "invalid host \"b1\""),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"network":"blue","ip":"10.42.0.x"}]}"#,
            400,
            "invalid nics[0].ip",
        ),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"network":"blue","ip":"10.42.200.1"}]}"#,
            400,
            "invalid nics[0].ip",
        ),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"network":"blue"},{"network":"blue"}]}"#,
            400,
            "invalid nics[1].network",
        ),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"network":"red"}]}"#,
            400,
            "invalid nics[0].network \"red\": not a network of this tenant",
        ),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"network":"lan"}]}"#,
            400,
            "the VM's host is not in this network",
        ),
        (r#"{"id":"web","host":"alpha-host","cpus":4}"#, 400, "cpus"),
        (
            r#"{"id":"web","host":"alpha-host","nics":[{"net":"blue"}]}"#,
            400,
            "net",
        ),
        (
            r#"{"id":"vm1","host":"alpha-host"}"#,
            409,
            "VM \"vm1\" exists already",
        ),
    ];
    for (body, status, said) in cases {
        let reply = call(&f.router, &Method::POST, "/v1/vms", key, Some(body)).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        assert!(error_of(&reply).contains(said), "{body}: {}", reply.text);
    }
    let attach = [
        (r#"{"network":"Blue"}"#, 400, "invalid network"),
        (r#"{"network":"blue","ip":"nope"}"#, 400, "invalid ip"),
        (
            r#"{"network":"nosuch"}"#,
            400,
            "not a network of this tenant",
        ),
    ];
    for (body, status, said) in attach {
        let reply = call(
            &f.router,
            &Method::POST,
            "/v1/vms/vm1/networks",
            key,
            Some(body),
        )
        .await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        assert!(error_of(&reply).contains(said), "{body}: {}", reply.text);
    }
    for path in ["/v1/vms/NOPE", "/v1/vms/nope", "/v1/vms/vm1/networks/nope"] {
        let reply = call(&f.router, &Method::DELETE, path, key, None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }
    assert_eq!(
        f.store.revision().await.unwrap(),
        revision,
        "a refused request changed state"
    );
}
