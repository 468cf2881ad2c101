//! The guest harness end to end: Debian's kernel boots under QEMU with the
//! busybox initramfs, loads the WireGuard module through kmod, reports
//! structured results, and a hung guest is killed with its console kept.
//! Fails (never skips) when QEMU or the kernel package cannot be had.

use std::time::Duration;
use weft_testkit::guest::{Guest, GuestConfig, Initramfs, KernelImage, NETWORK_MODULES, Outcome};

fn guest(config: GuestConfig) -> Guest {
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    let initramfs = Initramfs::new(&kernel, NETWORK_MODULES).unwrap_or_else(|e| panic!("{e}"));
    Guest {
        kernel,
        initramfs,
        config,
    }
}

#[test]
fn a_guest_boots_loads_wireguard_and_reports() {
    let config = GuestConfig {
        modules: vec!["wireguard".into()],
        timeout: Duration::from_secs(120),
        ..GuestConfig::default()
    };
    let run = guest(config)
        .boot(
            "check wg-link ip link add wgtest type wireguard\n\
             report kind data \"$(ip -d -o link show wgtest)\"\n\
             check refused false\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    run.expect_completed();
    let release = run.expect_pass("boot");
    assert!(release.contains("amd64"), "{release}");
    run.expect_pass("module:wireguard");
    run.expect_pass("wg-link");
    if !run.data("kind").contains("wireguard") {
        run.fail(&format!(
            "wgtest is no WireGuard link: {}",
            run.data("kind")
        ));
    }
    // A failing command is reported as a failure, not lost.
    assert_eq!(run.get("refused").unwrap().outcome, Outcome::Fail);
    assert!(
        run.console.contains("@@weft-guest done pass"),
        "{}",
        run.console
    );
    eprintln!("guest boot took {:?}", run.elapsed);
}

#[test]
fn a_hung_guest_is_killed_at_the_deadline() {
    let config = GuestConfig {
        // Booting may take long on a loaded machine (the whole suite runs
        // at once); the hang is timed from the guest's `boot` report.
        timeout: Duration::from_secs(120),
        script_timeout: Some(Duration::from_secs(8)),
        ..GuestConfig::default()
    };
    let run = guest(config)
        .boot("report before-hang pass\nwhile :; do sleep 1; done\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(run.timed_out);
    assert!(!run.completed());
    run.expect_pass("before-hang");
    let failure = std::panic::catch_unwind(|| run.expect_completed()).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("hung and was killed after 8s after it booted"),
        "{message}"
    );
    assert!(run.elapsed < Duration::from_secs(120), "{:?}", run.elapsed);
    assert!(
        message.contains("@@weft-guest before-hang pass"),
        "{message}"
    );
}

/// What a VM test needs: QEMU runs inside a namespace and opens a TAP
/// that exists there (extra QEMU arguments), the guest loads virtio-net
/// and the two sides ping each other over it.
#[test]
fn a_guest_in_a_namespace_talks_over_a_tap() {
    weft_testkit::require_root!();
    let ns = weft_testkit::NamedNetns::new();
    ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "tap0"]);
    ns.ip(&["link", "set", "tap0", "up"]);
    let config = GuestConfig {
        netns: Some(ns.name.clone()),
        qemu_args: [
            "-netdev",
            "tap,id=n0,ifname=tap0,script=no,downscript=no",
            "-device",
            // No option ROM: the kernel is booted directly.
            "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=",
        ]
        .map(String::from)
        .to_vec(),
        // No udev in the guest to load the PCI transport for the device.
        modules: vec!["virtio_pci".into(), "virtio_net".into()],
        timeout: Duration::from_secs(120),
        ..GuestConfig::default()
    };
    let run = guest(config)
        .boot(
            "report mac data \"$(cat /sys/class/net/eth0/address)\"\n\
             ip addr add 192.0.2.2/24 dev eth0\n\
             ip link set eth0 up\n\
             check ping ping -c 3 -i 0.3 -W 3 192.0.2.1\n\
             report neighbour data \"$(ip neigh show 192.0.2.1)\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    run.expect_completed();
    run.expect_pass("module:virtio_pci");
    run.expect_pass("module:virtio_net");
    if run.data("mac") != "52:54:00:12:34:56" {
        run.fail(&format!("eth0 has MAC {:?}", run.data("mac")));
    }
    run.expect_pass("ping");
    // The guest learnt the TAP's own MAC: frames went both ways.
    let tap = ns.ip(&["-j", "link", "show", "tap0"]);
    let tap: serde_json::Value = serde_json::from_str(&tap).unwrap();
    let tap_mac = tap[0]["address"].as_str().unwrap();
    if !run.data("neighbour").contains(tap_mac) {
        run.fail(&format!("the guest's neighbour entry lacks {tap_mac}"));
    }
}
