//! `TenantControl` on the gRPC port for real: its methods walked against
//! their policy table (no key, bad keys, another tenant's objects), and a
//! plan applied.

use super::*;
use crate::secret::{Secret, SecretKind};
use crate::test_plane::{Plane, control_methods, enroll, plane};
use tonic::Code;
use weft_proto::control::plan_step::Step;
use weft_proto::control::tenant_control_client::TenantControlClient;

struct Tenants {
    p: Plane,
    key_a: Secret,
    key_b: Secret,
    host_a: HostId,
}

/// Tenant acme with network blue and host a1; tenant beta with nothing.
async fn tenants() -> Tenants {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, _) = enroll(&p, &token, "a1").await.unwrap();
    let store = &p.running.store;
    let key_a = Secret::generate(SecretKind::ApiKey);
    let key_b = Secret::generate(SecretKind::ApiKey);
    let a = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    store.add_api_key(&a, &key_a, 0).await.unwrap();
    store.create_tenant("beta", &key_b, 0).await.unwrap();
    let spec = crate::model::NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None);
    store.create_network(&a, &spec.unwrap(), 0).await.unwrap();
    Tenants {
        p,
        key_a,
        key_b,
        host_a: HostId::parse("host", &got.host_id).unwrap(),
    }
}

fn with_key<T>(msg: T, auth: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(auth) = auth {
        req.metadata_mut()
            .insert("authorization", auth.parse().unwrap());
    }
    req
}

fn step(s: Step) -> pb::PlanStep {
    pb::PlanStep { step: Some(s) }
}

/// Call `method` as `auth`, with requests that name tenant A's objects:
/// every outcome, one per request.
async fn call(t: &Tenants, method: &str, auth: Option<&str>) -> Vec<Result<String, Status>> {
    let mut client = TenantControlClient::new(t.p.channel(None).await.unwrap());
    match method {
        "ApplyPlan" => {
            let plans = [
                step(Step::DeleteNetwork("blue".into())),
                step(Step::SetNetworkHosts(pb::NetworkHostsPlan {
                    network: "blue".into(),
                    all: true,
                    hosts: vec![],
                })),
                step(Step::DeleteHost(t.host_a.to_string())),
            ];
            let mut out = Vec::new();
            for plan in plans {
                let req = pb::ApplyPlanRequest { steps: vec![plan] };
                let got = client.apply_plan(with_key(req, auth)).await;
                out.push(got.map(|r| format!("{:?}", r.into_inner())));
            }
            out
        }
        "GetStatus" => {
            let got = client
                .get_status(with_key(pb::GetStatusRequest {}, auth))
                .await;
            vec![got.map(|r| format!("{:?}", r.into_inner()))]
        }
        other => panic!("no sample request for TenantControl/{other}: add one here"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_method_has_a_policy_and_refuses_bad_keys_and_other_tenants() {
    let t = tenants().await;
    let table = methods();
    let in_proto: Vec<String> = control_methods()
        .into_iter()
        .map(|(path, _)| path)
        .filter(|p| p.starts_with(SERVICE))
        .collect();
    let mut in_table: Vec<String> = table.iter().map(|(p, _)| p.clone()).collect();
    in_table.sort();
    let mut sorted = in_proto.clone();
    sorted.sort();
    assert_eq!(
        sorted, in_table,
        "every TenantControl method needs a policy"
    );
    assert!(table.iter().all(|(_, p)| *p == Policy::Tenant));

    let store = &t.p.running.store;
    let a = store
        .api_key(t.key_a.id())
        .await
        .unwrap()
        .unwrap()
        .info
        .tenant;
    let revoked = Secret::generate(SecretKind::ApiKey);
    store.add_api_key(&a, &revoked, 0).await.unwrap();
    store.revoke_api_key(revoked.id(), 0).await.unwrap();
    let mut forged = t.key_a.expose().to_string();
    forged.replace_range(forged.len() - 4.., "0000");
    let bearer = |s: &str| format!("Bearer {s}");
    let bad = [
        None,
        Some("Basic YWRtaW46YWRtaW4=".to_string()),
        Some(bearer("wak_nope")),
        Some(bearer(&forged)),
        Some(bearer(Secret::generate(SecretKind::ApiKey).expose())),
        Some(bearer(revoked.expose())),
        Some(t.key_a.expose().to_string()),
    ];
    let revision = store.revision().await.unwrap();
    for path in &in_proto {
        let method = path.strip_prefix(SERVICE).unwrap();
        for auth in &bad {
            for got in call(&t, method, auth.as_deref()).await {
                let status = got.expect_err("refused");
                assert_eq!(status.code(), Code::Unauthenticated, "{method} {auth:?}");
                assert!(status.message().contains("API key"), "{status:?}");
            }
        }
        // Tenant B on tenant A's objects: not found, or nothing of A's.
        for got in call(&t, method, Some(&bearer(t.key_b.expose()))).await {
            match got {
                Err(status) => assert_eq!(status.code(), Code::NotFound, "{method}: {status:?}"),
                Ok(text) => {
                    // Quoted: B's own random ids may hold "a1".
                    for of_a in ["blue", "a1", t.host_a.as_str()] {
                        let quoted = format!("{of_a:?}");
                        assert!(!text.contains(&quoted), "{method} shows A's {of_a}: {text}");
                    }
                }
            }
        }
    }
    assert_eq!(
        store.revision().await.unwrap(),
        revision,
        "a refused call changed state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_checked_whole_then_applied_step_by_step() {
    let t = tenants().await;
    let auth = format!("Bearer {}", t.key_a.expose());
    let mut client = TenantControlClient::new(t.p.channel(None).await.unwrap());
    let create = |name: &str, subnet: &str| {
        step(Step::CreateNetwork(pb::NetworkPlan {
            name: name.into(),
            subnet: subnet.into(),
            ..Default::default()
        }))
    };
    let store = t.p.running.store.clone();
    let revision = store.revision().await.unwrap();
    // A bad second step: nothing at all is applied.
    let plan = pb::ApplyPlanRequest {
        steps: vec![
            create("green", "10.44.0.0/16"),
            create("red", "10.45.0.0/33"),
        ],
    };
    let err = client
        .apply_plan(with_key(plan, Some(&auth)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("steps[1]") && err.message().contains("subnet"),
        "{err:?}"
    );
    let err = client
        .apply_plan(with_key(
            pb::ApplyPlanRequest {
                steps: vec![pb::PlanStep { step: None }],
            },
            Some(&auth),
        ))
        .await
        .unwrap_err();
    assert!(err.message().contains("steps[0]"), "{err:?}");
    assert_eq!(store.revision().await.unwrap(), revision);

    let plan = pb::ApplyPlanRequest {
        steps: vec![
            create("green", "10.44.0.0/16"),
            step(Step::SetNetworkHosts(pb::NetworkHostsPlan {
                network: "blue".into(),
                all: false,
                hosts: vec![],
            })),
        ],
    };
    let done = client
        .apply_plan(with_key(plan, Some(&auth)))
        .await
        .unwrap();
    assert!(done.into_inner().revision > revision);
    let status = client
        .get_status(with_key(pb::GetStatusRequest {}, Some(&auth)))
        .await
        .unwrap()
        .into_inner();
    let nets: Vec<(&str, bool, usize)> = status
        .networks
        .iter()
        .map(|n| (n.name.as_str(), n.all_hosts, n.blocks.len()))
        .collect();
    assert_eq!(nets, [("blue", false, 0), ("green", true, 1)]);
    assert_eq!(status.hosts.len(), 1);
    assert_eq!(status.hosts[0].state, "never");
    assert_eq!(status.hosts[0].blocks[0].block, "10.44.0.0/24");
    // A store refusal stops the plan at its step; the steps before stay.
    let plan = pb::ApplyPlanRequest {
        steps: vec![
            create("pink", "10.46.0.0/16"),
            create("teal", "10.44.0.0/24"),
        ],
    };
    let err = client
        .apply_plan(with_key(plan, Some(&auth)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("steps[1]") && err.message().contains("overlaps"),
        "{err:?}"
    );
    let a = store
        .api_key(t.key_a.id())
        .await
        .unwrap()
        .unwrap()
        .info
        .tenant;
    let names: Vec<String> = store
        .list_networks(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.spec.name)
        .collect();
    assert_eq!(names, ["blue", "green", "pink"]);
}
