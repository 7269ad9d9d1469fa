//! Templates: what a Template renders to for one namespace. Pure: the
//! template controllers, the simulator and `mto plan` all render here.
//!
//! Parameters, as MTO has them: the Template's `parameters` give defaults,
//! `required` and a `validation` pattern the whole value must match; an
//! instance's `parameters` override them by name. `${NAME}` substitutes
//! the value as text anywhere in a string; a string that is exactly
//! `${{NAME}}` becomes the value read as YAML — a number, a boolean, a
//! list — unquoted. `${NAMESPACE}` and `${TENANT}` are predefined.

mod deploy;
mod guard;
mod helm;
mod instance;
mod mappings;
pub mod order;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::{TemplateParameter, TemplateSpec};

pub use deploy::{
    NotRendered, RETRY_FAILED, Rendered, TemplateDecision, TemplatePhase, decide, render_for,
    targets,
};
pub use guard::{GuardDecision, GuardPhase, guard, users as template_users};
pub use helm::{
    ChartRendering, ChartRequest, SecretKeyRef, SetValue, has_chart, helm_problem,
    objects_from_yaml,
};
pub use instance::Instance;
pub use mappings::{Copied, mapping_problem, sources as copy_sources};
pub(crate) use mappings::{copies_from, kinds as copied_kinds};

/// Why a Template does not render for a namespace: every problem names
/// the field and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem} (fix: {fix})")]
pub struct RenderError {
    /// The field at fault (`parameters[NAME]`, `resources.manifests[2].spec.replicas`).
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// How to mend it.
    pub fix: String,
}

fn error(
    field: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> RenderError {
    RenderError {
        field: field.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The predefined parameters.
const NAMESPACE: &str = "NAMESPACE";
const TENANT: &str = "TENANT";

/// The parameter values for one namespace: the Template's defaults, the
/// instance's values over them, the predefined ones; every problem found,
/// not only the first.
pub fn parameters(
    template: &[TemplateParameter],
    instance: &[TemplateParameter],
    namespace: &str,
    tenant: Option<&str>,
) -> Result<BTreeMap<String, String>, Vec<RenderError>> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    for given in instance {
        if !template.iter().any(|p| p.name == given.name) {
            problems.push(error(
                format!("parameters[{}]", given.name),
                "the Template has no such parameter",
                format!(
                    "remove it, or use one of: {}",
                    template
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for declared in template {
        let field = format!("parameters[{}]", declared.name);
        let value = instance
            .iter()
            .find(|p| p.name == declared.name)
            .and_then(|p| p.value.clone())
            .or_else(|| declared.value.clone());
        let Some(value) = value else {
            if declared.required {
                problems.push(error(
                    field,
                    "required and not given",
                    "give it a value in the instance",
                ));
            }
            continue;
        };
        if let Some(pattern) = declared.validation.as_deref() {
            match crate::validation::template::anchored(pattern) {
                Ok(re) if re.is_match(&value) => {}
                Ok(_) => problems.push(error(
                    field,
                    format!("{value:?} does not match {pattern:?}"),
                    "give a value the pattern matches",
                )),
                Err(e) => problems.push(error(
                    format!("{field}.validation"),
                    format!("not a regular expression: {e}"),
                    "correct the pattern in the Template",
                )),
            }
        }
        values.insert(declared.name.clone(), value);
    }
    values.insert(NAMESPACE.into(), namespace.into());
    if let Some(tenant) = tenant {
        values.insert(TENANT.into(), tenant.into());
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// The Template's manifests rendered with `values`: every problem found.
pub fn render_manifests(
    template: &TemplateSpec,
    values: &BTreeMap<String, String>,
) -> Result<Vec<Value>, Vec<RenderError>> {
    let mut problems = Vec::new();
    let mut rendered = Vec::new();
    let manifests = template
        .resources
        .as_ref()
        .map(|r| r.manifests.as_slice())
        .unwrap_or_default();
    for (i, manifest) in manifests.iter().enumerate() {
        let at = format!("resources.manifests[{i}]");
        let object = substitute(manifest, values, &at, &mut problems);
        let named = object["metadata"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        if !object.is_object()
            || object["apiVersion"].as_str().is_none()
            || object["kind"].as_str().is_none()
            || !named
        {
            problems.push(error(
                at,
                "not a Kubernetes object",
                "give apiVersion, kind and metadata.name",
            ));
            continue;
        }
        rendered.push(object);
    }
    if problems.is_empty() {
        Ok(rendered)
    } else {
        Err(problems)
    }
}

/// The references in the Template's manifests to no declared parameter
/// (nor `NAMESPACE` or `TENANT`): what can be known before any instance.
#[must_use]
pub fn undeclared_references(template: &TemplateSpec) -> Vec<RenderError> {
    let mut values: BTreeMap<String, String> = template
        .parameters
        .iter()
        .map(|p| (p.name.clone(), String::new()))
        .collect();
    values.insert(NAMESPACE.into(), String::new());
    values.insert(TENANT.into(), String::new());
    let mut problems = Vec::new();
    for (i, manifest) in template
        .resources
        .iter()
        .flat_map(|r| r.manifests.iter())
        .enumerate()
    {
        substitute(
            manifest,
            &values,
            &format!("resources.manifests[{i}]"),
            &mut problems,
        );
    }
    // The chart's values and setValues (a helm block that does not read is
    // `helm_problem`'s to report).
    if helm::helm_problem(template).is_none()
        && let Err(more) = helm::request("", template, &values, "")
    {
        problems.extend(more);
    }
    problems
}

/// `value` with every reference replaced; unknown references are problems.
fn substitute(
    value: &Value,
    values: &BTreeMap<String, String>,
    at: &str,
    problems: &mut Vec<RenderError>,
) -> Value {
    match value {
        Value::String(text) => {
            // Exactly `${{NAME}}`: the value itself, read as YAML.
            if let Some(name) = text
                .strip_prefix("${{")
                .and_then(|t| t.strip_suffix("}}"))
                .filter(|n| is_name(n))
            {
                return match values.get(name) {
                    Some(v) => serde_norway::from_str::<Value>(v)
                        .ok()
                        .filter(|v| !v.is_null())
                        .unwrap_or_else(|| Value::String(v.clone())),
                    None => {
                        problems.push(unknown(at, name));
                        value.clone()
                    }
                };
            }
            Value::String(substitute_text(text, values, at, problems))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| substitute(v, values, &format!("{at}[{i}]"), problems))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let key = substitute_text(k, values, at, problems);
                    let value = substitute(v, values, &format!("{at}.{k}"), problems);
                    (key, value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unknown(at: &str, name: &str) -> RenderError {
    error(
        at,
        format!("${{{name}}} names no parameter"),
        "declare it in the Template's parameters, or use NAMESPACE or TENANT",
    )
}

/// `${NAME}` and `${{NAME}}` inside text, replaced by the value as text.
fn substitute_text(
    text: &str,
    values: &BTreeMap<String, String>,
    at: &str,
    problems: &mut Vec<RenderError>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (braces, inner) = match after.strip_prefix('{') {
            Some(inner) => (2, inner),
            None => (1, after),
        };
        let close = "}".repeat(braces);
        let Some(end) = inner.find(&close).filter(|end| is_name(&inner[..*end])) else {
            // Not a reference: kept as written.
            out.push_str("${");
            rest = after;
            continue;
        };
        let name = &inner[..end];
        match values.get(name) {
            Some(v) => out.push_str(v),
            None => {
                problems.push(unknown(at, name));
                out.push_str(&rest[start..start + 2 + (braces - 1) + end + braces]);
            }
        }
        rest = &inner[end + braces..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
