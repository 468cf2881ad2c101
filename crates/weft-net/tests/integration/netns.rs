use weft_testkit::require_root;

use std::path::Path;

use weft_net::{NetError, Netns};

#[test]
fn open_missing_path_names_it() {
    require_root!();
    let path = Path::new("/nonexistent/weft-test/netns");
    let err = Netns::open(path).expect_err("missing path must fail");
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/weft-test/netns"),
        "{err}"
    );
}

#[test]
fn open_regular_file_is_refused_naming_it() {
    require_root!();
    let path = std::env::temp_dir().join(format!("weft-net-not-a-netns-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let result = Netns::open(&path);
    std::fs::remove_file(&path).unwrap();
    let err = result.expect_err("a regular file is not a netns");
    assert!(matches!(err, NetError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn open_other_namespace_type_is_refused() {
    require_root!();
    let err = Netns::open(Path::new("/proc/self/ns/uts")).expect_err("uts ns is not a netns");
    assert!(err.to_string().contains("not a network namespace"), "{err}");
}

#[test]
fn id_is_equal_for_the_same_namespace_and_differs_across() {
    require_root!();
    let a = Netns::open(Path::new("/proc/self/ns/net")).unwrap();
    let b = Netns::open(Path::new("/proc/self/ns/net")).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(Netns::current().unwrap().id(), a.id());

    let anon = Netns::new_anonymous().unwrap();
    assert_ne!(anon.id(), a.id());
    // Reopened through its /proc fd path: same namespace, same id.
    let reopened = Netns::open(&anon.proc_path()).unwrap();
    assert_eq!(reopened.id(), anon.id());
    assert_eq!(anon.try_clone().unwrap().id(), anon.id());
    assert_ne!(Netns::new_anonymous().unwrap().id(), anon.id());
}

#[test]
fn run_executes_inside_and_leaves_the_caller_alone() {
    require_root!();
    let before = Netns::current().unwrap().id();
    let anon = Netns::new_anonymous().unwrap();
    let inside = anon.run(|| Netns::current().unwrap().id()).unwrap();
    assert_eq!(inside, anon.id());
    assert_eq!(Netns::current().unwrap().id(), before);
}

#[test]
fn run_propagates_panics() {
    require_root!();
    let anon = Netns::new_anonymous().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        anon.run(|| panic!("boom inside netns"))
    }));
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom inside netns"));
}
