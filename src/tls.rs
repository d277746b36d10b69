//! The data directory's credentials: a self-signed CA, a serving certificate for 127.0.0.1 and
//! localhost, a random bearer token, and the kubeconfig that ties them together. Created on
//! first start, reused afterwards.

use anyhow::Context;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// Credentials of one data directory.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

fn paths(dir: &Path) -> [PathBuf; 4] {
    [
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
        dir.join("token"),
    ]
}

/// Load the credentials in `dir`, creating any that are missing.
pub fn load_or_create(dir: &Path) -> anyhow::Result<Credentials> {
    let [ca, cert, key, token] = paths(dir);
    if ca.exists() && cert.exists() && key.exists() && token.exists() {
        return Ok(Credentials {
            ca_pem: std::fs::read_to_string(&ca)?,
            cert_pem: std::fs::read_to_string(&cert)?,
            key_pem: std::fs::read_to_string(&key)?,
            token: std::fs::read_to_string(&token)?.trim().to_string(),
        });
    }
    let created = generate()?;
    std::fs::write(&ca, &created.ca_pem)?;
    std::fs::write(&cert, &created.cert_pem)?;
    write_private(&key, &created.key_pem)?;
    write_private(&token, &created.token)?;
    Ok(created)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn generate() -> anyhow::Result<Credentials> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kubetrail-ca");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubetrail".to_string(),
    ])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    use rand::RngExt;
    let token: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    Ok(Credentials {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
        token,
    })
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
