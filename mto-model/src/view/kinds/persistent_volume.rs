//! PersistentVolumes: read by the admission webhook only, for the storage
//! class of a claim that names its volume and no class.

use k8s_openapi::api::core::v1::PersistentVolume;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for PersistentVolume {
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    /// No decision reads it.
    fn readers(&self, _: &Snapshot, _: &mut Woken) {}
}
