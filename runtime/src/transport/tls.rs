//! Mutual TLS identities for a cluster, in two modes.
//!
//! - *Secret*: every node derives the same cluster CA from the cluster's name
//!   and shared secret (HKDF-SHA256 → an Ed25519 key; fixed validity and
//!   serial; Ed25519 signatures are deterministic, so every node computes
//!   byte-identical CA certificates) and mints its own certificate signed by
//!   it.
//! - *Files*: each node loads the CA certificate, its own certificate and its
//!   key from PEM files (`arbour certs` makes them with [`ClusterCa::generate`];
//!   any CA an operator already runs works too). The node checks at start
//!   that its certificate chains to the CA and names it.
//!
//! Either way a node trusts exactly its cluster's CA ([`Trust`]), and a peer
//! holding a certificate from another CA fails the TLS handshake before any
//! arbour byte is exchanged. Both configurations speak TLS 1.3 only (QUIC)
//! with the ring provider.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_ED25519,
};
use ring::hkdf;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
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
    /// A certificate or key file could not be read or holds no usable PEM.
    #[error("{}: {reason}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The node's own certificate does not fit: not issued by the CA, not
    /// for this node, expired, or not matching its key.
    #[error("the certificate of node {node:?} is unusable: {reason}")]
    BadIdentity {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// Certificate files made for another cluster name than the node's.
    #[error(
        "{}: the CA is of cluster {theirs:?}, this node of cluster {ours:?}          (made with `arbour certs --cluster {theirs}`?)",
        .path.display()
    )]
    WrongCluster {
        /// The CA file.
        path: PathBuf,
        /// The cluster the CA was made for.
        theirs: String,
        /// The node's.
        ours: String,
    },
    /// A CA key that does not belong to the CA certificate it came with.
    #[error("the CA key does not belong to the CA certificate of cluster {0:?}")]
    CaKeyMismatch(String),
}

/// arbour's ALPN protocol id, versioned with the wire protocol. Both sides
/// require it (RFC 9001 §8.1): a client that offers none, or only others,
/// is refused in the TLS handshake with `no_application_protocol`.
pub const ALPN: &[u8] = b"arbour/2";

/// PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410), the form OpenSSL 3.0
/// and Python's `cryptography` read (they refuse ring's v2, which adds the
/// public key).
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

/// A fresh random Ed25519 key, kept as PKCS#8 v1 (for `arbour certs`, which
/// writes keys to files; a running node never calls this: its keys come
/// from its seeded RNG).
fn random_key() -> Result<KeyPair, TlsError> {
    let mut seed = [0u8; 32];
    // allowed (determinism): only `arbour certs` makes random keys
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
        .map_err(|_| TlsError::Certificate(rcgen::Error::RingUnspecified))?;
    key_from_seed(&seed)
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

/// The CA certificates a node accepts peers from: its cluster's CA.
#[derive(Clone, Debug)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    /// The clock certificates are checked against (the node's).
    clock: crate::platform::WallClock,
}

impl Trust {
    /// Trusts exactly these CA certificates.
    pub fn new(cas: impl IntoIterator<Item = CertificateDer<'static>>) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca)?;
        }
        Ok(Self {
            roots: Arc::new(roots),
            clock: Default::default(),
        })
    }

    /// Checks certificate validity against `clock` (a node's, perhaps
    /// skewed) instead of the process's.
    pub fn with_clock(mut self, clock: crate::platform::WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// The cluster names of the CAs here that `arbour certs` made (their
    /// subject is `arbour cluster NAME`); other CAs name none.
    pub fn arbour_clusters(&self) -> Vec<String> {
        const PREFIX: &[u8] = b"arbour cluster ";
        self.roots
            .roots
            .iter()
            .filter_map(|anchor| {
                let subject: &[u8] = anchor.subject.as_ref();
                let at = subject.windows(PREFIX.len()).position(|w| w == PREFIX)?;
                // a DER string: tag, then a one-byte length, then the text
                let len = usize::from(*subject.get(at.checked_sub(1)?)?);
                let text = subject.get(at..at + len)?;
                std::str::from_utf8(text.get(PREFIX.len()..)?)
                    .ok()
                    .map(str::to_owned)
            })
            .collect()
    }

    /// Reads the CA certificates of a PEM file.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        let cas = read_certificates(path)?;
        Self::new(cas).map_err(|e| file_error(path, format!("not a usable CA certificate: {e}")))
    }

    /// Checks that `identity` chains to these CAs, is valid now and names
    /// its node, so a misconfigured node fails at start with a reason
    /// instead of being refused by every peer.
    pub fn check(&self, identity: &NodeIdentity) -> Result<(), TlsError> {
        let bad = |reason: String| TlsError::BadIdentity {
            node: identity.node.clone(),
            reason,
        };
        let (leaf, intermediates) = identity
            .chain
            .split_first()
            .ok_or_else(|| bad("the certificate file holds no certificate".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            self.roots.clone(),
            provider,
        )
        .build()
        .map_err(|e| bad(e.to_string()))?;
        let now = UnixTime::since_unix_epoch(
            self.clock
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        verifier
            .verify_server_cert(leaf, intermediates, &server_name(&identity.node)?, &[], now)
            .map_err(|e| bad(e.to_string()))?;
        // rustls compares the key with the certificate's public key
        self.client_config(identity)
            .map_err(|e| bad(format!("the key does not fit the certificate ({e})")))?;
        Ok(())
    }

    /// The TLS server side for `identity`: TLS 1.3, and a client certificate
    /// from these CAs is required.
    pub fn server_config(&self, identity: &NodeIdentity) -> Result<ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots.clone(),
            provider.clone(),
        )
        .build()?;
        let verifier = Arc::new(ClusterAware {
            inner: verifier,
            ours: self.arbour_clusters(),
            throttle: crate::platform::LogThrottle::default(),
        });
        let mut config = ServerConfig::builder_with_details(provider, Arc::new(self.clock))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(identity.chain.clone(), identity.private_key())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// The TLS client side for `identity`: TLS 1.3, trusting only these CAs,
    /// presenting the node's certificate.
    pub fn client_config(&self, identity: &NodeIdentity) -> Result<ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            self.roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
        let verifier = Arc::new(ClusterAware {
            inner: verifier,
            ours: self.arbour_clusters(),
            throttle: crate::platform::LogThrottle::default(),
        });
        let mut config = ClientConfig::builder_with_details(provider, Arc::new(self.clock))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(identity.chain.clone(), identity.private_key())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }
}

/// The web PKI check of the peer's certificate, which on failure says
/// "cluster name differs" when the peer's certificate comes from an arbour
/// CA of another cluster name (in secret mode the CA is derived from the
/// name, so that is what a wrong name looks like), instead of an unknown
/// issuer.
#[derive(Debug)]
struct ClusterAware<V: ?Sized> {
    inner: Arc<V>,
    /// Our CAs' cluster names.
    ours: Vec<String>,
    /// For the line naming a refused client (anyone can provoke it).
    throttle: crate::platform::LogThrottle,
}

/// The prefix of the refusal [`ClusterAware`] gives, for whoever reads it.
pub(crate) const CLUSTER_DIFFERS: &str = "cluster name differs: ours ";

impl<V: ?Sized> ClusterAware<V> {
    /// The refusal for a certificate issued by another cluster's CA, if it is.
    fn other_cluster(&self, cert: &CertificateDer<'_>) -> Option<rustls::Error> {
        let theirs = cluster_named_in(cert)?;
        let ours = self.ours.first()?;
        (!self.ours.contains(&theirs)).then(|| {
            rustls::Error::General(format!("{CLUSTER_DIFFERS}{ours:?}, theirs {theirs:?}"))
        })
    }

    fn explain(&self, cert: &CertificateDer<'_>, e: rustls::Error) -> rustls::Error {
        self.other_cluster(cert).unwrap_or(e)
    }
}

/// The cluster named by the arbour CA that issued `cert` (its issuer is
/// `arbour cluster NAME`), if one did.
fn cluster_named_in(cert: &CertificateDer<'_>) -> Option<String> {
    const PREFIX: &[u8] = b"arbour cluster ";
    let der: &[u8] = cert.as_ref();
    let at = der.windows(PREFIX.len()).position(|w| w == PREFIX)?;
    let len = usize::from(*der.get(at.checked_sub(1)?)?);
    let text = der.get(at..at + len)?;
    std::str::from_utf8(text.get(PREFIX.len()..)?)
        .ok()
        .map(str::to_owned)
}

/// The node name a certificate names (its DNS subject alternative name).
fn claimed_node(cert: &CertificateDer<'_>) -> Option<String> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let name = parsed.valid_dns_names().next().map(str::to_owned);
    name
}

/// The signature checks both verifiers leave to the web PKI one they wrap.
macro_rules! delegate_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

impl rustls::client::danger::ServerCertVerifier
    for ClusterAware<rustls::client::WebPkiServerVerifier>
{
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            .map_err(|e| self.explain(end_entity, e))
    }

    delegate_signatures!();
}

impl rustls::server::danger::ClientCertVerifier
    for ClusterAware<dyn rustls::server::danger::ClientCertVerifier>
{
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| {
                // say who knocked: the name its certificate claims (not
                // proven, since the certificate is not ours)
                let claims = claimed_node(end_entity);
                crate::platform::throttled_warn!(self.throttle, "client certificate refused",
                    source = claims.as_deref().unwrap_or("?"),
                    node = claims.as_deref().unwrap_or("?"),
                    "refused a node's certificate: {e} (another cluster secret or CA?)");
                self.explain(end_entity, e)
            })
    }

    delegate_signatures!();
}

fn file_error(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Every certificate of a PEM file (at least one).
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(path, pem_reason(e)))?;
    if certs.is_empty() {
        return Err(file_error(path, "no CERTIFICATE block in the file"));
    }
    Ok(certs)
}

fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not PEM: {other:?}"),
    }
}

/// A node's certificate chain and private key.
#[derive(Debug)]
pub struct NodeIdentity {
    /// The node's name (the certificate's subject alternative name).
    pub node: String,
    /// The node certificate, then any intermediates (and, when minted here,
    /// the CA's).
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl NodeIdentity {
    /// Loads node `node`'s certificate chain and private key from PEM files
    /// (PKCS#8, PKCS#1 or SEC1 keys). Check it with [`Trust::check`].
    pub fn from_pem_files(node: &str, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        if !valid_node_name(node) {
            return Err(TlsError::BadNodeName(node.to_owned()));
        }
        let chain = read_certificates(cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                file_error(key, "no PRIVATE KEY block in the file")
            }
            other => file_error(key, pem_reason(other)),
        })?;
        Ok(Self {
            node: node.to_owned(),
            chain,
            key,
        })
    }

    /// The node's private key (for building TLS configurations by hand).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// The node's certificate, PEM-encoded.
    pub fn certificate_pem(&self) -> String {
        self.chain.first().map(pem_certificate).unwrap_or_default()
    }

    /// The node's private key, PEM-encoded in the format it has.
    pub fn private_key_pem(&self) -> String {
        let label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem_block(label, self.key.secret_der())
    }
}

fn pem_certificate(cert: &CertificateDer<'_>) -> String {
    pem_block("CERTIFICATE", cert)
}

/// RFC 7468 text encoding, with LF line ends.
fn pem_block(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// A cluster's certificate authority: it mints node certificates.
pub struct ClusterCa {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
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
        Self::with_key(cluster, key_from_seed(&seed)?)
    }

    /// The CA of `cluster`'s clients in secret mode, from `secret`: every
    /// member derives it (and trusts it); a client gets only its seed, in
    /// a [`ClusterCa::client_credential`], so it can mint clients'
    /// certificates and no member's. Its certificates are clients'
    /// whatever they say ([`role_of`] reads the issuer).
    pub fn clients_from_secret(cluster: &str, secret: &str) -> Result<Self, TlsError> {
        if secret.is_empty() {
            return Err(TlsError::EmptySecret);
        }
        Self::clients_from_seed(cluster, &client_seed(cluster, secret))
    }

    fn clients_from_seed(cluster: &str, seed: &[u8; 32]) -> Result<Self, TlsError> {
        Self::with_key_named(&format!("{CLIENTS_CA} {cluster}"), cluster, key_from_seed(seed)?)
    }

    /// What a client of `cluster` needs in secret mode, as one line of
    /// text (give it instead of the secret): the seed of the clients' CA
    /// and the members' CA certificate (to check the nodes it dials). It
    /// mints clients' certificates only: a node holding it cannot act as
    /// a member (`Security::ClientCredential`).
    pub fn client_credential(cluster: &str, secret: &str) -> Result<String, TlsError> {
        let members = Self::from_secret(cluster, secret)?;
        let seed = client_seed(cluster, secret);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        Ok(format!(
            "{CREDENTIAL_PREFIX}.{}.{}",
            hex(&seed),
            hex(members.certificate())
        ))
    }

    /// A new CA for `cluster` with a fresh random key (for `arbour certs`;
    /// a running node never calls this).
    pub fn generate(cluster: &str) -> Result<Self, TlsError> {
        Self::with_key(cluster, random_key()?)
    }

    /// The CA of `cluster` that [`ClusterCa::generate`] made, from its key
    /// file; `cert` must hold the certificate it made then (so a key of
    /// another CA, or another cluster name, is caught).
    pub fn from_pem_files(cluster: &str, key: &Path, cert: &Path) -> Result<Self, TlsError> {
        let pem = std::fs::read_to_string(key).map_err(|e| file_error(key, e.to_string()))?;
        let key_pair = KeyPair::from_pem(&pem)
            .map_err(|e| file_error(key, format!("not a CA private key: {e}")))?;
        let ca = Self::with_key(cluster, key_pair)?;
        if read_certificates(cert)?.first() != Some(&ca.cert) {
            return Err(TlsError::CaKeyMismatch(cluster.to_owned()));
        }
        Ok(ca)
    }

    /// The CA certificate of `cluster` signed by `key`. Its fields are fixed
    /// (validity, and a serial from the public key), so the same key always
    /// gives the same certificate.
    fn with_key(cluster: &str, key: KeyPair) -> Result<Self, TlsError> {
        Self::with_key_named(&format!("arbour cluster {cluster}"), cluster, key)
    }

    /// [`ClusterCa::with_key`] under the common name `name`.
    fn with_key_named(name: &str, cluster: &str, key: KeyPair) -> Result<Self, TlsError> {
        let mut params = CertificateParams::default();
        fixed_validity(&mut params);
        let serial = derive(
            b"arbour ca serial",
            key.public_key_raw(),
            cluster.as_bytes(),
        );
        params.serial_number = Some(SerialNumber::from_slice(&serial[..16]));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        // two CAs of one cluster name get distinct names, so a certificate
        // from the other one reads as an unknown issuer, not a bad signature
        let fingerprint: String = serial[..6].iter().map(|b| format!("{b:02x}")).collect();
        dn.push(DnType::OrganizationalUnitName, format!("key {fingerprint}"));
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

    /// The CA certificate, PEM-encoded.
    pub fn certificate_pem(&self) -> String {
        pem_certificate(&self.cert)
    }

    /// The CA's private key, PEM-encoded: whoever holds it can mint members
    /// of the cluster.
    pub fn private_key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Trusts this CA only.
    pub fn trust(&self) -> Result<Trust, TlsError> {
        Trust::new([self.cert.clone()])
    }

    /// Mints the certificate of node `node`, with a key made from `seed` (the
    /// node's RNG supplies it, so a simulated run stays reproducible).
    pub fn issue(&self, node: &str, seed: [u8; 32]) -> Result<NodeIdentity, TlsError> {
        self.issue_with(node, key_from_seed(&seed)?, PeerRole::Member)
    }

    /// Mints the certificate of a client named `node` (its subject carries
    /// [`CLIENT_UNIT`]: it may ask and look up, not act as a member).
    pub fn issue_client(&self, node: &str, seed: [u8; 32]) -> Result<NodeIdentity, TlsError> {
        self.issue_with(node, key_from_seed(&seed)?, PeerRole::Client)
    }

    /// Mints the certificate of node `node` with a fresh random key (for
    /// `arbour certs`; a running node never calls this), for `role`.
    pub fn issue_random(&self, node: &str, role: PeerRole) -> Result<NodeIdentity, TlsError> {
        self.issue_with(node, random_key()?, role)
    }

    /// The certificate of `node` for `key`; its serial comes from the public
    /// key, so the same key always gives the same certificate.
    fn issue_with(&self, node: &str, key: KeyPair, role: PeerRole) -> Result<NodeIdentity, TlsError> {
        if !valid_node_name(node) {
            return Err(TlsError::BadNodeName(node.to_owned()));
        }
        let mut params = CertificateParams::default();
        fixed_validity(&mut params);
        params.serial_number = Some(SerialNumber::from_slice(
            &derive(b"arbour node serial", key.public_key_raw(), node.as_bytes())[..16],
        ));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node);
        if role == PeerRole::Client {
            dn.push(DnType::OrganizationalUnitName, CLIENT_UNIT);
        }
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
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

/// What a peer's certificate lets it be. A *member* may take part in
/// membership, write its part of the registry, spawn and stop actors; a
/// *client* (the `status` command, an edge client) may ask, tell, watch
/// and look up what nodes expose, and no more. A certificate is a
/// client's when its subject carries the organizational unit
/// [`CLIENT_UNIT`] (`arbour certs --client`, [`ClusterCa::issue_client`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeerRole {
    /// A member of the cluster.
    #[default]
    Member,
    /// A client: not a member.
    Client,
}

/// The organizational unit that makes a certificate a client's.
pub const CLIENT_UNIT: &str = "arbour client";

/// The common name (then the cluster's) of the clients' CA in secret mode.
const CLIENTS_CA: &str = "arbour clients of";

/// How a client credential begins (its version).
const CREDENTIAL_PREFIX: &str = "arbour-client-v1";

/// The seed of `cluster`'s clients' CA, from its secret.
fn client_seed(cluster: &str, secret: &str) -> [u8; 32] {
    derive(b"arbour clients ca v1", secret.as_bytes(), cluster.as_bytes())
}

/// A client credential's parts: the clients' CA seed and the members' CA
/// certificate.
fn parse_credential(text: &str) -> Option<([u8; 32], Vec<u8>)> {
    let mut parts = text.trim().split('.');
    if parts.next()? != CREDENTIAL_PREFIX {
        return None;
    }
    let unhex = |h: &str| -> Option<Vec<u8>> {
        h.len().is_multiple_of(2)
            .then(|| {
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()
            })
            .flatten()
    };
    let seed: [u8; 32] = unhex(parts.next()?)?.try_into().ok()?;
    let ca = unhex(parts.next()?)?;
    parts.next().is_none().then_some((seed, ca))
}

/// The role `leaf`, a peer's certificate (verified against the node's CA),
/// gives it: [`PeerRole::Client`] if its subject carries [`CLIENT_UNIT`],
/// or the clients' CA of secret mode issued it.
pub fn role_of(leaf: &CertificateDer<'_>) -> PeerRole {
    // issued by the clients' CA of secret mode (a node name cannot hold
    // a space, so the text is the issuer's)
    if leaf.windows(CLIENTS_CA.len()).any(|w| w == CLIENTS_CA.as_bytes()) {
        return PeerRole::Client;
    }
    // the attribute as DER: OID 2.5.4.11 (organizational unit), then the
    // text as a UTF8String or PrintableString of its length
    let oid = [0x06, 0x03, 0x55, 0x04, 0x0b];
    let text = CLIENT_UNIT.as_bytes();
    let client = leaf.windows(oid.len() + 2 + text.len()).any(|w| {
        w[..oid.len()] == oid
            && matches!(w[oid.len()], 0x0c | 0x13)
            && usize::from(w[oid.len() + 1]) == text.len()
            && &w[oid.len() + 2..] == text
    });
    if client {
        PeerRole::Client
    } else {
        PeerRole::Member
    }
}

/// The name a client uses to reach node `node` (its certificate's name).
pub fn server_name(node: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(node.to_owned()).map_err(|_| TlsError::BadNodeName(node.to_owned()))
}

/// How a node proves it belongs to the cluster (mutual TLS, always).
#[derive(Clone, Debug)]
pub enum Security {
    /// Every node derives the same CA from the cluster name and this secret,
    /// and mints its own certificate from it.
    Secret(String),
    /// As [`Security::Secret`], but the certificate minted is a client's
    /// ([`PeerRole::Client`]): the node connects, asks and looks up, and
    /// may not act as a member. (Whoever holds the secret could mint a
    /// member's certificate instead: to give out credentials that cannot,
    /// use files, `arbour certs --client`.)
    SecretAsClient(String),
    /// A client's credential in secret mode
    /// ([`ClusterCa::client_credential`]): the node mints a client's
    /// certificate from it and can mint no member's.
    ClientCredential(String),
    /// PEM files, as `arbour certs` makes them: the cluster's CA certificate,
    /// and this node's certificate (naming the node) and private key.
    Files {
        /// The CA certificate(s) whose members this node accepts.
        ca: PathBuf,
        /// This node's certificate, issued by that CA.
        cert: PathBuf,
        /// This node's private key.
        key: PathBuf,
    },
}

impl Security {
    /// The CA a node trusts and the identity it presents. `rng` mints the
    /// key of a secret-mode identity (so a simulated run is reproducible).
    pub(crate) fn load(
        &self,
        cluster: &str,
        node: &str,
        rng: &crate::platform::NodeRng,
        clock: crate::platform::WallClock,
    ) -> Result<(Trust, NodeIdentity), TlsError> {
        match self {
            Security::Secret(secret) | Security::SecretAsClient(secret) => {
                let ca = ClusterCa::from_secret(cluster, secret)?;
                let clients = ClusterCa::clients_from_secret(cluster, secret)?;
                let mut key_seed = [0u8; 32];
                rng.derive("tls identity").fill_bytes(&mut key_seed);
                let identity = match self {
                    Security::SecretAsClient(_) => ca.issue_client(node, key_seed)?,
                    _ => ca.issue(node, key_seed)?,
                };
                // members accept clients minted from a credential too
                let trust = Trust::new([ca.certificate().clone(), clients.certificate().clone()])?;
                Ok((trust.with_clock(clock), identity))
            }
            Security::ClientCredential(text) => {
                let (seed, members) = parse_credential(text).ok_or_else(|| TlsError::BadIdentity {
                    node: node.to_owned(),
                    reason: format!(
                        "not a client credential (it begins {CREDENTIAL_PREFIX}: make one with `arbour credential`)"
                    ),
                })?;
                let clients = ClusterCa::clients_from_seed(cluster, &seed)?;
                let mut key_seed = [0u8; 32];
                rng.derive("tls identity").fill_bytes(&mut key_seed);
                let identity = clients.issue_client(node, key_seed)?;
                let trust = Trust::new([CertificateDer::from(members), clients.certificate().clone()])?;
                Ok((trust.with_clock(clock), identity))
            }
            Security::Files { ca, cert, key } => {
                let trust = Trust::from_pem_file(ca)?.with_clock(clock);
                let clusters = trust.arbour_clusters();
                if !clusters.is_empty() && !clusters.iter().any(|c| c == cluster) {
                    return Err(TlsError::WrongCluster {
                        path: ca.clone(),
                        theirs: clusters.join(", "),
                        ours: cluster.to_owned(),
                    });
                }
                let identity = NodeIdentity::from_pem_files(node, cert, key)?;
                trust.check(&identity)?;
                Ok((trust, identity))
            }
        }
    }
}

#[cfg(test)]
mod role_tests {
    use super::*;

    /// In secret mode a client's credential mints only clients: a
    /// certificate from it is a client's even without the marker, and the
    /// credential holds no member's key.
    #[test]
    fn a_client_credential_mints_only_clients() {
        let text = ClusterCa::client_credential("c", "s").expect("credential");
        let (seed, members) = parse_credential(&text).expect("parses");
        let members_ca = ClusterCa::from_secret("c", "s").expect("ca");
        assert_eq!(&members, members_ca.certificate().as_ref());
        let clients = ClusterCa::clients_from_seed("c", &seed).expect("clients' CA");
        // trying to mint a member with it: still a client
        let posing = clients.issue("alpha", [3; 32]).expect("cert");
        assert_eq!(role_of(&posing.chain[0]), PeerRole::Client);
        assert!(!text.contains(&members_ca.private_key_pem()));
        assert!(parse_credential("arbour-client-v1.zz.00").is_none());
    }

    #[test]
    fn a_client_certificate_says_so_and_a_members_does_not() {
        let ca = ClusterCa::from_secret("c", "s").expect("ca");
        let member = ca.issue("alpha", [1; 32]).expect("member");
        let client = ca.issue_client("status", [2; 32]).expect("client");
        assert_eq!(role_of(&member.chain[0]), PeerRole::Member);
        assert_eq!(role_of(&client.chain[0]), PeerRole::Client);
        // the CA's own certificate (in the chain) is no client's either
        assert_eq!(role_of(&client.chain[1]), PeerRole::Member);
    }
}
