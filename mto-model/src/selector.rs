//! Label selectors: matching and validation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::names::{label_value_problem, qualified_name_problem};
use crate::validation::Problems;

/// Whether `labels` satisfy `selector`. An empty selector matches everything.
/// A selector with an unknown operator matches nothing: a typo must never
/// widen what a rule applies to.
#[must_use]
pub fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    matches_by(selector, |key| {
        labels.and_then(|l| l.get(key)).map(String::as_str)
    })
}

/// Whether labels read by `label` (a key's value, if set) match
/// `selector`: for labels not held in a map of their own.
pub fn matches_by<'l>(selector: &LabelSelector, label: impl Fn(&str) -> Option<&'l str>) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| label(k) == Some(v.as_str()));
    by_labels
        && selector.match_expressions.iter().flatten().all(|e| {
            let value = label(&e.key);
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.iter().any(|w| w == v)),
                "NotIn" => value.is_none_or(|v| !values.iter().any(|w| w == v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// Records every problem of `selector` under `path`.
pub fn validate(selector: &LabelSelector, path: &str, problems: &mut Problems) {
    for (key, value) in selector.match_labels.iter().flatten() {
        if let Some(p) = qualified_name_problem(key) {
            problems.push(
                format!("{path}.matchLabels[{key}]"),
                format!("label key {p}"),
                "use a key like `example.com/name` or `name`",
            );
        }
        if let Some(p) = label_value_problem(value) {
            problems.push(
                format!("{path}.matchLabels[{key}]"),
                format!("label value {value:?} {p}"),
                "use at most 63 letters, digits, '-', '_' or '.'",
            );
        }
    }
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        let has_values = e.values.as_ref().is_some_and(|v| !v.is_empty());
        match e.operator.as_str() {
            "In" | "NotIn" if !has_values => {
                problems.push(
                    format!("{at}.values"),
                    format!("operator {} needs at least one value", e.operator),
                    "list the values to compare with",
                );
            }
            "Exists" | "DoesNotExist" if has_values => {
                problems.push(
                    format!("{at}.values"),
                    format!("operator {} takes no values", e.operator),
                    "remove `values`",
                );
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => problems.push(
                format!("{at}.operator"),
                format!("unknown operator {other:?}"),
                "use In, NotIn, Exists or DoesNotExist",
            ),
        }
        if let Some(p) = qualified_name_problem(&e.key) {
            problems.push(
                format!("{at}.key"),
                format!("label key {p}"),
                "use a key like `example.com/name` or `name`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| (*v).into()).collect()),
        }
    }

    #[test]
    fn empty_matches_all() {
        assert!(matches(&LabelSelector::default(), None));
    }

    #[test]
    fn labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("env", "dev")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["web", "api"]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        assert!(matches(
            &sel,
            Some(&labels(&[("env", "dev"), ("tier", "web")]))
        ));
        assert!(!matches(
            &sel,
            Some(&labels(&[("env", "dev"), ("tier", "db")]))
        ));
        assert!(!matches(
            &sel,
            Some(&labels(&[("env", "dev"), ("tier", "web"), ("legacy", "1")]))
        ));
        let typo = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("x", "Is", &["1"])]),
        };
        assert!(!matches(&typo, Some(&labels(&[("x", "1")]))));
    }

    #[test]
    fn validation_names_the_path() {
        let mut problems = Problems::default();
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("x", "In", &[]), expr("y", "Is", &[])]),
        };
        validate(&sel, "spec.selector", &mut problems);
        let paths: Vec<_> = problems.into_errors().into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].operator"
            ]
        );
    }
}
