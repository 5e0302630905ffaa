//! Mutual TLS in both modes (cluster secret; CA + certificate files): real
//! TLS 1.3 handshakes between rustls connections, pumped in memory.

use arbour::transport::{server_name, ClusterCa, NodeIdentity, TlsError, Trust};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use std::path::{Path, PathBuf};
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
        ca_b.trust()
            .expect("trust")
            .client_config(&beta)
            .expect("client"),
        ca_a.trust()
            .expect("trust")
            .server_config(&alpha)
            .expect("server"),
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
            theirs
                .trust()
                .expect("trust")
                .client_config(&intruder)
                .expect("client"),
            ours.trust()
                .expect("trust")
                .server_config(&alpha)
                .expect("server"),
            server_name("alpha").expect("name"),
        )
        .expect_err("refused");
        // another secret of the same cluster: an unknown issuer; another
        // cluster name: said so by the client, which checks first, from
        // its own point of view
        let expect = if cluster == "demo" {
            "UnknownIssuer".to_owned()
        } else {
            format!("client: unexpected error: cluster name differs: ours \"{cluster}\", theirs \"demo\"")
        };
        assert!(err.contains(&expect), "{cluster}/{secret}: {err}");
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
        ours.trust()
            .expect("trust")
            .server_config(&alpha)
            .expect("server"),
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

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("arbour-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `ca.crt`, `<node>.crt` and `<node>.key` the way `arbour certs` does.
fn write_member(dir: &Scratch, ca: &ClusterCa, node: &str) -> (PathBuf, PathBuf, PathBuf) {
    let id = ca
        .issue_random(node, arbour::net::PeerRole::Member)
        .expect("issue");
    (
        dir.write("ca.crt", &ca.certificate_pem()),
        dir.write(&format!("{node}.crt"), &id.certificate_pem()),
        dir.write(&format!("{node}.key"), &id.private_key_pem()),
    )
}

fn load(node: &str, ca: &Path, cert: &Path, key: &Path) -> Result<(Trust, NodeIdentity), TlsError> {
    let trust = Trust::from_pem_file(ca)?;
    let id = NodeIdentity::from_pem_files(node, cert, key)?;
    trust.check(&id)?;
    Ok((trust, id))
}

#[test]
fn nodes_with_certificate_files_from_one_ca_authenticate_each_other() {
    let dir = Scratch::new("members");
    let ca = ClusterCa::generate("prod").expect("ca");
    let (ca_file, alpha_crt, alpha_key) = write_member(&dir, &ca, "alpha");
    let (_, beta_crt, beta_key) = write_member(&dir, &ca, "beta");
    let (trust_a, alpha) = load("alpha", &ca_file, &alpha_crt, &alpha_key).expect("alpha loads");
    let (trust_b, beta) = load("beta", &ca_file, &beta_crt, &beta_key).expect("beta loads");
    let (c, s) = handshake(
        trust_b.client_config(&beta).expect("client"),
        trust_a.server_config(&alpha).expect("server"),
        server_name("alpha").expect("name"),
    )
    .expect("handshake");
    assert_eq!(
        s.peer_certificates().expect("client cert")[0],
        beta.chain[0]
    );
    assert_eq!(
        c.peer_certificates().expect("server cert")[0],
        alpha.chain[0]
    );
}

#[test]
fn a_member_of_another_ca_is_refused_by_both_sides() {
    let dir = Scratch::new("foreign");
    let ours = ClusterCa::generate("prod").expect("ca");
    let theirs = ClusterCa::generate("prod").expect("another ca, same cluster name");
    assert_ne!(ours.certificate(), theirs.certificate());
    let (ca_file, alpha_crt, alpha_key) = write_member(&dir, &ours, "alpha");
    let (trust, alpha) = load("alpha", &ca_file, &alpha_crt, &alpha_key).expect("alpha");
    let other = Scratch::new("foreign-other");
    let (their_ca, mallory_crt, mallory_key) = write_member(&other, &theirs, "mallory");
    let (their_trust, mallory) =
        load("mallory", &their_ca, &mallory_crt, &mallory_key).expect("mallory");
    // mallory dials alpha: mallory's client does not trust alpha's CA
    let err = handshake(
        their_trust.client_config(&mallory).expect("client"),
        trust.server_config(&alpha).expect("server"),
        server_name("alpha").expect("name"),
    )
    .expect_err("refused");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // mallory, trusting alpha's CA, still cannot present an acceptable certificate
    let both =
        Trust::new([ours.certificate().clone(), theirs.certificate().clone()]).expect("trust");
    let err = handshake(
        both.client_config(&mallory).expect("client"),
        trust.server_config(&alpha).expect("server"),
        server_name("alpha").expect("name"),
    )
    .expect_err("refused");
    assert!(
        err.starts_with("server:") && err.contains("UnknownIssuer"),
        "{err}"
    );
}

#[test]
fn unusable_certificate_files_are_refused_at_load_with_the_file_and_reason() {
    let dir = Scratch::new("bad");
    let ca = ClusterCa::generate("prod").expect("ca");
    let (ca_file, alpha_crt, alpha_key) = write_member(&dir, &ca, "alpha");
    let (_, beta_crt, beta_key) = write_member(&dir, &ca, "beta");
    let other = ClusterCa::generate("prod").expect("other ca");
    let stranger = other
        .issue_random("alpha", arbour::net::PeerRole::Member)
        .expect("stranger");
    let stranger_crt = dir.write("stranger.crt", &stranger.certificate_pem());
    let garbage = dir.write("garbage.pem", "this is not PEM at all\n");
    let missing = dir.0.join("missing.crt");

    let cases: [(&str, &Path, &Path, &Path, &str); 6] = [
        (
            "missing CA file",
            &missing,
            &alpha_crt,
            &alpha_key,
            "missing.crt",
        ),
        (
            "CA file without a certificate",
            &garbage,
            &alpha_crt,
            &alpha_key,
            "garbage.pem: no CERTIFICATE block",
        ),
        (
            "key file without a key",
            &ca_file,
            &alpha_crt,
            &alpha_crt,
            "alpha.crt: no PRIVATE KEY block",
        ),
        (
            "another node's certificate",
            &ca_file,
            &beta_crt,
            &beta_key,
            "not valid for name \"alpha\"",
        ),
        (
            "a certificate from another CA",
            &ca_file,
            &stranger_crt,
            &alpha_key,
            "UnknownIssuer",
        ),
        (
            "a key that is not the certificate's",
            &ca_file,
            &alpha_crt,
            &beta_key,
            "the key does not fit the certificate",
        ),
    ];
    for (what, ca, cert, key, expect) in cases {
        match load("alpha", ca, cert, key) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => assert!(e.to_string().contains(expect), "{what}: {e}"),
        }
    }
}

#[test]
fn a_generated_ca_is_recovered_from_its_files_and_a_foreign_key_is_caught() {
    let dir = Scratch::new("recover");
    let ca = ClusterCa::generate("prod").expect("ca");
    let ca_crt = dir.write("ca.crt", &ca.certificate_pem());
    let ca_key = dir.write("ca.key", &ca.private_key_pem());
    let again = ClusterCa::from_pem_files("prod", &ca_key, &ca_crt).expect("the same CA");
    assert_eq!(again.certificate(), ca.certificate());
    // a node minted by the recovered CA is trusted by the original
    let id = again
        .issue_random("gamma", arbour::net::PeerRole::Member)
        .expect("gamma");
    ca.trust().expect("trust").check(&id).expect("trusted");
    // another CA's key, or another cluster name, does not make this CA
    let other = ClusterCa::generate("prod").expect("other");
    let other_key = dir.write("other.key", &other.private_key_pem());
    for (key, cluster) in [(&other_key, "prod"), (&ca_key, "staging")] {
        assert!(matches!(
            ClusterCa::from_pem_files(cluster, key, &ca_crt),
            Err(TlsError::CaKeyMismatch(_))
        ));
    }
    let garbage = dir.write("garbage.key", "not a key\n");
    let err = ClusterCa::from_pem_files("prod", &garbage, &ca_crt).expect_err("refused");
    assert!(
        err.to_string()
            .contains("garbage.key: not a CA private key"),
        "{err}"
    );
}

/// Pumps a QUIC-mode TLS handshake (RFC 9001: handshake bytes only, keys
/// ignored) until it completes or one side fails.
fn quic_handshake(
    client: ClientConfig,
    server: ServerConfig,
    name: ServerName<'static>,
) -> Result<Option<Vec<u8>>, String> {
    use rustls::quic::{ClientConnection, ServerConnection, Version};
    let params = b"transport parameters".to_vec();
    let mut c = ClientConnection::new(Arc::new(client), Version::V1, name, params.clone())
        .map_err(|e| e.to_string())?;
    let mut s =
        ServerConnection::new(Arc::new(server), Version::V1, params).map_err(|e| e.to_string())?;
    for _ in 0..32 {
        let mut buf = Vec::new();
        let _ = c.write_hs(&mut buf);
        if !buf.is_empty() {
            s.read_hs(&buf).map_err(|e| format!("server: {e}"))?;
        }
        let mut buf = Vec::new();
        let _ = s.write_hs(&mut buf);
        if !buf.is_empty() {
            c.read_hs(&buf).map_err(|e| format!("client: {e}"))?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(c.alpn_protocol().map(<[u8]>::to_vec));
        }
    }
    Err("handshake made no progress".into())
}

/// RFC 9001 §8.1: arbour's ALPN is required. A client offering none, or
/// only another protocol, is refused in the TLS handshake itself.
#[test]
fn a_client_without_arbours_alpn_is_refused() {
    let ca = ClusterCa::from_secret("prod", "s3cret").expect("ca");
    let trust = ca.trust().expect("trust");
    let alpha = ca.issue("alpha", seed(1)).expect("alpha");
    let beta = ca.issue("beta", seed(2)).expect("beta");
    let name = server_name("alpha").expect("name");
    let offers: [(&str, Vec<Vec<u8>>); 3] = [
        ("none", vec![]),
        ("another", vec![b"h3".to_vec()]),
        ("an older arbour", vec![b"arbour/1".to_vec()]),
    ];
    for (what, alpn) in offers {
        let mut client = trust.client_config(&beta).expect("client");
        client.alpn_protocols = alpn;
        let err = quic_handshake(
            client,
            trust.server_config(&alpha).expect("server"),
            name.clone(),
        )
        .expect_err(what);
        assert!(
            err.starts_with("server: "),
            "{what}: refused by the server: {err}"
        );
        assert!(
            err.contains("no known protocol") || err.contains("any known protocol"),
            "{what}: {err}"
        );
    }
    let alpn = quic_handshake(
        trust.client_config(&beta).expect("client"),
        trust.server_config(&alpha).expect("server"),
        name,
    )
    .expect("arbour's own ALPN");
    assert_eq!(alpn.as_deref(), Some(arbour::transport::ALPN));
}

/// Keys are written as PKCS#8 v1 (RFC 8410's `OneAsymmetricKey` version 0,
/// no public key field): OpenSSL 3.0 and Python's `cryptography` refuse
/// ring's v2. Checked structurally, and with `openssl` itself.
#[test]
fn written_keys_are_pkcs8_v1_that_openssl_reads() {
    let dir = Scratch::new("pkcs8");
    let ca = ClusterCa::generate("prod").expect("ca");
    let id = ca
        .issue_random("alpha", arbour::net::PeerRole::Member)
        .expect("alpha");
    for (file, pem_text) in [
        ("ca.key", ca.private_key_pem()),
        ("alpha.key", id.private_key_pem()),
    ] {
        let block = pem::parse(&pem_text).expect("pem");
        assert_eq!(block.tag(), "PRIVATE KEY");
        let der = block.contents();
        assert_eq!(
            der.len(),
            48,
            "{file}: v1 is 48 bytes, v2 has the public key"
        );
        assert_eq!(
            &der[..5],
            &[0x30, 0x2e, 0x02, 0x01, 0x00],
            "{file}: version 0"
        );
        let path = dir.write(file, &pem_text);
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&path)
            .output()
            .expect("openssl is installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "{file}: openssl pkey: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // and arbour reads them back
    let (ca_crt, crt, key) = write_member(&dir, &ca, "beta");
    load("beta", &ca_crt, &crt, &key).expect("loads");
    let ca_key = dir.write("ca.key", &ca.private_key_pem());
    ClusterCa::from_pem_files("prod", &ca_key, &ca_crt).expect("the CA again");
}
