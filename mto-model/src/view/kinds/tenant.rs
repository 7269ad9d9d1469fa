//! Tenants: the subject of the tenant controller; their specs claim
//! namespaces.

use crate::api::Tenant;
use crate::claims::{TenantIntake, claims_may_differ, requested_namespaces};
use crate::view::indexes::KeptIntake;
use crate::view::{Indexes, Key, NameKey, Objects, Snapshot, Typed, Woken};

impl Typed for Tenant {
    /// Read by itself alone.
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Tenant(self.metadata.name.clone().unwrap_or_default()))
    }

    /// Spec (generation), deletion, finalizers, identity: not status.
    fn acts_on(before: &Tenant, after: &Tenant) -> bool {
        super::lifecycle_changed(&before.metadata, &after.metadata)
    }

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.tenant(self.metadata.name.as_deref().unwrap_or_default());
    }

    /// The other tenants asking for a namespace it starts or stops asking
    /// for: their claims move.
    fn moved(
        snapshot: &Snapshot,
        before: Option<&Tenant>,
        after: Option<&Tenant>,
        woken: &mut Woken,
    ) {
        if let (Some(b), Some(a)) = (before, after)
            && !claims_may_differ(b, a)
        {
            return;
        }
        for tenant in snapshot.claims_changed(before, after) {
            woken.tenant(&tenant);
        }
    }

    /// The tenant's intake, taken again when its spec may have changed
    /// (its state at every write), and the claims read from it.
    fn reindex(
        indexes: &mut Indexes,
        _: &Objects,
        before: Option<&Tenant>,
        after: Option<&Tenant>,
    ) {
        if let (Some(b), Some(a)) = (before, after)
            && !claims_may_differ(b, a)
        {
            if let Some(kept) = indexes.intakes.get_mut(&NameKey::new(
                a.metadata.name.as_deref().unwrap_or_default(),
            )) {
                kept.follow(a);
            }
            return;
        }
        if let Some(b) = before {
            let name = b.metadata.name.as_deref().unwrap_or_default();
            let asked = indexes
                .intakes
                .remove(&NameKey::new(name))
                .map_or_else(|| requested_namespaces(b), |kept| kept.intake.namespaces);
            indexes.claims.remove(b, &asked);
        }
        if let Some(a) = after {
            let intake = TenantIntake::of(a);
            indexes.claims.add(a, &intake.namespaces);
            indexes.intakes.insert(
                NameKey::new(a.metadata.name.as_deref().unwrap_or_default()),
                KeptIntake::of(intake, a),
            );
        }
    }

    fn spec_changed(before: &Tenant, after: &Tenant) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
}
