//! Supervisors and workloads as the supervisor machine reads them.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::SupervisorPhase;
use crate::api::{
    ClusterResourceSupervisor, ResourceSupervisor, ResourceSupervisorStatus, SleepSchedule,
};
use crate::integration::Integration;
use crate::labels::{
    HIBERNATION_EXCLUDE_ANNOTATION, SAVED_REPLICAS_ANNOTATION, SLEPT_BY_ANNOTATION, TENANT_LABEL,
};
use crate::machine::Phase as _;
use crate::view::{Object, ObjectRef, Observed as _, Snapshot, SupervisorId, Typed};

/// A supervisor of either scope, as the view holds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Supervisor<'a> {
    /// One namespace's.
    Namespaced(&'a ResourceSupervisor),
    /// Selected namespaces'.
    Cluster(&'a ClusterResourceSupervisor),
}

impl<'a> Supervisor<'a> {
    /// The supervisor `id` names, if the view holds it.
    #[must_use]
    pub fn find(snapshot: &'a Snapshot, id: &SupervisorId) -> Option<Supervisor<'a>> {
        match id {
            SupervisorId::Namespaced { namespace, name } => {
                snapshot.get(namespace, name).map(Supervisor::Namespaced)
            }
            SupervisorId::Cluster { name } => snapshot.get("", name).map(Supervisor::Cluster),
        }
    }

    /// Which supervisor this is.
    #[must_use]
    pub fn id(&self) -> SupervisorId {
        let name = self.meta().name.clone().unwrap_or_default();
        match self {
            Supervisor::Namespaced(s) => SupervisorId::Namespaced {
                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                name,
            },
            Supervisor::Cluster(_) => SupervisorId::Cluster { name },
        }
    }

    /// Its key ([`SupervisorId::key`]): what the workloads it put to sleep
    /// name in their slept-by annotation.
    #[must_use]
    pub fn key(&self) -> String {
        self.id().key()
    }

    /// Its metadata.
    #[must_use]
    pub fn meta(&self) -> &'a ObjectMeta {
        match self {
            Supervisor::Namespaced(s) => &s.metadata,
            Supervisor::Cluster(s) => &s.metadata,
        }
    }

    /// Its schedule.
    #[must_use]
    pub fn schedule(&self) -> &'a SleepSchedule {
        match self {
            Supervisor::Namespaced(s) => &s.spec.schedule,
            Supervisor::Cluster(s) => &s.spec.schedule,
        }
    }

    /// Its status.
    #[must_use]
    pub fn status(&self) -> Option<&'a ResourceSupervisorStatus> {
        match self {
            Supervisor::Namespaced(s) => s.status.as_ref(),
            Supervisor::Cluster(s) => s.status.as_ref(),
        }
    }

    /// The phase its status records.
    #[must_use]
    pub fn phase(&self) -> SupervisorPhase {
        self.status()
            .and_then(|s| s.current_status.as_deref())
            .and_then(SupervisorPhase::from_name)
            .unwrap_or(SupervisorPhase::Awake)
    }

    /// The object with only its name and `status`: the body of a status write.
    #[must_use]
    pub fn with_status(&self, status: ResourceSupervisorStatus) -> Object {
        match self {
            Supervisor::Namespaced(s) => {
                let mut object = ResourceSupervisor::new(
                    s.metadata.name.as_deref().unwrap_or_default(),
                    Default::default(),
                );
                object.metadata.namespace.clone_from(&s.metadata.namespace);
                object.status = Some(status);
                object.into()
            }
            Supervisor::Cluster(s) => {
                let mut object = ClusterResourceSupervisor::new(
                    s.metadata.name.as_deref().unwrap_or_default(),
                    Default::default(),
                );
                object.status = Some(status);
                object.into()
            }
        }
    }
}

/// A workload as a supervisor sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload<'a> {
    /// Which one.
    pub reference: ObjectRef,
    /// `spec.replicas` (1 when unset, as Kubernetes defaults it).
    pub replicas: i32,
    /// Its metadata.
    pub meta: &'a ObjectMeta,
}

impl Workload<'_> {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.meta.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// The supervisor that put it to sleep, if asleep.
    #[must_use]
    pub fn slept_by(&self) -> Option<&str> {
        self.annotation(SLEPT_BY_ANNOTATION)
    }

    /// The count it wakes with, if asleep. An unreadable count is kept as
    /// `None`: such a workload is woken to its current count, never to a
    /// guess.
    #[must_use]
    pub fn saved_replicas(&self) -> Option<i32> {
        self.annotation(SAVED_REPLICAS_ANNOTATION)?.parse().ok()
    }

    /// Whether it is annotated never to sleep.
    #[must_use]
    pub fn excluded(&self) -> bool {
        self.annotation(HIBERNATION_EXCLUDE_ANNOTATION) == Some("true")
    }
}

/// A kind of workload a supervisor scales.
pub trait Scaled: Typed {
    /// `spec.replicas`, 1 when unset as Kubernetes defaults it.
    fn replicas(&self) -> i32;
}

impl Scaled for Deployment {
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
}

impl Scaled for StatefulSet {
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
}

/// Reads an object as a workload.
#[must_use]
pub fn workload<K: Scaled>(object: &K) -> Workload<'_> {
    Workload {
        reference: ObjectRef::of::<K>(object.meta()),
        replicas: object.replicas(),
        meta: object.meta(),
    }
}

/// What a supervisor decision reads: the namespaces and workloads.
pub trait WorkloadView {
    /// The integration config (privileged namespaces are never supervised).
    fn integration(&self) -> &Integration;
    /// Names of the namespaces the supervisor covers that exist, are not
    /// terminating and are not excluded.
    fn supervised_namespaces(&self, supervisor: &Supervisor<'_>) -> BTreeSet<String>;
    /// The workloads in a namespace.
    fn workloads_in(&self, namespace: &str) -> Vec<Workload<'_>>;
    /// Every workload the supervisor (by key) put to sleep, wherever it is now.
    fn workloads_slept_by(&self, supervisor: &str) -> Vec<Workload<'_>>;
}

impl WorkloadView for Snapshot {
    fn integration(&self) -> &Integration {
        crate::view::Observed::integration(self)
    }

    fn supervised_namespaces(&self, supervisor: &Supervisor<'_>) -> BTreeSet<String> {
        // A namespace annotated `hibernation.stakater.com/exclude: "true"`
        // never sleeps, whoever selects it.
        let eligible = |ns: &Namespace| {
            ns.metadata.deletion_timestamp.is_none()
                && ns
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(HIBERNATION_EXCLUDE_ANNOTATION))
                    .is_none_or(|v| v != "true")
        };
        let live = |name: &str| self.namespace(name).is_some_and(eligible);
        match supervisor {
            Supervisor::Namespaced(s) => s
                .metadata
                .namespace
                .iter()
                .filter(|n| live(n))
                .cloned()
                .collect(),
            Supervisor::Cluster(s) => {
                let selection = &s.spec.namespaces;
                let mut out: BTreeSet<String> = selection
                    .names
                    .iter()
                    .filter(|n| live(n))
                    .cloned()
                    .collect();
                if let Some(selector) = &selection.label_selector {
                    let selected = |ns: &Namespace| {
                        eligible(ns)
                            && crate::selector::matches(selector, ns.metadata.labels.as_ref())
                    };
                    // A tenant's supervisor selects by the tenant label, which
                    // the view indexes: no need to look at every namespace.
                    match selector
                        .match_labels
                        .as_ref()
                        .and_then(|l| l.get(TENANT_LABEL))
                    {
                        Some(tenant) => out.extend(
                            self.tenant_namespaces(tenant)
                                .filter(|name| self.namespace(name).is_some_and(selected))
                                .map(str::to_owned),
                        ),
                        None => out.extend(
                            self.shelf::<Namespace>()
                                .iter()
                                .filter(|ns| selected(ns))
                                .filter_map(|ns| ns.metadata.name.clone()),
                        ),
                    }
                }
                out
            }
        }
    }

    fn workloads_in(&self, namespace: &str) -> Vec<Workload<'_>> {
        let deployments = self
            .shelf::<Deployment>()
            .in_namespace(namespace)
            .map(|d| workload(&**d));
        let stateful_sets = self
            .shelf::<StatefulSet>()
            .in_namespace(namespace)
            .map(|s| workload(&**s));
        deployments.chain(stateful_sets).collect()
    }

    fn workloads_slept_by(&self, supervisor: &str) -> Vec<Workload<'_>> {
        self.slept_by(supervisor)
            .filter_map(|w| {
                let ns = w.namespace.as_deref().unwrap_or_default();
                match &w.kind {
                    crate::view::Kind::Deployment => {
                        self.get::<Deployment>(ns, &w.name).map(workload)
                    }
                    crate::view::Kind::StatefulSet => {
                        self.get::<StatefulSet>(ns, &w.name).map(workload)
                    }
                    _ => None,
                }
            })
            .collect()
    }
}
