//! Quotas: read by the tenants naming them.

use crate::api::{Quota, Tenant};
use crate::view::{Snapshot, Typed, Woken};

impl Typed for Quota {
    const GENERATION: bool = true;

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        let name = self.metadata.name.as_deref();
        for tenant in snapshot.shelf::<Tenant>().iter() {
            if tenant.spec.quota.as_deref() == name {
                woken.tenant(tenant.metadata.name.as_deref().unwrap_or_default());
            }
        }
    }

    fn spec_changed(before: &Quota, after: &Quota) -> bool {
        before.spec != after.spec
    }
}
