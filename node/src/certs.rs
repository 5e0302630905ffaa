//! `arbour certs`: a cluster CA and node certificates as PEM files, for
//! mutual TLS in files mode.
//!
//! `DIR/ca.crt` is the CA certificate every node loads; `DIR/ca.key` is the
//! CA's key, needed only to add nodes later (keep it off the nodes);
//! `DIR/<node>.crt` and `DIR/<node>.key` are one node's certificate and key.
//! Run again with the same directory to add nodes to the same CA.

use anyhow::{bail, Context as _};
use arbour::net::{ClusterCa, PeerRole};
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
/// for each of `nodes`, members' or, with `role` client, clients' (they may
/// ask and look up, and may not act as members). Existing node files are
/// kept unless `force`.
pub fn make(
    cluster: &str,
    dir: &Path,
    nodes: &[String],
    force: bool,
    role: PeerRole,
) -> anyhow::Result<Written> {
    if nodes.is_empty() {
        bail!("name at least one node");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (ca_crt, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let new_ca = !ca_key.exists();
    let ca = if new_ca {
        if ca_crt.exists() {
            bail!(
                "{} exists without its key {}: cannot add nodes to that CA",
                ca_crt.display(),
                ca_key.display()
            );
        }
        ClusterCa::generate(cluster)?
    } else {
        ClusterCa::from_pem_files(cluster, &ca_key, &ca_crt).with_context(|| {
            format!(
                "cannot add nodes to the CA in {} (made for another cluster name, or its \
                 files come from different runs)",
                dir.display()
            )
        })?
    };
    // every check and certificate first, so a bad node name or an existing
    // file leaves the directory as it was
    let mut files = Vec::new();
    if new_ca {
        files.push((ca_key, ca.private_key_pem(), true));
        files.push((ca_crt, ca.certificate_pem(), false));
    }
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
        let id = ca.issue_random(node, role)?;
        files.push((key, id.private_key_pem(), true));
        files.push((crt, id.certificate_pem(), false));
    }
    for (path, text, secret) in &files {
        write(path, text, *secret)?;
    }
    Ok(Written {
        new_ca,
        files: files.into_iter().map(|(path, ..)| path).collect(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refused_run_leaves_the_directory_as_it_was_and_a_later_run_reuses_the_ca() {
        let dir = std::env::temp_dir().join(format!("arbour-certs-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let listing = || {
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
                .unwrap_or_default();
            files.sort();
            files
        };
        let err = make(
            "prod",
            &dir,
            &names(&["alpha", "Bad"]),
            false,
            PeerRole::Member,
        )
        .expect_err("bad name");
        assert!(err.to_string().contains("\"Bad\""), "{err}");
        assert!(listing().is_empty(), "{:?}", listing());

        let first =
            make("prod", &dir, &names(&["alpha"]), false, PeerRole::Member).expect("first run");
        assert!(first.new_ca);
        assert_eq!(first.files.len(), 4);
        let before = listing();
        let err = make(
            "prod",
            &dir,
            &names(&["gamma", "alpha"]),
            false,
            PeerRole::Member,
        )
        .expect_err("exists");
        assert!(err.to_string().contains("alpha.crt exists"), "{err}");
        assert_eq!(listing(), before, "gamma was not written");
        let err = make("staging", &dir, &names(&["gamma"]), false, PeerRole::Member)
            .expect_err("other cluster");
        assert!(format!("{err:#}").contains("does not belong"), "{err:#}");

        let again = make("prod", &dir, &names(&["gamma"]), false, PeerRole::Member).expect("added");
        assert!(!again.new_ca);
        assert_eq!(again.files.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
