//! Shared set-up for mto's benchmarks: generated clusters of any size.

use mto_model::Timestamp;
use mto_model::api::{AccessControl, Namespaces, Quota, QuotaSpec, Subjects, Tenant, TenantSpec};
use mto_model::apiserver::ApiServer;
use mto_model::tenant::decide;
use mto_model::view::Snapshot;

/// The instant every benchmark decides at.
#[must_use]
pub fn now() -> Timestamp {
    Timestamp::from_second(1_767_571_200).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A tenant like the simulator generates: `namespaces` prefixed
/// namespaces, one owner and two editors, the `small` quota.
#[must_use]
pub fn tenant(i: usize, namespaces: usize) -> Tenant {
    let name = format!("t{i:05}");
    let users: Vec<String> = (0..3)
        .map(|u| format!("{name}-user{u}@example.com"))
        .collect();
    Tenant::new(
        &name,
        TenantSpec {
            quota: Some("small".into()),
            access_control: Some(AccessControl {
                owners: Some(Subjects {
                    users: users[..1].to_vec(),
                    groups: vec![format!("{name}-admins")],
                }),
                editors: Some(Subjects {
                    users: users[1..].to_vec(),
                    groups: Vec::new(),
                }),
                viewers: None,
            }),
            namespaces: Some(Namespaces {
                with_tenant_prefix: (0..namespaces).map(|n| format!("ns{n}")).collect(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
}

/// A cluster with `tenants` tenants and nothing created yet.
#[must_use]
pub fn empty_cluster(tenants: usize, namespaces: usize) -> Snapshot {
    cluster(tenants, namespaces).snapshot().clone()
}

fn cluster(tenants: usize, namespaces: usize) -> ApiServer {
    let mut s = ApiServer::default();
    let quota: Quota = serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"},
        "spec": {
            "resourcequota": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "pods": "40"}},
            "limitrange": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}}]}
        }
    }))
    .unwrap_or_else(|_| Quota::new("small", QuotaSpec::default()));
    let _ = s.put(quota.into(), now());
    for i in 0..tenants {
        let _ = s.put(tenant(i, namespaces).into(), now());
    }
    s
}

/// The same cluster after mto converged it.
#[must_use]
pub fn converged_cluster(tenants: usize, namespaces: usize) -> Snapshot {
    let mut s = cluster(tenants, namespaces);
    let names: Vec<String> = tenant_names(s.snapshot());
    for _ in 0..3 {
        for name in &names {
            let Some(t) = s.snapshot().get::<Tenant>("", name).cloned() else {
                continue;
            };
            for action in decide(&t, s.snapshot(), now()).actions {
                let _ = s.execute(&action, now());
            }
        }
    }
    s.snapshot().clone()
}

/// The names of every tenant.
#[must_use]
pub fn tenant_names(s: &Snapshot) -> Vec<String> {
    s.shelf::<Tenant>()
        .keys()
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// Every tenant.
pub fn tenants(s: &Snapshot) -> impl Iterator<Item = &Tenant> {
    s.shelf::<Tenant>().iter().map(|t| &**t)
}

/// A pid's resident and peak memory, in KiB, from /proc.
#[must_use]
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The `q` quantile (0–1) of sorted latencies in µs, in ms.
#[must_use]
pub fn percentile_ms(sorted_micros: &[u32], q: f64) -> f64 {
    let n = sorted_micros.len();
    if n == 0 {
        return 0.0;
    }
    let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
    f64::from(sorted_micros[i]) / 1000.0
}

/// An operator's shared state whose client reaches no apiserver, its view
/// listed from `list` (every watched kind's objects): what the load tests
/// serve from. Also the client's configuration, for a gateway.
///
/// # Errors
/// When the client cannot be made.
pub fn listed_shared<O: Into<mto_model::view::Taken>>(
    list: impl Fn(&mto_model::view::Kind) -> Vec<O>,
) -> Result<(std::sync::Arc<mto_runtime::operator::Shared>, kube::Config), String> {
    use mto_model::view::{Kind, WatchEvent};
    use mto_runtime::operator::{ControllerConfig, Shared, clock::Clock, metrics::Metrics};
    let kube = kube::Config::new("https://127.0.0.1:9".parse().map_err(|e| format!("{e}"))?);
    let client = kube::Client::try_from(kube.clone()).map_err(|e| e.to_string())?;
    let config = ControllerConfig {
        driver: mto_model::driver::Config::default(),
        identity: "load".into(),
        clock: Clock::real(),
        helm: "helm".into(),
        chart_cache: std::env::temp_dir().join("mto-load-charts"),
        namespace: "mto-system".into(),
        pilot: mto_model::pilot::PilotSettings::default(),
        vault_jwt: mto_runtime::vault::SERVICE_ACCOUNT_TOKEN.into(),
    };
    let shared = std::sync::Arc::new(Shared::new(
        client,
        std::sync::Arc::new(Metrics::default()),
        None,
        &config,
    ));
    for kind in Kind::watched_kinds() {
        shared.fold(WatchEvent::Init(kind.clone()));
        for object in list(kind) {
            shared.fold(WatchEvent::InitApply(object.into()));
        }
        shared.fold(WatchEvent::InitDone(kind.clone()));
    }
    Ok((shared, kube))
}
