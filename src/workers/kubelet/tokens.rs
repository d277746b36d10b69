//! How a kubelet gets the ServiceAccount tokens it projects into pods: one seam, `TokenSource`,
//! with two sides. In the server's process (`LocalTokens`) the token is signed there, with the
//! server's `auth::token::Signer` and the ServiceAccount from the informer, building the same
//! claims a TokenRequest does; a kubelet in another process (`kubetrail kubelet`) posts a
//! TokenRequest over the API (`workers::remote`). Either way the token is bound to the pod, so
//! it stops authenticating once the pod is gone, and the kubelet refreshes it at 80% of its
//! life as Kubernetes' token manager does.

use crate::auth::token::{Claims, Ref, Signer};
use crate::model::{ResourceKind, meta};
use crate::workers::cache::Informer;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// A token for the pod `pod_name` (uid `pod_uid`) of `namespace`, running as
/// `service_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodToken {
    pub namespace: String,
    pub service_account: String,
    pub pod_name: String,
    pub pod_uid: String,
    /// The audience asked (the API's when `None`).
    pub audience: Option<String>,
    pub seconds: i64,
}

/// An issued token and its validity, in seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl Issued {
    /// Whether the token is due for a refresh at `now`: past 80% of its life, or older than
    /// a day (the kubelet's token manager's rule).
    pub fn refresh_due(&self, now: i64) -> bool {
        let life = (self.expires_at - self.issued_at).max(0);
        now >= self.issued_at + life * 8 / 10 || now - self.issued_at > 24 * 3600
    }
}

/// Where a kubelet gets pod tokens.
pub trait TokenSource: Send + Sync {
    fn pod_token(&self, request: PodToken) -> BoxFuture<'_, Result<Issued, String>>;
}

/// Tokens signed in the server's own process.
pub struct LocalTokens {
    pub signer: Arc<Signer>,
    pub informer: Informer,
}

impl TokenSource for LocalTokens {
    fn pod_token(&self, request: PodToken) -> BoxFuture<'_, Result<Issued, String>> {
        let result = (|| {
            let account_uid = {
                let snapshot = self.informer.read();
                let account = snapshot
                    .get(
                        ResourceKind::ServiceAccount,
                        &request.namespace,
                        &request.service_account,
                    )
                    .ok_or_else(|| {
                        format!("serviceaccounts \"{}\" not found", request.service_account)
                    })?;
                meta::uid(account).to_string()
            };
            let now = jiff::Timestamp::now().as_second();
            let audiences: Vec<String> = request.audience.iter().cloned().collect();
            let claims = Claims::new(
                &request.namespace,
                Ref {
                    name: request.service_account.clone(),
                    uid: account_uid,
                },
                &audiences,
                now,
                request.seconds,
            )
            .bound_to(
                "Pod",
                Ref {
                    name: request.pod_name.clone(),
                    uid: request.pod_uid.clone(),
                },
            );
            let token = self.signer.issue(&claims)?;
            Ok(Issued {
                token,
                issued_at: claims.iat,
                expires_at: claims.exp,
            })
        })();
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refreshed_at_four_fifths_of_its_life() {
        let issued = Issued {
            token: "t".into(),
            issued_at: 1_000,
            expires_at: 1_000 + 3607,
        };
        assert!(!issued.refresh_due(1_000 + 2_884));
        assert!(issued.refresh_due(1_000 + 2_885));
    }
}
