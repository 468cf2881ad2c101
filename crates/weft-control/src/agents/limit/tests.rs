use super::*;

#[test]
fn a_burst_is_allowed_then_the_rate() {
    let limit = RateLimit::new(0.0, 3);
    assert!((0..3).all(|_| limit.try_take()));
    assert!(!limit.try_take());
    let refilling = RateLimit::new(1000.0, 1);
    assert!(refilling.try_take());
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(refilling.try_take());
}

#[test]
fn each_address_has_its_own_bucket_and_a_64_is_one_client() {
    let limit = AddressLimit::new(0.0, 2);
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    assert!(limit.try_take(a) && limit.try_take(a));
    assert!(!limit.try_take(a), "a used its burst");
    assert!(limit.try_take(b), "b is not a");
    // The same IPv4 client over an IPv6 socket.
    assert!(!limit.try_take("::ffff:192.0.2.1".parse().unwrap()));
    let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(limit.try_take(v6("2001:db8::1")));
    assert!(limit.try_take(v6("2001:db8::ffff:2")));
    assert!(!limit.try_take(v6("2001:db8::3")), "one /64, one client");
    assert!(limit.try_take(v6("2001:db8:0:1::1")));
}
