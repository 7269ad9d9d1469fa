use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Manifests, copied resources and parameters to instantiate into namespaces.
///
/// Cluster-scoped, `templates.stakater.com/v1alpha1`. As in the
/// Multi-Tenant Operator, `parameters` and `resources` sit at the top of
/// the object, beside `metadata`; these are its fields (`Template.spec`,
/// on the Rust side).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "templates.stakater.com",
    version = "v1alpha1",
    kind = "Template",
    doc = "Manifests, copied resources and parameters to instantiate into namespaces.",
    category = "mto",
    no_spec,
    status = "TemplateStatus",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    /// Parameters the manifests refer to as `${NAME}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
    /// What the template creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<TemplateResources>,
    /// A `spec` that holds nothing: MTO's Template has one, so manifests
    /// that write `spec: {}` load.
    #[serde(default, rename = "spec", skip_serializing_if = "Option::is_none")]
    pub empty_spec: Option<EmptySpec>,
}

/// Status of a Template: whether instances use it, which holds its
/// deletion until they are gone.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateStatus {
    /// Lifecycle phase (docs/machines.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Deletable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// An object with no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct EmptySpec {}

/// A template parameter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateParameter {
    /// Name, referenced as `${NAME}`.
    pub name: String,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// An instance must give a value when there is no default.
    #[serde(default)]
    pub required: bool,
    /// A regular expression the whole value must match (in a Template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
    /// What the parameter is for, for people filling it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a template creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateResources {
    /// Raw manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::schema::free_form_objects")]
    pub manifests: Vec<serde_json::Value>,
    /// A Helm chart to render; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub helm: Option<serde_json::Value>,
    /// Secrets and ConfigMaps to copy from other namespaces; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub resource_mappings: Option<serde_json::Value>,
    /// Go `text/template` text that renders to YAML manifests (rendered
    /// when the template is applied, never when it is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gotemplate: Option<String>,
}

/// One template into one namespace.
///
/// Namespaced, `templates.stakater.com/v1alpha1`.
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "templates.stakater.com",
    version = "v1alpha1",
    kind = "TemplateInstance",
    doc = "One template instantiated into one namespace.",
    namespaced,
    status = "TemplateInstanceStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInstanceSpec {
    /// Name of the `Template`.
    pub template: String,
    /// Keep the instance in sync with the template (re-apply on drift).
    #[serde(default)]
    pub sync: bool,
    /// Values for the template's parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
}

/// One template into every namespace a label selector matches.
///
/// Cluster-scoped, `templates.stakater.com/v1alpha1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "templates.stakater.com",
    version = "v1alpha1",
    kind = "ClusterTemplateInstance",
    doc = "One template instantiated into every namespace a label selector matches.",
    status = "TemplateInstanceStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTemplateInstanceSpec {
    /// Name of the `Template`.
    pub template: String,
    /// The namespaces that receive it.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Keep the instances in sync with the template.
    #[serde(default)]
    pub sync: bool,
    /// Values for the template's parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
}

/// The older name of [`ClusterTemplateInstance`], accepted with the same spec.
///
/// Cluster-scoped, `templates.stakater.com/v1alpha1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "templates.stakater.com",
    version = "v1alpha1",
    kind = "TemplateGroupInstance",
    doc = "The older name of ClusterTemplateInstance, with the same spec.",
    status = "TemplateInstanceStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct TemplateGroupInstanceSpec {
    /// Name of the `Template`.
    pub template: String,
    /// The namespaces that receive it.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Keep the instances in sync with the template.
    #[serde(default)]
    pub sync: bool,
    /// Values for the template's parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TemplateParameter>,
}

/// Status of a template instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInstanceStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `Deployed` when every target namespace holds the rendering, else
    /// `Failed` (MTO's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it is not deployed, for people: the field at fault and the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it is not deployed, `CamelCase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Digest of the Template and parameters the deployed objects were
    /// rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_hash: Option<String>,
    /// Secrets copied into the target namespaces, `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_secrets: Vec<String>,
    /// ConfigMaps copied into the target namespaces, `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapped_configmaps: Vec<String>,
    /// The namespaces holding the current rendering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployed_namespaces: Vec<String>,
    /// How many namespaces the instance targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_count: Option<i64>,
}
