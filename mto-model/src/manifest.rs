//! Reading manifests from YAML text: every document, typed by its
//! `apiVersion` and `kind`, with errors that name the file, the line and
//! the field. Pure: callers read the files.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{
    ClusterResourceSupervisor, ClusterTemplateInstance, EmptySpec, Extensions, IntegrationConfig,
    Quota, ResourceSupervisor, Template, TemplateGroupInstance, TemplateInstance,
    TemplateParameter, TemplateResources, TemplateSpec, Tenant,
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
    /// A ServiceAccount (labelled for Vault, for simulations of Vault).
    ServiceAccount(k8s_openapi::api::core::v1::ServiceAccount),
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
            Manifest::ServiceAccount(o) => ("ServiceAccount", &o.metadata.name),
        };
        format!("{kind}/{}", name.as_deref().unwrap_or("<unnamed>"))
    }

    /// `Kind/name`, or `Kind/namespace/name` for a namespaced object:
    /// what the apiserver keys it by.
    #[must_use]
    pub fn identity(&self) -> String {
        let namespace = match self {
            Manifest::IntegrationConfig(o) => o.metadata.namespace.as_deref(),
            Manifest::TemplateInstance(o) => o.metadata.namespace.as_deref(),
            Manifest::ResourceSupervisor(o) => o.metadata.namespace.as_deref(),
            Manifest::Deployment(o) => o.metadata.namespace.as_deref(),
            Manifest::StatefulSet(o) => o.metadata.namespace.as_deref(),
            Manifest::ServiceAccount(o) => o.metadata.namespace.as_deref(),
            _ => None,
        };
        let described = self.describe();
        match (namespace, described.split_once('/')) {
            (Some(ns), Some((kind, name))) => format!("{kind}/{ns}/{name}"),
            _ => described,
        }
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
            Manifest::Extensions(_)
            | Manifest::Deployment(_)
            | Manifest::StatefulSet(_)
            | Manifest::ServiceAccount(_) => Ok(()),
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

/// A manifest that names the same object as one before it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{second}: {object} is defined twice, first at {first} (fix: keep one definition: the apiserver would keep only the last)"
)]
pub struct Duplicate {
    /// `Kind/name` or `Kind/namespace/name`.
    pub object: String,
    /// Where it is first defined.
    pub first: Location,
    /// Where it is defined again.
    pub second: Location,
}

/// Every manifest of `manifests` that names an object an earlier one names.
#[must_use]
pub fn duplicates(manifests: &[Located]) -> Vec<Duplicate> {
    let mut seen: std::collections::BTreeMap<String, &Location> = std::collections::BTreeMap::new();
    let mut found = Vec::new();
    for m in manifests {
        let object = m.manifest.identity();
        match seen.get(&object) {
            Some(first) => found.push(Duplicate {
                object,
                first: (*first).clone(),
                second: m.location.clone(),
            }),
            None => {
                seen.insert(object, &m.location);
            }
        }
    }
    found
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
    /// The document's text, to find the line of a field in.
    pub text: std::sync::Arc<str>,
}

impl Located {
    /// Where a field of the manifest is written (`spec.namespaces.withTenantPrefix[1]`,
    /// `labels[stakater.com/tenant]`): its own line when it can be found
    /// in the text, else the document's first line.
    #[must_use]
    pub fn location_of(&self, field: &str) -> Location {
        // A field that is missing is reported where its parent is.
        let mut path = field.replace('[', ".").replace(']', "");
        let found = loop {
            if let Some(line) = line_of(&self.text, &path) {
                break Some(line);
            }
            match path.rsplit_once('.') {
                Some((parent, _)) => path = parent.to_owned(),
                None => break None,
            }
        };
        let line = found.map_or(self.location.line, |l| self.location.line + l);
        Location {
            file: self.location.file.clone(),
            line,
        }
    }

    /// Every validation problem, each with the location of its field.
    #[must_use]
    pub fn problems(&self) -> Vec<(Location, FieldError)> {
        self.manifest
            .problems()
            .into_iter()
            .map(|e| (self.location_of(&e.path), e))
            .collect()
    }
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
    #[error("{location}: {field}: unknown field of {kind}; the apiserver rejects it (fix: {fix})")]
    UnknownField {
        /// Where the field is (the document's start when it cannot be found).
        location: Location,
        /// The field path.
        field: String,
        /// `apiVersion/kind`.
        kind: String,
        /// What to do about it.
        fix: String,
    },
    /// The document is of an older version of a kind mto serves.
    #[error(
        "{location}: {api_version} {kind} is an older version mto reads only through `mto migrate` (fix: run `mto migrate {}` to rewrite it as {to})", location.file.display()
    )]
    OlderVersion {
        /// Where the document starts.
        location: Location,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
        /// What it becomes.
        to: String,
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

/// A Template as written: its fields at the top of the document. The
/// `Template` type flattens them (`#[serde(flatten)]`), which hides
/// unknown fields and field paths from the reader; this does not.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateDocument {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    parameters: Vec<TemplateParameter>,
    #[serde(default)]
    resources: Option<TemplateResources>,
    #[serde(default)]
    spec: Option<EmptySpec>,
    #[serde(default)]
    status: Option<crate::api::TemplateStatus>,
}

impl From<TemplateDocument> for Template {
    fn from(d: TemplateDocument) -> Template {
        Template {
            metadata: d.metadata,
            spec: TemplateSpec {
                parameters: d.parameters,
                resources: d.resources,
                empty_spec: d.spec,
            },
            status: d.status,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// Parses every YAML document of `text` (documents separated by `---`):
/// a manifest per good document, and every problem of a bad one (each
/// unknown field of a document is its own error, on its own line).
#[must_use]
pub fn parse(file: &Path, text: &str) -> Vec<Result<Located, ManifestError>> {
    documents(text)
        .into_iter()
        .flat_map(|(line, doc)| {
            let location = Location {
                file: file.to_owned(),
                line,
            };
            match parse_document(location, doc) {
                Ok(located) => vec![Ok(located)],
                Err(errors) => errors.into_iter().map(Err).collect(),
            }
        })
        .collect()
}

/// The documents of a YAML text that hold more than comments, each with
/// the 1-based line it starts on.
#[must_use]
pub fn documents(text: &str) -> Vec<(usize, &str)> {
    split_documents(text)
        .into_iter()
        .filter(|(_, doc)| {
            doc.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
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

fn parse_document(location: Location, doc: &str) -> Result<Located, Vec<ManifestError>> {
    let meta: TypeMeta =
        serde_norway::from_str(doc).map_err(|e| vec![yaml_error(&location, String::new(), &e)])?;
    let group = meta.api_version.split('/').next().unwrap_or_default();
    if let Some((to_version, to_kind)) = crate::migrate::successor(&meta.api_version, &meta.kind) {
        return Err(vec![ManifestError::OlderVersion {
            location,
            api_version: meta.api_version,
            kind: meta.kind,
            to: format!("{to_version} {to_kind}"),
        }]);
    }
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
            Manifest::Template(typed::<TemplateDocument>(&location, doc, &meta)?.into())
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
        ("v1", "ServiceAccount") => Manifest::ServiceAccount(typed(&location, doc, &meta)?),
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
            return Err(vec![ManifestError::UnknownKind {
                location,
                api_version: meta.api_version,
                kind: meta.kind,
                known: hint,
            }]);
        }
    };
    Ok(Located {
        location,
        manifest,
        text: doc.into(),
    })
}

fn typed<T: DeserializeOwned>(
    location: &Location,
    doc: &str,
    meta: &TypeMeta,
) -> Result<T, Vec<ManifestError>> {
    // Through JSON, as the apiserver reads it: YAML would turn `true` or
    // `3` into the string a label value or parameter wants; JSON refuses.
    let json: serde_json::Value =
        serde_norway::from_str(doc).map_err(|e| vec![yaml_error(location, String::new(), &e)])?;
    let mut unknown = Vec::new();
    // serde_ignored writes Option layers as `?` segments; users know no such layer.
    let mut record = |path: serde_ignored::Path<'_>| {
        unknown.push(path.to_string().replace(".?", "").replace("?.", ""))
    };
    let ignored = serde_ignored::Deserializer::new(json, &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignored);
    let kind = format!("{}/{}", meta.api_version, meta.kind);
    let mut errors: Vec<ManifestError> = unknown
        .into_iter()
        .filter(|f| !server_owned(f))
        .map(|field| {
            let line = line_of(doc, &field).map_or(location.line, |l| location.line + l);
            ManifestError::UnknownField {
                location: Location {
                    file: location.file.clone(),
                    line,
                },
                fix: unknown_field_fix(&meta.kind, &field),
                field,
                kind: kind.clone(),
            }
        })
        .collect();
    match result {
        Ok(value) if errors.is_empty() => Ok(value),
        Ok(_) => Err(errors),
        Err(e) => {
            let path = e.path().to_string();
            let (field, line) = if path == "." {
                (String::new(), location.line)
            } else {
                let line = line_of(doc, &path.replace('[', ".").replace(']', ""))
                    .map_or(location.line, |l| location.line + l);
                (format!("{path}: "), line)
            };
            // An unknown field often explains the error (`Spec:` for
            // `spec:` leaves spec missing): report both, the field first.
            errors.push(ManifestError::Parse {
                location: Location {
                    file: location.file.clone(),
                    line,
                },
                field,
                message: with_fix(e.into_inner().to_string()),
            });
            Err(errors)
        }
    }
}

/// A type error with the fix the apiserver's users most often need.
fn with_fix(message: String) -> String {
    if message.contains("expected a string") {
        format!(
            "{message} (fix: quote the value, as in \"true\" or \"3\": Kubernetes wants a string here)"
        )
    } else {
        message
    }
}

/// Fields the apiserver writes, which an object exported with
/// `kubectl get -o yaml` carries: reading it ignores them.
fn server_owned(field: &str) -> bool {
    field == "apiVersion" || field == "kind" || field == "status" || field.starts_with("status.")
}

/// The fix for an unknown field: where it moved, when it is a known
/// shape written in the wrong place, else the spelling.
fn unknown_field_fix(kind: &str, field: &str) -> String {
    let moved = match (kind, field) {
        ("Template", f) if f.starts_with("spec.resources") || f.starts_with("spec.parameters") => {
            Some(
                "resources and parameters are top-level fields of a Template, beside metadata: move them out of spec",
            )
        }
        _ => None,
    };
    if let Some(fix) = moved {
        return fix.to_owned();
    }
    match field.rsplit('.').next() {
        Some(last) if last.chars().next().is_some_and(char::is_uppercase) => format!(
            "field names start with a lowercase letter: write `{}`",
            lowercase_first(last)
        ),
        _ => "check the spelling against `mto crds`".to_owned(),
    }
}

fn lowercase_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// The 0-based line within `doc` of the key at the end of `path`
/// (`spec.namespaces.withTenantPrefx`, list indices as numeric segments),
/// found by following the keys down in block style. `None` when the path
/// runs through flow style (`{a: b}`) or cannot be followed.
fn line_of(doc: &str, path: &str) -> Option<usize> {
    // Keys may hold dots themselves (`stakater.com/tenant`), so the path is
    // matched against each line's key rather than split up front.
    let mut rest = path;
    // The indentation of the last key (or list item) found: what is
    // looked for next lies deeper.
    let mut parent: Option<usize> = None;
    let mut items_seen = 0;
    for (n, line) in doc.lines().enumerate() {
        let mut body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let raw_indent = line.len() - body.len();
        let is_item = body.starts_with('-');
        let mut indent = raw_indent;
        // A list item's keys sit where the text after its dash starts.
        while let Some(after_dash) = body.strip_prefix('-') {
            let item = after_dash.trim_start();
            indent += body.len() - item.len();
            body = item;
        }
        // A list may sit at its key's own indentation (`key:\n- item`).
        let left = match parent {
            Some(p) if is_item && index_of(rest).is_some() => raw_indent < p,
            Some(p) => raw_indent <= p,
            None => false,
        };
        if left {
            return None;
        }
        if let Some((index, deeper)) = index_of(rest) {
            if !is_item {
                continue;
            }
            if items_seen < index {
                items_seen += 1;
                continue;
            }
            if deeper.is_empty() {
                return Some(n);
            }
            // Inside the item: its keys, this line's first among them.
            rest = deeper;
            items_seen = 0;
            parent = Some(raw_indent);
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if key.is_empty() {
            continue;
        }
        if rest == key {
            return Some(n);
        }
        if let Some(deeper) = rest.strip_prefix(key).and_then(|r| r.strip_prefix('.')) {
            if value.trim_start().starts_with(['[', '{']) {
                // Flow style: the rest is on this line.
                return Some(n);
            }
            rest = deeper;
            items_seen = 0;
            parent = Some(indent);
        }
    }
    None
}

/// `3.name` → `(3, "name")`, `3` → `(3, "")`: a path that starts at a list item.
fn index_of(path: &str) -> Option<(usize, &str)> {
    let (first, deeper) = path.split_once('.').unwrap_or((path, ""));
    first.parse().ok().map(|i| (i, deeper))
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
    fn every_unknown_field_is_reported_on_its_own_line() {
        let e = errors(
            "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: a}\nspec:\n  quota: small\n  qouta: small\n  namespaces:\n    # a comment\n    withTenantPrefx: [dev]\n",
        );
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(
            e[0].starts_with("t.yaml:6: spec.qouta: unknown field"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("t.yaml:9: spec.namespaces.withTenantPrefx: unknown field"),
            "{}",
            e[1]
        );
        assert!(e[1].contains("check the spelling"), "{}", e[1]);
    }

    #[test]
    fn a_capitalised_key_is_an_unknown_key_not_a_missing_one() {
        let e = errors(
            "apiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata:\n  name: small\nSpec:\n  resourcequota: {}\n",
        );
        assert!(
            e[0].starts_with("t.yaml:5: Spec: unknown field") && e[0].contains("write `spec`"),
            "{e:#?}"
        );
    }

    #[test]
    fn booleans_and_numbers_where_kubernetes_wants_strings_are_refused() {
        let e = errors(
            "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata: {name: a}\nspec:\n  quota: small\n  namespaces:\n    metadata:\n      common:\n        labels:\n          stakater.com/sandbox: true\n---\napiVersion: hibernation.stakater.com/v1beta1\nkind: ClusterResourceSupervisor\nmetadata: {name: s}\nspec:\n  namespaces:\n    labelSelector:\n      matchLabels:\n        tier: 3\n  schedule: {sleepSchedule: \"0 20 * * *\", wakeSchedule: \"0 8 * * *\"}\n",
        );
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(
            e[0].starts_with("t.yaml:10: spec.namespaces.metadata.common.labels.stakater.com/sandbox: invalid type: boolean `true`, expected a string (fix: quote the value"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("t.yaml:19: spec.namespaces.labelSelector.matchLabels.tier: invalid type: integer `3`"),
            "{}",
            e[1]
        );
    }

    #[test]
    fn an_exported_object_reads_without_what_the_server_owns() {
        let docs = parse(
            Path::new("t.yaml"),
            "apiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata:\n  name: small\n  resourceVersion: \"4711\"\n  uid: 0b6c7f3e-1d2a-4c5e-9f00-3b1b2c3d4e5f\n  generation: 3\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\n  managedFields:\n    - manager: kubectl\n      operation: Apply\n      apiVersion: tenantoperator.stakater.com/v1beta1\n      fieldsType: FieldsV1\n      fieldsV1: {f:spec: {}}\nspec:\n  resourcequota:\n    hard: {pods: \"10\"}\nstatus:\n  conditions: []\n",
        );
        assert!(docs.iter().all(Result::is_ok), "{docs:#?}");
    }

    #[test]
    fn templates_read_in_mtos_shape_with_fields_at_the_top() {
        let docs = parse(
            Path::new("t.yaml"),
            "apiVersion: templates.stakater.com/v1alpha1\nkind: Template\nmetadata:\n  name: networkpolicy\nparameters:\n  - name: CIDR_IP\n    value: \"172.17.0.0/16\"\n    validation: \"[0-9./]+\"\nresources:\n  gotemplate: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: {{ .Values.name | default \"x\" }}\nspec: {}\n",
        );
        let template = match docs.as_slice() {
            [
                Ok(Located {
                    manifest: Manifest::Template(t),
                    ..
                }),
            ] => t,
            other => panic!("{other:#?}"),
        };
        assert_eq!(
            template.spec.parameters[0].validation.as_deref(),
            Some("[0-9./]+")
        );
        assert!(
            template
                .spec
                .resources
                .as_ref()
                .and_then(|r| r.gotemplate.as_deref())
                .is_some_and(|g| g.contains(".Values.name"))
        );
        assert!(
            docs[0]
                .as_ref()
                .map(|d| d.manifest.problems().is_empty())
                .unwrap_or(false)
        );
    }

    #[test]
    fn a_template_in_the_wrong_shape_says_where_its_fields_go() {
        let e = errors(
            "apiVersion: templates.stakater.com/v1alpha1\nkind: Template\nmetadata: {name: t}\nspec:\n  resources:\n    manifests: []\nresourcez: {}\nparameters:\n  - name: 3\n",
        );
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(
            e[0].starts_with("t.yaml:5: spec.resources: unknown field")
                && e[0].contains("top-level fields of a Template"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("t.yaml:7: resourcez: unknown field"),
            "{}",
            e[1]
        );
        assert!(e[2].contains("parameters[0].name"), "{}", e[2]);
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
    fn fields_are_found_on_their_lines_in_block_and_flow_style() {
        let doc = "metadata:\n  name: a\nspec:\n  list:\n  - name: first\n  - value: x\n    name: second\n  flow: [a, b]\n  labels:\n    stakater.com/tenant: x\n";
        assert_eq!(line_of(doc, "metadata.name"), Some(1));
        assert_eq!(line_of(doc, "spec.list.0.name"), Some(4));
        assert_eq!(line_of(doc, "spec.list.1.name"), Some(6));
        assert_eq!(line_of(doc, "spec.list.1"), Some(5));
        assert_eq!(line_of(doc, "spec.flow.1"), Some(7));
        assert_eq!(line_of(doc, "spec.labels.stakater.com/tenant"), Some(9));
        assert_eq!(line_of(doc, "spec.missing"), None);
        let located = parse(
            Path::new("t.yaml"),
            "apiVersion: hibernation.stakater.com/v1beta1\nkind: ClusterResourceSupervisor\nmetadata:\n  name: m\nspec:\n  argocd:\n    appProjects: [frontend-team]\n  schedule:\n    sleepSchedule: \"0 22 * * *\"\n",
        );
        let located = located[0].as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            located.location_of("spec.argocd.namespace").line,
            6,
            "a missing field is reported where its parent is"
        );
        assert_eq!(line_of(doc, "metadata.labels"), None, "not below metadata");
    }

    proptest::proptest! {
        #[test]
        fn finding_a_line_never_panics_and_stays_in_the_text(doc in "[-a-z:. \\[\\]{}#\n]{0,200}", path in "[a-z0-9.]{0,20}") {
            if let Some(line) = line_of(&doc, &path) {
                proptest::prop_assert!(line < doc.lines().count());
            }
        }
    }

    #[test]
    fn the_same_object_twice_is_a_duplicate_wherever_it_is() {
        let text = "apiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata: {name: small}\nspec: {}\n---\napiVersion: hibernation.stakater.com/v1beta1\nkind: ResourceSupervisor\nmetadata: {name: nightly, namespace: a}\nspec: {}\n---\napiVersion: hibernation.stakater.com/v1beta1\nkind: ResourceSupervisor\nmetadata: {name: nightly, namespace: b}\nspec: {}\n---\napiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata: {name: small}\nspec: {}\n";
        let docs: Vec<Located> = parse(Path::new("t.yaml"), text)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let found: Vec<String> = duplicates(&docs).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "t.yaml:16: Quota/small is defined twice, first at t.yaml:1 (fix: keep one definition: the apiserver would keep only the last)"
            ]
        );
    }

    #[test]
    fn an_older_version_points_to_mto_migrate() {
        let e = errors(
            "apiVersion: tenantoperator.stakater.com/v1beta2\nkind: Tenant\nmetadata: {name: a}\nspec:\n  owners: {users: [a@b.org]}\n",
        );
        assert_eq!(
            e,
            [
                "t.yaml:1: tenantoperator.stakater.com/v1beta2 Tenant is an older version mto reads only through `mto migrate` (fix: run `mto migrate t.yaml` to rewrite it as tenantoperator.stakater.com/v1beta3 Tenant)"
            ]
        );
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        let e = errors("apiVersion: [\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.yaml:"), "{}", e[0]);
    }
}
