//! Deployments: workloads supervisors put to sleep.

use k8s_openapi::api::apps::v1::Deployment;

use crate::view::{Indexes, Objects, Snapshot, Typed, Woken};

impl Typed for Deployment {
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

    /// A supervisor reads a workload's metadata and replica count, never
    /// its pod template and status, which are most of its size.
    /// The console mto deploys keeps its status: the pilot reads whether
    /// its pods are available.
    fn slim(&mut self) {
        super::slim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.template = Default::default();
        }
        if crate::labels::component_of(&self.metadata).is_none() {
            self.status = None;
        }
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();

    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        Some(&mut self.spec.get_or_insert_with(Default::default).replicas)
    }
}
