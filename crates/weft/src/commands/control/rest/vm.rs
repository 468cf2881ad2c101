//! `weft control vm …`: the tenant's VMs and their NICs, each command one
//! route (`/v1/vms…`); a table per VM's NICs for people, the API's JSON
//! with `-o json` (with the hypervisors' configuration).

use super::tables::{print, text};
use super::{VM_LS, deleted};
use crate::api_client::{ApiArgs, ApiClient};
use crate::output::{self, Format};
use anyhow::Result;
use serde_json::{Value, json};

#[derive(clap::Subcommand)]
pub enum VmCommand {
    /// List the tenant's VMs with their NICs (`GET /v1/vms`).
    Ls(super::Api),
    /// Place a VM on a host with a NIC per network: the host makes its
    /// TAPs as `weft attach NETWORK --vm ID` does (names, MACs, DHCP,
    /// isolation); with --kernel the host also runs it, once its NICs
    /// exist, and GET shows how it goes (`POST /v1/vms`).
    Create {
        /// The VM's id: lowercase letters, digits and '-' (also its DNS
        /// name on the host).
        id: String,
        /// The host: its name or its id.
        #[arg(long)]
        host: String,
        /// A NIC: NETWORK, or NETWORK=IP for an address of the host's
        /// block; repeat in guest order (the first is eth0).
        #[arg(long = "nic", value_name = "NETWORK[=IP]")]
        nics: Vec<String>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One VM: its NICs (TAP, MAC, address) and, with -o json, the NIC
    /// configuration of Cloud Hypervisor, Firecracker, QEMU and the guest
    /// (`GET /v1/vms/{vm}`).
    Show {
        /// The VM, by id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a VM: its host removes its TAPs (`DELETE /v1/vms/{vm}`).
    Rm {
        /// The VM, by id.
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Attach one more NIC to a VM, the next ethN in the guest
    /// (`POST /v1/vms/{vm}/networks`).
    Attach {
        /// The VM, by id.
        id: String,
        /// The network: one of the tenant's that the VM's host is in.
        network: String,
        /// An address of the host's block (default: the lowest free).
        #[arg(long)]
        ip: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Detach a VM's NIC on a network: its host removes the TAP
    /// (`DELETE /v1/vms/{vm}/networks/{network}`).
    Detach {
        /// The VM, by id.
        id: String,
        /// The network of the NIC.
        network: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Have the host run the VM (the API's `run`): with `--kernel`, the host
/// starts it once its NICs exist, under the supervisor `weft up` uses,
/// and stops it when the VM is deleted; without, only its NICs are made.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Run the VM, booting this kernel (a path on the VM's host).
    #[arg(long, value_name = "PATH")]
    kernel: Option<String>,
    /// Its initrd (a path on the host).
    #[arg(long, value_name = "PATH", requires = "kernel")]
    initrd: Option<String>,
    /// Its root disk image (a path on the host).
    #[arg(long, value_name = "PATH", requires = "kernel")]
    rootfs: Option<String>,
    /// The kernel's command line.
    #[arg(long, value_name = "LINE", requires = "kernel")]
    cmdline: Option<String>,
    /// Guest memory in MiB [default: 512].
    #[arg(long, value_name = "MIB", requires = "kernel")]
    memory: Option<u32>,
    /// Virtual CPUs [default: 1].
    #[arg(long, requires = "kernel")]
    vcpus: Option<u32>,
    /// auto (chosen on the host: Cloud Hypervisor, then Firecracker with
    /// KVM, else QEMU), qemu, cloud-hypervisor or firecracker [default:
    /// auto].
    #[arg(long, requires = "kernel")]
    hypervisor: Option<String>,
}

impl RunArgs {
    /// The API's `run`, when `--kernel` asks for one.
    fn body(&self) -> Option<Value> {
        let kernel = self.kernel.as_ref()?;
        let mut run = json!({ "kernel": kernel });
        let texts = [
            ("initrd", &self.initrd),
            ("rootfs", &self.rootfs),
            ("cmdline", &self.cmdline),
            ("hypervisor", &self.hypervisor),
        ];
        for (field, value) in texts {
            if let Some(value) = value {
                run[field] = json!(value);
            }
        }
        for (field, value) in [("memory", self.memory), ("vcpus", self.vcpus)] {
            if let Some(value) = value {
                run[field] = json!(value);
            }
        }
        Some(run)
    }
}

/// A VM's run for the table: `running (qemu)`, `-` when not run.
fn run_cell(vm: &Value) -> String {
    match (&vm["run"]["state"], &vm["run"]["chosen"]) {
        (Value::String(state), Value::String(chosen)) => format!("{state} ({chosen})"),
        (Value::String(state), _) => state.clone(),
        _ => "-".into(),
    }
}

/// `NETWORK` or `NETWORK=IP`, as the API's `{network, ip}`.
pub(super) fn nic_body(text: &str) -> Value {
    match text.split_once('=') {
        Some((network, ip)) => json!({ "network": network, "ip": ip }),
        None => json!({ "network": text }),
    }
}

/// One row per NIC of each VM.
fn vms_table(list: &Value) {
    let mut rows = Vec::new();
    for vm in list.as_array().into_iter().flatten() {
        let host = match &vm["host_name"] {
            Value::String(name) => name.clone(),
            _ => text(&vm["host"]),
        };
        let nics = vm["nics"].as_array().map(Vec::as_slice).unwrap_or_default();
        if nics.is_empty() {
            rows.push(vec![
                text(&vm["id"]),
                host.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                run_cell(vm),
            ]);
        }
        for nic in nics {
            rows.push(vec![
                text(&vm["id"]),
                host.clone(),
                text(&nic["network"]),
                text(&nic["state"]),
                text(&nic["ifname"]),
                text(&nic["tap"]),
                text(&nic["mac"]),
                text(&nic["address"]),
                run_cell(vm),
            ]);
        }
    }
    output::table(
        &[
            "VM", "HOST", "NETWORK", "STATE", "IFNAME", "TAP", "MAC", "ADDRESS", "RUN",
        ],
        &rows,
    );
}

pub async fn vm(format: Format, cmd: VmCommand) -> Result<()> {
    match cmd {
        VmCommand::Ls(super::Api { api }) => {
            let list = VM_LS.call(&ApiClient::new(&api)?, &[], None).await?;
            print(format, &list, vms_table)
        }
        VmCommand::Create {
            id,
            host,
            nics,
            run,
            api,
        } => {
            let nics: Vec<Value> = nics.iter().map(|n| nic_body(n)).collect();
            let mut body = json!({ "id": id, "host": host, "nics": nics });
            if let Some(run) = run.body() {
                body["run"] = run;
            }
            let made = (super::VM_CREATE.call(&ApiClient::new(&api)?, &[], Some(body))).await?;
            print(format, &made, |v| vms_table(&json!([v])))
        }
        VmCommand::Show { id, api } => {
            let found = (super::VM_SHOW.call(&ApiClient::new(&api)?, &[&id], None)).await?;
            print(format, &found, |v| vms_table(&json!([v])))
        }
        VmCommand::Rm { id, api } => {
            (super::VM_RM.call(&ApiClient::new(&api)?, &[&id], None)).await?;
            deleted(format, &format!("VM {id}"))
        }
        VmCommand::Attach {
            id,
            network,
            ip,
            api,
        } => {
            let mut body = json!({ "network": network });
            if let Some(ip) = ip {
                body["ip"] = json!(ip);
            }
            let vm = (super::VM_ATTACH.call(&ApiClient::new(&api)?, &[&id], Some(body))).await?;
            print(format, &vm, |v| vms_table(&json!([v])))
        }
        VmCommand::Detach { id, network, api } => {
            let client = ApiClient::new(&api)?;
            let vm = (super::VM_DETACH.call(&client, &[&id, &network], None)).await?;
            print(format, &vm, |v| vms_table(&json!([v])))
        }
    }
}
