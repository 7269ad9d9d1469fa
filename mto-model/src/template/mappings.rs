//! The Secrets and ConfigMaps a Template copies from other namespaces
//! (`resources.resourceMappings`): each copy keeps its source's name, type
//! and data, and follows the source's changes. From a TemplateInstance
//! only within one tenant's namespaces; from a cluster instance across
//! tenants (MTO's rule).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Instance, RenderError, error};
use crate::api::TemplateSpec;
use crate::view::{Gvk, Kind, ObjectRef, Snapshot};

/// `resources.resourceMappings` as MTO writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Mappings {
    #[serde(default)]
    secrets: Vec<Source>,
    #[serde(default)]
    config_maps: Vec<Source>,
}

/// One object to copy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    name: String,
    namespace: String,
}

/// The kinds copied: Secrets and ConfigMaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Copied {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

impl Copied {
    fn kind(self) -> &'static str {
        match self {
            Copied::Secret => "Secret",
            Copied::ConfigMap => "ConfigMap",
        }
    }

    /// The kind, as the view holds it.
    #[must_use]
    pub fn gvk(self) -> Gvk {
        Gvk::from_api_version("v1", self.kind())
    }

    /// The fields a copy takes from its source.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Copied::Secret => &["type", "data", "immutable"],
            Copied::ConfigMap => &["data", "binaryData", "immutable"],
        }
    }
}

fn read(template: &TemplateSpec) -> Result<Mappings, RenderError> {
    match template
        .resources
        .as_ref()
        .and_then(|r| r.resource_mappings.as_ref())
    {
        None => Ok(Mappings::default()),
        Some(value) => Mappings::deserialize(value).map_err(|e| {
            error(
                "resources.resourceMappings",
                e.to_string(),
                "write `secrets` and `configMaps` as lists of {name, namespace}",
            )
        }),
    }
}

/// Why the Template's `resources.resourceMappings` does not read, if it
/// does not: what can be known before any instance.
#[must_use]
pub fn mapping_problem(template: &TemplateSpec) -> Option<RenderError> {
    read(template).err()
}

/// Every source a Template names, with its kind: (kind, namespace, name).
#[must_use]
pub fn sources(template: &TemplateSpec) -> Vec<(Copied, String, String)> {
    read(template)
        .map(|m| {
            let of = |copied: Copied, list: Vec<Source>| {
                list.into_iter()
                    .map(move |s| (copied, s.namespace, s.name))
                    .collect::<Vec<_>>()
            };
            let mut out = of(Copied::Secret, m.secrets);
            out.extend(of(Copied::ConfigMap, m.config_maps));
            out
        })
        .unwrap_or_default()
}

/// The kinds a Template's mappings read (and its instances write).
pub(crate) fn kinds(template: &TemplateSpec) -> Vec<Gvk> {
    let mut kinds: Vec<Gvk> = sources(template).iter().map(|(c, _, _)| c.gvk()).collect();
    kinds.dedup();
    kinds
}

/// Whether the Template copies the object `target`.
pub(crate) fn copies_from(template: &TemplateSpec, target: &ObjectRef) -> bool {
    sources(template).iter().any(|(copied, namespace, name)| {
        target.kind == Kind::Dynamic(copied.gvk())
            && target.namespace.as_deref() == Some(namespace.as_str())
            && target.name == *name
    })
}

/// The copies one namespace gets, as manifests (without a namespace), with
/// what each was copied from (`Secret`/`ConfigMap`, `namespace/name`).
pub(crate) fn copies(
    template: &TemplateSpec,
    instance: &Instance<'_>,
    namespace: &str,
    snapshot: &Snapshot,
) -> Result<Vec<(Value, Copied, String)>, Vec<RenderError>> {
    let mappings = read(template).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let lists = [
        (Copied::Secret, "secrets", &mappings.secrets),
        (Copied::ConfigMap, "configMaps", &mappings.config_maps),
    ];
    for (copied, field, list) in lists {
        for (i, source) in list.iter().enumerate() {
            let at = format!("resources.resourceMappings.{field}[{i}]");
            if source.namespace == namespace {
                // The namespace holds the source itself.
                continue;
            }
            let across = snapshot.tenant_of_namespace(&source.namespace)
                != snapshot.tenant_of_namespace(namespace)
                || snapshot.tenant_of_namespace(namespace).is_none();
            if across && matches!(instance, Instance::Namespaced(_)) {
                problems.push(error(
                    at,
                    format!(
                        "{} {}/{} is not in this tenant's namespaces",
                        copied.kind(),
                        source.namespace,
                        source.name
                    ),
                    "a TemplateInstance copies within one tenant; use a ClusterTemplateInstance to copy across tenants",
                ));
                continue;
            }
            let target =
                ObjectRef::namespaced(Kind::Dynamic(copied.gvk()), &source.namespace, &source.name);
            let Some(json) = snapshot.object(&target).and_then(|o| o.to_json().ok()) else {
                problems.push(error(
                    at,
                    format!(
                        "{} {}/{} does not exist",
                        copied.kind(),
                        source.namespace,
                        source.name
                    ),
                    "create it, or correct the name and namespace",
                ));
                continue;
            };
            let mut copy = json!({
                "apiVersion": "v1",
                "kind": copied.kind(),
                "metadata": {"name": source.name},
            });
            for field in copied.fields() {
                if let Some(value) = json.get(*field) {
                    copy[*field] = value.clone();
                }
            }
            out.push((
                copy,
                copied,
                format!("{}/{}", source.namespace, source.name),
            ));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
