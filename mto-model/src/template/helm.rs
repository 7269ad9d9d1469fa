//! Helm charts in Templates (`resources.helm`), as MTO writes them:
//!
//! ```yaml
//! resources:
//!   helm:
//!     releaseName: redis            # the Template's name when left out
//!     chart:
//!       repository:
//!         name: redis
//!         version: 19.6.0
//!         repoUrl: https://charts.example.com   # or oci://registry/path
//!         username: {name: repo-user, key: username}
//!         password: {name: repo-user, key: password}
//!     setValues:
//!       - name: master.count
//!         value: 1
//!         forceString: false
//!     values: |
//!       architecture: standalone
//! ```
//!
//! Rendering a chart is I/O (the `helm` binary, a repository), so it is
//! not done here: a namespace's rendering names the [`ChartRequest`] it
//! needs, the decision asks for it ([`crate::action::Action::RenderChart`]),
//! the operator runs `helm template` (the simulator has its charts), and
//! the [`ChartRendering`] comes back into the view as an observation the
//! next decision reads. Parameters are substituted into `values` and
//! `setValues` before the request is made, so the request says everything
//! the rendering depends on.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RenderError, error};
use crate::Timestamp;
use crate::api::TemplateSpec;

/// `resources.helm` as MTO writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Helm {
    #[serde(default)]
    release_name: Option<String>,
    chart: Chart,
    #[serde(default)]
    set_values: Vec<SetValueSpec>,
    #[serde(default)]
    values: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Chart {
    repository: Repository,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Repository {
    name: String,
    #[serde(default)]
    version: Option<String>,
    repo_url: String,
    #[serde(default)]
    username: Option<SecretKeyRef>,
    #[serde(default)]
    password: Option<SecretKeyRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetValueSpec {
    name: String,
    value: Value,
    #[serde(default)]
    force_string: bool,
}

/// A key of a Secret holding a repository credential, in the operator's
/// namespace (as in MTO: tenants cannot read it there).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key in its `data`.
    pub key: String,
}

/// One `--set` (or `--set-string`) of a chart's values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SetValue {
    /// The value's path (`master.count`).
    pub name: String,
    /// The value, as text.
    pub value: String,
    /// Kept a string even when it reads as a number or boolean.
    pub force_string: bool,
}

/// Everything one rendering of a chart depends on: the repository, chart
/// and version, the release name, the namespace, and the values with the
/// parameters substituted. Credentials are referenced, never held.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ChartRequest {
    /// The Template it comes from.
    pub template: String,
    /// The repository: `https://…` (an index.yaml) or `oci://…`.
    pub repository: String,
    /// The chart's name in the repository.
    pub chart: String,
    /// The chart version; the newest when left out.
    pub version: Option<String>,
    /// The release name (`.Release.Name`).
    pub release: String,
    /// The namespace rendered for (`.Release.Namespace`).
    pub namespace: String,
    /// The `values` block, YAML.
    pub values: String,
    /// The `setValues`, in order.
    pub set_values: Vec<SetValue>,
    /// The repository's user name.
    pub username: Option<SecretKeyRef>,
    /// The repository's password.
    pub password: Option<SecretKeyRef>,
}

impl ChartRequest {
    /// What the view files the rendering under.
    #[must_use]
    pub fn digest(&self) -> String {
        crate::digest::digest(self)
    }

    /// Whether the chart comes from an OCI registry.
    #[must_use]
    pub fn is_oci(&self) -> bool {
        self.repository.starts_with("oci://")
    }

    /// Whether the chart comes from a registry on this machine (loopback),
    /// which is spoken to over plain HTTP, as container runtimes allow.
    #[must_use]
    pub fn is_local_registry(&self) -> bool {
        let Some(rest) = self.repository.strip_prefix("oci://") else {
            return false;
        };
        let host = rest.split('/').next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        host == "localhost" || host == "[::1]" || host.starts_with("127.")
    }

    /// The chart's reference as `helm` takes it: `oci://…/chart` for a
    /// registry, else the chart's name (with `--repo`).
    #[must_use]
    pub fn chart_reference(&self) -> String {
        if self.is_oci() {
            format!("{}/{}", self.repository.trim_end_matches('/'), self.chart)
        } else {
            self.chart.clone()
        }
    }
}

impl ChartRequest {
    /// The chart, its version and its repository, for people.
    #[must_use]
    pub fn chart_label(&self) -> String {
        match &self.version {
            Some(version) => format!("chart {} {version} from {}", self.chart, self.repository),
            None => format!("chart {} from {}", self.chart, self.repository),
        }
    }
}

impl std::fmt::Display for ChartRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} as release {} in namespace {}",
            self.chart_label(),
            self.release,
            self.namespace
        )
    }
}

/// What came of rendering one [`ChartRequest`]: the objects, or why not.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartRendering {
    /// When it was rendered.
    pub at: Timestamp,
    /// The objects the chart renders to, or what `helm` said.
    pub objects: Result<Arc<Vec<Value>>, String>,
}

fn read(template: &TemplateSpec) -> Result<Option<Helm>, RenderError> {
    let Some(value) = template.resources.as_ref().and_then(|r| r.helm.as_ref()) else {
        return Ok(None);
    };
    let helm = Helm::deserialize(value).map_err(|e| {
        error(
            "resources.helm",
            e.to_string(),
            "write chart.repository.{name, repoUrl, version}, and optionally releaseName, setValues[{name, value, forceString}] and values",
        )
    })?;
    let repository = &helm.chart.repository;
    if repository.name.trim().is_empty() {
        return Err(error(
            "resources.helm.chart.repository.name",
            "empty",
            "name the chart",
        ));
    }
    let url = repository.repo_url.as_str();
    if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with("oci://")) {
        return Err(error(
            "resources.helm.chart.repository.repoUrl",
            format!("{url:?} is not a chart repository"),
            "give an https:// (or http://) repository URL, or an oci:// registry path",
        ));
    }
    if let Some(Value::Array(_) | Value::Number(_) | Value::Bool(_)) = &helm.values {
        return Err(error(
            "resources.helm.values",
            "not a map of values",
            "write values as YAML text (`values: |`) or as a map",
        ));
    }
    for (i, set) in helm.set_values.iter().enumerate() {
        if set.name.trim().is_empty() {
            return Err(error(
                format!("resources.helm.setValues[{i}].name"),
                "empty",
                "give the value's path, such as master.count",
            ));
        }
        if matches!(set.value, Value::Array(_) | Value::Object(_)) {
            return Err(error(
                format!("resources.helm.setValues[{i}].value"),
                "a list or map; setValues takes one value",
                "give one value, or put the structure into values",
            ));
        }
    }
    Ok(Some(helm))
}

/// Why the Template's `resources.helm` does not read, if it does not: what
/// can be known before any instance.
#[must_use]
pub fn helm_problem(template: &TemplateSpec) -> Option<RenderError> {
    read(template).err()
}

/// Whether the Template renders a chart.
#[must_use]
pub fn has_chart(template: &TemplateSpec) -> bool {
    template
        .resources
        .as_ref()
        .is_some_and(|r| r.helm.is_some())
}

/// The chart rendering one namespace needs, with `values` (the parameters)
/// substituted; `None` when the Template has no chart.
pub(super) fn request(
    template_name: &str,
    template: &TemplateSpec,
    values: &BTreeMap<String, String>,
    namespace: &str,
) -> Result<Option<ChartRequest>, Vec<RenderError>> {
    let Some(helm) = read(template).map_err(|e| vec![e])? else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let mut text = |raw: &str, at: &str| super::substitute_text(raw, values, at, &mut problems);
    let values_text = match &helm.values {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(yaml)) => text(yaml, "resources.helm.values"),
        Some(map) => text(
            &serde_norway::to_string(map).unwrap_or_default(),
            "resources.helm.values",
        ),
    };
    let set_values = helm
        .set_values
        .iter()
        .enumerate()
        .map(|(i, set)| {
            let raw = match &set.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            SetValue {
                name: set.name.clone(),
                value: text(&raw, &format!("resources.helm.setValues[{i}].value")),
                force_string: set.force_string,
            }
        })
        .collect();
    let repository = helm.chart.repository;
    let request = ChartRequest {
        template: template_name.to_owned(),
        repository: repository.repo_url,
        chart: repository.name,
        version: repository.version.filter(|v| !v.trim().is_empty()),
        release: helm
            .release_name
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| template_name.to_owned()),
        namespace: namespace.to_owned(),
        values: values_text,
        set_values,
        username: repository.username,
        password: repository.password,
    };
    if problems.is_empty() {
        Ok(Some(request))
    } else {
        Err(problems)
    }
}

/// The objects in `helm template`'s output: every YAML document that is
/// not empty, the items of a `List`; an error names the document that is
/// not an object.
pub fn objects_from_yaml(text: &str) -> Result<Vec<Value>, String> {
    let mut objects = Vec::new();
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| format!("document {} of the rendering: {e}", i + 1))?;
        match value {
            Value::Null => {}
            Value::Object(ref map)
                if map.get("kind").and_then(Value::as_str) == Some("List")
                    && map.get("items").is_some_and(Value::is_array) =>
            {
                objects.extend(map["items"].as_array().into_iter().flatten().cloned());
            }
            Value::Object(_) => objects.push(value),
            _ => {
                return Err(format!(
                    "document {} of the rendering is not an object",
                    i + 1
                ));
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(repo_url: &str) -> TemplateSpec {
        serde_json::from_value(serde_json::json!({
            "resources": {"helm": {
                "chart": {"repository": {"name": "tools", "version": "2.0.0", "repoUrl": repo_url}},
                "setValues": [{"name": "size", "value": "${SIZE}", "forceString": true}],
            }},
            "parameters": [{"name": "SIZE", "value": "3"}],
        }))
        .expect("template")
    }

    #[test]
    fn a_request_names_the_chart_as_helm_takes_it_and_defaults_the_release() {
        let values: BTreeMap<String, String> = [("SIZE".to_owned(), "3".to_owned())].into();
        let oci = request(
            "shared",
            &template("oci://registry.example/charts/"),
            &values,
            "ns",
        )
        .expect("reads")
        .expect("a chart");
        assert!(oci.is_oci());
        assert_eq!(oci.chart_reference(), "oci://registry.example/charts/tools");
        assert_eq!(oci.release, "shared", "the Template's name");
        assert_eq!(oci.set_values[0].value, "3");
        assert!(oci.set_values[0].force_string);
        let https = request("shared", &template("https://charts.example"), &values, "ns")
            .expect("reads")
            .expect("a chart");
        assert!(!https.is_oci());
        assert!(!oci.is_local_registry());
        let local = request(
            "shared",
            &template("oci://127.0.0.1:5000/charts"),
            &values,
            "ns",
        )
        .expect("reads")
        .expect("a chart");
        assert!(local.is_local_registry());
        assert_eq!(https.chart_reference(), "tools");
        assert_ne!(oci.digest(), https.digest());
    }
}
