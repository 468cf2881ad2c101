//! The integration tests of this crate, one binary (one link) for all:
//! each module was a test binary of its own. `scripts/test` runs every
//! test in a process of its own (cargo-nextest).

mod browser;
mod containers_common;
mod control_common;
mod package_common;

mod attach_output;
mod bad_input;
mod cni;
mod cni_stress;
mod control_cli;
mod control_enroll;
mod control_etcd;
mod control_failover;
mod control_five;
mod control_fleet;
mod control_ha;
mod control_logs;
mod control_rest;
mod control_sites;
mod control_vm_guest;
mod control_vm_run;
mod control_vms;
mod dashboard;
mod dashboard_fleet;
mod drift;
mod health;
mod hijack;
mod image;
mod kernel_guest;
mod key_rotation;
mod key_rotation_mesh;
mod mesh_containers;
mod mesh_docker;
mod mesh_lab;
mod mesh_ssh;
mod mesh_undo;
mod mesh_verify;
mod mesh_vm;
mod metrics;
mod multinet;
mod names_ports_health;
mod package;
mod podman;
mod restart;
mod rogue_dhcp;
mod spoofing;
mod two_hosts;
mod vm_guest;
mod vm_tap;
mod vxlan;
mod vxlan_injection;
mod vxlan_vm;
