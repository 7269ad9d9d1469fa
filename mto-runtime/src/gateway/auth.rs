//! Who is calling: OpenID Connect access tokens (`Authorization: Bearer`),
//! checked against the issuer's signing keys (its JWKS, found through its
//! discovery document, cached, and fetched again when a token names a key
//! the cache lacks: keys rotate), its issuer, the audience and the expiry.
//!
//! The user name is the configured claim (`preferred_username` by
//! default), falling back to `email` (MTO's rule); the groups come from
//! the groups claim (Keycloak's full paths lose their leading `/`).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mto_model::access::Principal;
use serde_json::Value;
use tokio::sync::RwLock;

/// How the gateway reads tokens.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The issuer (`iss`), the base of its discovery document.
    pub issuer: String,
    /// The audience tokens must name (`aud`): the gateway's client id.
    pub audience: String,
    /// The claim holding the user name; `email` when it is absent.
    pub username_claim: String,
    /// The claim holding the groups.
    pub groups_claim: String,
}

/// Why a request is not authenticated; said to the caller as is.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No bearer token.
    #[error("no bearer token: send Authorization: Bearer <access token from {0}>")]
    Missing(String),
    /// The token does not verify.
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched.
    #[error("the identity provider's keys cannot be read: {0}")]
    Keys(String),
}

/// Least time between two fetches of the keys for an unknown key id, so
/// tokens naming made-up keys cannot make the gateway hammer the issuer.
const REFETCH_AFTER: Duration = Duration::from_secs(10);

/// Checks tokens.
pub struct Verifier {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

impl Verifier {
    /// A verifier for `config`; keys are fetched on first use.
    #[must_use]
    pub fn new(config: OidcConfig) -> Verifier {
        Verifier {
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(None),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The person a request's `Authorization` header names.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Missing(self.config.issuer.clone()))?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        ) {
            return Err(AuthError::Invalid(format!(
                "{:?} is not an algorithm of the issuer's public keys",
                header.alg
            )));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| AuthError::Keys(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        principal_of(&claims, &self.config)
    }

    /// The key `kid` names (the only key, when the token names none).
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, AuthError> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let stale = {
            let cached = self.keys.read().await;
            if let Some((set, _)) = cached.as_ref()
                && let Some(jwk) = find(set)
            {
                return Ok(jwk);
            }
            cached
                .as_ref()
                .is_none_or(|(_, at)| at.elapsed() >= REFETCH_AFTER)
        };
        if stale {
            let set = self.fetch_keys().await?;
            *self.keys.write().await = Some((set, Instant::now()));
        }
        let cached = self.keys.read().await;
        cached
            .as_ref()
            .and_then(|(set, _)| find(set))
            .ok_or_else(|| AuthError::Invalid(format!("the issuer has no key {kid:?}")))
    }

    async fn fetch_keys(&self) -> Result<JwkSet, AuthError> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let fail = |e: reqwest::Error| AuthError::Keys(e.to_string());
        let document: Value = self
            .http
            .get(&discovery)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)?;
        let jwks_uri = document["jwks_uri"]
            .as_str()
            .ok_or_else(|| AuthError::Keys(format!("{discovery} names no jwks_uri")))?;
        self.http
            .get(jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)
    }
}

/// The person verified claims name.
fn principal_of(claims: &Value, config: &OidcConfig) -> Result<Principal, AuthError> {
    let user = claims[config.username_claim.as_str()]
        .as_str()
        .or_else(|| claims["email"].as_str())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            AuthError::Invalid(format!(
                "the token has neither {} nor email",
                config.username_claim
            ))
        })?;
    let groups = claims[config.groups_claim.as_str()]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|g| g.strip_prefix('/').unwrap_or(g).to_owned())
        .collect();
    Ok(Principal {
        user: user.to_owned(),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://id.example/realms/mto".into(),
            audience: "mto".into(),
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
        }
    }

    #[test]
    fn the_user_is_the_configured_claim_then_email_and_groups_lose_keycloaks_slash() {
        let both = serde_json::json!({"preferred_username": "ann", "email": "a@x", "groups": ["/dev", "ops"]});
        let p = principal_of(&both, &config()).expect("principal");
        assert_eq!(p.user, "ann");
        assert_eq!(p.groups, ["dev", "ops"]);
        let mail = serde_json::json!({"email": "a@x"});
        assert_eq!(
            principal_of(&mail, &config()).expect("principal").user,
            "a@x"
        );
        let neither = serde_json::json!({"sub": "123"});
        let err = principal_of(&neither, &config()).expect_err("nobody");
        assert!(err.to_string().contains("preferred_username"), "{err}");
    }

    #[tokio::test]
    async fn a_request_without_a_bearer_token_is_told_how_to_get_one() {
        let v = Verifier::new(config());
        for header in [None, Some("Basic abc"), Some("Bearer ")] {
            let err = v.verify(header).await.expect_err("refused");
            assert!(matches!(err, AuthError::Missing(_)), "{err}");
        }
        let err = v
            .verify(Some("Bearer not.a.jwt"))
            .await
            .expect_err("refused");
        assert!(matches!(err, AuthError::Invalid(_)), "{err}");
    }
}
