//! The `attachments` table: the source of truth for every workload's
//! address and interfaces.

use super::{Result, Store, corrupt, parse};
use crate::dataplane::VmNic;
use crate::records::AttachmentRecord;
use rusqlite::params;
use std::collections::BTreeSet;
use std::net::IpAddr;
use weft_model::naming;
use weft_net::NetnsId;

impl Store {
    fn attachments_where(&self, clause: &str, args: &[&str]) -> Result<Vec<AttachmentRecord>> {
        let sql = format!(
            "SELECT network, workload_id, name, netns, netns_dev, netns_ino, ifname, host_ifname,
                    ip, default_route, vm_mac, vm_queues
             FROM attachments {clause} ORDER BY network, workload_id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                AttachmentRecord {
                    network: r.get(0)?,
                    workload_id: r.get(1)?,
                    name: r.get(2)?,
                    netns: r.get(3)?,
                    netns_id: NetnsId {
                        dev: r.get::<_, i64>(4)? as u64,
                        ino: r.get::<_, i64>(5)? as u64,
                    },
                    ifname: r.get(6)?,
                    host_ifname: r.get(7)?,
                    ip: IpAddr::from([0, 0, 0, 0]),
                    default_route: r.get(9)?,
                    vm: None,
                },
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, i64>(11)?,
            ))
        })?;
        rows.map(|row| {
            let (mut rec, ip, vm_mac, vm_queues) = row?;
            rec.ip = parse("address", &ip)?;
            if let Some(mac) = vm_mac {
                rec.vm = Some(VmNic {
                    mac: naming::parse_mac(&mac).ok_or_else(|| corrupt("VM MAC", &mac))?,
                    queues: u16::try_from(vm_queues).unwrap_or(1).max(1),
                });
            }
            Ok(rec)
        })
        .collect()
    }

    pub fn attachments(&self) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("", &[])
    }

    pub fn attachments_of_network(&self, network: &str) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("WHERE network = ?1", &[network])
    }

    /// Every attachment of one workload, across networks.
    pub fn attachments_of_workload(&self, workload_id: &str) -> Result<Vec<AttachmentRecord>> {
        self.attachments_where("WHERE workload_id = ?1", &[workload_id])
    }

    pub fn attachment(&self, network: &str, workload_id: &str) -> Result<Option<AttachmentRecord>> {
        Ok(self
            .attachments_where(
                "WHERE network = ?1 AND workload_id = ?2",
                &[network, workload_id],
            )?
            .pop())
    }

    /// Addresses in use on a network.
    pub fn used_ips(&self, network: &str) -> Result<BTreeSet<IpAddr>> {
        Ok(self
            .attachments_of_network(network)?
            .into_iter()
            .map(|a| a.ip)
            .collect())
    }

    /// The MACs of a network's VM NICs.
    pub fn vm_macs(&self, network: &str) -> Result<Vec<[u8; 6]>> {
        Ok(self
            .attachments_of_network(network)?
            .iter()
            .filter_map(|a| a.vm.map(|v| v.mac))
            .collect())
    }

    /// Host-side interface names in use, on every network.
    pub fn host_ifnames(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT host_ifname FROM attachments")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Record an attachment. The UNIQUE constraints make a duplicate address
    /// or host interface impossible even if two callers race.
    pub fn insert_attachment(&self, a: &AttachmentRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO attachments (network, workload_id, name, netns, netns_dev, netns_ino,
                                      ifname, host_ifname, ip, default_route, vm_mac, vm_queues)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                a.network,
                a.workload_id,
                a.name,
                a.netns,
                a.netns_id.dev as i64,
                a.netns_id.ino as i64,
                a.ifname,
                a.host_ifname,
                a.ip.to_string(),
                a.default_route,
                a.vm.map(|v| naming::format_mac(v.mac)),
                a.vm.map_or(0, |v| i64::from(v.queues)),
            ],
        )?;
        Ok(())
    }

    pub fn delete_attachment(&self, network: &str, workload_id: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM attachments WHERE network = ?1 AND workload_id = ?2",
            [network, workload_id],
        )? > 0)
    }
}
