//! StatefulSets: workloads supervisors put to sleep.

use k8s_openapi::api::apps::v1::StatefulSet;

use crate::view::{Indexes, Objects, Snapshot, Typed, Woken};

impl Typed for StatefulSet {
    fn same_readers(before: &Self, after: &Self) -> bool {
        super::slept_by(&before.metadata) == super::slept_by(&after.metadata)
    }

    const GENERATION: bool = true;

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        super::workload_readers(&self.metadata, snapshot, woken);
    }

    fn reindex(indexes: &mut Indexes, _: &Objects, before: Option<&Self>, after: Option<&Self>) {
        super::workload_reindex::<Self>(
            indexes,
            before.map(|b| &b.metadata),
            after.map(|a| &a.metadata),
        );
    }

    /// As for Deployments: metadata and the replica count are what is read.
    fn slim(&mut self) {
        super::slim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.template = Default::default();
            spec.volume_claim_templates = None;
        }
        self.status = None;
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    fn keep_status(current: &Self, written: &mut Self) {
        written.status.clone_from(&current.status);
    }

    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        Some(&mut self.spec.get_or_insert_with(Default::default).replicas)
    }
}
