//! Mutual TLS from a cluster secret: real TLS 1.3 handshakes between rustls
//! connections, pumped in memory.

use arbour::transport::{server_name, ClusterCa, TlsError};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use std::sync::Arc;

/// Pumps a handshake to completion or to the first error (which side, why).
fn handshake(
    client: ClientConfig,
    server: ServerConfig,
    name: ServerName<'static>,
) -> Result<(ClientConnection, ServerConnection), String> {
    let mut c = ClientConnection::new(Arc::new(client), name).map_err(|e| e.to_string())?;
    let mut s = ServerConnection::new(Arc::new(server)).map_err(|e| e.to_string())?;
    for _ in 0..32 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).map_err(|e| e.to_string())?;
        }
        if !buf.is_empty() {
            s.read_tls(&mut &buf[..]).map_err(|e| e.to_string())?;
            s.process_new_packets()
                .map_err(|e| format!("server: {e}"))?;
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).map_err(|e| e.to_string())?;
        }
        if !buf.is_empty() {
            c.read_tls(&mut &buf[..]).map_err(|e| e.to_string())?;
            c.process_new_packets()
                .map_err(|e| format!("client: {e}"))?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok((c, s));
        }
    }
    Err("handshake made no progress".into())
}

fn seed(b: u8) -> [u8; 32] {
    [b; 32]
}

#[test]
fn nodes_of_one_cluster_authenticate_each_other() {
    let ca_a = ClusterCa::from_secret("demo", "change-me").expect("ca");
    let ca_b = ClusterCa::from_secret("demo", "change-me").expect("ca");
    assert_eq!(
        ca_a.certificate(),
        ca_b.certificate(),
        "every node derives the same CA"
    );
    let alpha = ca_a.issue("alpha", seed(1)).expect("alpha");
    let beta = ca_b.issue("beta", seed(2)).expect("beta");
    let (c, s) = handshake(
        ca_b.client_config(&beta).expect("client"),
        ca_a.server_config(&alpha).expect("server"),
        server_name("alpha").expect("name"),
    )
    .expect("handshake");
    let client_cert = s
        .peer_certificates()
        .expect("the server saw the client's certificate");
    assert_eq!(client_cert[0], beta.chain[0]);
    assert_eq!(
        c.peer_certificates().expect("server cert")[0],
        alpha.chain[0]
    );
}

#[test]
fn a_wrong_secret_or_cluster_fails_the_handshake() {
    let ours = ClusterCa::from_secret("demo", "change-me").expect("ca");
    let alpha = ours.issue("alpha", seed(1)).expect("alpha");
    for (cluster, secret) in [("demo", "wrong secret"), ("prod", "change-me")] {
        let theirs = ClusterCa::from_secret(cluster, secret).expect("ca");
        assert_ne!(theirs.certificate(), ours.certificate());
        let intruder = theirs.issue("mallory", seed(9)).expect("mallory");
        let err = handshake(
            theirs.client_config(&intruder).expect("client"),
            ours.server_config(&alpha).expect("server"),
            server_name("alpha").expect("name"),
        )
        .expect_err("refused");
        assert!(
            err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
            "{cluster}/{secret}: {err}"
        );
    }
}

#[test]
fn the_server_refuses_a_client_certificate_from_another_ca() {
    let ours = ClusterCa::from_secret("demo", "change-me").expect("ca");
    let theirs = ClusterCa::from_secret("demo", "other").expect("ca");
    let alpha = ours.issue("alpha", seed(1)).expect("alpha");
    let intruder = theirs.issue("mallory", seed(9)).expect("mallory");
    // the intruder trusts our CA (it saw our certificate) but can only present its own
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ours.certificate().clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_client_auth_cert(intruder.chain.clone(), intruder.private_key())
        .expect("client");
    let err = handshake(
        client,
        ours.server_config(&alpha).expect("server"),
        server_name("alpha").expect("name"),
    )
    .expect_err("refused");
    assert!(
        err.starts_with("server:"),
        "the server itself refuses: {err}"
    );
}

#[test]
fn bad_names_and_empty_secrets_are_clear_errors() {
    assert!(matches!(
        ClusterCa::from_secret("demo", ""),
        Err(TlsError::EmptySecret)
    ));
    let ca = ClusterCa::from_secret("demo", "s").expect("ca");
    for bad in ["", "Alpha", "a_b", "-a", "a.b", &"x".repeat(64)] {
        assert!(
            matches!(ca.issue(bad, seed(1)), Err(TlsError::BadNodeName(_))),
            "{bad:?}"
        );
    }
    let a = ca.issue("node-1", seed(1)).expect("ok");
    let b = ca.issue("node-1", seed(2)).expect("ok");
    assert_ne!(
        a.chain[0], b.chain[0],
        "each node's key comes from its own seed"
    );
    assert_eq!(a.chain[1], b.chain[1], "both chains end in the cluster CA");
}
