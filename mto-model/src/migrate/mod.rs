//! Older manifests rewritten as the versions and kinds mto serves, offline
//! and without losing a field: what `mto migrate` does.
//!
//! - `tenantoperator.stakater.com/v1beta2` Tenant → `v1beta3`: the flat
//!   `owners`/`editors`/`viewers` move under `accessControl`, `sandboxConfig`
//!   and the metadata fields under `namespaces`, `onDelete.cleanNamespaces`
//!   becomes `namespaces.onDeletePurgeNamespaces`, and `argocd` becomes an
//!   `Extensions` object for the tenant.
//! - `tenantoperator.stakater.com/v1alpha1` Template, TemplateInstance and
//!   TemplateGroupInstance → the same kinds in `templates.stakater.com/v1alpha1`.
//! - `tenantoperator.stakater.com/v1beta1` ResourceSupervisor (cluster-wide)
//!   → `hibernation.stakater.com/v1beta1` ClusterResourceSupervisor.
//!
//! A field the rewrite does not know is refused, never dropped.

mod convert;

pub use convert::{CONVERSION_ANNOTATION, convert_tenant};
use serde_json::{Map, Value, json};

/// A document after migration: what it became, and what changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Migrated {
    /// The rewritten documents (a v1beta2 Tenant with `argocd` becomes two).
    pub documents: Vec<Value>,
    /// One line per change, for the person migrating.
    pub changes: Vec<String>,
}

/// Why a document could not be migrated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// A field of an older version that the rewrite does not know.
    #[error(
        "{field}: not a field of {from}; mto will not guess where it goes (fix: remove it, or move it by hand to its place in {to})"
    )]
    UnknownField {
        /// The field path.
        field: String,
        /// The version read.
        from: String,
        /// The version written.
        to: String,
    },
    /// A field of the wrong shape.
    #[error("{field}: {problem}")]
    Shape {
        /// The field path.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

const TENANT_V1BETA2: &str = "tenantoperator.stakater.com/v1beta2";
const TENANT_V1BETA3: &str = "tenantoperator.stakater.com/v1beta3";
const OLD_TEMPLATES: &str = "tenantoperator.stakater.com/v1alpha1";
const TEMPLATES: &str = "templates.stakater.com/v1alpha1";
const OLD_SUPERVISOR: &str = "tenantoperator.stakater.com/v1beta1";
const HIBERNATION: &str = "hibernation.stakater.com/v1beta1";

/// The version and kind a document of an older version becomes, or `None`
/// when mto serves it as it is.
#[must_use]
pub fn successor(api_version: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    match (api_version, kind) {
        (TENANT_V1BETA2, "Tenant") => Some((TENANT_V1BETA3, "Tenant")),
        (OLD_TEMPLATES, "Template") => Some((TEMPLATES, "Template")),
        (OLD_TEMPLATES, "TemplateInstance") => Some((TEMPLATES, "TemplateInstance")),
        (OLD_TEMPLATES, "TemplateGroupInstance") => Some((TEMPLATES, "TemplateGroupInstance")),
        (OLD_SUPERVISOR, "ResourceSupervisor") => Some((HIBERNATION, "ClusterResourceSupervisor")),
        _ => None,
    }
}

/// Migrates one document; a document mto serves as it is comes back
/// unchanged, with no changes listed.
pub fn migrate(document: Value) -> Result<Migrated, MigrateError> {
    let api_version = document["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = document["kind"].as_str().unwrap_or_default().to_owned();
    match (api_version.as_str(), kind.as_str()) {
        (TENANT_V1BETA2, "Tenant") => tenant_v1beta2(document),
        (OLD_TEMPLATES, "Template" | "TemplateInstance" | "TemplateGroupInstance") => {
            let mut document = document;
            document["apiVersion"] = json!(TEMPLATES);
            Ok(Migrated {
                documents: vec![document],
                changes: vec![format!("{kind}: apiVersion {OLD_TEMPLATES} → {TEMPLATES}")],
            })
        }
        (OLD_SUPERVISOR, "ResourceSupervisor") => supervisor_v1beta1(document),
        _ => Ok(Migrated {
            documents: vec![document],
            changes: Vec::new(),
        }),
    }
}

fn unknown(field: String, from: &str, to: &str) -> MigrateError {
    MigrateError::UnknownField {
        field,
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

fn object(value: Value, field: &str) -> Result<Map<String, Value>, MigrateError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(MigrateError::Shape {
            field: field.to_owned(),
            problem: format!("expected an object, found {other}"),
        }),
    }
}

/// Where each v1beta2 field goes in v1beta3 (`None`: it stays where it is).
const TENANT_V1BETA2_FIELDS: [(&str, Option<&str>); 13] = [
    ("owners", Some("spec.accessControl.owners")),
    ("editors", Some("spec.accessControl.editors")),
    ("viewers", Some("spec.accessControl.viewers")),
    ("sandboxConfig", Some("spec.namespaces.sandboxes")),
    ("commonMetadata", Some("spec.namespaces.metadata.common")),
    ("sandboxMetadata", Some("spec.namespaces.metadata.sandbox")),
    (
        "specificMetadata",
        Some("spec.namespaces.metadata.specific"),
    ),
    ("onDelete", None),
    ("argocd", None),
    ("namespaces", None),
    ("quota", None),
    ("hibernation", None),
    ("templateInstances", None),
];

/// A v1beta2 Tenant as v1beta3: the conversion the apiserver uses
/// ([`convert_tenant`]), except that what v1beta3 has no field for (Argo
/// CD's settings) becomes the tenant's `Extensions` object instead of an
/// annotation, as a person migrating files wants it.
fn tenant_v1beta2(document: Value) -> Result<Migrated, MigrateError> {
    let name = document["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let spec = object(document["spec"].clone(), "spec")?;
    let fail = |field: String| unknown(field, TENANT_V1BETA2, TENANT_V1BETA3);
    let mut changes = vec![format!(
        "Tenant/{name}: apiVersion {TENANT_V1BETA2} → {TENANT_V1BETA3}"
    )];
    for (field, value) in &spec {
        match TENANT_V1BETA2_FIELDS.iter().find(|(f, _)| f == field) {
            None => return Err(fail(format!("spec.{field}"))),
            Some((_, Some(to))) => changes.push(format!("spec.{field} → {to}")),
            Some((_, None)) => {}
        }
        let known: &[&str] = match field.as_str() {
            "namespaces" => &["withTenantPrefix", "withoutTenantPrefix"],
            "onDelete" => &["cleanNamespaces", "cleanAppProject"],
            "argocd" => &["sourceRepos", "appProject"],
            _ => continue,
        };
        if let Some(inner) = value
            .as_object()
            .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
        {
            return Err(fail(format!("spec.{field}.{inner}")));
        }
    }
    if spec
        .get("onDelete")
        .and_then(|d| d.get("cleanNamespaces"))
        .is_some()
    {
        changes
            .push("spec.onDelete.cleanNamespaces → spec.namespaces.onDeletePurgeNamespaces".into());
    }
    let mut converted = object(convert_tenant(document, TENANT_V1BETA3)?, "")?;
    let stash = convert::take_stash(&mut converted, "v1beta2")?;
    let mut argocd = Map::new();
    if let Some(clean) = stash.get("onDelete").and_then(|d| d.get("cleanAppProject")) {
        argocd.insert("onDeletePurgeAppProject".into(), clean.clone());
        changes.push(format!(
            "spec.onDelete.cleanAppProject → Extensions/{name}.spec.argoCD.onDeletePurgeAppProject"
        ));
    }
    if let Some(old) = stash.get("argocd") {
        let mut project = object(old["appProject"].clone(), "spec.argocd.appProject")?;
        if let Some(repos) = old.get("sourceRepos") {
            project.insert("sourceRepos".into(), repos.clone());
        }
        argocd.insert("appProject".into(), Value::Object(project));
        changes.push(format!(
            "spec.argocd → Extensions/{name}.spec.argoCD.appProject"
        ));
    }
    let mut documents = vec![Value::Object(converted)];
    if !argocd.is_empty() {
        documents.push(json!({
            "apiVersion": "tenantoperator.stakater.com/v1alpha1",
            "kind": "Extensions",
            "metadata": {"name": name},
            "spec": {"tenantName": name, "argoCD": argocd},
        }));
    }
    Ok(Migrated { documents, changes })
}

fn supervisor_v1beta1(document: Value) -> Result<Migrated, MigrateError> {
    let name = document["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut root = object(document, "")?;
    let spec = object(root.get("spec").cloned().unwrap_or(Value::Null), "spec")?;
    for field in spec.keys() {
        if !["argocd", "namespaces", "schedule"].contains(&field.as_str()) {
            return Err(unknown(
                format!("spec.{field}"),
                &format!("{OLD_SUPERVISOR} ResourceSupervisor"),
                &format!("{HIBERNATION} ClusterResourceSupervisor"),
            ));
        }
    }
    root.insert("apiVersion".into(), json!(HIBERNATION));
    root.insert("kind".into(), json!("ClusterResourceSupervisor"));
    Ok(Migrated {
        documents: vec![Value::Object(root)],
        changes: vec![format!(
            "ResourceSupervisor/{name}: {OLD_SUPERVISOR} ResourceSupervisor → {HIBERNATION} ClusterResourceSupervisor (cluster-wide, as before)"
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, parse};
    use std::path::Path;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn read_back(documents: &[Value]) -> Vec<Manifest> {
        documents
            .iter()
            .map(|d| {
                let text = serde_norway::to_string(d).unwrap_or_else(|e| panic!("{e}"));
                match parse(Path::new("migrated.yaml"), &text).pop() {
                    Some(Ok(located)) => {
                        assert!(located.manifest.problems().is_empty(), "{text}");
                        located.manifest
                    }
                    other => panic!("{other:?}\n{text}"),
                }
            })
            .collect()
    }

    const BLUESKY_V1BETA2: &str = "apiVersion: tenantoperator.stakater.com/v1beta2
kind: Tenant
metadata:
  name: bluesky
spec:
  owners:
    users: [anna@aurora.org]
    groups: [alpha]
  editors:
    users: [john@aurora.org]
  viewers:
    users: [james@aurora.org]
  quota: small
  sandboxConfig:
    enabled: true
    private: true
  onDelete:
    cleanNamespaces: false
    cleanAppProject: true
  argocd:
    sourceRepos: [https://github.com/example/gitops]
    appProject:
      clusterResourceWhitelist:
        - group: tronador.stakater.com
          kind: Environment
  hibernation:
    sleepSchedule: 23 * * * *
    wakeSchedule: 26 * * * *
  namespaces:
    withTenantPrefix: [dev, build]
    withoutTenantPrefix: [preview]
  commonMetadata:
    labels:
      team: bluesky
  specificMetadata:
    - namespaces: [bluesky-dev]
      annotations:
        note: dev
  templateInstances:
    - spec:
        template: networkpolicy
      selector:
        matchLabels:
          policy: network-restriction
";

    #[test]
    fn a_v1beta2_tenant_becomes_v1beta3_and_an_extensions_object() {
        let migrated = migrate(yaml(BLUESKY_V1BETA2)).unwrap_or_else(|e| panic!("{e}"));
        let manifests = read_back(&migrated.documents);
        let (Manifest::Tenant(t), Manifest::Extensions(e)) = (&manifests[0], &manifests[1]) else {
            panic!("{manifests:?}")
        };
        let access = t.spec.access_control.clone().unwrap_or_default();
        assert_eq!(access.owners.unwrap_or_default().users, ["anna@aurora.org"]);
        assert_eq!(
            access.viewers.unwrap_or_default().users,
            ["james@aurora.org"]
        );
        let namespaces = t.spec.namespaces.clone().unwrap_or_default();
        assert!(namespaces.sandboxes.is_some_and(|s| s.enabled && s.private));
        assert_eq!(namespaces.on_delete_purge_namespaces, Some(false));
        assert_eq!(namespaces.without_tenant_prefix, ["preview"]);
        let metadata = namespaces.metadata.unwrap_or_default();
        assert_eq!(
            metadata.common.unwrap_or_default().labels["team"],
            "bluesky"
        );
        assert_eq!(metadata.specific[0].namespaces, ["bluesky-dev"]);
        assert_eq!(t.spec.template_instances.len(), 1);
        assert_eq!(e.spec.tenant_name.as_deref(), Some("bluesky"));
        let argocd = e.spec.argo_cd.clone().unwrap_or_default();
        assert!(argocd.on_delete_purge_app_project);
        assert_eq!(
            argocd.app_project.unwrap_or_default().source_repos,
            ["https://github.com/example/gitops"]
        );
        assert!(
            migrated
                .changes
                .iter()
                .any(|c| c == "spec.owners → spec.accessControl.owners")
        );
    }

    #[test]
    fn a_field_the_rewrite_does_not_know_is_refused_not_dropped() {
        let mut doc = yaml(BLUESKY_V1BETA2);
        doc["spec"]["openshift"] = json!({"project": {}});
        let e = migrate(doc)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("spec.openshift: not a field of tenantoperator.stakater.com/v1beta2"),
            "{e}"
        );
    }

    #[test]
    fn older_template_and_supervisor_kinds_take_their_new_names() {
        let template = yaml(
            "apiVersion: tenantoperator.stakater.com/v1alpha1\nkind: Template\nmetadata: {name: t}\nresources:\n  manifests: []\n",
        );
        let supervisor = yaml(
            "apiVersion: tenantoperator.stakater.com/v1beta1\nkind: ResourceSupervisor\nmetadata: {name: rs}\nspec:\n  argocd: {namespace: argocd, appProjects: [frontend]}\n  namespaces: {names: [bluesky-dev]}\n  schedule: {sleepSchedule: \"10 * * * *\", wakeSchedule: \"50 * * * *\"}\n",
        );
        let mut documents = Vec::new();
        for doc in [template, supervisor] {
            documents.extend(migrate(doc).unwrap_or_else(|e| panic!("{e}")).documents);
        }
        let manifests = read_back(&documents);
        assert!(matches!(manifests[0], Manifest::Template(_)));
        let Manifest::ClusterResourceSupervisor(crs) = &manifests[1] else {
            panic!("{manifests:?}")
        };
        assert_eq!(crs.spec.namespaces.names, ["bluesky-dev"]);
        assert_eq!(
            crs.spec.argocd.as_ref().map(|a| a.app_projects.clone()),
            Some(vec!["frontend".to_owned()])
        );
    }

    #[test]
    fn what_mto_serves_is_left_alone() {
        let current = yaml(
            "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: a}\nspec: {quota: small}\n",
        );
        let migrated = migrate(current.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(migrated.documents, [current]);
        assert!(migrated.changes.is_empty());
    }

    proptest::proptest! {
        /// Whatever a v1beta2 tenant holds of the fields it had, the
        /// migrated tenant reads as v1beta3 with the same people, names
        /// and settings.
        #[test]
        fn every_v1beta2_tenant_migrates_without_loss(
            owners in proptest::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.org", 0..3),
            groups in proptest::collection::vec("[a-z]{1,8}", 0..3),
            prefixed in proptest::collection::btree_set("[a-z]{1,8}", 0..4),
            sandboxes in proptest::option::of((proptest::bool::ANY, proptest::bool::ANY)),
            purge in proptest::option::of(proptest::bool::ANY),
            label in proptest::option::of("[a-z]{1,8}"),
        ) {
            let mut spec = json!({
                "quota": "small",
                "owners": {"users": owners, "groups": groups},
                "namespaces": {"withTenantPrefix": prefixed},
            });
            if let Some((enabled, private)) = sandboxes {
                spec["sandboxConfig"] = json!({"enabled": enabled, "private": private});
            }
            if let Some(purge) = purge {
                spec["onDelete"] = json!({"cleanNamespaces": purge});
            }
            if let Some(label) = &label {
                spec["commonMetadata"] = json!({"labels": {"team": label}});
            }
            let doc = json!({"apiVersion": TENANT_V1BETA2, "kind": "Tenant", "metadata": {"name": "t"}, "spec": spec});
            let migrated = migrate(doc).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let manifests = read_back(&migrated.documents);
            let Manifest::Tenant(t) = &manifests[0] else { panic!("{manifests:?}") };
            let owners_after = t.spec.access_control.clone().unwrap_or_default().owners.unwrap_or_default();
            proptest::prop_assert_eq!(owners_after.users, owners);
            proptest::prop_assert_eq!(owners_after.groups, groups);
            let namespaces = t.spec.namespaces.clone().unwrap_or_default();
            proptest::prop_assert_eq!(namespaces.with_tenant_prefix, prefixed.into_iter().collect::<Vec<_>>());
            proptest::prop_assert_eq!(namespaces.sandboxes.map(|s| (s.enabled, s.private)), sandboxes);
            proptest::prop_assert_eq!(namespaces.on_delete_purge_namespaces, purge);
            let team = namespaces.metadata.and_then(|m| m.common).and_then(|c| c.labels.get("team").cloned());
            proptest::prop_assert_eq!(team, label);
        }
    }
}
