//! The simulated chart repositories: what `helm template` would give for
//! a chart request, from the charts the scenario lists.

use std::collections::BTreeMap;
use std::sync::Arc;

use mto_model::Timestamp;
use mto_model::template::{ChartRendering, ChartRequest, objects_from_yaml};

use crate::scenario::SimChart;

/// Renders `request` from `charts`, as of `now`.
pub(super) fn render(
    charts: &[SimChart],
    request: &ChartRequest,
    now: Timestamp,
) -> ChartRendering {
    let chart = charts.iter().find(|c| {
        c.repo_url.trim_end_matches('/') == request.repository.trim_end_matches('/')
            && c.name == request.chart
            && (c.version.is_none() || request.version.is_none() || c.version == request.version)
    });
    let objects = match chart {
        None => Err(format!(
            "chart {:?}{} not found in {}",
            request.chart,
            request
                .version
                .as_deref()
                .map(|v| format!(" version {v}"))
                .unwrap_or_default(),
            request.repository
        )),
        Some(chart) => objects_from_yaml(&substitute(&chart.templates, request)).map(Arc::new),
    };
    ChartRendering { at: now, objects }
}

/// The templates with the release and values put in.
fn substitute(templates: &str, request: &ChartRequest) -> String {
    let mut values: BTreeMap<String, String> =
        serde_norway::from_str::<BTreeMap<String, serde_json::Value>>(&request.values)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
    for set in &request.set_values {
        values.insert(set.name.clone(), set.value.clone());
    }
    let mut out = templates
        .replace("{{ .Release.Name }}", &request.release)
        .replace("{{ .Release.Namespace }}", &request.namespace);
    for (name, value) in values {
        out = out.replace(&format!("{{{{ .Values.{name} }}}}"), &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(values: &str) -> ChartRequest {
        ChartRequest {
            template: "t".into(),
            repository: "https://charts.test/".into(),
            chart: "tools".into(),
            version: Some("1.0.0".into()),
            release: "tooling".into(),
            namespace: "alpha-dev".into(),
            values: values.into(),
            set_values: vec![mto_model::template::SetValue {
                name: "size".into(),
                value: "large".into(),
                force_string: false,
            }],
            username: None,
            password: None,
        }
    }

    #[test]
    fn a_listed_chart_renders_with_its_release_and_values_and_others_are_not_found() {
        let charts = vec![SimChart {
            repo_url: "https://charts.test".into(),
            name: "tools".into(),
            version: Some("1.0.0".into()),
            templates: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\ndata:\n  team: {{ .Values.team }}\n  size: {{ .Values.size }}\n".into(),
        }];
        let now = Timestamp::UNIX_EPOCH;
        let objects = render(&charts, &request("team: blue\n"), now)
            .objects
            .expect("renders");
        assert_eq!(objects[0]["metadata"]["name"], "tooling");
        assert_eq!(objects[0]["metadata"]["namespace"], "alpha-dev");
        assert_eq!(objects[0]["data"]["team"], "blue");
        assert_eq!(objects[0]["data"]["size"], "large");
        let mut other = request("");
        other.version = Some("2.0.0".into());
        let err = render(&charts, &other, now).objects.expect_err("no 2.0.0");
        assert!(err.contains("version 2.0.0 not found"), "{err}");
    }
}
