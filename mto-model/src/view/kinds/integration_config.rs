//! IntegrationConfigs: read by every decision; exactly one is used. Its
//! status is the pilot's and the Vault machine's, and wakes only them.

use crate::api::IntegrationConfig;
use crate::integration::Integration;
use crate::view::{Indexes, Key, Objects, Snapshot, Stored, Typed, Woken};

impl Typed for IntegrationConfig {
    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Pilot)
    }

    fn acts_on(before: &Self, after: &Self) -> bool {
        before.spec != after.spec || super::lifecycle_changed(&before.metadata, &after.metadata)
    }

    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.extend_subject(self.subject());
        // The pilot and the Vault machine each write their part of the
        // status and keep the other's: a status written from a stale
        // view wakes the Vault machine to put its part back.
        woken.insert(Key::Vault);
    }

    /// Everyone, when what every decision reads changes (not its status).
    fn moved(_: &Snapshot, before: Option<&Self>, after: Option<&Self>, woken: &mut Woken) {
        if before.map(|c| &c.spec) != after.map(|c| &c.spec) {
            woken.extend(Woken::everyone());
        }
    }

    fn reindex(indexes: &mut Indexes, objects: &Objects, _: Option<&Self>, _: Option<&Self>) {
        match Integration::select(IntegrationConfig::shelf(objects).iter().map(|c| &**c)) {
            Ok(integration) => {
                indexes.integration = integration;
                indexes.integration_problem = None;
            }
            Err(problem) => indexes.integration_problem = Some(problem.to_string()),
        }
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
}
