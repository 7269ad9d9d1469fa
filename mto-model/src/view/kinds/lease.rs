//! Leases: the operator's leader election. Not watched; read and written
//! by the replicas taking part.

use k8s_openapi::api::coordination::v1::Lease;

use crate::view::Typed;

impl Typed for Lease {
    fn apply_fields(current: &mut Lease, applied: &Lease) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }
}
