use super::{Problems, Validate, ValidationErrors, validate_metadata, validate_regexes};
use crate::api::{IntegrationConfig, RoleClusterRoles};

impl Validate for IntegrationConfig {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        let spec = &self.spec;
        if let Some(ac) = &spec.access_control {
            if let Some(roles) = ac.rbac.as_ref().and_then(|r| r.tenant_roles.as_ref()) {
                let base = "spec.accessControl.rbac.tenantRoles";
                if let Some(d) = &roles.default {
                    check_roles(
                        &[
                            ("owner", &d.owner),
                            ("editor", &d.editor),
                            ("viewer", &d.viewer),
                        ],
                        &format!("{base}.default"),
                        &mut problems,
                    );
                }
                for (i, c) in roles.custom.iter().enumerate() {
                    let at = format!("{base}.custom[{i}]");
                    crate::selector::validate(
                        &c.label_selector,
                        &format!("{at}.labelSelector"),
                        &mut problems,
                    );
                    check_roles(
                        &[
                            ("owner", &c.owner),
                            ("editor", &c.editor),
                            ("viewer", &c.viewer),
                        ],
                        &at,
                        &mut problems,
                    );
                }
            }
            if let Some(p) = &ac.privileged {
                let base = "spec.accessControl.privileged";
                validate_regexes(&p.namespaces, &format!("{base}.namespaces"), &mut problems);
                validate_regexes(
                    &p.service_accounts,
                    &format!("{base}.serviceAccounts"),
                    &mut problems,
                );
                validate_regexes(&p.users, &format!("{base}.users"), &mut problems);
                validate_regexes(&p.groups, &format!("{base}.groups"), &mut problems);
            }
        }
        if let Some(m) = &spec.metadata {
            for (field, meta) in [
                ("groups", &m.groups),
                ("namespaces", &m.namespaces),
                ("sandboxes", &m.sandboxes),
            ] {
                if let Some(meta) = meta {
                    validate_metadata(
                        &meta.labels,
                        &meta.annotations,
                        &format!("spec.metadata.{field}"),
                        &mut problems,
                    );
                }
            }
        }
        problems.finish()
    }
}

fn check_roles(roles: &[(&str, &Option<RoleClusterRoles>)], path: &str, problems: &mut Problems) {
    for (role, cluster_roles) in roles {
        for (i, name) in cluster_roles
            .iter()
            .flat_map(|r| r.cluster_roles.iter())
            .enumerate()
        {
            // ClusterRole names are path segments: ':' is allowed, '/' is not.
            let problem = if name.is_empty() {
                Some("is empty".to_string())
            } else if name.contains('/') || name.contains('%') || name == "." || name == ".." {
                Some(format!("{name:?} is not a valid ClusterRole name"))
            } else {
                None
            };
            if let Some(p) = problem {
                problems.push(
                    format!("{path}.{role}.clusterRoles[{i}]"),
                    p,
                    "name an existing ClusterRole such as admin, edit or view",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IntegrationAccessControl, IntegrationConfigSpec, Privileged};

    #[test]
    fn bad_regexes_name_their_index() {
        let ic = IntegrationConfig::new(
            "mto-config",
            IntegrationConfigSpec {
                access_control: Some(IntegrationAccessControl {
                    privileged: Some(Privileged {
                        namespaces: vec!["^kube-.*".into(), "^(openshift".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let err = ic.validate().unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert_eq!(
            err.errors[0].path,
            "spec.accessControl.privileged.namespaces[1]"
        );
    }
}
