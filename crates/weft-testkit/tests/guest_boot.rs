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
        timeout: Duration::from_secs(40),
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
    assert!(message.contains("hung and was killed"), "{message}");
    assert!(
        message.contains("@@weft-guest before-hang pass"),
        "{message}"
    );
}
