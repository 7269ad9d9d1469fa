//! What the apiserver sends to each rule: the resources and operations a
//! ValidatingWebhookConfiguration names, kept beside the rules so the two
//! cannot drift (a test sends every listed kind through [`super::admit`]).

use super::{Operation, Rule};

/// One kind a rule judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The API group (`""` for the core group).
    pub group: &'static str,
    /// The version the rule reads; the apiserver converts others to it.
    pub version: &'static str,
    /// The kind, as the request names it.
    pub kind: &'static str,
    /// The plural resource, as the webhook configuration names it.
    pub plural: &'static str,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// One validating webhook: a rule and what reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The rule.
    pub rule: Rule,
    /// The operations it judges.
    pub operations: &'static [Operation],
    /// The kinds it judges.
    pub resources: &'static [Resource],
    /// In which namespaces it judges.
    pub namespaces: Namespaces,
    /// Whose requests it judges.
    pub asked_by: Askers,
}

/// Whose requests a rule judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Askers {
    /// People and their tools: not cluster admins, the control plane or
    /// mto, which pass every rule anyway.
    People,
    /// The apiserver's quota admission, raising a quota's `status.used`
    /// for whoever creates a pod, and only on the quotas mto manages.
    QuotaAdmission,
}

/// Where a rule judges; what it does not reach never waits for mto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespaces {
    /// Everywhere: cluster-scoped kinds, and mto's own in its namespace.
    Any,
    /// Everywhere but the control plane's namespaces and mto's own.
    NotSystem,
    /// Only a tenant's namespaces (labelled `stakater.com/tenant`).
    Tenant,
}

/// A namespaced kind.
const fn resource(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Resource {
    Resource {
        group,
        version,
        kind,
        plural,
        namespaced: true,
    }
}

/// A cluster-scoped kind.
const fn cluster_resource(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Resource {
    Resource {
        namespaced: false,
        ..resource(group, version, kind, plural)
    }
}

const WRITES: &[Operation] = &[Operation::Create, Operation::Update];
const ALL: &[Operation] = &[Operation::Create, Operation::Update, Operation::Delete];
const MTO: &str = "tenantoperator.stakater.com";
const TEMPLATES: &str = "templates.stakater.com";
const HIBERNATION: &str = "hibernation.stakater.com";

/// Every validating webhook mto serves, in the order they are configured.
pub const SCOPES: &[Scope] = &[
    Scope {
        rule: Rule::Tenant,
        operations: WRITES,
        resources: &[cluster_resource(MTO, "v1beta3", "Tenant", "tenants")],
        namespaces: Namespaces::Any,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::Quota,
        operations: ALL,
        resources: &[cluster_resource(MTO, "v1beta1", "Quota", "quotas")],
        namespaces: Namespaces::Any,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::IntegrationConfig,
        operations: WRITES,
        resources: &[resource(
            MTO,
            "v1beta1",
            "IntegrationConfig",
            "integrationconfigs",
        )],
        namespaces: Namespaces::Any,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::Namespace,
        operations: ALL,
        resources: &[cluster_resource("", "v1", "Namespace", "namespaces")],
        namespaces: Namespaces::NotSystem,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::RoleBinding,
        operations: ALL,
        resources: &[resource(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        )],
        namespaces: Namespaces::Tenant,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::TenantPolicy,
        operations: WRITES,
        resources: &[
            resource("", "v1", "Pod", "pods"),
            resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
            resource("apps", "v1", "Deployment", "deployments"),
            resource("apps", "v1", "StatefulSet", "statefulsets"),
            resource("apps", "v1", "DaemonSet", "daemonsets"),
            resource("apps", "v1", "ReplicaSet", "replicasets"),
            resource("batch", "v1", "Job", "jobs"),
            resource("batch", "v1", "CronJob", "cronjobs"),
            resource("networking.k8s.io", "v1", "Ingress", "ingresses"),
            resource("", "v1", "Service", "services"),
        ],
        namespaces: Namespaces::Tenant,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::Template,
        // Deletes too: a Template that instances use is not deleted.
        operations: ALL,
        resources: &[
            cluster_resource(TEMPLATES, "v1alpha1", "Template", "templates"),
            resource(
                TEMPLATES,
                "v1alpha1",
                "TemplateInstance",
                "templateinstances",
            ),
            cluster_resource(
                TEMPLATES,
                "v1alpha1",
                "ClusterTemplateInstance",
                "clustertemplateinstances",
            ),
            cluster_resource(
                TEMPLATES,
                "v1alpha1",
                "TemplateGroupInstance",
                "templategroupinstances",
            ),
        ],
        namespaces: Namespaces::Any,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::Supervisor,
        operations: WRITES,
        resources: &[
            resource(
                HIBERNATION,
                "v1beta1",
                "ResourceSupervisor",
                "resourcesupervisors",
            ),
            cluster_resource(
                HIBERNATION,
                "v1beta1",
                "ClusterResourceSupervisor",
                "clusterresourcesupervisors",
            ),
        ],
        namespaces: Namespaces::Any,
        asked_by: Askers::People,
    },
    Scope {
        rule: Rule::TenantQuota,
        operations: &[Operation::Update],
        resources: &[resource("", "v1", "ResourceQuota", "resourcequotas/status")],
        namespaces: Namespaces::Tenant,
        asked_by: Askers::QuotaAdmission,
    },
];

/// The rule that judges objects of `group`/`kind`, if any does.
#[must_use]
pub fn rule_of(group: &str, kind: &str) -> Option<Rule> {
    SCOPES.iter().find_map(|scope| {
        scope
            .resources
            .iter()
            .any(|r| r.group == group && r.kind == kind)
            .then_some(scope.rule)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_judged_by_exactly_the_rule_that_lists_it() {
        let mut seen = std::collections::BTreeSet::new();
        for scope in SCOPES {
            assert!(!scope.operations.is_empty(), "{scope:?}");
            for r in scope.resources {
                assert!(seen.insert((r.group, r.kind)), "{r:?} listed twice");
                assert_eq!(rule_of(r.group, r.kind), Some(scope.rule), "{r:?}");
                let resource = r.plural.split('/').next().unwrap_or_default();
                assert!(
                    resource.ends_with('s') && r.plural == r.plural.to_lowercase(),
                    "{r:?}"
                );
            }
        }
        assert_eq!(rule_of("", "ConfigMap"), None);
    }
}
