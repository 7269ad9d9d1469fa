//! The REST API under `/api/v1`: what the caller may see, read from the
//! operator's view; writes made as the caller (impersonation), audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use mto_model::access::{Access, Operation, Principal};
use mto_model::api::{ClusterResourceSupervisor, Quota, ResourceSupervisor, Template, Tenant};
use mto_model::quantity::Quantity;
use mto_model::view::ResourceQuota;
use mto_model::view::{Observed as _, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::Gateway;
use crate::store::{AuditEntry, Store as _};

/// An error said to the caller: its HTTP status and what to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// The HTTP status.
    pub code: u16,
    /// What went wrong, and the fix.
    pub message: String,
    /// Each problem found in the body, field by field (422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Problem {
    fn new(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            code: status.as_u16(),
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn not_found(what: &str) -> Problem {
        // Not 403: what the caller may not see does not exist for them.
        Problem::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    fn forbidden(what: &str) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            format!("{what}: your role does not allow it"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(&self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON request body; one that does not read is a [`Problem`] (400,
/// 413 when too large, 415 when not JSON).
pub struct Body(pub Value);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = Problem;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Body, Problem> {
        match Json::<Value>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(Problem::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// Query parameters; ones that do not read are a [`Problem`] (400).
pub struct Params<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(Problem::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// What answers a path the API does not have.
pub async fn no_such_path(uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!(
            "{}: no such path (the API is described at /api/v1/openapi.json)",
            uri.path()
        ),
    )
}

/// The caller: who, and what they may see and do now.
pub struct Caller {
    /// The person.
    pub principal: Principal,
    /// What they may do, from the view at the time of the request.
    pub access: Access,
}

impl FromRequestParts<Gateway> for Caller {
    type Rejection = Problem;

    /// A bearer token; or, from a browser, the console's session cookie —
    /// and then a write must carry the session's CSRF token in
    /// `X-CSRF-Token`.
    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Caller, Problem> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if authorization.is_none()
            && let Some((_, session)) = gateway.session_of(&parts.headers).await
        {
            let safe = matches!(
                parts.method,
                axum::http::Method::GET | axum::http::Method::HEAD
            );
            let token = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if !safe
                && !token.is_some_and(|t| crate::console::session::same_secret(t, &session.csrf))
            {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "a write with the console's session must carry its CSRF token in X-CSRF-Token",
                ));
            }
            return Ok(gateway.caller_of(session.principal));
        }
        let principal = gateway
            .verifier
            .verify(authorization)
            .await
            .map_err(|e| Problem::new(StatusCode::UNAUTHORIZED, e.to_string()))?;
        Ok(gateway.caller_of(principal))
    }
}

/// Who the caller is and what they may reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user name.
    pub user: String,
    /// The groups.
    pub groups: Vec<String>,
    /// A platform admin (sees and may administer everything).
    pub admin: bool,
    /// The tenants the caller is a member of, with the role held.
    pub tenants: BTreeMap<String, String>,
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "access",
    responses((status = 200, body = Me), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn me(caller: Caller) -> Json<Me> {
    let tenants = match &caller.access {
        Access::Admin => BTreeMap::new(),
        Access::Member(roles) => roles
            .iter()
            .map(|(t, r)| (t.clone(), r.name().to_owned()))
            .collect(),
    };
    Json(Me {
        user: caller.principal.user,
        groups: caller.principal.groups,
        admin: caller.access.is_admin(),
        tenants,
    })
}

/// How a list is cut and filtered.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many items (default 100, at most 1000).
    pub limit: Option<usize>,
    /// The `continue` of the previous page: items after it.
    #[serde(rename = "continue")]
    #[param(rename = "continue")]
    pub after: Option<String>,
    /// Only items whose name contains this.
    pub q: Option<String>,
}

impl ListQuery {
    /// The first page of at most `limit` items.
    #[must_use]
    pub fn first(limit: usize) -> ListQuery {
        ListQuery {
            limit: Some(limit),
            after: None,
            q: None,
        }
    }

    /// One page of `items` in any order: sorted by name first.
    fn sorted_page<T>(
        &self,
        mut items: Vec<T>,
        name: impl Fn(&T) -> &str,
    ) -> (Vec<T>, Option<String>, usize) {
        items.sort_by(|a, b| name(a).cmp(name(b)));
        self.page(items, name)
    }

    /// One page of `items` (sorted by name, which `name` reads), and the
    /// `continue` for the next one.
    fn page<T>(&self, items: Vec<T>, name: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>, usize) {
        let limit = self.limit.unwrap_or(100).clamp(1, 1000);
        let filtered: Vec<T> = items
            .into_iter()
            .filter(|i| self.q.as_deref().is_none_or(|q| name(i).contains(q)))
            .collect();
        let total = filtered.len();
        let mut page: Vec<T> = filtered
            .into_iter()
            .filter(|i| self.after.as_deref().is_none_or(|after| name(i) > after))
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|i| name(i).to_owned()))
            .flatten();
        (page, next, total)
    }
}

/// A tenant in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    /// Its name.
    pub name: String,
    /// The caller's role in it (none for admins).
    pub role: Option<String>,
    /// Its phase.
    pub phase: Option<String>,
    /// Its namespaces.
    pub namespaces: Vec<String>,
    /// The Quota it uses.
    pub quota: Option<String>,
}

/// A page of one kind of item.
macro_rules! page_of {
    ($page:ident, $item:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $page {
            /// The items, by name.
            pub items: Vec<$item>,
            /// Ask again with this as `continue` for the next page.
            #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
            pub next: Option<String>,
            /// How many match, over all pages.
            pub total: usize,
        }
    };
}

page_of!(TenantPage, TenantSummary, "tenants");
page_of!(SupervisorPage, SupervisorView, "supervisors");
page_of!(TemplatePage, TemplateView, "Templates");
page_of!(InstancePage, InstanceView, "template instances");
page_of!(QuotaPage, QuotaView, "Quotas");

fn summary(snapshot: &Snapshot, tenant: &Tenant, access: &Access) -> TenantSummary {
    let name = tenant.metadata.name.clone().unwrap_or_default();
    TenantSummary {
        role: access.role(&name).map(|r| r.name().to_owned()),
        phase: tenant.status.as_ref().and_then(|s| s.phase.clone()),
        namespaces: snapshot
            .tenant_namespaces(&name)
            .map(str::to_owned)
            .collect(),
        quota: tenant.spec.quota.clone(),
        name,
    }
}

/// The tenants the caller may see.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, body = TenantPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn tenants(
    State(g): State<Gateway>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Json<TenantPage> {
    Json(tenant_page(
        g.shared.view().snapshot(),
        &caller.access,
        &query,
    ))
}

/// One page of the tenants `access` may see.
#[must_use]
pub fn tenant_page(snapshot: &Snapshot, access: &Access, query: &ListQuery) -> TenantPage {
    // Names first: only the page's tenants are summarised.
    let visible: Vec<&Tenant> = snapshot
        .shelf::<Tenant>()
        .iter()
        .filter(|t| access.allows(t.metadata.name.as_deref(), Operation::Read))
        .map(|t| &**t)
        .collect();
    let (page, next, total) =
        query.page(visible, |t| t.metadata.name.as_deref().unwrap_or_default());
    TenantPage {
        items: page
            .into_iter()
            .map(|t| summary(snapshot, t, access))
            .collect(),
        next,
        total,
    }
}

/// Quota hard and used, per resource.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct QuotaUse {
    /// Limits, summed.
    pub hard: BTreeMap<String, String>,
    /// Use, summed.
    pub used: BTreeMap<String, String>,
}

/// One namespace's quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceQuota {
    /// The namespace.
    pub namespace: String,
    /// Its ResourceQuotas' hard and used.
    #[serde(flatten)]
    pub quota: QuotaUse,
}

/// A tenant, as its members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDetail {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: TenantSummary,
    /// Owners, editors and viewers.
    #[schema(value_type = Object)]
    pub access_control: Value,
    /// Quota over all its namespaces (from their ResourceQuotas' status).
    pub quota_use: QuotaUse,
    /// Quota per namespace.
    pub namespace_quotas: Vec<NamespaceQuota>,
    /// The whole spec.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// The whole status.
    #[schema(value_type = Object)]
    pub status: Value,
}

/// `value` as a JSON object (`{}` when it is absent).
fn object(value: &impl Serialize) -> Value {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => Value::Object(serde_json::Map::new()),
    }
}

fn add(
    totals: &mut BTreeMap<String, Quantity>,
    from: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) {
    for (resource, q) in from.into_iter().flatten() {
        let Ok(q) = Quantity::parse(&q.0) else {
            continue;
        };
        let sum = totals.entry(resource.clone()).or_insert(Quantity::ZERO);
        *sum = sum.checked_add(q).unwrap_or(*sum);
    }
}

fn shown(totals: BTreeMap<String, Quantity>) -> BTreeMap<String, String> {
    totals
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn quota_of(snapshot: &Snapshot, namespaces: &[String]) -> (QuotaUse, Vec<NamespaceQuota>) {
    let (mut hard, mut used) = (BTreeMap::new(), BTreeMap::new());
    let mut per_namespace = Vec::new();
    for namespace in namespaces {
        let (mut h, mut u) = (BTreeMap::new(), BTreeMap::new());
        for rq in snapshot.shelf::<ResourceQuota>().in_namespace(namespace) {
            let status = rq.status.as_ref();
            add(&mut h, status.and_then(|s| s.hard.as_ref()));
            add(&mut u, status.and_then(|s| s.used.as_ref()));
            add(&mut hard, status.and_then(|s| s.hard.as_ref()));
            add(&mut used, status.and_then(|s| s.used.as_ref()));
        }
        per_namespace.push(NamespaceQuota {
            namespace: namespace.clone(),
            quota: QuotaUse {
                hard: shown(h),
                used: shown(u),
            },
        });
    }
    (
        QuotaUse {
            hard: shown(hard),
            used: shown(used),
        },
        per_namespace,
    )
}

/// One tenant: its namespaces, access, quota aggregated and per namespace.
#[utoipa::path(get, path = "/api/v1/tenants/{name}", tag = "tenants",
    params(("name" = String, Path, description = "The tenant")),
    responses((status = 200, body = TenantDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn tenant(
    State(g): State<Gateway>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<TenantDetail>, Problem> {
    tenant_detail(g.shared.view().snapshot(), &caller.access, &name).map(Json)
}

/// One tenant, if `access` may see it.
pub fn tenant_detail(
    snapshot: &Snapshot,
    access: &Access,
    name: &str,
) -> Result<TenantDetail, Problem> {
    if !access.allows(Some(name), Operation::Read) {
        return Err(Problem::not_found(&format!("tenant {name}")));
    }
    let tenant = snapshot
        .tenant(name)
        .ok_or_else(|| Problem::not_found(&format!("tenant {name}")))?;
    let summary = summary(snapshot, tenant, access);
    let (quota_use, namespace_quotas) = quota_of(snapshot, &summary.namespaces);
    Ok(TenantDetail {
        summary,
        access_control: object(&tenant.spec.access_control),
        quota_use,
        namespace_quotas,
        spec: object(&tenant.spec),
        status: object(&tenant.status),
    })
}

/// The outcome of a write.
#[derive(Debug, Serialize, ToSchema)]
pub struct Written {
    /// What was written.
    pub object: String,
    /// What was done.
    pub action: String,
}

/// A manifest in a request body (a Tenant `v1beta3`, a Quota `v1beta1`),
/// checked with the rules of `mto validate`; with `name`, it must be the
/// one in the path.
fn manifest_body<K>(body: Value, name: Option<&str>) -> Result<K, Problem>
where
    K: kube::Resource<DynamicType = ()>
        + serde::de::DeserializeOwned
        + mto_model::validation::Validate,
{
    let kind = K::kind(&());
    let object: K = serde_json::from_value(body).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a {kind} ({}): {e}", K::api_version(&())),
        )
    })?;
    if let Some(name) = name
        && object.meta().name.as_deref() != Some(name)
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("metadata.name must be {name:?}, the name in the path"),
        ));
    }
    object.validate().map_err(|errors| Problem {
        code: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
        message: format!(
            "the {} is not valid (the same rules as `mto validate`)",
            kind.to_lowercase()
        ),
        problems: errors.to_string().lines().map(str::to_owned).collect(),
    })?;
    Ok(object)
}

/// Creates a tenant, as the caller (platform admins).
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants",
    request_body(content = Object, description = "A Tenant manifest"),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(g): State<Gateway>,
    caller: Caller,
    Body(body): Body,
) -> Result<(StatusCode, Json<Written>), Problem> {
    g.create_manifest::<Tenant>(&caller, body).await
}

/// Changes a tenant, as the caller (server-side apply of the fields given).
#[utoipa::path(put, path = "/api/v1/tenants/{name}", tag = "tenants",
    params(("name" = String, Path, description = "The tenant")),
    request_body(content = Object, description = "A Tenant manifest"),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_tenant(
    State(g): State<Gateway>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Written>, Problem> {
    g.apply_manifest::<Tenant>(&caller, name, body).await
}

/// A Quota and the tenants using it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// Its name.
    pub name: String,
    /// What its ResourceQuota allows each tenant namespace, per resource.
    pub hard: BTreeMap<String, String>,
    /// The tenants using it (those the caller may see).
    pub tenants: Vec<String>,
    /// The whole spec.
    #[schema(value_type = Object)]
    pub spec: Value,
}

/// The Quotas: all for admins; for members, those their tenants use.
#[utoipa::path(get, path = "/api/v1/quotas", tag = "tenants", params(ListQuery),
    responses((status = 200, body = QuotaPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn quotas(
    State(g): State<Gateway>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Json<QuotaPage> {
    let view = g.shared.view();
    let snapshot = view.snapshot();
    let out: Vec<QuotaView> = snapshot
        .shelf::<Quota>()
        .iter()
        .filter_map(|q| {
            let name = q.metadata.name.clone()?;
            let tenants: Vec<String> = snapshot
                .shelf::<Tenant>()
                .iter()
                .filter(|t| t.spec.quota.as_deref() == Some(name.as_str()))
                .filter_map(|t| t.metadata.name.clone())
                .filter(|t| caller.access.allows(Some(t), Operation::Read))
                .collect();
            (caller.access.is_admin() || !tenants.is_empty()).then(|| QuotaView {
                hard: q
                    .spec
                    .resourcequota
                    .as_ref()
                    .and_then(|r| r.hard.as_ref())
                    .map(|h| h.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
                    .unwrap_or_default(),
                tenants,
                spec: object(&q.spec),
                name,
            })
        })
        .collect();
    let (items, next, total) = query.sorted_page(out, |q| &q.name);
    Json(QuotaPage { items, next, total })
}

/// Creates a Quota (`v1beta1`), as the caller (platform admins).
#[utoipa::path(post, path = "/api/v1/quotas", tag = "tenants",
    request_body(content = Object, description = "A Quota manifest"),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_quota(
    State(g): State<Gateway>,
    caller: Caller,
    Body(body): Body,
) -> Result<(StatusCode, Json<Written>), Problem> {
    g.create_manifest::<Quota>(&caller, body).await
}

/// Changes a Quota, as the caller (server-side apply of the fields given).
#[utoipa::path(put, path = "/api/v1/quotas/{name}", tag = "tenants",
    params(("name" = String, Path, description = "The Quota")),
    request_body(content = Object, description = "A Quota manifest"),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_quota(
    State(g): State<Gateway>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Json<Written>, Problem> {
    g.apply_manifest::<Quota>(&caller, name, body).await
}

/// Deletes a tenant, as the caller.
#[utoipa::path(delete, path = "/api/v1/tenants/{name}", tag = "tenants",
    params(("name" = String, Path, description = "The tenant")),
    responses((status = 200, body = Written), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_tenant(
    State(g): State<Gateway>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Written>, Problem> {
    let object = format!("Tenant/{name}");
    g.write(
        &caller,
        None,
        Operation::Administer,
        "delete",
        &object,
        |client| async move {
            kube::Api::<Tenant>::all(client)
                .delete(&name, &DeleteParams::default())
                .await
                .map(|_| ())
        },
    )
    .await
    .map(Json)
}

/// A sleep supervisor.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupervisorView {
    /// `ResourceSupervisor/<namespace>/<name>` or `ClusterResourceSupervisor/<name>`.
    pub key: String,
    /// Its namespace (none for a cluster supervisor).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Where it is: awake, sleeping, …
    pub phase: Option<String>,
    /// When it next changes by schedule.
    pub next_transition: Option<String>,
    /// A manual `wake` or `sleep` in force.
    pub manual_override: Option<String>,
    /// The workloads asleep, `Kind/namespace/name`.
    pub sleeping: Vec<String>,
}

fn supervisor_view(
    key: String,
    namespace: Option<String>,
    name: String,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    status: Option<&mto_model::api::ResourceSupervisorStatus>,
) -> SupervisorView {
    SupervisorView {
        key,
        namespace,
        name,
        phase: status.and_then(|s| s.current_status.clone()),
        next_transition: status.and_then(|s| s.next_transition_time.clone()),
        manual_override: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(mto_model::labels::OVERRIDE_ANNOTATION))
            .cloned(),
        sleeping: status
            .map(|s| {
                s.sleeping_applications
                    .iter()
                    .map(|a| format!("{}/{}/{}", a.kind, a.namespace, a.name))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The supervisors the caller may see: those in their tenants'
/// namespaces; cluster supervisors for admins.
#[utoipa::path(get, path = "/api/v1/supervisors", tag = "hibernation",
    params(ListQuery),
    responses((status = 200, body = SupervisorPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn supervisors(
    State(g): State<Gateway>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Json<SupervisorPage> {
    Json(supervisor_page(
        g.shared.view().snapshot(),
        &caller.access,
        &query,
    ))
}

/// One page of the supervisors `access` may see.
#[must_use]
pub fn supervisor_page(snapshot: &Snapshot, access: &Access, query: &ListQuery) -> SupervisorPage {
    let mut out: Vec<SupervisorView> = snapshot
        .shelf::<ResourceSupervisor>()
        .iter()
        .filter_map(|s| {
            let namespace = s.metadata.namespace.clone()?;
            let name = s.metadata.name.clone()?;
            let tenant = snapshot.tenant_of_namespace(&namespace);
            access.allows(tenant, Operation::Read).then(|| {
                supervisor_view(
                    format!("ResourceSupervisor/{namespace}/{name}"),
                    Some(namespace),
                    name,
                    &s.metadata,
                    s.status.as_ref(),
                )
            })
        })
        .collect();
    if access.is_admin() {
        out.extend(
            snapshot
                .shelf::<ClusterResourceSupervisor>()
                .iter()
                .filter_map(|s| {
                    let name = s.metadata.name.clone()?;
                    Some(supervisor_view(
                        format!("ClusterResourceSupervisor/{name}"),
                        None,
                        name,
                        &s.metadata,
                        s.status.as_ref(),
                    ))
                }),
        );
    }
    let (items, next, total) = query.sorted_page(out, |s| &s.key);
    SupervisorPage { items, next, total }
}

/// Wakes (`wake`) or puts to sleep (`sleep`) a supervisor's workloads now,
/// until its next scheduled transition, as the caller (owners and editors
/// of the namespace's tenant).
#[utoipa::path(post, path = "/api/v1/supervisors/{namespace}/{name}/{action}", tag = "hibernation",
    params(("namespace" = String, Path), ("name" = String, Path),
           ("action" = String, Path, description = "`wake` or `sleep`")),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn override_supervisor(
    State(g): State<Gateway>,
    caller: Caller,
    Path((namespace, name, action)): Path<(String, String, String)>,
) -> Result<Json<Written>, Problem> {
    if action != "wake" && action != "sleep" {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("{action:?}: say wake or sleep"),
        ));
    }
    let tenant = {
        let view = g.shared.view();
        let snapshot = view.snapshot();
        if snapshot
            .get::<ResourceSupervisor>(&namespace, &name)
            .is_none()
        {
            return Err(Problem::not_found(&format!(
                "ResourceSupervisor {namespace}/{name}"
            )));
        }
        snapshot.tenant_of_namespace(&namespace).map(str::to_owned)
    };
    if !caller.access.allows(tenant.as_deref(), Operation::Read) {
        return Err(Problem::not_found(&format!(
            "ResourceSupervisor {namespace}/{name}"
        )));
    }
    let object = format!("ResourceSupervisor/{namespace}/{name}");
    let patch =
        json!({"metadata": {"annotations": {mto_model::labels::OVERRIDE_ANNOTATION: action}}});
    g.write(
        &caller,
        tenant.as_deref(),
        Operation::Operate,
        &action,
        &object,
        |client| async move {
            kube::Api::<ResourceSupervisor>::namespaced(client, &namespace)
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
        },
    )
    .await
    .map(Json)
}

/// A Template's parameter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterView {
    /// Its name, referenced as `${NAME}`.
    pub name: String,
    /// An instance must give a value when there is no default.
    pub required: bool,
    /// The default.
    pub default: Option<String>,
}

/// A Template, as a catalog entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// Its name.
    pub name: String,
    /// Its parameters.
    pub parameters: Vec<ParameterView>,
    /// How many manifests it has.
    pub manifests: usize,
    /// The Helm chart it renders, `chart version from repository`.
    pub chart: Option<String>,
    /// Its phase (`InUse`, `Held`, …).
    pub phase: Option<String>,
}

/// The Templates (every signed-in person may browse them).
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    params(ListQuery),
    responses((status = 200, body = TemplatePage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn templates(
    State(g): State<Gateway>,
    _caller: Caller,
    Params(query): Params<ListQuery>,
) -> Json<TemplatePage> {
    let view = g.shared.view();
    let out = view
        .snapshot()
        .shelf::<Template>()
        .iter()
        .map(|t| {
            let helm = t.spec.resources.as_ref().and_then(|r| r.helm.as_ref());
            TemplateView {
                name: t.metadata.name.clone().unwrap_or_default(),
                parameters: t
                    .spec
                    .parameters
                    .iter()
                    .map(|p| ParameterView {
                        name: p.name.clone(),
                        required: p.required,
                        default: p.value.clone(),
                    })
                    .collect(),
                manifests: t.spec.resources.as_ref().map_or(0, |r| r.manifests.len()),
                chart: helm.map(|h| {
                    let repo = &h["chart"]["repository"];
                    format!(
                        "{} {} from {}",
                        repo["name"].as_str().unwrap_or("?"),
                        repo["version"].as_str().unwrap_or("(newest)"),
                        repo["repoUrl"].as_str().unwrap_or("?")
                    )
                }),
                phase: t.status.as_ref().and_then(|s| s.phase.clone()),
            }
        })
        .collect();
    let (items, next, total) = query.sorted_page(out, |t| &t.name);
    Json(TemplatePage { items, next, total })
}

/// A template instance and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// `TemplateInstance/<namespace>/<name>`, `ClusterTemplateInstance/<name>`, ….
    pub key: String,
    /// The Template.
    pub template: String,
    /// `Deployed` or `Failed`.
    pub status: Option<String>,
    /// Its phase.
    pub phase: Option<String>,
    /// Why not deployed.
    pub message: Option<String>,
    /// The namespaces holding the rendering (those the caller may see).
    pub deployed_namespaces: Vec<String>,
}

/// The template instances the caller may see: those in their tenants'
/// namespaces, and cluster instances deployed into one (all for admins).
#[utoipa::path(get, path = "/api/v1/templateinstances", tag = "templates",
    params(ListQuery),
    responses((status = 200, body = InstancePage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn instances(
    State(g): State<Gateway>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> Json<InstancePage> {
    let view = g.shared.view();
    let snapshot = view.snapshot();
    let sees = |namespace: &str| {
        caller
            .access
            .allows(snapshot.tenant_of_namespace(namespace), Operation::Read)
    };
    let mut out = Vec::new();
    for id in snapshot.instance_ids() {
        let Some(instance) = mto_model::template::Instance::find(snapshot, &id) else {
            continue;
        };
        let status = instance.status();
        let deployed: Vec<String> = status
            .map(|s| {
                s.deployed_namespaces
                    .iter()
                    .filter(|n| sees(n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let visible = match instance.meta().namespace.as_deref() {
            Some(namespace) => sees(namespace),
            None => caller.access.is_admin() || !deployed.is_empty(),
        };
        if !visible {
            continue;
        }
        out.push(InstanceView {
            key: id.key(),
            template: instance.template().to_owned(),
            status: status.and_then(|s| s.status.clone()),
            phase: status.and_then(|s| s.phase.clone()),
            message: status.and_then(|s| s.message.clone()),
            deployed_namespaces: deployed,
        });
    }
    let (items, next, total) = query.sorted_page(out, |i| &i.key);
    Json(InstancePage { items, next, total })
}

/// One change mto made, from the decision journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// When (RFC 3339).
    pub at: String,
    /// The phase before.
    pub from: String,
    /// The phase after.
    pub to: String,
    /// The writes.
    pub actions: Vec<String>,
    /// What people were told.
    pub events: Vec<String>,
    /// What stopped it, if anything.
    pub error: Option<String>,
}

/// What mto changed for a tenant (`mto history`).
#[utoipa::path(get, path = "/api/v1/tenants/{name}/history", tag = "tenants",
    params(("name" = String, Path, description = "The tenant")),
    responses((status = 200, body = [HistoryEntry]), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn history(
    State(g): State<Gateway>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, Problem> {
    if !caller.access.allows(Some(&name), Operation::Read) {
        return Err(Problem::not_found(&format!("tenant {name}")));
    }
    let Some(journal) = g.journal.clone() else {
        return Ok(Json(Vec::new()));
    };
    let entries = tokio::task::spawn_blocking(move || journal.history(&name))
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| HistoryEntry {
                at: e.at.to_string(),
                from: e.from,
                to: e.to,
                actions: e.actions,
                events: e.events,
                error: e.error,
            })
            .collect(),
    ))
}

/// One write made through the gateway.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub user: String,
    /// What: `create`, `update`, `delete`, `wake`, `sleep`.
    pub action: String,
    /// On what.
    pub object: String,
    /// `ok`, or why not.
    pub outcome: String,
}

/// The latest writes made through the gateway, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "access",
    params(("limit" = Option<usize>, Query, description = "At most this many (default 100)")),
    responses((status = 200, body = [AuditView]), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn audit(
    State(g): State<Gateway>,
    caller: Caller,
    Params(query): Params<BTreeMap<String, String>>,
) -> Result<Json<Vec<AuditView>>, Problem> {
    if !caller.access.is_admin() {
        return Err(Problem::forbidden("the audit log"));
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, 10_000);
    let Some(store) = g.store.clone() else {
        return Ok(Json(Vec::new()));
    };
    let entries = store
        .audit_log(limit)
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditView {
                at: e.at.to_string(),
                user: e.user,
                action: e.action,
                object: e.object,
                outcome: e.outcome,
            })
            .collect(),
    ))
}

/// What workloads cost, grouped as asked, in OpenCost's `/allocation`
/// shape (also served at `/allocation`, for dashboards and scripts written
/// for OpenCost); `format=csv` for a spreadsheet. Admins see every group
/// and the cluster's idle cost; members see the groups wholly inside their
/// tenants.
#[utoipa::path(get, path = "/api/v1/allocation", tag = "showback",
    params(crate::showback::AllocationParams),
    responses((status = 200, description = "`{\"code\": 200, \"data\": [{name: allocation}]}`, a map per step; CSV with format=csv",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn allocation(
    State(g): State<Gateway>,
    caller: Caller,
    Params(params): Params<crate::showback::AllocationParams>,
) -> Result<Response, Problem> {
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                format!("format {other:?}: use json or csv"),
            ));
        }
    };
    let sets = g.cost(&caller.access, &params).await?;
    Ok(if csv {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            mto_model::showback::to_csv(&sets),
        )
            .into_response()
    } else {
        Json(mto_model::showback::to_opencost_response(&sets)).into_response()
    })
}

/// What the gateway creates and changes from manifests: cluster-scoped
/// kinds `mto validate` checks.
trait Manifest:
    kube::Resource<DynamicType = (), Scope = kube::core::ClusterResourceScope>
    + mto_model::validation::Validate
    + Clone
    + std::fmt::Debug
    + Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl Manifest for Tenant {}
impl Manifest for Quota {}

impl Gateway {
    /// Showback's report `params` ask for, of the groups `access` may see
    /// (admins: every group and the idle).
    pub(crate) async fn cost(
        &self,
        access: &Access,
        params: &crate::showback::AllocationParams,
    ) -> Result<Vec<mto_model::showback::Set>, Problem> {
        let member_sees = |tenant: Option<&str>| access.allows(tenant, Operation::Read);
        let visible: Option<crate::showback::Visible<'_>> =
            (!access.is_admin()).then_some(&member_sees);
        let now = mto_model::Timestamp::now().as_second();
        let Some(store) = self.store.as_deref() else {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "showback keeps its records in the store: run mto without --no-journal, or with --store",
            ));
        };
        crate::showback::allocation_report(store, params, now, visible)
            .await
            .map_err(|e| match e {
                crate::showback::ReportError::Parameter(p) => {
                    Problem::new(StatusCode::BAD_REQUEST, p)
                }
                crate::showback::ReportError::Store(e) => {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                }
            })
    }

    /// Creates the object a manifest body describes, as the caller
    /// (platform admins).
    async fn create_manifest<K: Manifest>(
        &self,
        caller: &Caller,
        body: Value,
    ) -> Result<(StatusCode, Json<Written>), Problem> {
        let object: K = manifest_body(body, None)?;
        let what = format!(
            "{}/{}",
            K::kind(&()),
            object.meta().name.as_deref().unwrap_or_default()
        );
        self.write(
            caller,
            None,
            Operation::Administer,
            "create",
            &what,
            |client| async move {
                kube::Api::<K>::all(client)
                    .create(&PostParams::default(), &object)
                    .await
                    .map(|_| ())
            },
        )
        .await
        .map(|written| (StatusCode::CREATED, Json(written)))
    }

    /// Changes object `name` to what a manifest body says, as the caller
    /// (server-side apply of the fields given).
    async fn apply_manifest<K: Manifest>(
        &self,
        caller: &Caller,
        name: String,
        body: Value,
    ) -> Result<Json<Written>, Problem> {
        let object: K = manifest_body(body, Some(&name))?;
        let what = format!("{}/{name}", K::kind(&()));
        self.write(
            caller,
            None,
            Operation::Administer,
            "update",
            &what,
            |client| async move {
                let params = PatchParams::apply(super::FIELD_MANAGER).force();
                kube::Api::<K>::all(client)
                    .patch(&name, &params, &Patch::Apply(&object))
                    .await
                    .map(|_| ())
            },
        )
        .await
        .map(Json)
    }

    /// A write as the caller: refused unless their access allows
    /// `operation` on `tenant`; then made with the caller's identity
    /// (Kubernetes RBAC and mto's admission decide it); audited either way.
    async fn write<F, Fut>(
        &self,
        caller: &Caller,
        tenant: Option<&str>,
        operation: Operation,
        action: &str,
        object: &str,
        call: F,
    ) -> Result<Written, Problem>
    where
        F: FnOnce(kube::Client) -> Fut,
        Fut: Future<Output = Result<(), kube::Error>>,
    {
        let result = if caller.access.allows(tenant, operation) {
            match self.client_as(&caller.principal) {
                Ok(client) => call(client).await.map_err(|e| problem_of(object, e)),
                Err(p) => Err(p),
            }
        } else {
            Err(Problem::forbidden(&format!("{action} {object}")))
        };
        let entry = AuditEntry {
            at: mto_model::Timestamp::now(),
            user: caller.principal.user.clone(),
            action: action.to_owned(),
            object: object.to_owned(),
            outcome: match &result {
                Ok(()) => "ok".to_owned(),
                Err(p) => format!("{}: {}", p.code, p.message),
            },
        };
        tracing::info!(user = %entry.user, action = %entry.action, object = %entry.object, outcome = %entry.outcome, "gateway write");
        if let Some(store) = &self.store
            && let Err(e) = store.record_audit(entry).await
        {
            tracing::warn!(error = %e, "audit log");
        }
        result.map(|()| Written {
            object: object.to_owned(),
            action: action.to_owned(),
        })
    }

    /// A client that acts as `principal`: the operator's credentials,
    /// impersonating the person and their groups.
    fn client_as(&self, principal: &Principal) -> Result<kube::Client, Problem> {
        let mut config = self.kube.clone();
        config.auth_info.impersonate = Some(principal.user.clone());
        let mut groups = principal.groups.clone();
        groups.push("system:authenticated".into());
        config.auth_info.impersonate_groups = Some(groups);
        kube::Client::try_from(config)
            .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    }
}

/// The apiserver's answer, passed on with its status.
fn problem_of(object: &str, error: kube::Error) -> Problem {
    match error {
        kube::Error::Api(response) => Problem::new(
            StatusCode::from_u16(response.code).unwrap_or(StatusCode::BAD_GATEWAY),
            format!("{object}: {}", response.message),
        ),
        other => Problem::new(StatusCode::BAD_GATEWAY, format!("{object}: {other}")),
    }
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(title = "mto API gateway", description = "Tenants, namespaces, quotas, templates and hibernation, as the caller may see them."),
    paths(me, tenants, tenant, create_tenant, update_tenant, delete_tenant, history,
          supervisors, override_supervisor, templates, instances, audit, allocation,
          quotas, create_quota, update_quota),
    components(schemas(Problem, Me, TenantSummary, TenantPage, TenantDetail, QuotaUse,
                       NamespaceQuota, Written, SupervisorView, SupervisorPage, ParameterView, TemplateView,
                       TemplatePage, InstanceView, InstancePage, QuotaView, QuotaPage,
                       HistoryEntry, AuditView)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OpenID Connect access token from the configured issuer",
                    ))
                    .build(),
            ),
        );
    }
}

/// `/api/v1/openapi.json`.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_pages_by_name_after_the_continue_and_filters() {
        let names: Vec<String> = (0..25).map(|i| format!("t{i:02}")).collect();
        let q = |limit, after: Option<&str>, filter: Option<&str>| ListQuery {
            limit: Some(limit),
            after: after.map(str::to_owned),
            q: filter.map(str::to_owned),
        };
        let (page, next, total) = q(10, None, None).page(names.clone(), |n| n);
        assert_eq!((page.len(), next.as_deref(), total), (10, Some("t09"), 25));
        let (page, next, _) = q(10, Some("t19"), None).page(names.clone(), |n| n);
        assert_eq!(
            (page.first().map(String::as_str), next),
            (Some("t20"), None)
        );
        let (page, _, total) = q(100, None, Some("1")).page(names, |n| n);
        assert_eq!(total, 12, "t01, t10..t19, t21");
        assert!(page.iter().all(|n| n.contains('1')));
    }

    #[test]
    fn a_page_of_supervisors_is_in_key_order_whatever_order_they_came_in() {
        let supervisor = |key: &str| SupervisorView {
            key: key.into(),
            namespace: None,
            name: key.rsplit('/').next().unwrap_or_default().into(),
            phase: None,
            next_transition: None,
            manual_override: None,
            sleeping: Vec::new(),
        };
        let came = vec![
            supervisor("ResourceSupervisor/a/x"),
            supervisor("ResourceSupervisor/b/y"),
            supervisor("ClusterResourceSupervisor/z"),
        ];
        let (items, next, total) = ListQuery::first(2).sorted_page(came, |s| &s.key);
        let keys: Vec<&str> = items.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            ["ClusterResourceSupervisor/z", "ResourceSupervisor/a/x"]
        );
        assert_eq!(next.as_deref(), Some("ResourceSupervisor/a/x"));
        assert_eq!(total, 3);
    }

    #[test]
    fn the_openapi_document_lists_every_route_and_the_bearer_scheme() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("json");
        for path in [
            "/api/v1/me",
            "/api/v1/tenants",
            "/api/v1/tenants/{name}",
            "/api/v1/tenants/{name}/history",
            "/api/v1/supervisors",
            "/api/v1/supervisors/{namespace}/{name}/{action}",
            "/api/v1/templates",
            "/api/v1/templateinstances",
            "/api/v1/audit",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
