//! `arbour certs`: a cluster CA and node certificates as PEM files, for
//! mutual TLS in files mode (DESIGN.md §5).
//!
//! `DIR/ca.crt` is the CA certificate every node loads; `DIR/ca.key` is the
//! CA's key, needed only to add nodes later (keep it off the nodes);
//! `DIR/<node>.crt` and `DIR/<node>.key` are one node's certificate and key.
//! Run again with the same directory to add nodes to the same CA.

use anyhow::{bail, Context as _};
use arbour::transport::ClusterCa;
use std::path::{Path, PathBuf};

/// What [`make`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Whether a new CA was made (else the one in the directory was reused).
    pub new_ca: bool,
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
}

/// Makes (or reuses) the CA of `cluster` in `dir` and a certificate and key
/// for each of `nodes`. Existing node files are kept unless `force`.
pub fn make(cluster: &str, dir: &Path, nodes: &[String], force: bool) -> anyhow::Result<Written> {
    if nodes.is_empty() {
        bail!("name at least one node");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Written::default();
    let (ca_crt, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let ca = if ca_key.exists() {
        let key = read(&ca_key)?;
        let cert = read(&ca_crt)?;
        ClusterCa::from_key_pem(cluster, &key, Some(&cert)).with_context(|| {
            format!(
                "{} and {} do not make the CA of cluster {cluster:?} (another cluster name, or \
                 files from different runs)",
                ca_key.display(),
                ca_crt.display()
            )
        })?
    } else {
        if ca_crt.exists() {
            bail!(
                "{} exists without its key {}: cannot add nodes to that CA",
                ca_crt.display(),
                ca_key.display()
            );
        }
        let ca = ClusterCa::generate(cluster)?;
        write(&ca_key, &ca.private_key_pem(), true)?;
        write(&ca_crt, &ca.certificate_pem(), false)?;
        written.new_ca = true;
        written.files.extend([ca_key.clone(), ca_crt.clone()]);
        ca
    };
    for node in nodes {
        let (crt, key) = (
            dir.join(format!("{node}.crt")),
            dir.join(format!("{node}.key")),
        );
        if !force {
            if let Some(existing) = [&crt, &key].into_iter().find(|p| p.exists()) {
                bail!("{} exists (pass --force to replace it)", existing.display());
            }
        }
        let id = ca.issue_random(node)?;
        write(&key, &id.private_key_pem()?, true)?;
        write(&crt, &id.certificate_pem(), false)?;
        written.files.extend([key, crt]);
    }
    Ok(written)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `text` to `path`; a `secret` file is readable by its owner only.
fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
