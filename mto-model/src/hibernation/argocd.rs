//! Argo CD must not undo a sleep: while a ClusterResourceSupervisor with
//! `spec.argocd` keeps its workloads asleep, each AppProject it names
//! holds mto's deny sync window ([`SyncWindowEdit`]), so automated sync and
//! self-heal leave the scaled-down workloads alone; when they wake, or the
//! supervisor goes, the window is lifted.

use std::collections::BTreeSet;

use crate::action::{Action, Patch, Reason, SyncWindowEdit};
use crate::view::{Gvk, Kind, ObjectRef};

use super::{Supervisor, Wakefulness};

/// The AppProjects' group, version and kind.
#[must_use]
pub fn app_project_kind() -> Kind {
    Kind::Dynamic(Gvk {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        kind: "AppProject".into(),
    })
}

/// The windows to add before the workloads sleep, to lift after they wake,
/// and the projects paused once both land.
pub(super) struct SyncPauses {
    /// Added before any workload is scaled down.
    pub(super) pause: Vec<Action>,
    /// Lifted after every workload is back.
    pub(super) resume: Vec<Action>,
    /// `namespace/name` of the projects holding the window afterwards.
    pub(super) paused: Vec<String>,
}

impl SyncPauses {
    pub(super) fn plan(
        supervisor: &Supervisor<'_>,
        desired: Wakefulness,
        deleting: bool,
    ) -> SyncPauses {
        let named: BTreeSet<String> = match supervisor {
            Supervisor::Cluster(s) => s
                .spec
                .argocd
                .iter()
                .flat_map(|a| {
                    a.app_projects
                        .iter()
                        .map(|p| format!("{}/{p}", a.namespace))
                })
                .collect(),
            Supervisor::Namespaced(_) => BTreeSet::new(),
        };
        let was: BTreeSet<String> = supervisor
            .status()
            .map(|s| s.paused_app_projects.iter().cloned().collect())
            .unwrap_or_default();
        let want = if desired == Wakefulness::Asleep && !deleting {
            named
        } else {
            BTreeSet::new()
        };
        let edit = |project: &String, add: bool| {
            let (namespace, name) = project.split_once('/').unwrap_or(("", project));
            Action::Patch {
                target: ObjectRef {
                    kind: app_project_kind(),
                    namespace: Some(namespace.to_owned()),
                    name: name.to_owned(),
                },
                patch: Patch::SyncWindow(SyncWindowEdit { add }),
                reason: if add {
                    Reason::PauseSync
                } else {
                    Reason::ResumeSync
                },
            }
        };
        // A project already paused is not read again: mto does not watch
        // AppProjects, so a window removed by hand comes back at the next
        // sleep, not at once.
        SyncPauses {
            pause: want
                .iter()
                .filter(|p| !was.contains(*p))
                .map(|p| edit(p, true))
                .collect(),
            resume: was.difference(&want).map(|p| edit(p, false)).collect(),
            paused: want.into_iter().collect(),
        }
    }
}
