//! Who is calling: OpenID Connect access tokens (`Authorization: Bearer`),
//! checked against the issuer's signing keys (its JWKS, found through its
//! discovery document, cached, and fetched again when a token names a key
//! the cache lacks: keys rotate), its issuer, the audience and the expiry.
//!
//! The user name is the configured claim (`preferred_username` by
//! default), falling back to `email` (MTO's rule); the groups come from
//! the groups claim (Keycloak's full paths lose their leading `/`).
//!
//! A token verified once is remembered until it expires (a client sends
//! the same token with every request; checking its signature again is
//! most of a request's cost). The cache is keyed by the whole token and
//! bounded; a token it lacks is verified in full.

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
    refetch_after: Duration,
    verified: std::sync::Mutex<std::collections::HashMap<String, (Principal, i64)>>,
}

/// Tokens remembered at most; past this the cache starts afresh.
const VERIFIED_KEPT: usize = 10_000;

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
            refetch_after: REFETCH_AFTER,
            verified: std::sync::Mutex::default(),
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
        self.verify_token(token).await
    }

    /// The person an access token names, once it verifies.
    pub async fn verify_token(&self, token: &str) -> Result<Principal, AuthError> {
        let now = mto_model::Timestamp::now().as_second();
        if let Ok(verified) = self.verified.lock()
            && let Some((principal, expires)) = verified.get(token)
            && now < *expires
        {
            return Ok(principal.clone());
        }
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
        let principal = principal_of(&claims, &self.config)?;
        if let Some(expires) = claims["exp"].as_i64()
            && let Ok(mut verified) = self.verified.lock()
        {
            if verified.len() >= VERIFIED_KEPT {
                verified.clear();
            }
            verified.insert(token.to_owned(), (principal.clone(), expires));
        }
        Ok(principal)
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
                .is_none_or(|(_, at)| at.elapsed() >= self.refetch_after)
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
        let document = self.discovery().await?;
        let jwks_uri = document["jwks_uri"].as_str().ok_or_else(|| {
            AuthError::Keys(format!("{} names no jwks_uri", self.discovery_url()))
        })?;
        self.get_json(jwks_uri).await
    }

    fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        )
    }

    /// The issuer's discovery document (its endpoints), fetched now.
    pub async fn discovery(&self) -> Result<Value, AuthError> {
        self.get_json(&self.discovery_url()).await
    }

    /// The HTTP client the issuer is spoken to with.
    #[must_use]
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A JSON document from the issuer.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let fail = |e: reqwest::Error| AuthError::Keys(e.to_string());
        self.http
            .get(url)
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
    use std::sync::{Arc, Mutex};

    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    fn config(issuer: &str) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: "mto".into(),
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
        }
    }

    #[test]
    fn the_user_is_the_configured_claim_then_email_and_groups_lose_keycloaks_slash() {
        let c = config("https://id.example/realms/mto");
        let both = json!({"preferred_username": "ann", "email": "a@x", "groups": ["/dev", "ops"]});
        let p = principal_of(&both, &c).expect("principal");
        assert_eq!(p.user, "ann");
        assert_eq!(p.groups, ["dev", "ops"]);
        let mail = json!({"email": "a@x"});
        assert_eq!(principal_of(&mail, &c).expect("principal").user, "a@x");
        let neither = json!({"sub": "123"});
        let err = principal_of(&neither, &c).expect_err("nobody");
        assert!(err.to_string().contains("preferred_username"), "{err}");
    }

    /// A signing key: its private half for tokens, its public JWK.
    struct Key {
        kid: String,
        der: Vec<u8>,
        jwk: Value,
    }

    fn base64url(bytes: &[u8]) -> String {
        let standard = serde_json::to_value(k8s_openapi::ByteString(bytes.to_vec()))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        standard
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_")
    }

    fn key(kid: &str) -> Key {
        let pair = rcgen::KeyPair::generate().expect("an EC key");
        let point = pair.public_key_raw();
        Key {
            kid: kid.into(),
            der: pair.serialize_der(),
            jwk: json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                        "x": base64url(&point[1..33]), "y": base64url(&point[33..65])}),
        }
    }

    fn token(key: &Key, issuer: &str, audience: &str, expires_in: i64) -> String {
        let now = mto_model::Timestamp::now().as_second();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let claims = json!({"iss": issuer, "aud": audience, "exp": now + expires_in, "iat": now,
                            "preferred_username": "ann", "groups": ["/alpha-team"]});
        let signing = EncodingKey::from_ec_der(&key.der);
        jsonwebtoken::encode(&header, &claims, &signing).expect("a token")
    }

    /// An issuer serving its discovery document and the keys `keys` holds.
    async fn issuer(keys: Arc<Mutex<Vec<Value>>>) -> String {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let jwks_uri = format!("{base}/keys");
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let jwks_uri = jwks_uri.clone();
                    async move { axum::Json(json!({ "jwks_uri": jwks_uri })) }
                }),
            )
            .route(
                "/keys",
                get(move || {
                    let set = keys.lock().map(|k| k.clone()).unwrap_or_default();
                    async move { axum::Json(json!({ "keys": set })) }
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        base
    }

    /// A token is remembered only until it expires: past its expiry it is
    /// verified in full again, and refused.
    #[tokio::test]
    async fn a_remembered_token_is_not_honoured_past_its_expiry() {
        let signing = key("k1");
        let keys = Arc::new(Mutex::new(vec![signing.jwk.clone()]));
        let iss = issuer(keys).await;
        let verifier = Verifier::new(config(&iss));
        let good = token(&signing, &iss, "mto", 300);
        let ann = verifier.verify_token(&good).await.expect("valid");
        assert_eq!(ann.user, "ann");
        let now = mto_model::Timestamp::now().as_second();
        let mallory = Principal {
            user: "mallory".into(),
            groups: Vec::new(),
        };
        verifier
            .verified
            .lock()
            .expect("cache")
            .insert(good.clone(), (mallory.clone(), now - 1));
        assert_eq!(
            verifier
                .verify_token(&good)
                .await
                .expect("verified again")
                .user,
            "ann",
            "an expired entry is verified in full"
        );
        verifier
            .verified
            .lock()
            .expect("cache")
            .insert("not.a.token".into(), (mallory, now - 1));
        assert!(verifier.verify_token("not.a.token").await.is_err());
    }

    #[tokio::test]
    async fn tokens_are_checked_for_signature_issuer_audience_expiry_and_algorithm() {
        let signing = key("k1");
        let keys = Arc::new(Mutex::new(vec![signing.jwk.clone()]));
        let iss = issuer(keys.clone()).await;
        let mut verifier = Verifier::new(config(&iss));
        verifier.refetch_after = Duration::ZERO;
        let bearer = |t: &str| format!("Bearer {t}");

        let good = token(&signing, &iss, "mto", 300);
        let p = verifier.verify(Some(&bearer(&good))).await.expect("valid");
        assert_eq!(
            (p.user.as_str(), p.groups.as_slice()),
            ("ann", &["alpha-team".to_owned()][..])
        );

        for (why, bad) in [
            ("expired", token(&signing, &iss, "mto", -120)),
            (
                "another audience",
                token(&signing, &iss, "someone-else", 300),
            ),
            (
                "another issuer",
                token(&signing, "https://evil.example", "mto", 300),
            ),
            (
                "signed by a key the issuer does not have",
                token(
                    &Key {
                        kid: "k1".into(),
                        ..key("k1")
                    },
                    &iss,
                    "mto",
                    300,
                ),
            ),
        ] {
            let err = verifier.verify(Some(&bearer(&bad))).await.expect_err(why);
            assert!(matches!(err, AuthError::Invalid(_)), "{why}: {err}");
        }
        // A token signed with a shared secret: never accepted, whatever it says.
        let mut hs = Header::new(Algorithm::HS256);
        hs.kid = Some("k1".into());
        let forged = jsonwebtoken::encode(
            &hs,
            &json!({"iss": iss, "aud": "mto", "exp": mto_model::Timestamp::now().as_second() + 300, "preferred_username": "root"}),
            &EncodingKey::from_secret(b"guess"),
        )
        .expect("a token");
        let err = verifier
            .verify(Some(&bearer(&forged)))
            .await
            .expect_err("HS256");
        assert!(err.to_string().contains("HS256"), "{err}");

        // The issuer rotates its key: tokens signed with the new one verify
        // (the unknown key id makes the gateway fetch the keys again).
        let rotated = key("k2");
        if let Ok(mut set) = keys.lock() {
            *set = vec![rotated.jwk.clone()];
        }
        let fresh = token(&rotated, &iss, "mto", 300);
        verifier
            .verify(Some(&bearer(&fresh)))
            .await
            .expect("the rotated key");
    }

    #[tokio::test]
    async fn a_request_without_a_bearer_token_is_told_how_to_get_one() {
        let v = Verifier::new(config("https://id.example/realms/mto"));
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
