//! Decisions are values: what a controller wants done, for the runtime or the
//! simulator to carry out.
//!
//! Actions are executed in order; the first one that fails stops the rest,
//! and the controller decides again from a fresh observation. Planners rely
//! on this: a finalizer comes before anything it guards, quota shrinks
//! before grows, and the status write comes last so it never claims more
//! than was done.

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;

use crate::api::TenantStatus;

/// A kind of object mto reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `v1/Namespace`, cluster-scoped.
    Namespace,
    /// `rbac.authorization.k8s.io/v1/RoleBinding`.
    RoleBinding,
    /// `v1/ResourceQuota`.
    ResourceQuota,
    /// `v1/LimitRange`.
    LimitRange,
    /// `tenantoperator.stakater.com/v1beta3/Tenant`, cluster-scoped.
    Tenant,
    /// `tenantoperator.stakater.com/v1beta1/Quota`, cluster-scoped.
    Quota,
    /// `tenantoperator.stakater.com/v1beta1/IntegrationConfig`.
    IntegrationConfig,
    /// `hibernation.stakater.com/v1beta1/ClusterResourceSupervisor`,
    /// cluster-scoped: the one a tenant's `spec.hibernation` asks for.
    ClusterResourceSupervisor,
}

impl Kind {
    /// The kind's name as Kubernetes spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::RoleBinding => "RoleBinding",
            Kind::ResourceQuota => "ResourceQuota",
            Kind::LimitRange => "LimitRange",
            Kind::Tenant => "Tenant",
            Kind::Quota => "Quota",
            Kind::IntegrationConfig => "IntegrationConfig",
            Kind::ClusterResourceSupervisor => "ClusterResourceSupervisor",
        }
    }
}

/// Which object: kind, namespace (for namespaced kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped object.
    #[must_use]
    pub fn cluster(kind: Kind, name: impl Into<String>) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced object.
    #[must_use]
    pub fn namespaced(
        kind: Kind,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.name(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.name(), self.name),
        }
    }
}

/// An object mto applies: only the fields mto owns are set.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// A tenant namespace.
    Namespace(Namespace),
    /// Access for a tenant role in one namespace.
    RoleBinding(RoleBinding),
    /// A namespace's share of the tenant's quota.
    ResourceQuota(ResourceQuota),
    /// Default container limits.
    LimitRange(LimitRange),
    /// The sleep schedule of a tenant's `spec.hibernation`.
    ClusterResourceSupervisor(crate::api::ClusterResourceSupervisor),
}

impl Resource {
    /// Which object this is.
    #[must_use]
    pub fn object_ref(&self) -> ObjectRef {
        let (kind, meta) = match self {
            Resource::Namespace(o) => (Kind::Namespace, &o.metadata),
            Resource::RoleBinding(o) => (Kind::RoleBinding, &o.metadata),
            Resource::ResourceQuota(o) => (Kind::ResourceQuota, &o.metadata),
            Resource::LimitRange(o) => (Kind::LimitRange, &o.metadata),
            Resource::ClusterResourceSupervisor(o) => {
                (Kind::ClusterResourceSupervisor, &o.metadata)
            }
        };
        ObjectRef {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// Why an action is taken; shown in events, the journal and the sim timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The object does not exist yet.
    Create,
    /// The object differs from what the tenant asks for.
    Drift,
    /// The object is no longer asked for.
    Remove,
    /// The tenant is being deleted and asked for its namespaces to be purged.
    Purge,
    /// The tenant no longer claims the namespace; it is kept, unlabelled.
    Release,
}

impl Reason {
    /// The reason as an event reason (`CamelCase`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Reason::Create => "Create",
            Reason::Drift => "Drift",
            Reason::Remove => "Remove",
            Reason::Purge => "Purge",
            Reason::Release => "Release",
        }
    }
}

/// One thing to do.
// Most actions are applies; boxing the object would cost every one of them
// an allocation to shrink the rare small variants.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Server-side apply of `object` with field manager [`crate::labels::FIELD_MANAGER`]:
    /// fields mto set before and leaves out now are removed.
    Apply {
        /// The object, with only mto's fields.
        object: Resource,
        /// Why.
        reason: Reason,
    },
    /// Delete an object, only if it is still the one observed (`uid`).
    Delete {
        /// The object.
        target: ObjectRef,
        /// Its uid when observed; the delete is a no-op on any other object.
        uid: Option<String>,
        /// Why.
        reason: Reason,
    },
    /// Remove labels mto does not own (a merge patch setting them to null):
    /// the tenant label of a namespace labelled by someone else, when its
    /// tenant is deleted.
    RemoveLabels {
        /// The object.
        target: ObjectRef,
        /// The label keys.
        keys: Vec<String>,
        /// Why.
        reason: Reason,
    },
    /// Add mto's finalizer to the tenant.
    AddFinalizer {
        /// The tenant.
        tenant: String,
    },
    /// Remove mto's finalizer from the tenant, letting it go.
    RemoveFinalizer {
        /// The tenant.
        tenant: String,
    },
    /// Write the tenant's status subresource.
    UpdateTenantStatus {
        /// The tenant.
        tenant: String,
        /// The whole new status.
        status: TenantStatus,
    },
}

impl Action {
    /// Whether this action changes something other than status.
    #[must_use]
    pub fn is_object_write(&self) -> bool {
        !matches!(self, Action::UpdateTenantStatus { .. })
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Apply { object, reason } => {
                write!(f, "apply {} ({})", object.object_ref(), reason.name())
            }
            Action::Delete { target, reason, .. } => {
                write!(f, "delete {target} ({})", reason.name())
            }
            Action::RemoveLabels {
                target,
                keys,
                reason,
            } => write!(
                f,
                "remove labels {} from {target} ({})",
                keys.join(","),
                reason.name()
            ),
            Action::AddFinalizer { tenant } => write!(f, "add finalizer to Tenant/{tenant}"),
            Action::RemoveFinalizer { tenant } => {
                write!(f, "remove finalizer from Tenant/{tenant}")
            }
            Action::UpdateTenantStatus { tenant, status } => {
                write!(
                    f,
                    "status of Tenant/{tenant}: {}",
                    status.phase.as_deref().unwrap_or("-")
                )
            }
        }
    }
}

/// A notable thing to tell users through a Kubernetes Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The object the event is about.
    pub regarding: ObjectRef,
    /// `Normal` or `Warning`.
    pub warning: bool,
    /// A `CamelCase` reason (`NamespaceConflict`).
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}
