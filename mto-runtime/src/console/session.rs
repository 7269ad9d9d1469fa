//! Browser sessions: OpenID Connect's authorization code flow with PKCE,
//! a session per sign-in kept in the store, so every gateway replica
//! knows it (an HttpOnly, SameSite cookie names it), a CSRF token per
//! session for every write, and sign-out.
//!
//! A session outlives the identity provider: once signed in, a person
//! keeps using the console while Keycloak is down, until the session ends
//! (`SESSION_LIFETIME`); only new sign-ins wait for it, and the sign-in
//! page says why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mto_model::access::Principal;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::store::{AnyStore, Store as _, StoreError};

/// The session cookie.
pub const SESSION_COOKIE: &str = "mto_session";
/// The cookie binding a sign-in in progress to the browser that began it.
pub const LOGIN_COOKIE: &str = "mto_login";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a sign-in may take at the identity provider, in seconds.
const LOGIN_LIFETIME_SECONDS: i64 = 600;
/// Sessions and sign-ins kept at most in a process without a store; the
/// oldest go first.
const MAX_LOCAL: usize = 100_000;

/// A signed-in person.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    #[serde(with = "principal")]
    pub principal: Principal,
    /// What every write from this session must carry.
    pub csrf: String,
    /// The ID token, for the identity provider's sign-out.
    pub id_token: Option<String>,
    /// When it ends, Unix seconds.
    pub expires: i64,
}

/// A [`Principal`] as a session keeps it.
mod principal {
    use mto_model::access::Principal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Kept {
        user: String,
        groups: Vec<String>,
    }

    pub(super) fn serialize<S: Serializer>(p: &Principal, s: S) -> Result<S::Ok, S::Error> {
        Kept {
            user: p.user.clone(),
            groups: p.groups.clone(),
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Principal, D::Error> {
        let kept = Kept::deserialize(d)?;
        Ok(Principal {
            user: kept.user,
            groups: kept.groups,
        })
    }
}

/// A sign-in in progress: PKCE's verifier and where to go after.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The code verifier whose challenge went to the identity provider.
    pub verifier: String,
    /// The console path to return to.
    pub next: String,
}

/// The sessions and sign-ins in progress: in the store when there is one
/// (every gateway replica sees them: a browser may reach any), else in
/// this process. Kept under the SHA-256 of their secret, never the secret.
#[derive(Debug, Default)]
pub struct Sessions {
    store: Option<Arc<AnyStore>>,
    local: Mutex<HashMap<String, (Vec<u8>, i64)>>,
}

/// A random token: 32 bytes, URL-safe base64.
#[must_use]
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE's S256 challenge of a verifier.
#[must_use]
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn now() -> i64 {
    mto_model::Timestamp::now().as_second()
}

/// Where a secret's entry is kept: `kind:` and its SHA-256.
fn key(kind: &str, secret: &str) -> String {
    format!(
        "{kind}:{}",
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(secret.as_bytes()))
    )
}

impl Sessions {
    /// Sessions kept in `store`, or in this process without one.
    #[must_use]
    pub fn new(store: Option<Arc<AnyStore>>) -> Sessions {
        Sessions {
            store,
            local: Mutex::default(),
        }
    }

    async fn put(&self, key: String, value: Vec<u8>, expires: i64) -> Result<(), StoreError> {
        if let Some(store) = &self.store {
            return store.put_session(key, value, expires).await;
        }
        if let Ok(mut map) = self.local.lock() {
            let now = now();
            map.retain(|_, (_, at)| *at > now);
            if map.len() >= MAX_LOCAL
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(key, (value, expires));
        }
        Ok(())
    }

    async fn read(&self, key: String, take: bool) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(store) = &self.store {
            return store.session(key, take).await;
        }
        let Ok(mut map) = self.local.lock() else {
            return Ok(None);
        };
        let found = if take {
            map.remove(&key)
        } else {
            map.get(&key).cloned()
        };
        Ok(found.and_then(|(value, at)| (at > now()).then_some(value)))
    }

    /// Begins a sign-in returning to `next`: its state (the key) and PKCE
    /// verifier.
    pub async fn begin(&self, next: String) -> Result<(String, Pending), StoreError> {
        let state = random_token();
        let pending = Pending {
            verifier: random_token(),
            next,
        };
        let value = serde_json::to_vec(&pending).unwrap_or_default();
        self.put(key("login", &state), value, now() + LOGIN_LIFETIME_SECONDS)
            .await?;
        Ok((state, pending))
    }

    /// Ends the sign-in `state` names, if it is in progress and recent:
    /// once only, whichever replica asks.
    pub async fn finish(&self, state: &str) -> Option<Pending> {
        let value = self.read(key("login", state), true).await.ok()??;
        serde_json::from_slice(&value).ok()
    }

    /// Starts a session for `principal`; its id.
    pub async fn start(
        &self,
        principal: Principal,
        id_token: Option<String>,
    ) -> Result<String, StoreError> {
        let id = random_token();
        let session = Session {
            principal,
            csrf: random_token(),
            id_token,
            expires: now() + i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX),
        };
        let value = serde_json::to_vec(&session).unwrap_or_default();
        self.put(key("session", &id), value, session.expires)
            .await?;
        Ok(id)
    }

    /// The live session `id` names. A store that cannot be read is no
    /// session: the person signs in again, and the log says why.
    pub async fn get(&self, id: &str) -> Option<Session> {
        match self.read(key("session", id), false).await {
            Ok(value) => serde_json::from_slice(&value?).ok(),
            Err(e) => {
                tracing::warn!(error = %e, "reading a console session");
                None
            }
        }
    }

    /// Ends session `id`, in every replica.
    pub async fn end(&self, id: &str) {
        if let Err(e) = self.read(key("session", id), true).await {
            tracing::warn!(error = %e, "ending a console session");
        }
    }
}

/// A cookie's value from a `Cookie` header.
#[must_use]
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, on every path; Secure
/// unless the console is served over plain HTTP (loopback, in tests).
#[must_use]
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// Two secrets compared in constant time.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Principal {
        Principal {
            user: "ann".into(),
            groups: vec!["alpha-team".into()],
        }
    }

    async fn sign_in_and_out(sessions: &Sessions) {
        let (state, pending) = sessions
            .begin("/console/tenants".into())
            .await
            .expect("begun");
        assert_eq!(pending.next, "/console/tenants");
        assert!(sessions.finish("forged").await.is_none());
        let finished = sessions.finish(&state).await.expect("in progress");
        assert_eq!(finished.verifier, pending.verifier);
        assert!(sessions.finish(&state).await.is_none(), "once only");
        let id = sessions.start(ann(), None).await.expect("started");
        let session = sessions.get(&id).await.expect("a session");
        assert_eq!(session.principal.user, "ann");
        assert_eq!(session.principal.groups, ["alpha-team"]);
        assert_ne!(session.csrf, id, "the CSRF token is not the session id");
        assert!(sessions.get("other").await.is_none());
        sessions.end(&id).await;
        assert!(sessions.get(&id).await.is_none(), "signed out");
    }

    #[tokio::test]
    async fn a_sign_in_is_finished_once_and_a_session_found_by_its_id() {
        sign_in_and_out(&Sessions::default()).await;
    }

    /// Two replicas sharing a store: a sign-in begun at one is finished at
    /// the other, a session started at one is known to the other, and
    /// signing out at one ends it at both; the secrets are not stored.
    #[tokio::test]
    async fn replicas_sharing_a_store_share_sessions() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("journal.redb");
        let journal = Arc::new(crate::operator::journal::Journal::open(&path).expect("open"));
        let store = Arc::new(AnyStore::Embedded(crate::store::Embedded(journal.clone())));
        let (one, two) = (
            Sessions::new(Some(store.clone())),
            Sessions::new(Some(store)),
        );
        sign_in_and_out(&one).await;
        let (state, _) = one.begin("/console/".into()).await.expect("begun");
        assert!(two.finish(&state).await.is_some(), "finished at the other");
        let id = one.start(ann(), None).await.expect("started");
        assert_eq!(
            two.get(&id).await.map(|s| s.principal.user).as_deref(),
            Some("ann")
        );
        assert!(
            journal.session(&id, false, now()).expect("read").is_none(),
            "not under its secret"
        );
        two.end(&id).await;
        assert!(one.get(&id).await.is_none());
    }

    #[test]
    fn pkce_challenges_are_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }

    #[test]
    fn cookies_are_read_by_name_and_set_http_only() {
        let header = Some("a=1; mto_session=abc; mto_sessionx=no");
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "missing"), None);
        let set = set_cookie(SESSION_COOKIE, "abc", SESSION_LIFETIME, true);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("Secure")
        );
        assert!(!set_cookie("x", "y", SESSION_LIFETIME, false).contains("Secure"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
