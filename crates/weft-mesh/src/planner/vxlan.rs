//! VXLAN networks in the plan: every host of the file is a tunnel
//! endpoint of every other, at its underlay address, or at its address on
//! the WireGuard network the segment runs `over`.

use crate::error::PlanError;
use crate::observed::NetworkState;
use crate::plan::{HostNetworkPlan, VtepPlan, VxlanNetworkPlan};
use crate::schema::NetworkSpec;
use crate::validate::ValidMesh;
use crate::values::Address;
use ipnet::IpNet;
use weft_model::Mode;
use weft_model::naming::host_address;

/// What a VXLAN network is, mesh-wide (None for other networks).
pub(super) fn network_plan(net: &NetworkSpec) -> Option<VxlanNetworkPlan> {
    (net.mode == Mode::Vxlan).then(|| VxlanNetworkPlan {
        vni: net
            .vni
            .expect("validation requires a VNI on vxlan networks"),
        over: net.over.as_ref().map(ToString::to_string),
    })
}

/// `[host][network]` → the other hosts as VTEPs (empty for other modes).
pub(super) fn vteps(
    mesh: &ValidMesh,
    blocks: &[Vec<IpNet>],
    endpoints: &[Option<Address>],
) -> Result<Vec<Vec<Vec<VtepPlan>>>, PlanError> {
    let hosts = mesh.hosts.len();
    let mut all = vec![vec![Vec::new(); mesh.networks.len()]; hosts];
    for (n, net) in mesh.networks.iter().enumerate() {
        if net.mode != Mode::Vxlan {
            continue;
        }
        let carrier = net
            .over
            .as_ref()
            .map(|over| mesh.networks.iter().position(|o| o.name == *over));
        for o in 0..hosts {
            let address = match carrier {
                Some(Some(c)) => host_address(&blocks[c][o]),
                Some(None) => unreachable!("validation checks that `over` names a network"),
                None => match &endpoints[o] {
                    Some(Address::Ip(ip)) => *ip,
                    // A one-host mesh has no other host to need it.
                    None if hosts == 1 => continue,
                    other => {
                        return Err(PlanError::VtepNotAnAddress {
                            network: net.name.to_string(),
                            host: mesh.hosts[o].name.to_string(),
                            endpoint: other.as_ref().map_or("(none)".into(), ToString::to_string),
                        });
                    }
                },
            };
            let vtep = VtepPlan {
                host: mesh.hosts[o].name.to_string(),
                address,
                block: blocks[n][o],
            };
            for (me, host) in all.iter_mut().enumerate() {
                if me != o {
                    host[n].push(vtep.clone());
                }
            }
        }
    }
    Ok(all)
}

/// Can the agent's network stay for this plan? The same segment (VNI and
/// carrier) and the same block; anything else is made anew.
pub(super) fn fits(state: &NetworkState, want: &HostNetworkPlan, vx: &VxlanNetworkPlan) -> bool {
    state.mode == "vxlan"
        && state.subnet == want.subnet
        && state.block == want.block
        && state.vni == Some(vx.vni)
        && state.over == vx.over
        && state
            .internal
            .is_none_or(|internal| internal == want.internal)
}

#[cfg(test)]
mod tests {
    use crate::observed::{NetworkState, Observed};
    use crate::validate::ValidMesh;

    const FILE: &str = "
name: l2
networks:
  - name: blue
    subnet: 10.42.0.0/16
  - name: red
    mode: vxlan
    vni: 100
    subnet: 10.50.0.0/16
  - name: sec
    mode: vxlan
    vni: 300
    over: blue
    subnet: 10.60.0.0/16
hosts:
  - name: a
    ssh: root@192.0.2.1
  - name: b
    ssh: root@192.0.2.2
  - name: c
    ssh: root@192.0.2.3
";

    #[test]
    fn every_host_is_a_vtep_of_every_other_on_the_underlay_or_over_wireguard() {
        let mesh = ValidMesh::parse(FILE).unwrap();
        let plan = crate::plan(&mesh, &Observed::default()).unwrap();
        let a = plan.host("a").unwrap();
        let red = a.network("red").unwrap();
        assert_eq!(red.vxlan.as_ref().unwrap().vni, 100);
        assert_eq!((red.listen_port, red.public_key), (0, None));
        assert!(red.peers.is_empty());
        let vteps: Vec<(String, String, String)> = red
            .vteps
            .iter()
            .map(|v| (v.host.clone(), v.address.to_string(), v.block.to_string()))
            .collect();
        assert_eq!(
            vteps,
            [
                ("b".into(), "192.0.2.2".into(), "10.50.1.0/24".into()),
                ("c".into(), "192.0.2.3".into(), "10.50.2.0/24".into())
            ]
        );
        // Over blue: the hosts' addresses on blue.
        let sec = plan.host("c").unwrap().network("sec").unwrap();
        let addresses: Vec<String> = sec.vteps.iter().map(|v| v.address.to_string()).collect();
        assert_eq!(addresses, ["10.42.0.1", "10.42.1.1"]);
        // VXLAN networks take no WireGuard port and need no key: blue keeps
        // the host's first port, and only blue waits for keys.
        assert_eq!(a.network("blue").unwrap().listen_port, 51820);
        assert!(plan.needs_keys.iter().all(|k| k.network == "blue"));
    }

    #[test]
    fn a_network_with_another_vni_or_carrier_is_made_anew() {
        let mesh = ValidMesh::parse(FILE).unwrap();
        let plan = crate::plan(&mesh, &Observed::default()).unwrap();
        let want = plan.host("a").unwrap().network("red").unwrap().clone();
        let vx = want.vxlan.clone().unwrap();
        let mut have = NetworkState {
            subnet: want.subnet,
            block: want.block,
            listen_port: 0,
            mode: "vxlan".into(),
            public_key: None,
            vni: Some(100),
            over: None,
            vteps: vec![],
            internal: Some(false),
            peers: vec![],
            attachments: Default::default(),
            dns: None,
        };
        assert!(super::fits(&have, &want, &vx));
        have.vni = Some(101);
        assert!(!super::fits(&have, &want, &vx));
        have.vni = Some(100);
        have.over = Some("blue".into());
        assert!(!super::fits(&have, &want, &vx));
    }
}
