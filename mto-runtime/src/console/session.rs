//! Browser sessions: OpenID Connect's authorization code flow with PKCE,
//! a session per sign-in kept in memory (an HttpOnly, SameSite cookie
//! names it), a CSRF token per session for every write, and sign-out.
//!
//! A session outlives the identity provider: once signed in, a person
//! keeps using the console while Keycloak is down, until the session ends
//! (`SESSION_LIFETIME`); only new sign-ins wait for it, and the sign-in
//! page says why.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mto_model::access::Principal;
use rand::RngExt as _;
use sha2::Digest as _;

/// The session cookie.
pub const SESSION_COOKIE: &str = "mto_session";
/// The cookie binding a sign-in in progress to the browser that began it.
pub const LOGIN_COOKIE: &str = "mto_login";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a sign-in may take at the identity provider.
const LOGIN_LIFETIME: Duration = Duration::from_secs(600);
/// Sessions kept at most; the oldest go first.
const MAX_SESSIONS: usize = 100_000;

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub principal: Principal,
    /// What every write from this session must carry.
    pub csrf: String,
    /// The ID token, for the identity provider's sign-out.
    pub id_token: Option<String>,
    /// When it ends.
    pub expires: Instant,
}

/// A sign-in in progress: PKCE's verifier and where to go after.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The code verifier whose challenge went to the identity provider.
    pub verifier: String,
    /// The console path to return to.
    pub next: String,
    started: Instant,
}

/// The sessions and sign-ins in progress.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, Pending>>,
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

impl Sessions {
    /// Begins a sign-in returning to `next`: its state (the key) and PKCE
    /// verifier.
    pub fn begin(&self, next: String) -> (String, Pending) {
        let state = random_token();
        let pending = Pending {
            verifier: random_token(),
            next,
            started: Instant::now(),
        };
        if let Ok(mut map) = self.pending.lock() {
            map.retain(|_, p| p.started.elapsed() < LOGIN_LIFETIME);
            map.insert(state.clone(), pending.clone());
        }
        (state, pending)
    }

    /// Ends the sign-in `state` names, if it is in progress and recent.
    pub fn finish(&self, state: &str) -> Option<Pending> {
        let pending = self.pending.lock().ok()?.remove(state)?;
        (pending.started.elapsed() < LOGIN_LIFETIME).then_some(pending)
    }

    /// Starts a session for `principal`; its id.
    pub fn start(&self, principal: Principal, id_token: Option<String>) -> String {
        let id = random_token();
        let session = Session {
            principal,
            csrf: random_token(),
            id_token,
            expires: Instant::now() + SESSION_LIFETIME,
        };
        if let Ok(mut map) = self.sessions.lock() {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(id.clone(), session);
        }
        id
    }

    /// The live session `id` names.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.sessions.lock().ok()?;
        map.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) -> Option<Session> {
        self.sessions.lock().ok()?.remove(id)
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

    #[test]
    fn a_sign_in_is_finished_once_and_a_session_found_by_its_id() {
        let sessions = Sessions::default();
        let (state, pending) = sessions.begin("/console/tenants".into());
        assert_eq!(pending.next, "/console/tenants");
        assert!(sessions.finish("forged").is_none());
        let finished = sessions.finish(&state).expect("in progress");
        assert_eq!(finished.verifier, pending.verifier);
        assert!(sessions.finish(&state).is_none(), "once only");
        let id = sessions.start(ann(), None);
        let session = sessions.get(&id).expect("a session");
        assert_eq!(session.principal.user, "ann");
        assert_ne!(session.csrf, id, "the CSRF token is not the session id");
        assert!(sessions.get("other").is_none());
        sessions.end(&id);
        assert!(sessions.get(&id).is_none(), "signed out");
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
