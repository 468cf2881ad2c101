//! What an agent reports of its VMs' NICs, parsed at the edge: each
//! field checked, every error naming it (`vm_nics.mac`), nothing of a
//! malformed report kept.

use crate::model::{ReportedNic, validate_vm_id};
use tonic::Status;
use weft_proto::control as pb;

/// The most NICs one report may carry.
pub const MAX_REPORTED_NICS: usize = 4096;

fn bad(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("vm_nics.{field}: {why}"))
}

fn parsed<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Status> {
    text.parse().map_err(|_| {
        bad(
            field,
            format!("{} is malformed", weft_model::error::shown(text)),
        )
    })
}

fn short(field: &str, text: String) -> Result<String, Status> {
    if text.len() > 64 {
        return Err(bad(field, "longer than 64 characters"));
    }
    Ok(text)
}

/// A VM's run as its host reports it, each text bounded.
fn run_report(r: pb::VmRunReport) -> Result<crate::model::RunReport, Status> {
    let long = |field: &str, text: String| {
        if text.len() > 512 {
            return Err(bad(&format!("run.{field}"), "longer than 512 characters"));
        }
        Ok(text)
    };
    Ok(crate::model::RunReport {
        state: short("run.state", r.state)?,
        hypervisor: short("run.hypervisor", r.hypervisor)?,
        why: long("why", r.why)?,
        error: long("error", r.error)?,
    })
}

pub fn parse_vm_nics(reports: Vec<pb::VmNicReport>) -> Result<Vec<ReportedNic>, Status> {
    if reports.len() > MAX_REPORTED_NICS {
        return Err(bad("", format!("more than {MAX_REPORTED_NICS}")));
    }
    reports
        .into_iter()
        .map(|r| {
            validate_vm_id(&r.vm).map_err(|e| bad("vm", e))?;
            weft_model::names::validate_network_name(&r.network).map_err(|e| bad("network", e))?;
            if weft_model::naming::parse_mac(&r.mac).is_none() {
                return Err(bad(
                    "mac",
                    format!("{} is not a MAC", weft_model::error::shown(&r.mac)),
                ));
            }
            if r.dns.len() > 8 {
                return Err(bad("dns", "more than 8"));
            }
            Ok(ReportedNic {
                address: parsed("address", &r.address)?,
                gateway: parsed("gateway", &r.gateway)?,
                subnet: parsed("subnet", &r.subnet)?,
                dns: (r.dns.iter())
                    .map(|d| parsed("dns", d))
                    .collect::<Result<_, _>>()?,
                queues: u16::try_from(r.queues).map_err(|_| bad("queues", "too many"))?,
                vm: r.vm,
                network: r.network,
                ifname: short("ifname", r.ifname)?,
                tap: short("tap", r.tap)?,
                mac: r.mac,
                mtu: r.mtu,
                domain: short("domain", r.domain)?,
                default_route: r.default_route,
                run: r.run.map(run_report).transpose()?,
            })
        })
        .collect()
}
