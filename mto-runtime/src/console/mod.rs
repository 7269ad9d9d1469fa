//! The console: server-rendered pages under `/console` for tenant members
//! and platform admins, served by the gateway beside `/api/v1`.
//!
//! Why server-rendered HTML (maud templates, checked at compile time and
//! escaping every value by default) and no JavaScript framework: the pages
//! show what the gateway's handlers already compute — the console calls
//! them — so there is one place that decides what a person sees; nothing
//! is built at release time, the binary embeds its one stylesheet, and a
//! contributor changes a page by changing one Rust function.
//!
//! Sign-in is OpenID Connect's authorization code flow with PKCE
//! ([`session`]); every write is a form carrying the session's CSRF token
//! and goes through the same handler, access check, impersonation and
//! audit as the API.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mto_model::access::Principal;
use serde::Deserialize;

use crate::gateway::Gateway;
use crate::gateway::api::{self, Caller, ListQuery, Params, Problem};

mod pages;
pub mod session;

use session::{LOGIN_COOKIE, SESSION_COOKIE, SESSION_LIFETIME, Session};

/// The stylesheet, embedded.
const STYLE: &str = include_str!("style.css");

/// The caller of a console page: signed in, or sent to sign in.
pub struct Visitor {
    /// Who, and what they may do.
    pub caller: Caller,
    /// Their session.
    pub session: Session,
}

impl axum::extract::FromRequestParts<Gateway> for Visitor {
    type Rejection = Response;

    /// The signed-in visitor, or a redirect to sign in and come back.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        g: &Gateway,
    ) -> Result<Visitor, Response> {
        let Some((_, session)) = g.session_of(&parts.headers).await else {
            let here = parts
                .uri
                .path_and_query()
                .map_or("/console/", |p| p.as_str());
            let next = urlencode(here);
            return Err(Redirect::to(&format!("/console/login?next={next}")).into_response());
        };
        let caller = g.caller_of(session.principal.clone());
        Ok(Visitor { caller, session })
    }
}

impl Gateway {
    /// The session a request's cookie names.
    pub(crate) async fn session_of(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
        let id = session::cookie(cookies, SESSION_COOKIE)?;
        let session = self.sessions.get(id).await?;
        Some((id.to_owned(), session))
    }

    /// Whether cookies are marked Secure: not when the console is served
    /// over plain HTTP.
    fn secure_cookies(&self, headers: &HeaderMap) -> bool {
        !self.base_url(headers).starts_with("http://")
    }

    /// The console's public base URL: `--console-url`, or the request's
    /// host (and `X-Forwarded-Proto`, behind a proxy).
    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.console_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("http");
        format!("{scheme}://{host}")
    }
}

/// Percent-encodes a query value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only console paths are returned to after sign-in: never another site.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/console/")
        .to_owned()
}

/// The routes, on the gateway's state.
pub fn routes() -> axum::Router<Gateway> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/style.css", get(style))
        .route("/console/login", get(login))
        .route("/console/callback", get(callback))
        .route("/console/logout", post(logout))
        .route("/console/", get(dashboard))
        .route("/console/tenants", get(tenants))
        .route("/console/tenants/{name}", get(tenant))
        .route("/console/new/tenant", get(new_tenant).post(create_tenant))
        .route(
            "/console/tenants/{name}/edit",
            get(edit_tenant).post(update_tenant),
        )
        .route("/console/quotas", get(quotas))
        .route("/console/new/quota", get(new_quota).post(create_quota))
        .route(
            "/console/quotas/{name}/edit",
            get(edit_quota).post(update_quota),
        )
        .route("/console/hibernation", get(hibernation))
        .route(
            "/console/supervisors/{namespace}/{name}/{action}",
            post(override_supervisor),
        )
        .route("/console/templates", get(templates))
        .route("/console/cost", get(cost))
        .route("/console/audit", get(audit))
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

/// Where a sign-in returns to.
#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Sends the browser to the identity provider (authorization code with
/// PKCE), binding the sign-in to it with a cookie.
async fn login(
    State(g): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let discovery = match g.verifier.discovery().await {
        Ok(d) => d,
        Err(e) => return identity_provider_down(&g, &e.to_string()),
    };
    let Some(authorize) = discovery["authorization_endpoint"].as_str() else {
        return identity_provider_down(
            &g,
            "its discovery document names no authorization_endpoint",
        );
    };
    let (state, pending) = match g.sessions.begin(safe_next(query.next.as_deref())).await {
        Ok(begun) => begun,
        Err(e) => return store_down(&e),
    };
    let redirect_uri = format!("{}/console/callback", g.base_url(&headers));
    let location = format!(
        "{authorize}?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={state}&code_challenge={}&code_challenge_method=S256",
        urlencode(&g.verifier.config().audience),
        urlencode(&redirect_uri),
        session::challenge(&pending.verifier),
    );
    let cookie = session::set_cookie(
        LOGIN_COOKIE,
        &state,
        std::time::Duration::from_secs(600),
        g.secure_cookies(&headers),
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&location)).into_response()
}

/// What the sign-in page says when the identity provider does not answer.
fn identity_provider_down(g: &Gateway, why: &str) -> Response {
    let issuer = &g.verifier.config().issuer;
    tracing::warn!(%issuer, error = %why, "console sign-in: the identity provider does not answer");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(pages::message(
            "Sign-in is unavailable",
            &format!(
                "The identity provider ({issuer}) does not answer: {why}. People already signed in go on working; try again when it is back."
            ),
        )),
    )
        .into_response()
}

/// What the sign-in says when the session cannot be kept.
fn store_down(e: &crate::store::StoreError) -> Response {
    tracing::warn!(error = %e, "console sign-in: the store does not answer");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(pages::message(
            "Sign-in is unavailable",
            &format!("Sessions cannot be kept ({e}): try again in a moment."),
        )),
    )
        .into_response()
}

/// The identity provider's answer.
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Exchanges the code for tokens, verifies the access token as the API
/// does, and starts a session.
async fn callback(
    State(g): State<Gateway>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let refuse = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Html(pages::message("Sign-in failed", message)),
        )
            .into_response()
    };
    if let Some(error) = &query.error {
        return refuse(&format!(
            "The identity provider said {error}: {}",
            query
                .error_description
                .as_deref()
                .unwrap_or("no reason given")
        ));
    }
    let (Some(code), Some(state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return refuse("The identity provider's answer has no code or state: sign in again.");
    };
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    // The sign-in must be the one this browser began (login CSRF).
    if !session::cookie(cookies, LOGIN_COOKIE).is_some_and(|c| session::same_secret(c, state)) {
        return refuse("This sign-in was not begun in this browser: sign in again.");
    }
    let Some(pending) = g.sessions.finish(state).await else {
        return refuse("This sign-in expired or was used already: sign in again.");
    };
    let discovery = match g.verifier.discovery().await {
        Ok(d) => d,
        Err(e) => return identity_provider_down(&g, &e.to_string()),
    };
    let Some(token_endpoint) = discovery["token_endpoint"].as_str() else {
        return identity_provider_down(&g, "its discovery document names no token_endpoint");
    };
    let redirect_uri = format!("{}/console/callback", g.base_url(&headers));
    let response = g
        .verifier
        .http()
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &g.verifier.config().audience),
            ("code_verifier", &pending.verifier),
        ])
        .send()
        .await;
    let tokens: serde_json::Value = match response {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            return refuse(&format!(
                "The identity provider refused the code ({status}): {body}"
            ));
        }
        Err(e) => return identity_provider_down(&g, &e.to_string()),
    };
    let Some(access_token) = tokens["access_token"].as_str() else {
        return refuse("The identity provider sent no access token.");
    };
    let principal = match g.verifier.verify_token(access_token).await {
        Ok(p) => p,
        Err(e) => return refuse(&e.to_string()),
    };
    tracing::info!(user = %principal.user, "console sign-in");
    let id = match g
        .sessions
        .start(principal, tokens["id_token"].as_str().map(str::to_owned))
        .await
    {
        Ok(id) => id,
        Err(e) => return store_down(&e),
    };
    let secure = g.secure_cookies(&headers);
    let mut response = Redirect::to(&pending.next).into_response();
    let cookies = [
        session::set_cookie(SESSION_COOKIE, &id, SESSION_LIFETIME, secure),
        session::set_cookie(LOGIN_COOKIE, "", std::time::Duration::ZERO, secure),
    ];
    for cookie in cookies {
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A write from a console form: its CSRF token.
#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

/// The refusal of a form whose token is not the session's; `None` when
/// it is.
fn forged(visitor: &Visitor, form: &CsrfForm) -> Option<Response> {
    let genuine = form
        .csrf
        .as_deref()
        .is_some_and(|t| session::same_secret(t, &visitor.session.csrf));
    (!genuine).then(|| {
        (
            StatusCode::FORBIDDEN,
            Html(pages::message(
                "Refused",
                "This form did not come from your session (a missing or wrong CSRF token). Reload the page and try again.",
            )),
        )
            .into_response()
    })
}

/// Ends the session here and at the identity provider.
async fn logout(
    State(g): State<Gateway>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = forged(&visitor, &form) {
        return refused;
    }
    if let Some((id, _)) = g.session_of(&headers).await {
        g.sessions.end(&id).await;
    }
    let secure = g.secure_cookies(&headers);
    let after = format!("{}/console/", g.base_url(&headers));
    // The identity provider's sign-out, when it answers; else just ours.
    let location = match g
        .verifier
        .discovery()
        .await
        .ok()
        .and_then(|d| d["end_session_endpoint"].as_str().map(str::to_owned))
    {
        Some(end) => {
            let hint = visitor
                .session
                .id_token
                .as_deref()
                .map(|t| format!("&id_token_hint={}", urlencode(t)))
                .unwrap_or_default();
            format!(
                "{end}?client_id={}&post_logout_redirect_uri={}{hint}",
                urlencode(&g.verifier.config().audience),
                urlencode(&after)
            )
        }
        None => after,
    };
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(SESSION_COOKIE, "", std::time::Duration::ZERO, secure),
        )],
        Redirect::to(&location),
    )
        .into_response()
}

/// Every item of a list (the console shows whole lists, filtered).
fn all(q: Option<String>) -> ListQuery {
    ListQuery {
        limit: Some(1000),
        after: None,
        q,
    }
}

/// A list page's filter.
#[derive(Deserialize)]
struct Filter {
    q: Option<String>,
}

async fn dashboard(State(g): State<Gateway>, v: Visitor) -> Response {
    let trend = cost_report(&g, &v, "7d", "tenant", None).await.ok();
    let html = render_dashboard(g.shared.view().snapshot(), &v, trend.as_deref());
    Html(html).into_response()
}

/// Showback's report for the visitor: the groups they may see, by day.
async fn cost_report(
    g: &Gateway,
    v: &Visitor,
    window: &str,
    aggregate: &str,
    tenant: Option<String>,
) -> Result<Vec<mto_model::showback::Set>, String> {
    let params = crate::showback::AllocationParams {
        window: Some(window.to_owned()),
        aggregate: Some(aggregate.to_owned()),
        step: Some("1d".into()),
        tenant,
        ..Default::default()
    };
    g.cost(&v.caller.access, &params)
        .await
        .map_err(|p| p.message)
}

/// The dashboard of `v`, from the operator's view: their tenants (the
/// first 1,000), namespaces, supervisors, what is asleep, quota use; and
/// the last days' cost when showback has any.
#[must_use]
pub fn render_dashboard(
    snapshot: &mto_model::view::Snapshot,
    v: &Visitor,
    trend: Option<&[mto_model::showback::Set]>,
) -> String {
    let access = &v.caller.access;
    let tenants = api::tenant_page(snapshot, access, &all(None));
    let supervisors = api::supervisor_page(snapshot, access, &all(None));
    let quotas: Vec<api::TenantDetail> = tenants
        .items
        .iter()
        .filter_map(|t| api::tenant_detail(snapshot, access, &t.name).ok())
        .collect();
    pages::dashboard(v, &tenants, &supervisors, &quotas, trend)
}

async fn tenants(State(g): State<Gateway>, v: Visitor, Query(filter): Query<Filter>) -> Response {
    let page = api::tenants(
        State(g.clone()),
        caller_copy(&v),
        Params(all(filter.q.clone())),
    )
    .await
    .0;
    Html(pages::tenants(&v, &page, filter.q.as_deref())).into_response()
}

async fn tenant(State(g): State<Gateway>, v: Visitor, Path(name): Path<String>) -> Response {
    let detail = {
        let view = g.shared.view();
        api::tenant_detail(view.snapshot(), &v.caller.access, &name)
    };
    match detail {
        Ok(detail) => {
            let history = api::history(State(g.clone()), caller_copy(&v), Path(name))
                .await
                .map(|h| h.0)
                .unwrap_or_default();
            Html(pages::tenant(&v, &detail, &history)).into_response()
        }
        Err(problem) => not_found(&v, &problem),
    }
}

fn not_found(v: &Visitor, problem: &Problem) -> Response {
    (
        StatusCode::from_u16(problem.code).unwrap_or(StatusCode::NOT_FOUND),
        Html(pages::page(
            v,
            "Not found",
            "",
            pages::text(&problem.message),
        )),
    )
        .into_response()
}

async fn hibernation(State(g): State<Gateway>, v: Visitor) -> Response {
    let page = api::supervisors(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    Html(pages::hibernation(&v, &page, None)).into_response()
}

async fn override_supervisor(
    State(g): State<Gateway>,
    v: Visitor,
    Path((namespace, name, action)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = forged(&v, &form) {
        return refused;
    }
    let outcome = api::override_supervisor(
        State(g.clone()),
        caller_copy(&v),
        Path((namespace.clone(), name.clone(), action.clone())),
    )
    .await;
    let said = match &outcome {
        Ok(_) => pages::Said::Done(format!(
            "{action}: {namespace}/{name} until its next scheduled change"
        )),
        Err(p) => pages::Said::Refused(p.message.clone()),
    };
    let page = api::supervisors(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    let status = outcome.as_ref().map_or_else(
        |p| StatusCode::from_u16(p.code).unwrap_or(StatusCode::BAD_REQUEST),
        |_| StatusCode::OK,
    );
    (status, Html(pages::hibernation(&v, &page, Some(said)))).into_response()
}

async fn templates(State(g): State<Gateway>, v: Visitor) -> Response {
    let templates = api::templates(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    let instances = api::instances(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    Html(pages::templates(&v, &templates, &instances)).into_response()
}

/// The cost page's choices.
#[derive(Deserialize)]
struct CostQuery {
    window: Option<String>,
    aggregate: Option<String>,
    tenant: Option<String>,
}

async fn cost(State(g): State<Gateway>, v: Visitor, Query(q): Query<CostQuery>) -> Response {
    let window = q.window.unwrap_or_else(|| "7d".into());
    let aggregate = q.aggregate.unwrap_or_else(|| "tenant".into());
    let tenant = q.tenant.filter(|t| !t.is_empty());
    let sets = cost_report(&g, &v, &window, &aggregate, tenant.clone()).await;
    let tenants: Vec<String> = {
        let view = g.shared.view();
        api::tenant_page(view.snapshot(), &v.caller.access, &all(None))
            .items
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let choice = pages::CostChoice {
        window: &window,
        aggregate: &aggregate,
        tenant: tenant.as_deref(),
        tenants: &tenants,
    };
    Html(pages::cost(&v, &choice, sets)).into_response()
}

async fn audit(State(g): State<Gateway>, v: Visitor) -> Response {
    let entries = api::audit(State(g.clone()), caller_copy(&v), Params(BTreeMap::new())).await;
    match entries {
        Ok(entries) => Html(pages::audit(&v, &entries.0)).into_response(),
        Err(problem) => not_found(&v, &problem),
    }
}

/// A manifest typed into a form, and the form's CSRF token.
#[derive(Deserialize)]
struct ManifestForm {
    csrf: Option<String>,
    yaml: String,
}

/// A Tenant to start from.
const NEW_TENANT: &str = "apiVersion: tenantoperator.stakater.com/v1beta3
kind: Tenant
metadata:
  name: my-team
spec:
  quota: small
  accessControl:
    owners:
      groups: [my-team-owners]
    editors:
      groups: [my-team]
  namespaces:
    withTenantPrefix: [dev, prod]
";

/// A Quota to start from.
const NEW_QUOTA: &str = "apiVersion: tenantoperator.stakater.com/v1beta1
kind: Quota
metadata:
  name: small
spec:
  resourcequota:
    hard:
      requests.cpu: \"4\"
      requests.memory: 8Gi
      pods: \"40\"
";

/// What an editor shows: the page's title, where it posts, the text.
struct Editing<'a> {
    title: String,
    action: String,
    yaml: &'a str,
}

/// A kind the console edits as YAML: `tenant` or `quota`.
struct Edited {
    kind: &'static str,
    api_version: &'static str,
}

const TENANT: Edited = Edited {
    kind: "tenant",
    api_version: "tenantoperator.stakater.com/v1beta3",
};
const QUOTA: Edited = Edited {
    kind: "quota",
    api_version: "tenantoperator.stakater.com/v1beta1",
};

impl Edited {
    /// The editor of a new one, starting from `yaml`.
    fn creating<'a>(&self, yaml: &'a str) -> Editing<'a> {
        Editing {
            title: format!("New {}", self.kind),
            action: format!("/console/new/{}", self.kind),
            yaml,
        }
    }

    /// The editor of `name`, holding `yaml`.
    fn editing<'a>(&self, name: &str, yaml: &'a str) -> Editing<'a> {
        Editing {
            title: format!("Edit {} {name}", self.kind),
            action: format!("/console/{}s/{name}/edit", self.kind),
            yaml,
        }
    }

    /// An object's spec as the YAML users write.
    fn yaml(&self, name: &str, spec: &serde_json::Value) -> String {
        let mut kind = self.kind.to_owned();
        kind[..1].make_ascii_uppercase();
        manifest_yaml(self.api_version, &kind, name, spec)
    }
}

fn editor(
    v: &Visitor,
    editing: &Editing<'_>,
    problem: Option<&Problem>,
    status: StatusCode,
) -> Response {
    let body = pages::editor(v, &editing.action, editing.yaml, problem);
    let section = if editing.action.contains("quota") {
        "quotas"
    } else {
        "tenants"
    };
    (status, Html(pages::page(v, &editing.title, section, body))).into_response()
}

/// The YAML of a manifest form, as the API's JSON body.
fn manifest_of(yaml: &str) -> Result<serde_json::Value, Problem> {
    serde_norway::from_str::<serde_json::Value>(yaml).map_err(|e| Problem {
        code: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
        message: "the text is not YAML".into(),
        problems: vec![e.to_string()],
    })
}

/// The YAML of an object as users write it: apiVersion, kind, name, spec.
fn manifest_yaml(api_version: &str, kind: &str, name: &str, spec: &serde_json::Value) -> String {
    serde_norway::to_string(&serde_json::json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap_or_default()
}

async fn new_tenant(v: Visitor) -> Response {
    editor(&v, &TENANT.creating(NEW_TENANT), None, StatusCode::OK)
}

/// Sends a manifest form to an API handler: on success to `done`; else
/// the form again, with the API's problems.
async fn submit<F, Fut>(
    v: Visitor,
    form: ManifestForm,
    editing: Editing<'_>,
    done: String,
    call: F,
) -> Response
where
    F: FnOnce(Caller, serde_json::Value) -> Fut,
    Fut: Future<Output = Result<(), Problem>>,
{
    let csrf = CsrfForm {
        csrf: form.csrf.clone(),
    };
    if let Some(refused) = forged(&v, &csrf) {
        return refused;
    }
    let outcome = match manifest_of(&form.yaml) {
        Ok(body) => call(caller_copy(&v), body).await,
        Err(problem) => Err(problem),
    };
    match outcome {
        Ok(()) => Redirect::to(&done).into_response(),
        Err(problem) => {
            let status = StatusCode::from_u16(problem.code).unwrap_or(StatusCode::BAD_REQUEST);
            let editing = Editing {
                yaml: &form.yaml,
                ..editing
            };
            editor(&v, &editing, Some(&problem), status)
        }
    }
}

/// The `metadata.name` a manifest form gives.
fn name_in(yaml: &str) -> String {
    manifest_of(yaml)
        .ok()
        .and_then(|m| m["metadata"]["name"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn create_tenant(
    State(g): State<Gateway>,
    v: Visitor,
    Form(form): Form<ManifestForm>,
) -> Response {
    let editing = TENANT.creating("");
    let done = format!("/console/tenants/{}", urlencode(&name_in(&form.yaml)));
    submit(v, form, editing, done, |caller, body| async move {
        api::create_tenant(State(g), caller, api::Body(body))
            .await
            .map(|_| ())
    })
    .await
}

async fn edit_tenant(State(g): State<Gateway>, v: Visitor, Path(name): Path<String>) -> Response {
    let detail = {
        let view = g.shared.view();
        api::tenant_detail(view.snapshot(), &v.caller.access, &name)
    };
    match detail {
        Ok(d) => {
            let yaml = TENANT.yaml(&name, &d.spec);
            let editing = TENANT.editing(&name, &yaml);
            editor(&v, &editing, None, StatusCode::OK)
        }
        Err(problem) => not_found(&v, &problem),
    }
}

async fn update_tenant(
    State(g): State<Gateway>,
    v: Visitor,
    Path(name): Path<String>,
    Form(form): Form<ManifestForm>,
) -> Response {
    let editing = TENANT.editing(&name, "");
    let done = format!("/console/tenants/{}", urlencode(&name));
    submit(v, form, editing, done, |caller, body| async move {
        api::update_tenant(State(g), caller, Path(name), api::Body(body))
            .await
            .map(|_| ())
    })
    .await
}

async fn quotas(State(g): State<Gateway>, v: Visitor) -> Response {
    let page = api::quotas(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    Html(pages::quotas(&v, &page)).into_response()
}

async fn new_quota(v: Visitor) -> Response {
    editor(&v, &QUOTA.creating(NEW_QUOTA), None, StatusCode::OK)
}

async fn create_quota(
    State(g): State<Gateway>,
    v: Visitor,
    Form(form): Form<ManifestForm>,
) -> Response {
    let editing = QUOTA.creating("");
    submit(
        v,
        form,
        editing,
        "/console/quotas".into(),
        |caller, body| async move {
            api::create_quota(State(g), caller, api::Body(body))
                .await
                .map(|_| ())
        },
    )
    .await
}

async fn edit_quota(State(g): State<Gateway>, v: Visitor, Path(name): Path<String>) -> Response {
    let page = api::quotas(State(g.clone()), caller_copy(&v), Params(all(None)))
        .await
        .0;
    let Some(quota) = page.items.iter().find(|q| q.name == name) else {
        return not_found(&v, &Problem::not_found(&format!("Quota {name}")));
    };
    let yaml = QUOTA.yaml(&name, &quota.spec);
    let editing = QUOTA.editing(&name, &yaml);
    editor(&v, &editing, None, StatusCode::OK)
}

async fn update_quota(
    State(g): State<Gateway>,
    v: Visitor,
    Path(name): Path<String>,
    Form(form): Form<ManifestForm>,
) -> Response {
    let editing = QUOTA.editing(&name, "");
    submit(
        v,
        form,
        editing,
        "/console/quotas".into(),
        |caller, body| async move {
            api::update_quota(State(g), caller, Path(name), api::Body(body))
                .await
                .map(|_| ())
        },
    )
    .await
}

/// The visitor as the API's caller.
fn caller_copy(v: &Visitor) -> Caller {
    Caller {
        principal: v.caller.principal.clone(),
        access: v.caller.access.clone(),
    }
}

impl Gateway {
    /// What `principal` may do, from the view now.
    pub(crate) fn caller_of(&self, principal: Principal) -> Caller {
        let access = {
            let view = self.shared.view();
            let snapshot = view.snapshot();
            use mto_model::view::Observed as _;
            mto_model::access::access(
                &principal,
                snapshot
                    .shelf::<mto_model::api::Tenant>()
                    .iter()
                    .map(|t| &**t),
                snapshot.integration(),
                &self.admin_groups,
            )
        };
        Caller { principal, access }
    }
}
