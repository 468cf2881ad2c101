use super::*;

#[test]
fn the_meta_package_names_the_image() {
    let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n";
    assert_eq!(
        image_dependency(out).as_deref(),
        Some("linux-image-6.1.0-56-cloud-amd64")
    );
    assert_eq!(
        image_dependency("linux-image-6.1.0-56-amd64\n  Depends: kmod\n"),
        None
    );
}

#[test]
fn a_package_that_cannot_be_had_is_named() {
    let cache = tempfile::tempdir().unwrap();
    let err = KernelImage::fetch_into(cache.path(), "linux-image-weft-no-such-flavour")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the kernel package linux-image-weft-no-such-flavour cannot be had: "),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing cached"
    );
}

#[test]
fn a_cached_kernel_of_the_same_flavour_serves_offline() {
    let cache = tempfile::tempdir().unwrap();
    for name in [
        "linux-image-6.1.0-55-cloud-amd64",
        "linux-image-6.1.0-56-cloud-amd64",
        "linux-image-6.1.0-57-amd64",
    ] {
        std::fs::create_dir(cache.path().join(name)).unwrap();
        std::fs::write(cache.path().join(name).join(COMPLETE), "x").unwrap();
    }
    // Incomplete: never chosen.
    std::fs::create_dir(cache.path().join("linux-image-6.1.0-58-cloud-amd64")).unwrap();
    assert_eq!(
        cached_flavour(cache.path(), "linux-image-cloud-amd64").as_deref(),
        Some("linux-image-6.1.0-56-cloud-amd64")
    );
    assert_eq!(
        cached_flavour(cache.path(), "linux-image-amd64").as_deref(),
        Some("linux-image-6.1.0-57-amd64")
    );
    assert_eq!(cached_flavour(cache.path(), "linux-image-rt-amd64"), None);
}
