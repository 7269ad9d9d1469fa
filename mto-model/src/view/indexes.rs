//! What the snapshot derives from its objects to answer quickly. Each kind's
//! rules ([`super::Typed::reindex`]) keep its part true.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ClusterResourceSupervisor;
use crate::claims::{NamespaceClaims, TenantIntake};
use crate::integration::Integration;
use crate::labels::TENANT_LABEL;

use super::name_key::NameKey;
use super::{InstanceId, Kind, ObjectRef, Woken};

/// The snapshot's indexes.
#[derive(Clone, Debug, Default)]
pub struct Indexes {
    /// Namespaces by their tenant label.
    pub(crate) tenant_namespaces: BTreeMap<NameKey, BTreeSet<String>>,
    /// Who asks for which namespace, in claim order.
    pub(crate) claims: NamespaceClaims,
    /// What each tenant held asks, by tenant name.
    pub(crate) intakes: BTreeMap<NameKey, KeptIntake>,
    /// What each Quota held asks of its tenants, by Quota name.
    pub(crate) quota_intakes: BTreeMap<String, super::QuotaIntake>,
    /// The workloads each supervisor (by key) put to sleep.
    pub(crate) asleep: BTreeMap<String, BTreeSet<ObjectRef>>,
    /// Which ClusterResourceSupervisors may cover a namespace.
    pub(crate) coverage: Coverage,
    /// The integration config in force.
    pub(crate) integration: Integration,
    /// Why none is (several, or an invalid one).
    pub(crate) integration_problem: Option<String>,
    /// When each tenant's inputs last changed.
    pub(crate) revisions: Revisions,
    /// The objects each template instance deployed, by its annotation.
    pub(crate) deployed: BTreeMap<InstanceId, BTreeSet<ObjectRef>>,
    /// The Extensions objects of each tenant (by `spec.tenantName`).
    pub(crate) extensions: BTreeMap<String, BTreeSet<String>>,
    /// The kinds listed once: the view holds all their objects.
    pub(crate) listed: BTreeSet<Kind>,
    /// Every kind is complete: the snapshot is the cluster's own store.
    pub(crate) complete: bool,
}

/// A tenant's intake, kept with the address of the version of the tenant
/// it was last read from. The view holds that version until a write
/// replaces it, and the write reads the intake again
/// ([`super::Typed::reindex`]): the address held is the tenant's own, and
/// a decision knows its intake is the tenant's from one lookup, not a
/// second search among the tenants for the object itself.
#[derive(Clone, Debug)]
pub(crate) struct KeptIntake {
    pub(crate) intake: TenantIntake,
    /// The address of the tenant it was read from.
    pub(crate) of: usize,
}

impl KeptIntake {
    /// `intake`, read from `tenant`, the object the view holds.
    pub(crate) fn of(intake: TenantIntake, tenant: &crate::api::Tenant) -> KeptIntake {
        KeptIntake {
            intake,
            of: std::ptr::from_ref(tenant).addr(),
        }
    }

    /// The intake of `tenant`, a new version of the tenant it was read
    /// from with the same spec: its state read again.
    pub(crate) fn follow(&mut self, tenant: &crate::api::Tenant) {
        self.intake.state = crate::claims::TenantState::of(tenant);
        self.of = std::ptr::from_ref(tenant).addr();
    }

    /// Whether it was read from `tenant`, this very object.
    pub(crate) fn is_of(&self, tenant: &crate::api::Tenant) -> bool {
        self.of == std::ptr::from_ref(tenant).addr()
    }
}

impl Indexes {
    /// Moves `namespace` from the tenant it was labelled for to the one it is.
    pub(crate) fn relabel(&mut self, namespace: &str, before: Option<&str>, after: Option<&str>) {
        if before == after {
            return;
        }
        if let Some(tenant) = before.map(NameKey::new)
            && let Some(set) = self.tenant_namespaces.get_mut(&tenant)
        {
            set.remove(namespace);
            if set.is_empty() {
                self.tenant_namespaces.remove(&tenant);
            }
        }
        if let Some(tenant) = after {
            self.tenant_namespaces
                .entry(NameKey::new(tenant))
                .or_default()
                .insert(namespace.to_owned());
        }
    }

    /// Moves an object from the instance that deployed it before to the
    /// one after.
    pub(crate) fn redeploy(
        &mut self,
        object: &ObjectRef,
        before: Option<InstanceId>,
        after: Option<InstanceId>,
    ) {
        if before == after {
            return;
        }
        if let Some(id) = before
            && let Some(set) = self.deployed.get_mut(&id)
        {
            set.remove(object);
            if set.is_empty() {
                self.deployed.remove(&id);
            }
        }
        if let Some(id) = after {
            self.deployed.entry(id).or_default().insert(object.clone());
        }
    }

    /// Moves a workload in the sleep index from the supervisor that slept
    /// it before to the one after.
    pub(crate) fn resleep(
        &mut self,
        workload: &ObjectRef,
        before: Option<&str>,
        after: Option<&str>,
    ) {
        if before == after {
            return;
        }
        if let Some(supervisor) = before
            && let Some(set) = self.asleep.get_mut(supervisor)
        {
            set.remove(workload);
            if set.is_empty() {
                self.asleep.remove(supervisor);
            }
        }
        if let Some(supervisor) = after {
            self.asleep
                .entry(supervisor.to_owned())
                .or_default()
                .insert(workload.clone());
        }
    }
}

/// Which ClusterResourceSupervisors (by name) may cover a namespace: those
/// naming it, those whose selector names a tenant (`stakater.com/tenant`,
/// as a tenant's `spec.hibernation` does), and the other selectors, which
/// are matched one by one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) by_name: BTreeMap<String, BTreeSet<String>>,
    pub(crate) by_tenant: BTreeMap<String, BTreeSet<String>>,
    pub(crate) other_selectors: BTreeSet<String>,
}

impl Coverage {
    /// Where a supervisor goes: (namespace names, tenant selector, another
    /// selector).
    fn places(supervisor: &ClusterResourceSupervisor) -> (&[String], Option<&String>, bool) {
        let selection = &supervisor.spec.namespaces;
        let tenant = selection
            .label_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref()?.get(TENANT_LABEL));
        let other = selection.label_selector.is_some() && tenant.is_none();
        (&selection.names, tenant, other)
    }

    pub(crate) fn add(&mut self, supervisor: &ClusterResourceSupervisor) {
        let key = supervisor.metadata.name.clone().unwrap_or_default();
        let (names, tenant, other) = Self::places(supervisor);
        for name in names {
            self.by_name
                .entry(name.clone())
                .or_default()
                .insert(key.clone());
        }
        if let Some(tenant) = tenant {
            self.by_tenant
                .entry(tenant.clone())
                .or_default()
                .insert(key.clone());
        }
        if other {
            self.other_selectors.insert(key);
        }
    }

    pub(crate) fn remove(&mut self, supervisor: &ClusterResourceSupervisor) {
        let key = supervisor.metadata.name.as_deref().unwrap_or_default();
        let (names, tenant, _) = Self::places(supervisor);
        for name in names {
            if let Some(set) = self.by_name.get_mut(name) {
                set.remove(key);
                if set.is_empty() {
                    self.by_name.remove(name);
                }
            }
        }
        if let Some(tenant) = tenant
            && let Some(set) = self.by_tenant.get_mut(tenant)
        {
            set.remove(key);
            if set.is_empty() {
                self.by_tenant.remove(tenant);
            }
        }
        self.other_selectors.remove(key);
    }
}

/// When each tenant's inputs last changed, on a clock that ticks once per
/// change: a tenant's revision moves whenever an object its decision reads
/// does (the readers of each kind's rules).
#[derive(Clone, Debug, Default)]
pub(crate) struct Revisions {
    clock: u64,
    /// When something every tenant reads (the integration config) changed.
    everyone: u64,
    tenants: BTreeMap<NameKey, u64>,
}

impl Revisions {
    pub(crate) fn touch(&mut self, woken: &Woken) {
        if woken.is_empty() {
            return;
        }
        self.clock += 1;
        if woken.is_everyone() {
            self.everyone = self.clock;
        }
        for tenant in woken.tenants() {
            self.tenants.insert(NameKey::new(tenant), self.clock);
        }
    }

    pub(crate) fn of(&self, tenant: &str) -> u64 {
        self.tenants
            .get(&NameKey::new(tenant))
            .copied()
            .unwrap_or_default()
            .max(self.everyone)
    }
}
