//! Reading manifests from YAML text: every document, typed by its
//! `apiVersion` and `kind`, with errors that name the file, the line and
//! the field. Pure: callers read the files.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;

use crate::api::{
    ClusterResourceSupervisor, ClusterTemplateInstance, Extensions, IntegrationConfig, Quota,
    ResourceSupervisor, Template, TemplateGroupInstance, TemplateInstance, Tenant,
};
use crate::validation::{FieldError, Validate};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A manifest of a kind mto serves.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Manifest {
    /// A tenant.
    Tenant(Tenant),
    /// A quota.
    Quota(Quota),
    /// The integration config.
    IntegrationConfig(IntegrationConfig),
    /// A template.
    Template(Template),
    /// A template instance.
    TemplateInstance(TemplateInstance),
    /// A cluster template instance.
    ClusterTemplateInstance(ClusterTemplateInstance),
    /// A template group instance (the older name).
    TemplateGroupInstance(TemplateGroupInstance),
    /// A namespaced resource supervisor.
    ResourceSupervisor(ResourceSupervisor),
    /// A cluster resource supervisor.
    ClusterResourceSupervisor(ClusterResourceSupervisor),
    /// Extensions.
    Extensions(Extensions),
    /// A namespace (existing cluster state, for plans and simulations).
    Namespace(Namespace),
    /// A Deployment (existing workloads, for simulations of hibernation).
    Deployment(Deployment),
    /// A StatefulSet (existing workloads, for simulations of hibernation).
    StatefulSet(StatefulSet),
}

impl Manifest {
    /// `Kind/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        let (kind, name) = match self {
            Manifest::Tenant(o) => ("Tenant", &o.metadata.name),
            Manifest::Quota(o) => ("Quota", &o.metadata.name),
            Manifest::IntegrationConfig(o) => ("IntegrationConfig", &o.metadata.name),
            Manifest::Template(o) => ("Template", &o.metadata.name),
            Manifest::TemplateInstance(o) => ("TemplateInstance", &o.metadata.name),
            Manifest::ClusterTemplateInstance(o) => ("ClusterTemplateInstance", &o.metadata.name),
            Manifest::TemplateGroupInstance(o) => ("TemplateGroupInstance", &o.metadata.name),
            Manifest::ResourceSupervisor(o) => ("ResourceSupervisor", &o.metadata.name),
            Manifest::ClusterResourceSupervisor(o) => {
                ("ClusterResourceSupervisor", &o.metadata.name)
            }
            Manifest::Extensions(o) => ("Extensions", &o.metadata.name),
            Manifest::Namespace(o) => ("Namespace", &o.metadata.name),
            Manifest::Deployment(o) => ("Deployment", &o.metadata.name),
            Manifest::StatefulSet(o) => ("StatefulSet", &o.metadata.name),
        };
        format!("{kind}/{}", name.as_deref().unwrap_or("<unnamed>"))
    }

    /// Every validation problem of the manifest.
    #[must_use]
    pub fn problems(&self) -> Vec<FieldError> {
        let result = match self {
            Manifest::Tenant(o) => o.validate(),
            Manifest::Quota(o) => o.validate(),
            Manifest::IntegrationConfig(o) => o.validate(),
            Manifest::Template(o) => o.validate(),
            Manifest::TemplateInstance(o) => o.validate(),
            Manifest::ClusterTemplateInstance(o) => o.validate(),
            Manifest::TemplateGroupInstance(o) => o.validate(),
            Manifest::ResourceSupervisor(o) => o.validate(),
            Manifest::ClusterResourceSupervisor(o) => o.validate(),
            Manifest::Extensions(_) | Manifest::Deployment(_) | Manifest::StatefulSet(_) => Ok(()),
            Manifest::Namespace(o) => {
                let mut problems = crate::validation::Problems::default();
                let name = o.metadata.name.as_deref().unwrap_or_default();
                if let Some(p) = crate::names::dns_label_problem(name) {
                    problems.push(
                        "metadata.name",
                        format!("namespace name {name:?} {p}"),
                        "use a DNS label",
                    );
                }
                problems.finish()
            }
        };
        result.err().map(|e| e.errors).unwrap_or_default()
    }
}

/// Where a document starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of the document's first line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A manifest and where it came from.
#[derive(Clone, Debug)]
pub struct Located {
    /// Where.
    pub location: Location,
    /// What.
    pub manifest: Manifest,
}

/// Why a document could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The document is not YAML or does not fit its kind.
    #[error("{location}: {field}{message}")]
    Parse {
        /// Where (the line of the problem when known).
        location: Location,
        /// The field path, with a trailing ": ", or empty.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The document names a field its kind does not have.
    #[error(
        "{location}: {field}: unknown field of {kind}; the apiserver rejects it (fix: check the spelling against `mto crds`)"
    )]
    UnknownField {
        /// Where the document starts.
        location: Location,
        /// The field path.
        field: String,
        /// `apiVersion/kind`.
        kind: String,
    },
    /// The document is of a kind mto does not serve.
    #[error("{location}: {api_version}/{kind} is not a kind mto serves (fix: use one of {known})")]
    UnknownKind {
        /// Where the document starts.
        location: Location,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
        /// The kinds mto serves.
        known: &'static str,
    },
}

const KNOWN_KINDS: &str = "tenantoperator.stakater.com/v1beta3 Tenant, tenantoperator.stakater.com/v1beta1 Quota or IntegrationConfig, \
tenantoperator.stakater.com/v1alpha1 Extensions, templates.stakater.com/v1alpha1 Template, TemplateInstance, ClusterTemplateInstance or TemplateGroupInstance, \
hibernation.stakater.com/v1beta1 ResourceSupervisor or ClusterResourceSupervisor, v1 Namespace";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// Parses every YAML document of `text` (documents separated by `---`).
#[must_use]
pub fn parse(file: &Path, text: &str) -> Vec<Result<Located, ManifestError>> {
    split_documents(text)
        .into_iter()
        .filter(|(_, doc)| {
            doc.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|(line, doc)| {
            parse_document(
                Location {
                    file: file.to_owned(),
                    line,
                },
                doc,
            )
        })
        .collect()
}

/// Documents with the 1-based line they start on.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

fn parse_document(location: Location, doc: &str) -> Result<Located, ManifestError> {
    let meta: TypeMeta =
        serde_norway::from_str(doc).map_err(|e| yaml_error(&location, String::new(), &e))?;
    let group = meta.api_version.split('/').next().unwrap_or_default();
    let manifest = match (meta.api_version.as_str(), meta.kind.as_str()) {
        ("tenantoperator.stakater.com/v1beta3", "Tenant") => {
            Manifest::Tenant(typed(&location, doc, &meta)?)
        }
        ("tenantoperator.stakater.com/v1beta1", "Quota") => {
            Manifest::Quota(typed(&location, doc, &meta)?)
        }
        ("tenantoperator.stakater.com/v1beta1", "IntegrationConfig") => {
            Manifest::IntegrationConfig(typed(&location, doc, &meta)?)
        }
        ("tenantoperator.stakater.com/v1alpha1", "Extensions") => {
            Manifest::Extensions(typed(&location, doc, &meta)?)
        }
        ("templates.stakater.com/v1alpha1", "Template") => {
            Manifest::Template(typed(&location, doc, &meta)?)
        }
        ("templates.stakater.com/v1alpha1", "TemplateInstance") => {
            Manifest::TemplateInstance(typed(&location, doc, &meta)?)
        }
        ("templates.stakater.com/v1alpha1", "ClusterTemplateInstance") => {
            Manifest::ClusterTemplateInstance(typed(&location, doc, &meta)?)
        }
        ("templates.stakater.com/v1alpha1", "TemplateGroupInstance") => {
            Manifest::TemplateGroupInstance(typed(&location, doc, &meta)?)
        }
        ("hibernation.stakater.com/v1beta1", "ResourceSupervisor") => {
            Manifest::ResourceSupervisor(typed(&location, doc, &meta)?)
        }
        ("hibernation.stakater.com/v1beta1", "ClusterResourceSupervisor") => {
            Manifest::ClusterResourceSupervisor(typed(&location, doc, &meta)?)
        }
        ("v1", "Namespace") => Manifest::Namespace(typed(&location, doc, &meta)?),
        ("apps/v1", "Deployment") => Manifest::Deployment(typed(&location, doc, &meta)?),
        ("apps/v1", "StatefulSet") => Manifest::StatefulSet(typed(&location, doc, &meta)?),
        _ => {
            let hint = if [
                "tenantoperator.stakater.com",
                "templates.stakater.com",
                "hibernation.stakater.com",
            ]
            .contains(&group)
            {
                KNOWN_KINDS
            } else {
                "a kind of the tenantoperator.stakater.com, templates.stakater.com or hibernation.stakater.com groups"
            };
            return Err(ManifestError::UnknownKind {
                location,
                api_version: meta.api_version,
                kind: meta.kind,
                known: hint,
            });
        }
    };
    Ok(Located { location, manifest })
}

fn typed<T: DeserializeOwned>(
    location: &Location,
    doc: &str,
    meta: &TypeMeta,
) -> Result<T, ManifestError> {
    let mut unknown = Vec::new();
    let de = serde_norway::Deserializer::from_str(doc);
    // serde_ignored writes Option layers as `?` segments; users know no such layer.
    let mut record = |path: serde_ignored::Path<'_>| {
        unknown.push(path.to_string().replace(".?", "").replace("?.", ""))
    };
    let ignored = serde_ignored::Deserializer::new(de, &mut record);
    let value: T = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            String::new()
        } else {
            format!("{field}: ")
        };
        yaml_error(location, field, e.inner())
    })?;
    // The generated types take apiVersion and kind from their type, not the document.
    if let Some(field) = unknown
        .into_iter()
        .find(|f| f != "apiVersion" && f != "kind")
    {
        return Err(ManifestError::UnknownField {
            location: location.clone(),
            field,
            kind: format!("{}/{}", meta.api_version, meta.kind),
        });
    }
    Ok(value)
}

fn yaml_error(location: &Location, field: String, e: &serde_norway::Error) -> ManifestError {
    let line = e.location().map_or(location.line, |l| {
        location.line + l.line().saturating_sub(1)
    });
    let message = e.to_string();
    // The YAML error repeats a document-relative position; the absolute line is in the location.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    // The YAML error may already start with the field path.
    let field = if !field.is_empty() && message.starts_with(&field) {
        String::new()
    } else {
        field
    };
    ManifestError::Parse {
        location: Location {
            file: location.file.clone(),
            line,
        },
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse(Path::new("t.yaml"), text)
            .into_iter()
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn reads_every_document() {
        let text = "apiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata: {name: small}\nspec: {}\n---\n# comment only\n---\napiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: alpha}\nspec: {quota: small}\n";
        let docs: Vec<_> = parse(Path::new("t.yaml"), text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].location.line, 8);
        assert_eq!(docs[1].manifest.describe(), "Tenant/alpha");
    }

    #[test]
    fn unknown_fields_name_the_path() {
        let e = errors(
            "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: a}\nspec:\n  namespaces:\n    withTenantPrefx: [dev]\n",
        );
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("t.yaml:1: spec.namespaces.withTenantPrefx: unknown field"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn type_errors_name_file_line_and_field() {
        let e = errors(
            "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: a}\nspec:\n  namespaces:\n    withTenantPrefix: dev\n",
        );
        assert_eq!(e.len(), 2);
        assert!(
            e[0].contains("v1/ConfigMap is not a kind mto serves"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("t.yaml:9: spec.namespaces.withTenantPrefix: invalid type"),
            "{}",
            e[1]
        );
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        let e = errors("apiVersion: [\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.yaml:"), "{}", e[0]);
    }
}
