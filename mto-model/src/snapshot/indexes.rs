//! What the snapshot derives from its objects to answer quickly.

use std::collections::{BTreeMap, BTreeSet};

use crate::hibernation::Supervisor;
use crate::labels::TENANT_LABEL;

/// Which ClusterResourceSupervisors may cover a namespace, by key: those
/// naming it, those whose selector names a tenant (`stakater.com/tenant`,
/// as a tenant's `spec.hibernation` does), and the other selectors, which
/// are matched one by one.
#[derive(Clone, Debug, Default)]
pub(super) struct Coverage {
    pub(super) by_name: BTreeMap<String, BTreeSet<String>>,
    pub(super) by_tenant: BTreeMap<String, BTreeSet<String>>,
    pub(super) other_selectors: BTreeSet<String>,
}

impl Coverage {
    /// Where a supervisor's key goes: (namespace names, tenant selector,
    /// another selector).
    fn places(supervisor: &Supervisor) -> (Vec<String>, Option<String>, bool) {
        let Supervisor::Cluster(c) = supervisor else {
            return (Vec::new(), None, false);
        };
        let selection = &c.spec.namespaces;
        let tenant = selection
            .label_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref()?.get(TENANT_LABEL).cloned());
        let other = selection.label_selector.is_some() && tenant.is_none();
        (selection.names.clone(), tenant, other)
    }

    pub(super) fn add(&mut self, key: &str, supervisor: &Supervisor) {
        let (names, tenant, other) = Self::places(supervisor);
        for name in names {
            self.by_name.entry(name).or_default().insert(key.to_owned());
        }
        if let Some(tenant) = tenant {
            self.by_tenant
                .entry(tenant)
                .or_default()
                .insert(key.to_owned());
        }
        if other {
            self.other_selectors.insert(key.to_owned());
        }
    }

    pub(super) fn remove(&mut self, key: &str, supervisor: &Supervisor) {
        let (names, tenant, _) = Self::places(supervisor);
        for name in names {
            if let Some(set) = self.by_name.get_mut(&name) {
                set.remove(key);
                if set.is_empty() {
                    self.by_name.remove(&name);
                }
            }
        }
        if let Some(tenant) = tenant
            && let Some(set) = self.by_tenant.get_mut(&tenant)
        {
            set.remove(key);
            if set.is_empty() {
                self.by_tenant.remove(&tenant);
            }
        }
        self.other_selectors.remove(key);
    }
}

/// When each tenant's inputs last changed, on a clock that ticks once per
/// change: a tenant's revision moves whenever an object its decision reads
/// does (the mapping of [`Snapshot::affected_tenants`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Revisions {
    clock: u64,
    /// When something every tenant reads (the integration config) changed.
    everyone: u64,
    tenants: BTreeMap<String, u64>,
}

impl Revisions {
    pub(super) fn touch(&mut self, tenants: impl IntoIterator<Item = String>) {
        self.clock += 1;
        for tenant in tenants {
            self.tenants.insert(tenant, self.clock);
        }
    }

    pub(super) fn touch_everyone(&mut self) {
        self.clock += 1;
        self.everyone = self.clock;
    }

    pub(super) fn of(&self, tenant: &str) -> u64 {
        self.tenants
            .get(tenant)
            .copied()
            .unwrap_or_default()
            .max(self.everyone)
    }
}
