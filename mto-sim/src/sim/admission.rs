//! People acting through the admission webhook: the scenario's
//! [`AdmissionTraffic`]. Each request is decided as `mto run` decides it —
//! by [`admit`] against the view of a webhook replica that is up and has
//! listed the cluster (none: refused, the webhook fails closed) — and a
//! pod runs only once the apiserver's quota admission has raised its
//! namespace's quota, through the pooled quota's protocol step by step:
//! the quota read, the ledger read, the quotas read fresh, the judgement,
//! the ledger's compare-and-swap, the quota's compare-and-swap. Requests'
//! steps interleave with each other and with everything else.
//!
//! Checked after every step, beyond DESIGN.md's other invariants: what a
//! replica admitted from its view, the cluster as it is admits too (no
//! namespace enters a tenant its creator does not own, no binding grants
//! an outsider), and a pooled tenant's namespaces never hold more than
//! its Quota together (invariant 8, in `check_tenant`).
//!
//! [`AdmissionTraffic`]: crate::scenario::AdmissionTraffic

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceQuotaStatus;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use mto_model::action::{Action, Object};
use mto_model::admission::pooled::{self, Asked, Judgement, Ledger, StatusUpdate, TenantPool};
use mto_model::admission::{AdmissionRequest, Operation, Rule, UserInfo, Verdict, admit};
use mto_model::api::Tenant;
use mto_model::invariants::Reach;
use mto_model::labels::{RESOURCE_QUOTA_NAME, TENANT_LABEL};
use mto_model::view::ResourceQuota;
use mto_model::view::{Gvk, Observed as _};
use rand::RngExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::{API_LATENCY, Event, Sim, SimError, millis};

/// What the people's requests came to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReport {
    /// Requests made.
    pub requests: u64,
    /// Requests the webhook allowed.
    pub allowed: u64,
    /// Requests the webhook refused, by rule.
    pub denied: BTreeMap<String, u64>,
    /// Requests refused because no webhook replica was ready.
    pub unavailable: u64,
    /// Pods that started (their quota raised).
    pub pods_started: u64,
    /// Pods refused by their namespace's own quota (the tenant's total).
    pub pods_over_namespace_quota: u64,
    /// Pods refused by the tenant's pooled quota across its namespaces.
    pub pods_over_tenant_quota: u64,
    /// Ledger writes that lost their compare-and-swap and judged again.
    pub ledger_conflicts: u64,
    /// Quota updates that lost their compare-and-swap and started over.
    pub quota_conflicts: u64,
}

/// The simulation's side of admission: the tenants' ledgers as the
/// apiserver stores them, and the pods on their way.
#[derive(Debug, Default)]
pub(super) struct Admission {
    ledgers: BTreeMap<String, (u64, Ledger)>,
    versions: u64,
    pods: BTreeMap<u64, PodRequest>,
    next_id: u64,
    namespaces_made: u32,
    pub(super) report: AdmissionReport,
}

/// At most this many namespaces are made by the people, so the cluster
/// does not grow without end over a long run.
const NAMESPACE_LIMIT: u32 = 10;

/// A pod on its way through quota admission.
#[derive(Clone, Debug)]
struct PodRequest {
    tenant: String,
    namespace: String,
    step: PodStep,
}

#[derive(Clone, Debug)]
enum PodStep {
    /// Quota admission reads the namespace's quota.
    ReadQuota,
    /// The webhook is called with the raised quota.
    Webhook {
        base: String,
        old: Value,
        new: Value,
    },
    /// It read the ledger; it reads the quotas next.
    ReadQuotas {
        base: String,
        pool: TenantPool,
        update: StatusUpdate,
        ledger: (u64, Ledger),
        new: Value,
        old: Value,
    },
    /// It stores the ledger its judgement asks for.
    WriteLedger {
        base: String,
        read: u64,
        next: Ledger,
        new: Value,
        old: Value,
    },
    /// Quota admission writes the raised quota.
    Commit { base: String, new: Value },
}

/// The people of a tenant.
struct People {
    owners: Vec<String>,
    editors: Vec<String>,
    viewers: Vec<String>,
}

impl People {
    fn of(tenant: &Tenant) -> People {
        let ac = tenant.spec.access_control.clone().unwrap_or_default();
        let users = |s: Option<mto_model::api::Subjects>| s.map(|s| s.users).unwrap_or_default();
        People {
            owners: users(ac.owners),
            editors: users(ac.editors),
            viewers: users(ac.viewers),
        }
    }
}

const OUTSIDER: &str = "outsider@elsewhere.example";
const ADMIN: &str = "platform-admin";

fn person(name: &str) -> UserInfo {
    let groups = if name == ADMIN {
        vec!["system:masters".to_owned()]
    } else {
        vec!["system:authenticated".to_owned()]
    };
    UserInfo {
        username: name.to_owned(),
        groups,
    }
}

/// The apiserver's own loopback user, as quota admission writes.
fn apiserver() -> UserInfo {
    UserInfo {
        username: "system:apiserver".into(),
        groups: vec!["system:masters".into()],
    }
}

fn request(
    operation: Operation,
    user: UserInfo,
    object: Value,
    old: Option<Value>,
    subresource: Option<&str>,
) -> AdmissionRequest {
    let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    AdmissionRequest {
        operation,
        user,
        kind: Gvk::from_api_version(&api_version, &kind),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        namespace: object["metadata"]["namespace"].as_str().map(str::to_owned),
        subresource: subresource.map(str::to_owned),
        object: Some(object),
        old_object: old,
    }
}

fn pick<'a, T>(rng: &mut impl rand::Rng, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[rng.random_range(0..items.len())])
}

fn pods_used(rq: &ResourceQuota) -> i64 {
    rq.status
        .as_ref()
        .and_then(|s| s.used.as_ref()?.get("pods"))
        .and_then(|q| q.0.parse().ok())
        .unwrap_or(0)
}

fn with_pods_used(rq: &ResourceQuota, pods: i64) -> ResourceQuota {
    let mut next = rq.clone();
    let status = next.status.get_or_insert_with(ResourceQuotaStatus::default);
    status
        .used
        .get_or_insert_with(Default::default)
        .insert("pods".into(), K8sQuantity(pods.to_string()));
    next
}

impl Sim {
    /// Schedules the first request of the scenario's people, if it has any.
    pub(super) fn schedule_request(&mut self) {
        let Some(traffic) = self.scenario.admission.clone() else {
            return;
        };
        let at = self.now_ms + millis(traffic.every);
        if traffic.until.is_none_or(|until| at <= millis(until)) {
            self.push(at, Event::Request);
        }
    }

    /// A webhook replica to ask: one that is up and has listed the
    /// cluster, chosen at random as a Service spreads calls.
    fn webhook_replica(&mut self) -> Option<usize> {
        let ready: Vec<usize> = (0..self.replicas.len())
            .filter(|r| {
                self.replicas[*r]
                    .operator
                    .as_ref()
                    .is_some_and(|op| op.view.synced())
                    && !self.partitioned(*r)
            })
            .collect();
        pick(&mut self.rng, &ready).copied()
    }

    /// Asks a webhook replica about `request`: its verdict, or `None` when
    /// no replica can answer (refused: the webhook fails closed).
    fn ask_webhook(&mut self, request: &AdmissionRequest) -> Option<Verdict> {
        let replica = self.webhook_replica()?;
        let op = self.replicas[replica].operator.as_ref()?;
        Some(admit(request, op.view.snapshot()))
    }

    fn count_verdict(&mut self, verdict: Option<&Verdict>) {
        let report = &mut self.admission.report;
        match verdict {
            None => report.unavailable += 1,
            Some(Verdict::Allowed) => report.allowed += 1,
            Some(Verdict::Denied { rule, .. }) => {
                *report.denied.entry(rule.name().to_owned()).or_default() += 1;
            }
        }
    }

    /// What a replica admitted from its view, the cluster as it is admits
    /// too: invariant 8 for namespaces and bindings.
    fn check_admitted(&mut self, request: &AdmissionRequest) -> Result<(), SimError> {
        self.report.invariant_checks += 1;
        if let Verdict::Denied { rule, message } = admit(request, self.cluster.snapshot()) {
            let subject = request
                .namespace
                .clone()
                .unwrap_or_else(|| request.name.clone());
            return Err(SimError::broken(
                self,
                format!(
                    "invariant 8: a webhook replica admitted {} {} that the cluster as it is refuses ({}): {message}",
                    request.kind.kind,
                    request.name,
                    rule.name()
                ),
                vec![subject],
            ));
        }
        Ok(())
    }

    /// The people's requests due now, and the next ones scheduled.
    pub(super) fn people_requests(&mut self) -> Result<(), SimError> {
        self.schedule_request();
        let at_once = self.scenario.admission.as_ref().map_or(1, |a| a.at_once);
        for _ in 0..at_once {
            self.people_request()?;
        }
        Ok(())
    }

    /// One person's request.
    fn people_request(&mut self) -> Result<(), SimError> {
        let wanted = self
            .scenario
            .admission
            .as_ref()
            .map(|a| a.tenants.clone())
            .unwrap_or_default();
        let tenants: Vec<String> = self
            .cluster
            .snapshot()
            .shelf::<Tenant>()
            .keys()
            .map(|(_, n)| n.to_owned())
            .filter(|n| wanted.is_empty() || wanted.contains(n))
            .collect();
        let Some(tenant) = pick(&mut self.rng, &tenants).cloned() else {
            return Ok(());
        };
        let namespaces: Vec<String> = self
            .cluster
            .snapshot()
            .tenant_namespaces(&tenant)
            .map(str::to_owned)
            .collect();
        self.admission.report.requests += 1;
        match self.rng.random_range(0..100) {
            0..50 => self.create_pod(&tenant, &namespaces),
            50..65 => {
                self.remove_pod(&tenant, &namespaces);
                Ok(())
            }
            65..85 => self.create_namespace(&tenant),
            _ => self.create_binding(&tenant, &namespaces),
        }
    }

    fn people(&self, tenant: &str) -> People {
        self.cluster.snapshot().tenant(tenant).map_or(
            People {
                owners: Vec::new(),
                editors: Vec::new(),
                viewers: Vec::new(),
            },
            People::of,
        )
    }

    fn create_namespace(&mut self, tenant: &str) -> Result<(), SimError> {
        if self.admission.namespaces_made >= NAMESPACE_LIMIT {
            self.admission.report.requests -= 1;
            return Ok(());
        }
        let people = self.people(tenant);
        let everyone: Vec<String> = people
            .owners
            .iter()
            .chain(&people.editors)
            .chain(&people.viewers)
            .cloned()
            .chain([OUTSIDER.to_owned(), ADMIN.to_owned()])
            .collect();
        let Some(who) = pick(&mut self.rng, &everyone).cloned() else {
            return Ok(());
        };
        self.admission.next_id += 1;
        let name = format!("{tenant}-u{}", self.admission.next_id);
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {TENANT_LABEL: tenant}}});
        if self.create_admitted(&who, namespace)? {
            self.admission.namespaces_made += 1;
            self.trace(format!("{who} created namespace {name} in tenant {tenant}"));
        }
        Ok(())
    }

    /// `who` creates `object` through the webhook: asked, counted, checked
    /// against the cluster as it is, and created when admitted. Whether it
    /// was created.
    fn create_admitted(&mut self, who: &str, object: Value) -> Result<bool, SimError> {
        let asked = request(Operation::Create, person(who), object.clone(), None, None);
        let verdict = self.ask_webhook(&asked);
        self.count_verdict(verdict.as_ref());
        if verdict != Some(Verdict::Allowed) {
            return Ok(false);
        }
        self.check_admitted(&asked)?;
        let created = Object::from_json(object)
            .is_ok_and(|object| self.cluster.create(object, self.now()).is_ok());
        if created {
            self.broadcast();
        }
        Ok(created)
    }

    fn create_binding(&mut self, tenant: &str, namespaces: &[String]) -> Result<(), SimError> {
        let people = self.people(tenant);
        let (Some(owner), Some(namespace)) = (
            pick(&mut self.rng, &people.owners).cloned(),
            pick(&mut self.rng, namespaces).cloned(),
        ) else {
            return Ok(());
        };
        let candidates: Vec<String> = people
            .editors
            .iter()
            .chain(&people.viewers)
            .cloned()
            .chain([OUTSIDER.to_owned()])
            .collect();
        let Some(subject) = pick(&mut self.rng, &candidates).cloned() else {
            return Ok(());
        };
        self.admission.next_id += 1;
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("shared-{}", self.admission.next_id), "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": subject}]
        });
        if self.create_admitted(&owner, binding)? {
            self.trace(format!("{owner} bound {subject} in {namespace}"));
        }
        Ok(())
    }

    /// A pod is created: its own admission (the tenant's policies), then
    /// quota admission, step by step.
    fn create_pod(&mut self, tenant: &str, namespaces: &[String]) -> Result<(), SimError> {
        let people = self.people(tenant);
        let makers: Vec<String> = people
            .owners
            .iter()
            .chain(&people.editors)
            .cloned()
            .collect();
        let (Some(who), Some(namespace)) = (
            pick(&mut self.rng, &makers).cloned(),
            pick(&mut self.rng, namespaces).cloned(),
        ) else {
            return Ok(());
        };
        self.admission.next_id += 1;
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{}", self.admission.next_id), "namespace": namespace},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]}});
        let asked = request(Operation::Create, person(&who), pod, None, None);
        let verdict = self.ask_webhook(&asked);
        self.count_verdict(verdict.as_ref());
        if verdict != Some(Verdict::Allowed) {
            return Ok(());
        }
        let id = self.admission.next_id;
        self.admission.pods.insert(
            id,
            PodRequest {
                tenant: tenant.to_owned(),
                namespace,
                step: PodStep::ReadQuota,
            },
        );
        let at = self.later();
        self.push(at, Event::PodStep(id));
        Ok(())
    }

    /// A moment later: one API call's time, give or take.
    fn later(&mut self) -> u64 {
        let jitter = self.rng.random_range(0..=millis(API_LATENCY));
        self.now_ms + millis(API_LATENCY) + jitter
    }

    /// A pod goes: the quota controller lowers its namespace's usage
    /// (never judged: a decrease takes no sum over).
    fn remove_pod(&mut self, tenant: &str, namespaces: &[String]) {
        let snapshot = self.cluster.snapshot();
        let running: Vec<&ResourceQuota> = namespaces
            .iter()
            .filter_map(|ns| snapshot.resource_quota(ns, RESOURCE_QUOTA_NAME))
            .filter(|rq| pods_used(rq) > 0)
            .collect();
        let Some(rq) = pick(&mut self.rng, &running).map(|rq| (*rq).clone()) else {
            return;
        };
        let lowered = with_pods_used(&rq, pods_used(&rq) - 1);
        let write = Action::ApplyStatus {
            object: lowered.into(),
        };
        if self.cluster.execute(&write, self.now()).is_ok() {
            self.touch(tenant, Reach::Everywhere);
            self.broadcast();
        }
    }

    /// The next step of pod `id`'s quota admission.
    pub(super) fn pod_step(&mut self, id: u64) -> Result<(), SimError> {
        let Some(pod) = self.admission.pods.remove(&id) else {
            return Ok(());
        };
        let next = match pod.step.clone() {
            PodStep::ReadQuota => self.read_quota(&pod),
            PodStep::Webhook { base, old, new } => self.call_quota_webhook(&pod, base, old, new),
            PodStep::ReadQuotas {
                base,
                pool,
                update,
                ledger,
                new,
                old,
            } => {
                // The quotas now, after the ledger: the model's proof.
                let held = pooled::held(self.cluster.snapshot(), &pod.tenant);
                match pooled::judge(&pool.pool(), &update, &held, &ledger.1, self.now()) {
                    Judgement::Deny(message) => {
                        self.trace(format!("{}: {message}", pod.namespace));
                        self.admission.report.pods_over_tenant_quota += 1;
                        self.count_verdict(Some(&Verdict::Denied {
                            rule: Rule::TenantQuota,
                            message,
                        }));
                        None
                    }
                    Judgement::Allow(None) => Some(PodStep::Commit { base, new }),
                    Judgement::Allow(Some(next)) => Some(PodStep::WriteLedger {
                        base,
                        read: ledger.0,
                        next,
                        new,
                        old,
                    }),
                }
            }
            PodStep::WriteLedger {
                base,
                read,
                next,
                new,
                old,
            } => {
                let stored = self
                    .admission
                    .ledgers
                    .entry(pod.tenant.clone())
                    .or_default();
                if stored.0 == read {
                    self.admission.versions += 1;
                    *stored = (self.admission.versions, next);
                    Some(PodStep::Commit { base, new })
                } else {
                    self.admission.report.ledger_conflicts += 1;
                    Some(PodStep::Webhook { base, old, new })
                }
            }
            PodStep::Commit { base, new } => self.commit_quota(&pod, &base, new),
        };
        if let Some(step) = next {
            self.admission.pods.insert(id, PodRequest { step, ..pod });
            let at = self.later();
            self.push(at, Event::PodStep(id));
        }
        Ok(())
    }

    /// Quota admission: the namespace's quota, raised by one pod.
    fn read_quota(&mut self, pod: &PodRequest) -> Option<PodStep> {
        let rq = self
            .cluster
            .snapshot()
            .resource_quota(&pod.namespace, RESOURCE_QUOTA_NAME)
            .cloned();
        let Some(rq) = rq else {
            // No quota (the namespace left the tenant meanwhile): it runs
            // uncounted, as it would.
            self.admission.report.pods_started += 1;
            return None;
        };
        let hard = rq
            .spec
            .as_ref()
            .and_then(|s| s.hard.as_ref()?.get("pods"))
            .and_then(|q| q.0.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        let used = pods_used(&rq);
        if used + 1 > hard {
            self.admission.report.pods_over_namespace_quota += 1;
            return None;
        }
        let old = serde_json::to_value(&rq).ok()?;
        let new = serde_json::to_value(with_pods_used(&rq, used + 1)).ok()?;
        let base = rq
            .metadata
            .read()
            .resource_version()
            .unwrap_or_default()
            .to_owned();
        Some(PodStep::Webhook { base, old, new })
    }

    /// The webhook asked about the raised quota, by the apiserver.
    fn call_quota_webhook(
        &mut self,
        pod: &PodRequest,
        base: String,
        old: Value,
        new: Value,
    ) -> Option<PodStep> {
        let asked = request(
            Operation::Update,
            apiserver(),
            new.clone(),
            Some(old.clone()),
            Some("status"),
        );
        let Some(replica) = self.webhook_replica() else {
            self.count_verdict(None);
            return None;
        };
        let op = self.replicas[replica].operator.as_ref()?;
        match pooled::asked(&asked, op.view.snapshot()) {
            Asked::Nothing => Some(PodStep::Commit { base, new }),
            Asked::Unknown(message) => {
                self.count_verdict(Some(&Verdict::Denied {
                    rule: Rule::TenantQuota,
                    message,
                }));
                None
            }
            Asked::Judge(pool, update) => {
                let ledger = self
                    .admission
                    .ledgers
                    .get(&pod.tenant)
                    .cloned()
                    .unwrap_or_default();
                Some(PodStep::ReadQuotas {
                    base,
                    pool,
                    update,
                    ledger,
                    new,
                    old,
                })
            }
        }
    }

    /// Quota admission writes the raised quota, compare-and-swap.
    fn commit_quota(&mut self, pod: &PodRequest, base: &str, new: Value) -> Option<PodStep> {
        let current = self
            .cluster
            .snapshot()
            .resource_quota(&pod.namespace, RESOURCE_QUOTA_NAME)
            .and_then(|rq| rq.metadata.read().resource_version().map(str::to_owned));
        if current.as_deref() != Some(base) {
            self.admission.report.quota_conflicts += 1;
            return Some(PodStep::ReadQuota);
        }
        let raised: ResourceQuota = serde_json::from_value(new).ok()?;
        let write = Action::ApplyStatus {
            object: raised.into(),
        };
        if self.cluster.execute(&write, self.now()).is_ok() {
            self.admission.report.pods_started += 1;
            let tenant = pod.tenant.clone();
            self.touch(&tenant, Reach::Everywhere);
            self.broadcast();
        }
        None
    }
}
