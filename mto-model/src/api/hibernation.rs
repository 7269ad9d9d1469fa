use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Puts the workloads of its own namespace to sleep on a schedule.
///
/// Namespaced, `hibernation.stakater.com/v1beta1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "hibernation.stakater.com",
    version = "v1beta1",
    kind = "ResourceSupervisor",
    doc = "Puts the workloads of its namespace to sleep on a schedule.",
    namespaced,
    status = "ResourceSupervisorStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.currentStatus"}"#,
    printcolumn = r#"{"name":"Next","type":"string","jsonPath":".status.nextTransitionTime"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSupervisorSpec {
    /// When to sleep and wake.
    #[serde(default)]
    pub schedule: SleepSchedule,
}

/// Puts the workloads of selected namespaces to sleep on a schedule.
///
/// Cluster-scoped, `hibernation.stakater.com/v1beta1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "hibernation.stakater.com",
    version = "v1beta1",
    kind = "ClusterResourceSupervisor",
    doc = "Puts the workloads of selected namespaces to sleep on a schedule.",
    status = "ResourceSupervisorStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.currentStatus"}"#,
    printcolumn = r#"{"name":"Next","type":"string","jsonPath":".status.nextTransitionTime"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResourceSupervisorSpec {
    /// Which namespaces are supervised.
    #[serde(default)]
    pub namespaces: NamespaceSelection,
    /// When to sleep and wake.
    #[serde(default)]
    pub schedule: SleepSchedule,
    /// Argo CD projects whose applications must not undo a sleep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdProjects>,
}

/// Argo CD AppProjects named by a supervisor, as MTO's manifests write them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdProjects {
    /// The namespace Argo CD runs in (where its AppProjects live).
    #[serde(default)]
    pub namespace: String,
    /// The AppProjects, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_projects: Vec<String>,
}

/// Namespaces chosen by name and by labels (the union of both).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelection {
    /// Namespaces by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Namespaces by label: `{}` matches all, absent matches none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// Sleep and wake schedules: standard 5-field cron in a time zone.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SleepSchedule {
    /// When to sleep. Empty: sleep now, until the supervisor is removed.
    #[serde(default)]
    pub sleep_schedule: String,
    /// When to wake. Absent or empty: sleep until the supervisor is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_schedule: Option<String>,
    /// IANA time zone of both schedules (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// What a supervisor last did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSupervisorStatus {
    /// `awake`, `sleeping`, `asleep` or `waking`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// When the schedule next changes state (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_transition_time: Option<String>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Namespaces whose workloads are asleep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sleeping_namespaces: Vec<String>,
    /// Workloads asleep and the replica counts they get back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sleeping_applications: Vec<SupervisedApplication>,
    /// A manual wake or sleep in force (annotation
    /// `hibernation.stakater.com/override`), until the next scheduled
    /// transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_override: Option<ManualOverride>,
    /// Argo CD AppProjects (`namespace/name`) holding mto's deny sync
    /// window while the workloads sleep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused_app_projects: Vec<String>,
}

/// A manual wake or sleep, in force until the schedule next changes state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualOverride {
    /// `wake` or `sleep`.
    pub action: String,
    /// When it ends (RFC 3339); absent: until the annotation is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A workload put to sleep.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupervisedApplication {
    /// Namespace of the workload.
    pub namespace: String,
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Name of the workload.
    pub name: String,
    /// Replicas it had before sleeping.
    pub replicas: i32,
}
