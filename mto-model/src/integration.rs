//! The integration config, compiled once for fast, repeated use by every
//! tenant decision.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use regex::RegexSet;

use crate::api::{IntegrationConfig, Metadata, RoleClusterRoles, TenantRoleSet};
use crate::validation::{FieldError, Validate, ValidationErrors};

/// Why no IntegrationConfig is in force.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationProblem {
    /// More than one exists.
    #[error(
        "{} IntegrationConfigs found ({}); mto uses exactly one (fix: delete all but one)",
        names.len(),
        names.join(", ")
    )]
    Several {
        /// Their `namespace/name`s.
        names: Vec<String>,
    },
    /// The one there is does not validate.
    #[error("IntegrationConfig {name} is invalid: {errors}")]
    Invalid {
        /// Its `namespace/name`.
        name: String,
        /// What is wrong with it.
        errors: ValidationErrors,
    },
}

fn object_name(config: &IntegrationConfig) -> String {
    match &config.metadata.namespace {
        Some(ns) => format!(
            "{ns}/{}",
            config.metadata.name.as_deref().unwrap_or_default()
        ),
        None => config.metadata.name.clone().unwrap_or_default(),
    }
}

/// The patterns as one set; `None` when there are none.
fn pattern_set(patterns: &[String], path: &str) -> Result<Option<RegexSet>, FieldError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    RegexSet::new(patterns).map(Some).map_err(|e| FieldError {
        path: path.to_owned(),
        problem: format!(
            "the patterns cannot be compiled together: {}",
            crate::validation::error_summary(&e.to_string())
        ),
        fix: "fix or simplify the patterns".into(),
    })
}

/// Namespaces no tenant may ever claim, whatever the integration config says.
pub const RESERVED_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The three tenant roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantRole {
    /// Full control of the tenant's namespaces.
    Owner,
    /// Read and write.
    Editor,
    /// Read only.
    Viewer,
}

impl TenantRole {
    /// All roles, most powerful first.
    pub const ALL: [TenantRole; 3] = [TenantRole::Owner, TenantRole::Editor, TenantRole::Viewer];

    /// `owner`, `editor`, `viewer`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TenantRole::Owner => "owner",
            TenantRole::Editor => "editor",
            TenantRole::Viewer => "viewer",
        }
    }
}

/// Cluster roles bound for each tenant role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSet {
    /// Cluster roles for owners.
    pub owner: Vec<String>,
    /// Cluster roles for editors.
    pub editor: Vec<String>,
    /// Cluster roles for viewers.
    pub viewer: Vec<String>,
}

impl RoleSet {
    /// The cluster roles of one tenant role.
    #[must_use]
    pub fn for_role(&self, role: TenantRole) -> &[String] {
        match role {
            TenantRole::Owner => &self.owner,
            TenantRole::Editor => &self.editor,
            TenantRole::Viewer => &self.viewer,
        }
    }

    fn overlay(
        base: &RoleSet,
        owner: &Option<RoleClusterRoles>,
        editor: &Option<RoleClusterRoles>,
        viewer: &Option<RoleClusterRoles>,
    ) -> RoleSet {
        let pick = |o: &Option<RoleClusterRoles>, fallback: &Vec<String>| {
            o.as_ref()
                .map_or_else(|| fallback.clone(), |r| r.cluster_roles.clone())
        };
        RoleSet {
            owner: pick(owner, &base.owner),
            editor: pick(editor, &base.editor),
            viewer: pick(viewer, &base.viewer),
        }
    }
}

impl Default for RoleSet {
    /// owner → admin, editor → edit, viewer → view.
    fn default() -> Self {
        RoleSet {
            owner: vec!["admin".into()],
            editor: vec!["edit".into()],
            viewer: vec!["view".into()],
        }
    }
}

/// A validated, compiled integration config.
#[derive(Clone, Debug, Default)]
pub struct Integration {
    privileged_namespaces: Option<RegexSet>,
    privileged_subjects: Option<RegexSet>,
    default_roles: RoleSet,
    custom_roles: Vec<(LabelSelector, RoleSet)>,
    /// Metadata for every tenant namespace except sandboxes.
    pub namespace_metadata: Metadata,
    /// Metadata for sandboxes.
    pub sandbox_metadata: Metadata,
    /// The network policies every tenant gets.
    pub network: crate::api::NetworkTenantPolicies,
}

impl Integration {
    /// Compiles a config; `None` gives the defaults.
    pub fn compile(config: Option<&IntegrationConfig>) -> Result<Integration, ValidationErrors> {
        let Some(config) = config else {
            return Ok(Integration::default());
        };
        config.validate()?;
        let spec = &config.spec;
        let ac = spec.access_control.clone().unwrap_or_default();
        let roles = ac.rbac.and_then(|r| r.tenant_roles).unwrap_or_default();
        let default_roles =
            roles
                .default
                .as_ref()
                .map_or_else(RoleSet::default, |d: &TenantRoleSet| {
                    RoleSet::overlay(&RoleSet::default(), &d.owner, &d.editor, &d.viewer)
                });
        let custom_roles = roles
            .custom
            .iter()
            .map(|c| {
                (
                    c.label_selector.clone(),
                    RoleSet::overlay(&default_roles, &c.owner, &c.editor, &c.viewer),
                )
            })
            .collect();
        let privileged = ac.privileged.unwrap_or_default();
        let base = "spec.accessControl.privileged";
        let subjects: Vec<String> = privileged
            .users
            .into_iter()
            .chain(privileged.groups)
            .chain(privileged.service_accounts)
            .collect();
        // A pattern that does not compile must not silently match nothing:
        // privileged namespaces would then be claimable and sleepable.
        let namespaces = pattern_set(&privileged.namespaces, &format!("{base}.namespaces"));
        let subjects = pattern_set(
            &subjects,
            &format!("{base}.users, groups and serviceAccounts"),
        );
        let (privileged_namespaces, privileged_subjects) = match (namespaces, subjects) {
            (Ok(n), Ok(s)) => (n, s),
            (n, s) => {
                return Err(ValidationErrors {
                    errors: n.err().into_iter().chain(s.err()).collect(),
                });
            }
        };
        let metadata = spec.metadata.clone().unwrap_or_default();
        Ok(Integration {
            privileged_namespaces,
            privileged_subjects,
            default_roles,
            custom_roles,
            namespace_metadata: metadata.namespaces.unwrap_or_default(),
            sandbox_metadata: metadata.sandboxes.unwrap_or_default(),
            network: spec
                .tenant_policies
                .as_ref()
                .and_then(|p| p.network.clone())
                .unwrap_or_default(),
        })
    }

    /// The integration config in force among `configs`: the defaults when
    /// there is none, the one when it is valid. Several, or an invalid one,
    /// is a problem: controllers then decide nothing, since roles they
    /// cannot read must not turn into deleted bindings.
    pub fn select<'a>(
        configs: impl IntoIterator<Item = &'a IntegrationConfig>,
    ) -> Result<Integration, IntegrationProblem> {
        let configs: Vec<&IntegrationConfig> = configs.into_iter().collect();
        match configs.as_slice() {
            [] => Ok(Integration::default()),
            [one] => {
                Integration::compile(Some(one)).map_err(|errors| IntegrationProblem::Invalid {
                    name: object_name(one),
                    errors,
                })
            }
            several => Err(IntegrationProblem::Several {
                names: several.iter().map(|c| object_name(c)).collect(),
            }),
        }
    }

    /// Whether no tenant may claim `namespace`.
    #[must_use]
    pub fn is_privileged_namespace(&self, namespace: &str) -> bool {
        RESERVED_NAMESPACES.contains(&namespace)
            || self
                .privileged_namespaces
                .as_ref()
                .is_some_and(|s| s.is_match(namespace))
    }

    /// The privileged namespaces' patterns (unanchored regular
    /// expressions), as the IntegrationConfig gives them.
    #[must_use]
    pub fn privileged_namespace_patterns(&self) -> &[String] {
        self.privileged_namespaces
            .as_ref()
            .map_or(&[], RegexSet::patterns)
    }

    /// The privileged users', groups' and service accounts' patterns.
    #[must_use]
    pub fn privileged_subject_patterns(&self) -> &[String] {
        self.privileged_subjects
            .as_ref()
            .map_or(&[], RegexSet::patterns)
    }

    /// Whether a user, group or service account is privileged.
    #[must_use]
    pub fn is_privileged_subject(&self, subject: &str) -> bool {
        self.privileged_subjects
            .as_ref()
            .is_some_and(|s| s.is_match(subject))
    }

    /// The cluster roles for a namespace with these labels: the first custom
    /// entry whose selector matches, else the defaults.
    #[must_use]
    pub fn roles_for<'l>(&self, label: impl Fn(&str) -> Option<&'l str>) -> &RoleSet {
        self.custom_roles
            .iter()
            .find(|(sel, _)| crate::selector::matches_by(sel, &label))
            .map_or(&self.default_roles, |(_, roles)| roles)
    }
}

/// Reads a free-form block of the IntegrationConfig (`spec.components`,
/// `spec.integrations`) as `T`, naming the field at fault; absent, `T`'s
/// default.
pub(crate) fn read_block<T: for<'de> serde::Deserialize<'de> + Default>(
    value: Option<&serde_json::Value>,
    path: &str,
) -> Result<T, FieldError> {
    let Some(value) = value else {
        return Ok(T::default());
    };
    serde_path_to_error::deserialize(value).map_err(|e| FieldError {
        path: format!("{path}.{}", e.path()),
        problem: e.inner().to_string(),
        fix: "write it as MTO's IntegrationConfig reference shows".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(namespace: &str, patterns: serde_json::Value) -> IntegrationConfig {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1",
            "kind": "IntegrationConfig",
            "metadata": {"name": "config", "namespace": namespace},
            "spec": {"accessControl": {"privileged": {"namespaces": patterns}}}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn one_valid_config_is_in_force() {
        let c = config("mto", serde_json::json!(["^openshift-.*"]));
        let integration = Integration::select([&c]).unwrap_or_else(|e| panic!("{e}"));
        assert!(integration.is_privileged_namespace("openshift-monitoring"));
        assert!(!integration.is_privileged_namespace("team-a"));
        assert!(Integration::select([]).is_ok_and(|i| !i.is_privileged_namespace("team-a")));
    }

    #[test]
    fn several_configs_are_a_problem_naming_them() {
        let (a, b) = (
            config("one", serde_json::json!([])),
            config("two", serde_json::json!([])),
        );
        let problem = Integration::select([&a, &b])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            problem.contains("2 IntegrationConfigs found (one/config, two/config)"),
            "{problem}"
        );
        assert!(problem.contains("fix: delete all but one"), "{problem}");
    }

    /// A pattern that does not compile used to be dropped, and with it
    /// every privileged pattern: the privileged namespaces became
    /// claimable. It is refused, naming the field.
    #[test]
    fn a_pattern_that_does_not_compile_is_refused_not_ignored() {
        let c = config("mto", serde_json::json!(["^kube-.*", "(unclosed"]));
        let problem = Integration::select([&c])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            problem.contains("spec.accessControl.privileged.namespaces"),
            "{problem}"
        );
        assert!(Integration::compile(Some(&c)).is_err());
    }
}
