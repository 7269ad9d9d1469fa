use super::{Problems, Validate, ValidationErrors};
use crate::api::{
    ClusterTemplateInstance, Template, TemplateGroupInstance, TemplateInstance, TemplateParameter,
};
use crate::names::dns_subdomain_problem;

fn check_template_name(name: &str, problems: &mut Problems) {
    if let Some(p) = dns_subdomain_problem(name) {
        problems.push(
            "spec.template",
            format!("template name {name:?} {p}"),
            "name an existing Template",
        );
    }
}

/// A parameter's validation matches the whole value, as its users expect
/// of a pattern such as `[a-z]+`.
pub(crate) fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

fn check_parameters(parameters: &[TemplateParameter], path: &str, problems: &mut Problems) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in parameters.iter().enumerate() {
        let valid = !p.name.is_empty()
            && p.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(
                format!("{path}[{i}].name"),
                format!("parameter name {:?} is not valid", p.name),
                "use letters, digits and '_' (referenced as ${NAME})",
            );
        } else if !seen.insert(p.name.as_str()) {
            problems.push(
                format!("{path}[{i}].name"),
                format!("parameter {:?} is listed twice", p.name),
                "list each parameter once",
            );
        }
    }
}

impl Validate for Template {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        check_parameters(&self.spec.parameters, "parameters", &mut problems);
        for (i, p) in self.spec.parameters.iter().enumerate() {
            let Some(pattern) = &p.validation else {
                continue;
            };
            match anchored(pattern) {
                Err(e) => problems.push(
                    format!("parameters[{i}].validation"),
                    format!("{pattern:?} is not a regular expression: {e}"),
                    "write a regular expression the whole value must match, such as ^[a-z0-9-]+$",
                ),
                Ok(re) => {
                    if let Some(value) = p.value.as_deref().filter(|v| !re.is_match(v)) {
                        problems.push(
                            format!("parameters[{i}].value"),
                            format!("the default {value:?} does not match its own validation {pattern:?}"),
                            "give a default that matches, or change the validation",
                        );
                    }
                }
            }
        }
        for (i, m) in self
            .spec
            .resources
            .iter()
            .flat_map(|r| r.manifests.iter())
            .enumerate()
        {
            for field in ["apiVersion", "kind"] {
                if m.get(field)
                    .is_none_or(|v| v.as_str().is_none_or(|s| s.is_empty()))
                {
                    problems.push(
                        format!("resources.manifests[{i}].{field}"),
                        "is missing",
                        "every manifest needs apiVersion, kind and metadata.name",
                    );
                }
            }
        }
        for e in crate::template::undeclared_references(&self.spec)
            .into_iter()
            .chain(crate::template::mapping_problem(&self.spec))
            .chain(crate::template::helm_problem(&self.spec))
        {
            problems.push(e.field, e.problem, e.fix);
        }
        problems.finish()
    }
}

impl Validate for TemplateInstance {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        check_template_name(&self.spec.template, &mut problems);
        check_parameters(&self.spec.parameters, "spec.parameters", &mut problems);
        problems.finish()
    }
}

impl Validate for ClusterTemplateInstance {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        check_template_name(&self.spec.template, &mut problems);
        crate::selector::validate(&self.spec.selector, "spec.selector", &mut problems);
        check_parameters(&self.spec.parameters, "spec.parameters", &mut problems);
        problems.finish()
    }
}

impl Validate for TemplateGroupInstance {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        check_template_name(&self.spec.template, &mut problems);
        crate::selector::validate(&self.spec.selector, "spec.selector", &mut problems);
        check_parameters(&self.spec.parameters, "spec.parameters", &mut problems);
        problems.finish()
    }
}
