//! Mutual TLS identities for a cluster (DESIGN.md §5).
//!
//! In *secret* mode every node derives the same cluster CA from the cluster's
//! name and shared secret (HKDF-SHA256 → an Ed25519 key; fixed validity and
//! serial; Ed25519 signatures are deterministic, so every node computes
//! byte-identical CA certificates) and mints its own certificate signed by
//! it. A peer with another secret, or from another cluster, has another CA
//! and fails the TLS handshake before any arbour byte is exchanged. Both
//! configurations speak TLS 1.3 only (QUIC) with the ring provider.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_ED25519,
};
use ring::hkdf;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

/// Why an identity or a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The cluster secret is empty.
    #[error("the cluster secret is empty")]
    EmptySecret,
    /// The node name cannot be a certificate name (use letters, digits, `-`).
    #[error("node name {0:?} is not a valid certificate name (use a-z, 0-9 and '-')")]
    BadNodeName(String),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

fn key_from_seed(seed: &[u8; 32]) -> Result<KeyPair, TlsError> {
    let der = PrivatePkcs8KeyDer::from(ed25519_pkcs8(seed));
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_ED25519)?)
}

/// HKDF-SHA256(salt, secret, info) → 32 bytes.
fn derive(salt: &[u8], secret: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(secret);
    let mut out = [0u8; 32];
    // expand/fill only fail for an output longer than 255 hash lengths
    if let Ok(okm) = prk.expand(&[info], hkdf::HKDF_SHA256) {
        let _ = okm.fill(&mut out);
    }
    out
}

fn fixed_validity(p: &mut CertificateParams) {
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2124, 1, 1);
}

fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A cluster's certificate authority.
pub struct ClusterCa {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

/// A node's certificate chain and private key.
#[derive(Debug)]
pub struct NodeIdentity {
    /// The node's name (the certificate's subject alternative name).
    pub node: String,
    /// The node certificate, then the CA's.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl NodeIdentity {
    /// The node's private key (for building TLS configurations by hand).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

impl ClusterCa {
    /// The CA of `cluster` with `secret`: the same on every node given the
    /// same pair, and unrelated for any other pair.
    pub fn from_secret(cluster: &str, secret: &str) -> Result<Self, TlsError> {
        if secret.is_empty() {
            return Err(TlsError::EmptySecret);
        }
        let seed = derive(
            b"arbour cluster ca v1",
            secret.as_bytes(),
            cluster.as_bytes(),
        );
        let key = key_from_seed(&seed)?;
        let mut params = CertificateParams::default();
        fixed_validity(&mut params);
        params.serial_number = Some(SerialNumber::from_slice(&seed[..16]));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("arbour cluster {cluster}"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key)?.der().clone();
        Ok(Self {
            cert,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (DER).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// Mints the certificate of node `node`, with a key made from `seed` (the
    /// node's RNG supplies it, so a simulated run stays reproducible).
    pub fn issue(&self, node: &str, seed: [u8; 32]) -> Result<NodeIdentity, TlsError> {
        if !valid_node_name(node) {
            return Err(TlsError::BadNodeName(node.to_owned()));
        }
        let key = key_from_seed(&seed)?;
        let mut params = CertificateParams::default();
        fixed_validity(&mut params);
        params.serial_number = Some(SerialNumber::from_slice(
            &derive(b"arbour node serial", &seed, node.as_bytes())[..16],
        ));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node);
        params.distinguished_name = dn;
        let san = node
            .try_into()
            .map_err(|_| TlsError::BadNodeName(node.to_owned()))?;
        params.subject_alt_names = vec![SanType::DnsName(san)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        Ok(NodeIdentity {
            node: node.to_owned(),
            chain: vec![cert, self.cert.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone())?;
        Ok(roots)
    }

    /// The TLS server side for `identity`: TLS 1.3, and a client certificate
    /// from this CA is required.
    pub fn server_config(&self, identity: &NodeIdentity) -> Result<ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider.clone(),
        )
        .build()?;
        Ok(ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(identity.chain.clone(), identity.private_key())?)
    }

    /// The TLS client side for `identity`: TLS 1.3, trusting only this CA,
    /// presenting the node's certificate.
    pub fn client_config(&self, identity: &NodeIdentity) -> Result<ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(identity.chain.clone(), identity.private_key())?)
    }
}

/// The name a client uses to reach node `node` (its certificate's name).
pub fn server_name(node: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(node.to_owned()).map_err(|_| TlsError::BadNodeName(node.to_owned()))
}
