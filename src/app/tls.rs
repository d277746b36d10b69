//! The data directory's credentials: a self-signed CA (its key kept to re-issue), a serving
//! certificate for 127.0.0.1, localhost and the names the server is reached by, a random bearer
//! token, and the kubeconfig that ties them together. Created on first start, reused
//! afterwards; every file is private to its owner (`datadir::write_private`).

use crate::datadir::write_private;
use anyhow::Context;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::{Path, PathBuf};

/// Credentials of one data directory.
#[derive(Clone)]
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

// Hand-written so that a `{:?}` of the credentials (in an error or a log line) never prints the
// token or the key.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ca_pem", &self.ca_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The names every serving certificate carries.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "kubetrail"];

struct Paths {
    ca: PathBuf,
    ca_key: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token: PathBuf,
}

fn paths(dir: &Path) -> Paths {
    Paths {
        ca: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        token: dir.join("token"),
    }
}

/// Load the credentials in `dir`, creating any that are missing. `names` (DNS names or IP
/// addresses) are what clients reach the server by: a serving certificate that does not cover
/// them all is re-issued by the same CA, so kubeconfigs that trust the CA keep working.
pub fn load_or_create(dir: &Path, names: &[String]) -> anyhow::Result<Credentials> {
    let p = paths(dir);
    let token = match std::fs::read_to_string(&p.token) {
        Ok(token) if !token.trim().is_empty() => token.trim().to_string(),
        _ => {
            let token = new_token();
            write_private(&p.token, token.as_bytes())
                .with_context(|| format!("writing {}", p.token.display()))?;
            token
        }
    };
    if p.ca.exists() && p.cert.exists() && p.key.exists() {
        let ca_pem = std::fs::read_to_string(&p.ca)?;
        let cert_pem = std::fs::read_to_string(&p.cert)?;
        let key_pem = std::fs::read_to_string(&p.key)?;
        let missing = uncovered(&cert_pem, names)?;
        if missing.is_empty() {
            return Ok(Credentials {
                ca_pem,
                cert_pem,
                key_pem,
                token,
            });
        }
        if let Ok(ca_key_pem) = std::fs::read_to_string(&p.ca_key) {
            let ca_key = KeyPair::from_pem(&ca_key_pem).context("reading ca.key")?;
            let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("reading ca.crt")?;
            let (cert_pem, key_pem) = serving_certificate(&issuer, names)?;
            write_private(&p.key, key_pem.as_bytes())?;
            write_private(&p.cert, cert_pem.as_bytes())?;
            tracing::info!(names = ?missing, "serving certificate re-issued by the same CA");
            return Ok(Credentials {
                ca_pem,
                cert_pem,
                key_pem,
                token,
            });
        }
        // Data directories from before the CA key was kept cannot re-issue: a new CA it is.
        tracing::warn!(
            names = ?missing,
            "the serving certificate does not cover these names and the CA key is not kept; \
             a new CA is created (kubeconfigs copied elsewhere must be taken again)"
        );
    }
    let (ca_pem, ca_key_pem, issuer) = certificate_authority()?;
    let (cert_pem, key_pem) = serving_certificate(&issuer, names)?;
    write_private(&p.ca_key, ca_key_pem.as_bytes())?;
    write_private(&p.ca, ca_pem.as_bytes())?;
    write_private(&p.key, key_pem.as_bytes())?;
    write_private(&p.cert, cert_pem.as_bytes())?;
    Ok(Credentials {
        ca_pem,
        cert_pem,
        key_pem,
        token,
    })
}

/// The names of `names` that the certificate in `cert_pem` is not valid for.
pub fn uncovered(cert_pem: &str, names: &[String]) -> anyhow::Result<Vec<String>> {
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .context("reading the serving certificate")?;
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| anyhow::anyhow!("parsing the serving certificate: {e}"))?;
    Ok(names
        .iter()
        .filter(|name| {
            ServerName::try_from(name.as_str())
                .map(|server_name| cert.verify_is_valid_for_subject_name(&server_name).is_err())
                .unwrap_or(true)
        })
        .cloned()
        .collect())
}

fn certificate_authority() -> anyhow::Result<(String, String, Issuer<'static, KeyPair>)> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kubetrail-ca");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();
    Ok((ca_cert.pem(), ca_key_pem, Issuer::new(ca_params, ca_key)))
}

/// A serving certificate (and its new key) for the default names and `names`.
fn serving_certificate(
    issuer: &Issuer<'_, KeyPair>,
    names: &[String],
) -> anyhow::Result<(String, String)> {
    let mut all: Vec<String> = DEFAULT_NAMES.iter().map(|n| n.to_string()).collect();
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(all)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, issuer)?;
    Ok((leaf_cert.pem(), leaf_key.serialize_pem()))
}

fn new_token() -> String {
    use rand::RngExt;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// The rustls server configuration for the serving certificate (HTTP/2 and HTTP/1.1).
pub fn server_config(credentials: &Credentials) -> anyhow::Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_slice_iter(credentials.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("reading the serving certificate")?;
    let key = PrivateKeyDer::from_pem_slice(credentials.key_pem.as_bytes())
        .context("reading the serving key")?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A kubeconfig for `server` (https with the CA and token, or plain http).
pub fn kubeconfig(server: &str, credentials: Option<&Credentials>) -> String {
    let (cluster, user) = match credentials {
        Some(c) => (
            format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(&c.ca_pem)
            ),
            format!("    token: {}\n", c.token),
        ),
        None => (String::new(), "    {}\n".to_string()),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubetrail\n  cluster:\n    server: {server}\n{cluster}\
contexts:\n- name: kubetrail\n  context:\n    cluster: kubetrail\n    user: kubetrail\n    namespace: default\n\
current-context: kubetrail\nusers:\n- name: kubetrail\n  user:\n{user}preferences: {{}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn every_credential_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path(), &names(&["127.0.0.1"])).unwrap();
        for file in ["ca.crt", "ca.key", "server.crt", "server.key", "token"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn a_certificate_missing_a_name_is_reissued_by_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), &names(&["127.0.0.1"])).unwrap();
        assert_eq!(
            uncovered(&first.cert_pem, &names(&["localhost", "kubetrail", "::1"])).unwrap(),
            names(&["::1"])
        );
        let again = load_or_create(dir.path(), &names(&["127.0.0.1"])).unwrap();
        assert_eq!(
            again.cert_pem, first.cert_pem,
            "nothing new to cover: reused"
        );

        let wanted = names(&["192.0.2.10", "k8s.example.test"]);
        let second = load_or_create(dir.path(), &wanted).unwrap();
        assert_ne!(second.cert_pem, first.cert_pem);
        assert_eq!(second.ca_pem, first.ca_pem);
        assert_eq!(second.token, first.token);
        assert!(uncovered(&second.cert_pem, &wanted).unwrap().is_empty());
        assert!(
            uncovered(&second.cert_pem, &names(&["127.0.0.1"]))
                .unwrap()
                .is_empty()
        );

        // The old CA still vouches for the new certificate.
        let ca = CertificateDer::from_pem_slice(first.ca_pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.into(),
            rustls::crypto::ring::default_provider().into(),
        )
        .build()
        .unwrap();
        let leaf = CertificateDer::from_pem_slice(second.cert_pem.as_bytes()).unwrap();
        use rustls::client::danger::ServerCertVerifier;
        verifier
            .verify_server_cert(
                &leaf,
                &[],
                &ServerName::try_from("k8s.example.test").unwrap(),
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .expect("the re-issued certificate chains to the original CA");
    }

    #[test]
    fn debug_output_never_shows_the_token_or_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = load_or_create(dir.path(), &[]).unwrap();
        let shown = format!("{credentials:?}");
        assert!(!shown.contains(&credentials.token));
        assert!(!shown.contains("PRIVATE KEY"));
    }
}
