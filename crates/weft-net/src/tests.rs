/// The agent opens handles on one thread and uses them on others.
#[test]
fn handles_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<super::Netns>();
    send::<super::Netlink>();
    send_sync::<super::NetError>();
}
