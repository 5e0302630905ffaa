//! A client is not a member: its certificate says so (`arbour certs
//! --client`, `NodeBuilder::secret_as_client`), and the nodes refuse what
//! only members may send (membership packets, registry writes, spawns,
//! drains), counting it, while it asks and looks up as any peer.

use crate::common::Cluster;
use arbour::cluster::MembershipConfig;
use arbour::registry::{Published, Update};
use arbour::wire::Control;
use arbour_testkit::{Echo, Ping, ECHO};
use arbour_tests::mallory::{gossip, member, Mallory, SwimState};
use arbour_tests::{bounded, eventually, LIMIT};
use std::time::Duration;

#[test]
fn a_client_may_ask_and_look_up_and_nothing_a_member_may() {
    arbour_tests::run_local(|| async {
        let mut c = Cluster::start(MembershipConfig::default()).await;
        c.alpha.kind::<Echo>("echo").expect("kind");
        let addr = c.alpha.net().local_addr().expect("addr");
        let life = c.alpha.node_id().incarnation;
        let mut client = bounded(
            "the client connects",
            Mallory::connect_as(
                arbour::net::PeerRole::Client,
                ("test", "s3cret"),
                "client",
                7,
                "127.0.0.1:0".parse().expect("bind"),
                ("alpha", life, addr),
            ),
        )
        .await
        .expect("a client's certificate is valid");
        let me = member("client", 7, "127.0.0.1:9".parse().expect("addr"));
        let alpha = c.alpha.membership().me().expect("a member");
        client
            .swim(gossip(&me, &alpha, &[(me.clone(), 0, SwimState::Alive)]))
            .await
            .expect("sent");
        let full = Update::Full {
            seq: 0,
            state: Published::default(),
        };
        client
            .control(
                &Control::Registry {
                    update: arbour::wire::encode(&full).expect("encode"),
                },
                None,
            )
            .await
            .expect("sent");
        let spawn = Control::Spawn {
            kind: "echo".into(),
            args: arbour::wire::encode(&()).expect("encode"),
            group: None,
        };
        client.control(&spawn, Some(1)).await.expect("sent");
        client.control(&Control::Leaving, None).await.expect("sent");
        eventually(
            "alpha refuses the client's member messages",
            Duration::from_millis(5),
            || c.alpha.net().stats().clients_refused >= 4,
        )
        .await;
        let s = c.alpha.net().stats();
        assert_eq!((s.clients_refused, s.peer_spawned_running), (4, 0), "{s:?}");
        assert!(
            c.alpha
                .membership()
                .members()
                .iter()
                .all(|m| m.name != "client"),
            "the client is no member"
        );
        // a client node (secret_as_client) asks and looks up as any peer,
        // and its spawn is refused
        let node = arbour_tests::test_node("status").secret_as_client("s3cret");
        asks_and_cannot_spawn(node, addr).await;
        assert_eq!(c.alpha.net().stats().clients_refused, 5);
        // a client given a credential instead of the secret: the same (a
        // certificate it mints is a client's whatever it says)
        let credential =
            arbour::net::ClusterCa::client_credential("test", "s3cret").expect("credential");
        let edge = arbour::Node::builder("edge")
            .cluster_name("test")
            .client_credential(credential);
        asks_and_cannot_spawn(edge, addr).await;
        assert_eq!(c.alpha.net().stats().clients_refused, 6);
        c.assert_whole();
    });
}

/// Starts `client`, which looks up alpha's (at `addr`) echo and asks it,
/// and whose spawn there is refused.
async fn asks_and_cannot_spawn(client: arbour::NodeBuilder, addr: std::net::SocketAddr) {
    let node = client.start().await.expect("client node");
    node.net().connect("alpha", addr).await.expect("connect");
    let echo = bounded("lookup", node.lookup::<Echo>("alpha", ECHO, LIMIT))
        .await
        .expect("lookup");
    assert_eq!(bounded("ask", echo.ask(Ping(1))).await, Ok(2));
    let alpha = arbour::cluster::Placement::Node("alpha".into());
    let spawned = node.spawn_kind::<Echo>(alpha, "echo", &()).await;
    assert!(spawned.is_err(), "{spawned:?}");
}
