//! Two nodes on one thread under paused tokio time, connected by the
//! simulated network: real QUIC and TLS, no OS socket, no OS clock.

use arbour::platform::TokioTimeRuntime;
use arbour::transport::{ClusterCa, Endpoint, Liveness, TransportError};
use arbour::wire::Hello;
use arbour_sim::{Faults, SimNet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const LATENCY: Duration = Duration::from_millis(5);

fn node(net: &SimNet, addr: SocketAddr, name: &str, secret: &str, seed: u8) -> Endpoint {
    let ca = ClusterCa::from_secret("demo", secret).expect("ca");
    let id = ca.issue(name, [seed; 32]).expect("identity");
    Endpoint::bind_socket(
        net.bind(addr).expect("bind"),
        Arc::new(TokioTimeRuntime),
        &ca.trust().expect("trust"),
        &id,
        Hello::new("demo", name, u64::from(seed)),
        u64::from(seed),
        Liveness::default(),
    )
    .expect("endpoint")
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 7000))
}

#[tokio::test(start_paused = true)]
async fn nodes_handshake_in_virtual_time_and_a_cut_link_ends_the_connection() {
    let net = SimNet::new(1, Faults::latency(LATENCY));
    let alpha = node(&net, addr(1), "alpha", "s3cret", 1);
    let beta = node(&net, addr(2), "beta", "s3cret", 2);
    let t0 = tokio::time::Instant::now();
    let (accepted, connected) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(alpha.accept(), beta.connect(addr(1), "alpha"))
    })
    .await
    .expect("bounded");
    let at_alpha = accepted.expect("incoming").expect("handshake at alpha");
    let at_beta = connected.expect("handshake at beta");
    assert_eq!(at_alpha.hello.node, "beta");
    assert_eq!(at_beta.hello.node, "alpha");
    let took = t0.elapsed();
    // QUIC+TLS 1.3 (1 RTT) and arbour's hello/welcome (1 RTT), each way LATENCY
    assert!(
        took >= 4 * LATENCY,
        "the handshake took {took:?} of virtual time"
    );
    let c = net.counts();
    let (delivered, dropped) = (c.delivered, c.lost + c.cut);
    assert!(
        delivered >= 4 && dropped == 0,
        "{delivered} delivered, {dropped} dropped"
    );

    // Cut the link: with nothing getting through, the connection dies of its
    // idle timeout, in virtual time.
    net.cut(addr(1), addr(2));
    let t1 = tokio::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(600), at_beta.connection().closed())
        .await
        .expect("the connection ends");
    assert!(
        matches!(closed, quinn::ConnectionError::TimedOut),
        "{closed:?}"
    );
    assert!(
        t1.elapsed() >= Duration::from_secs(1),
        "idle timeout in virtual time: {:?}",
        t1.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_secret_is_refused_on_the_simulated_network_too() {
    let net = SimNet::new(1, Faults::latency(LATENCY));
    let alpha = node(&net, addr(1), "alpha", "s3cret", 1);
    let mallory = node(&net, addr(3), "mallory", "guess", 9);
    let (accepted, connected) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(alpha.accept(), mallory.connect(addr(1), "alpha"))
    })
    .await
    .expect("bounded");
    assert!(
        matches!(connected, Err(TransportError::Connection(_))),
        "{connected:?}"
    );
    assert!(matches!(accepted, Some(Err(_))), "{accepted:?}");
}

/// One handshake plus a cut link, on a fresh paused runtime; returns the
/// network's delivery trace.
fn traced_run() -> Vec<arbour_sim::net::Delivery> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let net = SimNet::new(1, Faults::latency(LATENCY));
        net.record();
        let alpha = node(&net, addr(1), "alpha", "s3cret", 1);
        let beta = node(&net, addr(2), "beta", "s3cret", 2);
        let (accepted, connected) = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(alpha.accept(), beta.connect(addr(1), "alpha"))
        })
        .await
        .expect("bounded");
        let _alpha_side = accepted.expect("incoming").expect("handshake");
        let beta_side = connected.expect("handshake");
        // let the connection settle (acks, tokens), then cut it and let it die
        tokio::time::sleep(Duration::from_millis(200)).await;
        net.cut(addr(1), addr(2));
        let _ =
            tokio::time::timeout(Duration::from_secs(600), beta_side.connection().closed()).await;
        net.trace()
    })
}

#[test]
fn the_same_seed_replays_the_same_packet_trace() {
    let a = traced_run();
    let b = traced_run();
    assert!(
        a.len() >= 6,
        "a real exchange happened: {} datagrams",
        a.len()
    );
    assert_eq!(a, b, "same seed, same datagrams at the same virtual times");
}
