//! Decisions are values: what a controller wants done, for the runtime or
//! the simulator to carry out.
//!
//! Actions are executed in order; the first one that fails stops the rest,
//! and the controller decides again from a fresh observation. Planners rely
//! on this: a finalizer comes before anything it guards, quota shrinks
//! before grows, and the status write comes last so it never claims more
//! than was done.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value, json};

use crate::Timestamp;
pub use crate::view::{Kind, Object, ObjectRef};

/// Why an action is taken; shown in events, the journal and the sim timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The object does not exist yet.
    Create,
    /// The object differs from what is asked for.
    Drift,
    /// The object is no longer asked for.
    Remove,
    /// The tenant is being deleted and asked for its namespaces to be purged.
    Purge,
    /// The tenant no longer claims the namespace; it is kept, unlabelled.
    Release,
    /// mto's finalizer goes on, so mto cleans up before the object goes.
    AddFinalizer,
    /// mto's finalizer comes off: everything it guarded is done.
    RemoveFinalizer,
    /// A workload goes to sleep, its count saved beside it.
    Sleep,
    /// A workload wakes to its saved count.
    Wake,
    /// A manual override of a supervisor's schedule has run out.
    EndOverride,
    /// Argo CD's automated sync of a project is held while its workloads sleep.
    PauseSync,
    /// Argo CD's automated sync of a project resumes after they wake.
    ResumeSync,
}

impl Reason {
    /// The reason as an event reason (`CamelCase`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Reason::Create => "Create",
            Reason::Drift => "Drift",
            Reason::Remove => "Remove",
            Reason::Purge => "Purge",
            Reason::Release => "Release",
            Reason::AddFinalizer => "AddFinalizer",
            Reason::RemoveFinalizer => "RemoveFinalizer",
            Reason::Sleep => "Sleep",
            Reason::Wake => "Wake",
            Reason::EndOverride => "EndOverride",
            Reason::PauseSync => "PauseSync",
            Reason::ResumeSync => "ResumeSync",
        }
    }
}

/// A patch of the few fields mto patches rather than applies. Built once,
/// here; the runtime sends its JSON, the in-memory apiserver applies it
/// field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Patch {
    /// A JSON merge patch.
    Merge(MergePatch),
    /// A finalizer added or removed.
    Finalizer(FinalizerEdit),
    /// mto's deny sync window added to or removed from an Argo CD AppProject.
    SyncWindow(SyncWindowEdit),
}

/// mto's deny sync window in an Argo CD AppProject, added while a
/// supervisor naming the project keeps its workloads asleep, so that
/// Argo CD's automated sync and self-heal do not scale them back up
/// (manual syncs stay allowed), and removed when they wake.
///
/// Applied by reading the project and replacing it at the version read:
/// `spec.syncWindows` is one list the apiserver cannot merge, and the
/// project's other windows are its owners'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncWindowEdit {
    /// Add the window (`true`) or remove it.
    pub add: bool,
}

impl SyncWindowEdit {
    /// The window: always open, every application of the project.
    #[must_use]
    pub fn window() -> Value {
        json!({
            "kind": "deny",
            "schedule": "* * * * *",
            "duration": "1h",
            "applications": ["*"],
            "manualSync": true,
        })
    }

    /// Edits an AppProject (as JSON); whether it changed. Idempotent: the
    /// window is added once and every copy of it is removed.
    pub fn apply(&self, project: &mut Value) -> bool {
        let window = SyncWindowEdit::window();
        let Some(spec) = project.get_mut("spec").and_then(Value::as_object_mut) else {
            if !self.add {
                return false;
            }
            if let Some(root) = project.as_object_mut() {
                root.insert("spec".into(), json!({ "syncWindows": [window] }));
                return true;
            }
            return false;
        };
        let windows = spec.entry("syncWindows").or_insert_with(|| json!([]));
        if !windows.is_array() {
            *windows = json!([]);
        }
        let Some(list) = windows.as_array_mut() else {
            return false;
        };
        let present = list.contains(&window);
        match (self.add, present) {
            (true, false) => {
                list.push(window);
                true
            }
            (false, true) => {
                list.retain(|w| *w != window);
                true
            }
            _ => false,
        }
    }
}

/// A JSON merge patch (RFC 7386): labels and annotations mto does not
/// own, and a workload's replica count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergePatch {
    /// Labels to set (`Some`) or remove (`None`).
    pub labels: BTreeMap<String, Option<String>>,
    /// Annotations to set or remove.
    pub annotations: BTreeMap<String, Option<String>>,
    /// `spec.replicas`.
    pub replicas: Option<i32>,
    /// Only if the object is still at this version: a compare-and-swap,
    /// so a concurrent change is a conflict, retried from a fresh
    /// observation, never lost.
    pub resource_version: Option<String>,
}

impl Patch {
    /// The merge patch, if it is one.
    #[must_use]
    pub fn merge(&self) -> Option<&MergePatch> {
        match self {
            Patch::Merge(p) => Some(p),
            Patch::Finalizer(_) | Patch::SyncWindow(_) => None,
        }
    }
}

impl MergePatch {
    /// The patch as the apiserver takes it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut metadata = Map::new();
        let map = |m: &BTreeMap<String, Option<String>>| -> Value {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
                .collect::<Map<String, Value>>()
                .into()
        };
        if !self.labels.is_empty() {
            metadata.insert("labels".into(), map(&self.labels));
        }
        if !self.annotations.is_empty() {
            metadata.insert("annotations".into(), map(&self.annotations));
        }
        if let Some(rv) = &self.resource_version {
            metadata.insert("resourceVersion".into(), json!(rv));
        }
        let mut patch = Map::new();
        if !metadata.is_empty() {
            patch.insert("metadata".into(), metadata.into());
        }
        if let Some(replicas) = self.replicas {
            patch.insert("spec".into(), json!({ "replicas": replicas }));
        }
        patch.into()
    }
}

/// mto's finalizer added to or removed from an object, guarded by the
/// finalizer list observed, as a JSON patch with a `test` (kube-runtime's
/// way): a concurrent change of the list is a conflict, retried from a
/// fresh observation, while other writes to the object in between (its
/// status) are not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizerEdit {
    /// The finalizer.
    pub finalizer: String,
    /// Added (else removed).
    pub add: bool,
    /// The list as observed.
    pub observed: Vec<String>,
}

impl FinalizerEdit {
    /// `finalizer` added to or removed from `meta`'s list; `None` when it
    /// already is so.
    #[must_use]
    pub fn of(meta: &ObjectMeta, finalizer: &str, add: bool) -> Option<FinalizerEdit> {
        let observed = meta.finalizers.clone().unwrap_or_default();
        let has = observed.iter().any(|f| f == finalizer);
        (has != add).then(|| FinalizerEdit {
            finalizer: finalizer.to_owned(),
            add,
            observed,
        })
    }

    /// The JSON patch (RFC 6902) the apiserver takes.
    #[must_use]
    pub fn to_json_patch(&self) -> Value {
        if self.add {
            if self.observed.is_empty() {
                json!([
                    {"op": "test", "path": "/metadata/finalizers", "value": null},
                    {"op": "add", "path": "/metadata/finalizers", "value": [self.finalizer]},
                ])
            } else {
                json!([
                    {"op": "test", "path": "/metadata/finalizers", "value": self.observed},
                    {"op": "add", "path": "/metadata/finalizers/-", "value": self.finalizer},
                ])
            }
        } else {
            let at = self
                .observed
                .iter()
                .position(|f| *f == self.finalizer)
                .unwrap_or_default();
            let path = format!("/metadata/finalizers/{at}");
            json!([
                {"op": "test", "path": path, "value": self.finalizer},
                {"op": "remove", "path": path},
            ])
        }
    }

    /// The list after the edit, if `current` still passes its test.
    #[must_use]
    pub fn apply(&self, current: &[String]) -> Option<Vec<String>> {
        let mut next = current.to_vec();
        if self.add {
            if current != self.observed.as_slice() {
                return None;
            }
            next.push(self.finalizer.clone());
        } else {
            let at = self.observed.iter().position(|f| *f == self.finalizer)?;
            if current.get(at) != Some(&self.finalizer) {
                return None;
            }
            next.remove(at);
        }
        Some(next)
    }
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Server-side apply of `object` with field manager
    /// [`crate::labels::FIELD_MANAGER`], forced: fields mto set before and
    /// leaves out now are removed.
    Apply {
        /// The object, with only mto's fields.
        object: Object,
        /// Why.
        reason: Reason,
    },
    /// Server-side apply of an object's status subresource.
    ApplyStatus {
        /// The object: its name and its whole new status.
        object: Object,
    },
    /// Delete an object, only if it is still the one observed (`uid`).
    Delete {
        /// The object.
        target: ObjectRef,
        /// Its uid when observed; the delete is a no-op on any other object.
        uid: Option<String>,
        /// Why.
        reason: Reason,
    },
    /// A patch.
    Patch {
        /// The object.
        target: ObjectRef,
        /// What to change.
        patch: Patch,
        /// Why.
        reason: Reason,
    },
    /// Render a Helm chart: I/O outside the apiserver (the operator runs
    /// `helm template`, the simulator has its charts). The rendering, or
    /// why there is none, comes back into the view as an observation, and
    /// the instances of its Template decide again.
    RenderChart {
        /// What to render.
        request: Box<crate::template::ChartRequest>,
        /// The instance that asks.
        regarding: ObjectRef,
    },
    /// A call to Vault: I/O outside the apiserver (the operator talks to
    /// Vault's HTTP API, the simulator to its Vault). A reading comes back
    /// into the view as an observation; a write updates it.
    Vault {
        /// The call.
        call: crate::vault::VaultCall,
        /// The IntegrationConfig that asks.
        regarding: ObjectRef,
    },
}

impl Action {
    /// Whether this action changes something other than status.
    #[must_use]
    pub fn is_object_write(&self) -> bool {
        match self {
            Action::ApplyStatus { .. } | Action::RenderChart { .. } => false,
            Action::Vault { call, .. } => call.is_write(),
            Action::Apply { .. } | Action::Delete { .. } | Action::Patch { .. } => true,
        }
    }

    /// Whether this action goes to the apiserver.
    #[must_use]
    pub fn is_api_call(&self) -> bool {
        !matches!(self, Action::RenderChart { .. } | Action::Vault { .. })
    }

    /// The object it writes.
    #[must_use]
    pub fn target(&self) -> ObjectRef {
        match self {
            Action::Apply { object, .. } | Action::ApplyStatus { object } => object.object_ref(),
            Action::Delete { target, .. } | Action::Patch { target, .. } => target.clone(),
            Action::RenderChart { regarding, .. } | Action::Vault { regarding, .. } => {
                regarding.clone()
            }
        }
    }

    /// Why, when it is more than a status write.
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Action::Apply { reason, .. }
            | Action::Delete { reason, .. }
            | Action::Patch { reason, .. } => Some(*reason),
            Action::ApplyStatus { .. } | Action::RenderChart { .. } => None,
            Action::Vault { call, .. } => call.reason(),
        }
    }

    /// `apply`, `status`, `delete` or `patch`: the API verb, for metrics.
    #[must_use]
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Apply { .. } => "apply",
            Action::ApplyStatus { .. } => "status",
            Action::Delete { .. } => "delete",
            Action::Patch { .. } => "patch",
            Action::RenderChart { .. } => "render",
            Action::Vault { .. } => "vault",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Apply { object, reason } => {
                write!(f, "apply {} ({})", object.object_ref(), reason.name())
            }
            Action::ApplyStatus { object } => {
                write!(f, "status of {}", object.object_ref())?;
                if let Some(phase) = status_phase(object) {
                    write!(f, ": {phase}")?;
                }
                Ok(())
            }
            Action::Delete { target, reason, .. } => {
                write!(f, "delete {target} ({})", reason.name())
            }
            Action::RenderChart { request, .. } => write!(f, "render {request}"),
            Action::Vault { call, .. } => write!(f, "{call}"),
            Action::Patch {
                target,
                patch,
                reason,
            } => match reason {
                Reason::AddFinalizer => write!(f, "add finalizer to {target}"),
                Reason::RemoveFinalizer => write!(f, "remove finalizer from {target}"),
                Reason::Sleep => write!(
                    f,
                    "sleep {target} (saving {} replicas)",
                    patch
                        .merge()
                        .and_then(|p| p.annotations.get(crate::labels::SAVED_REPLICAS_ANNOTATION))
                        .cloned()
                        .flatten()
                        .unwrap_or_default()
                ),
                Reason::Wake => write!(
                    f,
                    "wake {target} to {} replicas",
                    patch.merge().and_then(|p| p.replicas).unwrap_or_default()
                ),
                Reason::EndOverride => write!(f, "end the override of {target}"),
                Reason::PauseSync => write!(f, "pause Argo CD's automated sync in {target}"),
                Reason::ResumeSync => write!(f, "resume Argo CD's automated sync in {target}"),
                other => {
                    let removed: Vec<&str> = patch
                        .merge()
                        .into_iter()
                        .flat_map(|p| &p.labels)
                        .filter(|(_, v)| v.is_none())
                        .map(|(k, _)| k.as_str())
                        .collect();
                    if removed.is_empty() {
                        write!(f, "patch {target} ({})", other.name())
                    } else {
                        write!(
                            f,
                            "remove labels {} from {target} ({})",
                            removed.join(","),
                            other.name()
                        )
                    }
                }
            },
        }
    }
}

/// The phase a status write records, for people.
fn status_phase(object: &Object) -> Option<&str> {
    match object {
        Object::Tenant(t) => t.status.as_ref()?.phase.as_deref(),
        Object::ResourceSupervisor(s) => s.status.as_ref()?.current_status.as_deref(),
        Object::ClusterResourceSupervisor(s) => s.status.as_ref()?.current_status.as_deref(),
        _ => None,
    }
}

/// A notable thing to tell users through a Kubernetes Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The object the event is about.
    pub regarding: ObjectRef,
    /// `Normal` or `Warning`.
    pub warning: bool,
    /// A `CamelCase` reason (`NamespaceConflict`).
    pub reason: String,
    /// A sentence for people.
    pub message: String,
}

/// When a controller decides again about an object even if nothing it
/// reads changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Requeue {
    /// Only when something it reads changes.
    #[default]
    OnChange,
    /// After this long (waiting on something that sends no event).
    After(Duration),
    /// At this instant (the next turn of a schedule).
    At(Timestamp),
}

impl Requeue {
    /// The instant to decide again, from `now`.
    #[must_use]
    pub fn at(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Requeue::OnChange => None,
            Requeue::After(d) => Some(crate::time::after(now, d)),
            Requeue::At(t) => Some(t),
        }
    }
}

/// What a controller decided about one object.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<P> {
    /// The phase its status recorded when observed.
    pub from: P,
    /// The phase while these actions run (the one it rests in when there
    /// are none).
    pub phase: P,
    /// What to do, in order; empty at steady state.
    pub actions: Vec<Action>,
    /// What to tell users.
    pub events: Vec<Event>,
    /// When to decide again even if nothing changes.
    pub requeue: Requeue,
}

impl<P> Decision<P> {
    /// Whether the cluster already matches (no writes at all).
    #[must_use]
    pub fn is_steady(&self) -> bool {
        self.actions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finalizer_edit_tests_the_list_it_observed() {
        let meta = |f: &[&str]| ObjectMeta {
            finalizers: Some(f.iter().map(|s| (*s).to_owned()).collect()),
            ..Default::default()
        };
        let add = FinalizerEdit::of(&meta(&["other"]), "mine", true).expect("an edit");
        assert_eq!(
            add.to_json_patch(),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "mine"},
            ])
        );
        assert_eq!(
            add.apply(&["other".into()]),
            Some(vec!["other".into(), "mine".into()])
        );
        assert_eq!(add.apply(&[]), None, "the list changed since");
        let first = FinalizerEdit::of(&ObjectMeta::default(), "mine", true).expect("an edit");
        assert_eq!(
            first.to_json_patch(),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["mine"]},
            ])
        );
        assert_eq!(
            FinalizerEdit::of(&meta(&["other"]), "mine", false),
            None,
            "not there"
        );
        assert_eq!(
            FinalizerEdit::of(&meta(&["mine"]), "mine", true),
            None,
            "already there"
        );
        let remove = FinalizerEdit::of(&meta(&["a", "mine"]), "mine", false).expect("an edit");
        assert_eq!(
            remove.to_json_patch(),
            json!([
                {"op": "test", "path": "/metadata/finalizers/1", "value": "mine"},
                {"op": "remove", "path": "/metadata/finalizers/1"},
            ])
        );
        assert_eq!(
            remove.apply(&["a".into(), "mine".into(), "b".into()]),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(remove.apply(&["mine".into()]), None, "moved since");
    }

    #[test]
    fn a_patch_nulls_what_it_removes() {
        let patch = MergePatch {
            labels: [
                ("a".to_owned(), None),
                ("b".to_owned(), Some("1".to_owned())),
            ]
            .into(),
            replicas: Some(0),
            ..MergePatch::default()
        };
        assert_eq!(
            patch.to_json(),
            json!({"metadata": {"labels": {"a": null, "b": "1"}}, "spec": {"replicas": 0}})
        );
    }
}
