//! ServiceAccount tokens: JWTs signed ES256 with the data directory's `sa.key`, carrying the
//! claims kube-apiserver's bound tokens carry (`sub` `system:serviceaccount:NS:NAME`, the
//! `kubernetes.io` claim naming the ServiceAccount and, when bound, the Pod or Secret, each
//! with its uid). `verify` checks the signature, the issuer, the audience and the validity
//! window; whether the named objects still exist with those uids is the caller's to check
//! against the store.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The issuer and default audience, as a kubeadm cluster's.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The shortest lifetime a TokenRequest may ask for (Kubernetes' minimum).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// The lifetime of a TokenRequest that names none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// A token is accepted this many seconds before its `nbf` and after its `exp` (clock skew).
const LEEWAY_SECONDS: i64 = 60;
/// The signing key's file in the data directory.
pub const KEY_FILE: &str = "sa.key";
/// The longest token looked at: longer is not one of ours.
const MAX_TOKEN: usize = 8 * 1024;

/// An object a token is bound to (or the ServiceAccount it names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    pub namespace: String,
    pub serviceaccount: Ref,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
}

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    /// Claims for the ServiceAccount `serviceaccount` of `namespace`, issued at `now` for
    /// `seconds`, for `audiences` (the issuer when empty).
    pub fn new(
        namespace: &str,
        serviceaccount: Ref,
        audiences: &[String],
        now: i64,
        seconds: i64,
    ) -> Claims {
        let aud = match audiences.is_empty() {
            true => vec![ISSUER.to_string()],
            false => audiences.to_vec(),
        };
        Claims {
            sub: username(namespace, &serviceaccount.name),
            aud,
            exp: now + seconds,
            iat: now,
            nbf: now,
            iss: ISSUER.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaim {
                namespace: namespace.to_string(),
                serviceaccount,
                pod: None,
                secret: None,
                node: None,
            },
        }
    }
}

impl Claims {
    /// The claims bound to the object `kind` (`Pod`, `Secret` or `Node`) named by `object`,
    /// as a TokenRequest's `boundObjectRef` or a kubelet's pod token binds them; another kind
    /// binds nothing.
    pub fn bound_to(mut self, kind: &str, object: Ref) -> Claims {
        match kind {
            "Pod" => self.kubernetes.pod = Some(object),
            "Secret" => self.kubernetes.secret = Some(object),
            "Node" => self.kubernetes.node = Some(object),
            _ => {}
        }
        self
    }
}

/// The user a ServiceAccount authenticates as.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Why a token was not accepted (for the log; the client only ever hears 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Not a JWT of this server's (wrong shape, algorithm, key or signature).
    NotOurs(String),
    Expired,
    NotYetValid,
    /// Issued for another audience or by another issuer.
    WrongAudience,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::NotOurs(why) => write!(f, "not a token of this server: {why}"),
            Rejected::Expired => f.write_str("the token has expired"),
            Rejected::NotYetValid => f.write_str("the token is not valid yet"),
            Rejected::WrongAudience => f.write_str("the token is for another audience"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    kid: String,
}

/// Signs and verifies this server's ServiceAccount tokens.
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// The key in `data_dir/sa.key`, made (private to its owner) when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<Signer, String> {
        let path = data_dir.join(KEY_FILE);
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let made = EcdsaKeyPair::generate_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| "generating the ServiceAccount signing key failed".to_string())?;
                crate::datadir::write_private(&path, made.as_ref())
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                made.as_ref().to_vec()
            }
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        Signer::from_pkcs8(&pkcs8).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key in `data_dir/sa.key` if there is one (a read-only server makes none).
    pub fn load(data_dir: &Path) -> Result<Option<Signer>, String> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(pkcs8) => Signer::from_pkcs8(&pkcs8)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    /// A signer with a key of its own, kept nowhere: its tokens die with the process.
    pub fn ephemeral() -> Result<Signer, String> {
        let made = EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(|_| "generating a signing key failed".to_string())?;
        Signer::from_pkcs8(made.as_ref())
    }

    /// A signer with the P-256 key in `pkcs8`.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Signer, String> {
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(Signer { key, kid })
    }

    /// The signed token of `claims`.
    pub fn issue(&self, claims: &Claims) -> Result<String, String> {
        let header = Header {
            alg: "ES256".into(),
            kid: self.kid.clone(),
        };
        let signing_input = format!("{}.{}", encode_segment(&header)?, encode_segment(claims)?);
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "signing the token failed".to_string())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// The claims of `token` when this server signed it for `audience` and it is valid at
    /// `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, audience: &str, now: i64) -> Result<Claims, Rejected> {
        let not_ours = |why: &str| Rejected::NotOurs(why.to_string());
        if token.len() > MAX_TOKEN {
            return Err(not_ours("too long"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(not_ours("not a JWT"));
        };
        let signed = &token[..header.len() + 1 + payload.len()];
        let header: Header = decode_segment(header).ok_or_else(|| not_ours("bad header"))?;
        if header.alg != "ES256" || header.kid != self.kid {
            return Err(not_ours("another algorithm or key"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| not_ours("bad signature encoding"))?;
        let public = signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        );
        public
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| not_ours("bad signature"))?;
        let claims: Claims = decode_segment(payload).ok_or_else(|| not_ours("bad claims"))?;
        if claims.iss != ISSUER || !claims.aud.iter().any(|a| a == audience) {
            return Err(Rejected::WrongAudience);
        }
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(Rejected::Expired);
        }
        if now + LEEWAY_SECONDS < claims.nbf {
            return Err(Rejected::NotYetValid);
        }
        Ok(claims)
    }
}

fn encode_segment<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_vec(value)
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .map_err(|e| e.to_string())
}

fn decode_segment<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .unwrap();
        Signer::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn claims(now: i64) -> Claims {
        let sa = Ref {
            name: "builder".into(),
            uid: "u-1".into(),
        };
        Claims::new("ci", sa, &[], now, 3600)
    }

    #[test]
    fn a_token_verifies_with_its_claims_until_it_expires() {
        let signer = signer();
        let issued = claims(1_000);
        let token = signer.issue(&issued).unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(signer.verify(&token, ISSUER, 1_000), Ok(issued.clone()));
        assert_eq!(issued.sub, "system:serviceaccount:ci:builder");
        assert_eq!(
            signer.verify(&token, ISSUER, 1_000 + 3600 + LEEWAY_SECONDS),
            Ok(issued)
        );
        assert_eq!(
            signer.verify(&token, ISSUER, 1_000 + 3600 + LEEWAY_SECONDS + 1),
            Err(Rejected::Expired)
        );
        assert_eq!(
            signer.verify(&token, ISSUER, 1_000 - LEEWAY_SECONDS - 1),
            Err(Rejected::NotYetValid)
        );
    }

    #[test]
    fn tokens_of_another_key_audience_or_shape_are_refused() {
        let signer = signer();
        let token = signer.issue(&claims(1_000)).unwrap();
        assert!(matches!(
            super::tests::signer().verify(&token, ISSUER, 1_000),
            Err(Rejected::NotOurs(_))
        ));
        assert_eq!(
            signer.verify(&token, "vault", 1_000),
            Err(Rejected::WrongAudience)
        );
        let mut forged = claims(1_000);
        forged.kubernetes.namespace = "kube-system".into();
        let parts: Vec<&str> = token.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(
            signer.verify(&tampered, ISSUER, 1_000),
            Err(Rejected::NotOurs("bad signature".into()))
        );
        for junk in ["", "a.b", "a.b.c.d", "....", &"x".repeat(MAX_TOKEN + 1)] {
            assert!(
                matches!(
                    signer.verify(junk, ISSUER, 1_000),
                    Err(Rejected::NotOurs(_))
                ),
                "{junk}"
            );
        }
    }

    #[test]
    fn the_key_is_kept_in_the_data_directory_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Signer::load_or_create(dir.path()).unwrap();
        let token = first.issue(&claims(5)).unwrap();
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token, ISSUER, 5).is_ok());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
