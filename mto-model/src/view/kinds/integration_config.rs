//! IntegrationConfigs: read by every decision; exactly one is used.

use crate::api::IntegrationConfig;
use crate::integration::Integration;
use crate::view::{Indexes, Objects, Snapshot, Stored, Typed, Woken};

impl Typed for IntegrationConfig {
    const GENERATION: bool = true;

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.extend(Woken::everyone());
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
}
