use proptest::prelude::*;
use serde_json::json;

use super::*;

fn parameter(
    name: &str,
    value: Option<&str>,
    required: bool,
    validation: Option<&str>,
) -> TemplateParameter {
    TemplateParameter {
        name: name.into(),
        value: value.map(str::to_owned),
        required,
        validation: validation.map(str::to_owned),
        description: None,
    }
}

fn template(manifests: Vec<Value>, parameters: Vec<TemplateParameter>) -> TemplateSpec {
    serde_json::from_value(json!({"parameters": parameters, "resources": {"manifests": manifests}}))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn text_and_unquoted_values_and_the_predefined_ones_are_substituted() {
    let t = template(
        vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings-${TENANT}", "namespace": "${NAMESPACE}"},
            "data": {"greeting": "hello ${WHO}", "${WHO}-key": "v"},
            "spec": {"replicas": "${{REPLICAS}}", "zones": "${{ZONES}}", "literal": "${not a reference}"}
        })],
        vec![
            parameter("WHO", Some("world"), false, None),
            parameter("REPLICAS", None, true, Some("[0-9]+")),
            parameter("ZONES", Some("[a, b]"), false, None),
        ],
    );
    let values = parameters(
        &t.parameters,
        &[parameter("REPLICAS", Some("3"), false, None)],
        "alpha-dev",
        Some("alpha"),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let rendered = render_manifests(&t, &values).unwrap_or_else(|e| panic!("{e:?}"));
    let o = &rendered[0];
    assert_eq!(o["metadata"]["name"], "settings-alpha");
    assert_eq!(o["metadata"]["namespace"], "alpha-dev");
    assert_eq!(o["data"]["greeting"], "hello world");
    assert_eq!(o["data"]["world-key"], "v");
    assert_eq!(o["spec"]["replicas"], 3, "unquoted");
    assert_eq!(o["spec"]["zones"], json!(["a", "b"]));
    assert_eq!(o["spec"]["literal"], "${not a reference}");
}

#[test]
fn every_parameter_problem_is_named_with_its_field_and_fix() {
    let declared = vec![
        parameter("SIZE", None, true, None),
        parameter("TIER", Some("gold"), false, Some("bronze|silver")),
        parameter("BAD", Some("x"), false, Some("(")),
    ];
    let problems = parameters(
        &declared,
        &[parameter("COLOUR", Some("red"), false, None)],
        "ns",
        None,
    )
    .err()
    .unwrap_or_default();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 4, "{text:#?}");
    assert!(text[0].starts_with("parameters[COLOUR]: the Template has no such parameter (fix: remove it, or use one of: SIZE, TIER, BAD)"), "{text:#?}");
    assert!(
        text.iter()
            .any(|t| t.starts_with("parameters[SIZE]: required and not given"))
    );
    assert!(
        text.iter()
            .any(|t| t.contains("parameters[TIER]: \"gold\" does not match \"bronze|silver\""))
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("parameters[BAD].validation: not a regular expression"))
    );
}

#[test]
fn an_unknown_reference_or_a_manifest_that_is_no_object_is_refused_whole() {
    let t = template(
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "${MISSING}"}}),
            json!("just text"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}}),
        ],
        vec![],
    );
    let values = parameters(&[], &[], "ns", None).unwrap_or_default();
    let problems = render_manifests(&t, &values).err().unwrap_or_default();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "resources.manifests[0].data.k: ${MISSING} names no parameter (fix: declare it in the Template's parameters, or use NAMESPACE or TENANT)",
            "resources.manifests[1]: not a Kubernetes object (fix: give apiVersion, kind and metadata.name)",
        ]
    );
}

proptest! {
    /// Rendering is deterministic, text without references comes back as
    /// written, and a value given is what appears.
    #[test]
    fn rendering_is_deterministic_and_substitutes_exactly_the_references(
        plain in "[a-zA-Z0-9 ._{}-]{0,20}",
        value in "[a-z0-9-]{1,12}",
        namespace in "[a-z]{1,10}",
    ) {
        let t = template(
            vec![json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                        "data": {"plain": plain, "with": "<${V}>", "ns": "${NAMESPACE}"}})],
            vec![parameter("V", None, true, None)],
        );
        let values = parameters(&t.parameters, &[parameter("V", Some(&value), false, None)], &namespace, None)
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let first = render_manifests(&t, &values).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(&first, &render_manifests(&t, &values).unwrap_or_default());
        prop_assert_eq!(&first[0]["data"]["plain"], &json!(plain));
        prop_assert_eq!(&first[0]["data"]["with"], &json!(format!("<{value}>")));
        prop_assert_eq!(&first[0]["data"]["ns"], &json!(namespace));
    }
}

#[test]
fn a_template_referring_to_an_undeclared_parameter_is_refused_by_validate() {
    use crate::validation::Validate as _;
    let spec = template(
        vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c-${TENANT}"}, "data": {"k": "${SIZE} ${COLOUR}"}})],
        vec![parameter("SIZE", Some("1"), false, None)],
    );
    let problems = undeclared_references(&spec);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "resources.manifests[0].data.k");
    assert!(problems[0].problem.contains("${COLOUR}"));
    let whole = crate::api::Template {
        metadata: Default::default(),
        spec,
        status: None,
    };
    let refused = whole
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("${COLOUR} names no parameter"),
        "{refused}"
    );
}

#[test]
fn validate_refuses_mappings_that_do_not_read_and_names_the_field() {
    use crate::validation::Validate as _;
    let template: crate::api::Template = serde_json::from_value(serde_json::json!({
        "apiVersion": "templates.stakater.com/v1alpha1", "kind": "Template",
        "metadata": {"name": "t"},
        "resources": {"resourceMappings": {"secrets": [{"name": "pull"}]}}
    }))
    .expect("reads");
    let errors = template.validate().expect_err("refused");
    assert!(
        errors.to_string().contains("resources.resourceMappings"),
        "{errors}"
    );
}
