//! Two real QUIC endpoints on 127.0.0.1 (port 0): mutual TLS from the cluster
//! secret, then arbour's handshake, with every refusal precise on both sides.
//! Every wait is bounded.

use arbour::transport::{ClusterCa, Endpoint, TransportError};
use arbour::wire::{Hello, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::time::Duration;

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn endpoint(cluster: &str, secret: &str, node: &str, seed: u8, hello: Option<Hello>) -> Endpoint {
    let ca = ClusterCa::from_secret(cluster, secret).expect("ca");
    let id = ca.issue(node, [seed; 32]).expect("identity");
    let hello = hello.unwrap_or_else(|| Hello::new(cluster, node, u64::from(seed)));
    Endpoint::bind(localhost(), &ca.trust().expect("trust"), &id, hello).expect("bind")
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    arbour_tests::bounded("a transport step", f).await
}

#[tokio::test]
async fn two_nodes_handshake_and_know_each_other() {
    let alpha = endpoint("demo", "s3cret", "alpha", 1, None);
    let beta = endpoint("demo", "s3cret", "beta", 2, None);
    let addr = alpha.local_addr().expect("addr");
    let (accepted, connected) =
        bounded(async { tokio::join!(alpha.accept(), beta.connect(addr, "alpha")) }).await;
    let at_alpha = accepted
        .expect("an incoming connection")
        .expect("handshake at alpha");
    let at_beta = connected.expect("handshake at beta");
    assert_eq!(at_alpha.hello.node, "beta");
    assert_eq!(at_alpha.hello.incarnation, 2);
    assert_eq!(at_beta.hello.node, "alpha");
    assert_eq!(at_beta.remote_address(), addr);
}

#[tokio::test]
async fn a_wrong_secret_never_gets_past_tls() {
    let alpha = endpoint("demo", "s3cret", "alpha", 1, None);
    let mallory = endpoint("demo", "guess", "mallory", 9, None);
    let addr = alpha.local_addr().expect("addr");
    let (accepted, connected) =
        bounded(async { tokio::join!(alpha.accept(), mallory.connect(addr, "alpha")) }).await;
    assert!(
        matches!(connected, Err(TransportError::Connection(_))),
        "{connected:?}"
    );
    assert!(
        matches!(accepted, Some(Err(_))),
        "the listener saw the failure too: {accepted:?}"
    );
}

/// Refusals decided by arbour's handshake (TLS passed): both sides get the reason.
async fn refused(theirs: Hello, expect: &str) {
    let alpha = endpoint("demo", "s3cret", "alpha", 1, None);
    let beta = endpoint("demo", "s3cret", "beta", 2, Some(theirs));
    let addr = alpha.local_addr().expect("addr");
    let (accepted, connected) =
        bounded(async { tokio::join!(alpha.accept(), beta.connect(addr, "alpha")) }).await;
    match connected {
        Err(TransportError::Refused {
            by_peer: true,
            reason,
            ..
        }) => {
            assert!(
                reason.contains(expect),
                "dialer got {reason:?}, expected {expect:?}"
            )
        }
        other => panic!("dialer: expected a refusal, got {other:?}"),
    }
    match accepted {
        Some(Err(TransportError::Refused {
            by_peer: false,
            reason,
            ..
        })) => assert!(reason.contains(expect)),
        other => panic!("listener: expected to refuse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cluster_name_mismatch_is_refused_with_the_reason() {
    // same CA (shared secret and cluster file), but the peer claims another cluster
    refused(Hello::new("other", "beta", 2), "cluster mismatch").await;
}

#[tokio::test]
async fn a_protocol_version_mismatch_is_refused_with_the_reason() {
    let future = Hello {
        version: PROTOCOL_VERSION + 1,
        ..Hello::new("demo", "beta", 2)
    };
    refused(future, "protocol version mismatch").await;
}

#[tokio::test]
async fn a_peer_that_says_nothing_is_dropped_after_the_handshake_timeout() {
    let alpha = endpoint("demo", "s3cret", "alpha", 1, None)
        .with_handshake_timeout(Duration::from_millis(300));
    let silent = endpoint("demo", "s3cret", "beta", 2, None);
    let addr = alpha.local_addr().expect("addr");
    let (accepted, conn) = bounded(async {
        tokio::join!(alpha.accept(), async {
            // completes TLS, then never speaks
            silent.quic().connect(addr, "alpha").expect("connect").await
        })
    })
    .await;
    let conn = conn.expect("TLS completes");
    assert!(
        matches!(accepted, Some(Err(TransportError::HandshakeTimeout))),
        "{accepted:?}"
    );
    let closed = bounded(conn.closed()).await;
    assert!(closed.to_string().contains("handshake timeout"), "{closed}");
}

#[tokio::test]
async fn garbage_on_the_control_stream_is_refused_and_the_node_keeps_serving() {
    let alpha = endpoint("demo", "s3cret", "alpha", 1, None);
    let rogue = endpoint("demo", "s3cret", "beta", 2, None);
    let addr = alpha.local_addr().expect("addr");
    let (accepted, _) = bounded(async {
        tokio::join!(alpha.accept(), async {
            let conn = rogue
                .quic()
                .connect(addr, "alpha")
                .expect("connect")
                .await
                .expect("tls");
            let (mut send, _recv) = conn.open_bi().await.expect("stream");
            send.write_all(&[0, 0, 0, 3, 0xEE, 1, 2])
                .await
                .expect("write");
            conn
        })
    })
    .await;
    // refused with the reason, which the rogue is told in a Reject frame
    assert!(
        matches!(&accepted, Some(Err(TransportError::Refused { by_peer: false, reason, .. }))
            if reason == "malformed handshake: malformed input from the peer: unknown frame kind 238"),
        "{accepted:?}"
    );
    // a well-behaved node still gets in
    let gamma = endpoint("demo", "s3cret", "gamma", 3, None);
    let (accepted, connected) =
        bounded(async { tokio::join!(alpha.accept(), gamma.connect(addr, "alpha")) }).await;
    assert_eq!(
        accepted.expect("incoming").expect("handshake").hello.node,
        "gamma"
    );
    assert!(connected.is_ok());
}
