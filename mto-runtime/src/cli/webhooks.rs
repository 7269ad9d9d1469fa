//! The ValidatingWebhookConfiguration mto ships: one webhook per rule of
//! [`mto_model::admission::SCOPES`], what `mto webhooks` prints and
//! `deploy/operator/webhooks.yaml` holds.
//!
//! Every webhook fails closed, and none can lock a cluster out: requests
//! from `system:masters`, from the control plane's own components and from
//! mto itself never reach it (`matchConditions`); no namespace of the
//! control plane or of mto is judged, nor anything in one, but mto's own
//! IntegrationConfig (`namespaceSelector`); tenant policies and role
//! bindings are asked only about tenant namespaces.

use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, RuleWithOperations, ServiceReference, ValidatingWebhook,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use mto_model::admission::{Askers, Namespaces, Operation, SCOPES};
use mto_model::integration::Integration;
use mto_model::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, TENANT_LABEL};

/// Where the apiserver reaches the webhook.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// In the cluster: mto's Service (`mto-webhook` in mto's namespace).
    Service {
        /// mto's namespace.
        namespace: String,
        /// The Service (`mto-webhook`).
        service: String,
        /// The CA that signed the webhook's certificate (PEM), when mto
        /// manages it; else the caBundle is left to cert-manager's
        /// injector.
        ca_bundle: Option<Vec<u8>>,
    },
    /// Anywhere else (a webhook run outside the cluster, as in tests): an
    /// `https://` base URL and the CA that signed its certificate (PEM).
    Url {
        /// The base URL, without a path.
        base: String,
        /// The CA bundle, PEM.
        ca_bundle: Vec<u8>,
    },
}

impl Endpoint {
    fn namespace(&self) -> &str {
        match self {
            Endpoint::Service { namespace, .. } => namespace,
            Endpoint::Url { .. } => "mto-system",
        }
    }
}

/// The configuration's name.
pub const NAME: &str = "mto";

/// The names of the namespaces no webhook of mto is ever asked about.
fn exempt_namespaces(own: &str) -> Vec<String> {
    ["kube-system", "kube-public", "kube-node-lease", own]
        .map(str::to_owned)
        .to_vec()
}

/// The requests a webhook is asked about, as CEL. People's: not those of
/// whoever passes every rule anyway, nor the control plane's, whose work
/// must not stop while the webhook is away (the namespace controller
/// deleting a namespace's bindings, the garbage collector, the kubelets).
/// The quota admission's: the apiserver raising a quota's usage.
fn match_conditions(asked_by: Askers, namespace: &str) -> Vec<MatchCondition> {
    let condition = |name: &str, expression: String| MatchCondition {
        name: name.to_owned(),
        expression,
    };
    if asked_by == Askers::QuotaAdmission {
        return vec![condition(
            "the-quota-admission",
            "request.userInfo.username == 'system:apiserver'".into(),
        )];
    }
    vec![
        condition(
            "not-a-cluster-admin",
            "!('system:masters' in request.userInfo.groups)".into(),
        ),
        condition(
            "not-the-control-plane",
            "!request.userInfo.username.startsWith('system:serviceaccount:kube-system:') && !request.userInfo.username.startsWith('system:node:') && !(request.userInfo.username in ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver'])".into(),
        ),
        condition(
            "not-mto",
            format!("!request.userInfo.username.startsWith('system:serviceaccount:{namespace}:')"),
        ),
    ]
}

fn operation(operation: Operation) -> String {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    }
    .to_owned()
}

/// The IntegrationConfig's privileged users, groups, service accounts and
/// namespaces as one condition: their requests never wait for mto (they
/// pass every rule anyway). CEL's `matches` reads the patterns as mto
/// does, unanchored.
fn not_privileged(integration: &Integration, namespaces_by_name: bool) -> Option<MatchCondition> {
    let quoted = |p: &str| format!("'{}'", p.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut terms: Vec<String> = integration
        .privileged_subject_patterns()
        .iter()
        .map(|p| {
            let p = quoted(p);
            format!("request.userInfo.username.matches({p}) || request.userInfo.groups.exists(g, g.matches({p}))")
        })
        .collect();
    let namespace = if namespaces_by_name {
        "request.name"
    } else {
        "request.namespace"
    };
    terms.extend(
        integration
            .privileged_namespace_patterns()
            .iter()
            .map(|p| format!("{namespace}.matches({})", quoted(p))),
    );
    (!terms.is_empty()).then(|| MatchCondition {
        name: "not-privileged".into(),
        expression: format!("!({})", terms.join(" || ")),
    })
}

/// The configuration for a webhook reached at `endpoint`, as shipped.
#[must_use]
pub fn configuration(endpoint: &Endpoint) -> ValidatingWebhookConfiguration {
    configuration_for(endpoint, &Integration::default())
}

/// The configuration for a webhook reached at `endpoint`, with the
/// privileged subjects and namespaces of `integration` left out of it.
#[must_use]
pub fn configuration_for(
    endpoint: &Endpoint,
    integration: &Integration,
) -> ValidatingWebhookConfiguration {
    let namespace = endpoint.namespace();
    let client_config = match endpoint {
        Endpoint::Service {
            namespace,
            service,
            ca_bundle,
        } => WebhookClientConfig {
            service: Some(ServiceReference {
                namespace: namespace.clone(),
                name: service.clone(),
                path: Some("/validate".into()),
                port: Some(443),
            }),
            ca_bundle: ca_bundle.clone().map(k8s_openapi::ByteString),
            ..Default::default()
        },
        Endpoint::Url { base, ca_bundle } => WebhookClientConfig {
            url: Some(format!("{}/validate", base.trim_end_matches('/'))),
            ca_bundle: Some(k8s_openapi::ByteString(ca_bundle.clone())),
            ..Default::default()
        },
    };
    let webhooks = SCOPES
        .iter()
        .map(|scope| {
            let not_system = LabelSelectorRequirement {
                key: "kubernetes.io/metadata.name".into(),
                operator: "NotIn".into(),
                values: Some(exempt_namespaces(namespace)),
            };
            let in_a_tenant = LabelSelectorRequirement {
                key: TENANT_LABEL.into(),
                operator: "Exists".into(),
                values: None,
            };
            let namespace_selector = match scope.namespaces {
                Namespaces::Any => None,
                Namespaces::NotSystem => Some(vec![not_system]),
                Namespaces::Tenant => Some(vec![not_system, in_a_tenant]),
            }
            .map(|expressions| LabelSelector {
                match_expressions: Some(expressions),
                match_labels: None,
            });
            let rules = scope
                .resources
                .iter()
                .map(|r| RuleWithOperations {
                    api_groups: Some(vec![r.group.to_owned()]),
                    api_versions: Some(vec![r.version.to_owned()]),
                    operations: Some(scope.operations.iter().copied().map(operation).collect()),
                    resources: Some(vec![r.plural.to_owned()]),
                    scope: Some(
                        if r.namespaced {
                            "Namespaced"
                        } else {
                            "Cluster"
                        }
                        .into(),
                    ),
                })
                .collect();
            ValidatingWebhook {
                name: format!("{}.tenantoperator.stakater.com", scope.rule.name()),
                admission_review_versions: vec!["v1".into()],
                client_config: client_config.clone(),
                failure_policy: Some("Fail".into()),
                match_policy: Some("Equivalent".into()),
                match_conditions: Some({
                    let mut conditions = match_conditions(scope.asked_by, namespace);
                    let by_name = scope.resources.iter().all(|r| r.kind == "Namespace");
                    if scope.asked_by == Askers::People
                        && let Some(c) = not_privileged(integration, by_name)
                    {
                        conditions.push(c);
                    }
                    conditions
                }),
                namespace_selector,
                // Only the quotas mto manages hold a pooled total.
                object_selector: (scope.asked_by == Askers::QuotaAdmission).then(|| {
                    LabelSelector {
                        match_labels: Some(
                            [(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned())].into(),
                        ),
                        match_expressions: None,
                    }
                }),
                rules: Some(rules),
                side_effects: "None".into(),
                timeout_seconds: Some(5),
            }
        })
        .collect();
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            labels: Some(
                [
                    ("app.kubernetes.io/name".to_owned(), "mto".to_owned()),
                    ("app.kubernetes.io/instance".to_owned(), "mto".to_owned()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        webhooks: Some(webhooks),
    }
}

/// The configuration as `deploy/operator/webhooks.yaml` holds it.
pub fn render(namespace: &str) -> Result<String, serde_norway::Error> {
    let configuration = configuration(&Endpoint::Service {
        namespace: namespace.to_owned(),
        service: "mto-webhook".into(),
        ca_bundle: None,
    });
    serde_norway::to_string(&configuration).map(|yaml| {
        format!(
            "# Generated by `mto webhooks`; every rule fails closed, and what\n# never depends on mto is listed in matchConditions and namespaceSelector.\n{yaml}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_people_and_namespaces_never_wait_for_the_webhook() {
        let config: mto_model::api::IntegrationConfig = serde_json::from_value(serde_json::json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
            "metadata": {"name": "config", "namespace": "mto-system"},
            "spec": {"accessControl": {"privileged": {
                "users": ["^ops-.*@example\\.com$"], "groups": ["platform's"],
                "namespaces": ["^openshift-.*"]
            }}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let integration = Integration::compile(Some(&config)).unwrap_or_else(|e| panic!("{e}"));
        let rendered = configuration_for(
            &Endpoint::Service {
                namespace: "mto-system".into(),
                service: "mto-webhook".into(),
                ca_bundle: Some(b"CA".to_vec()),
            },
            &integration,
        );
        let webhooks = rendered.webhooks.unwrap_or_default();
        let condition = |name: &str, rule: &str| {
            webhooks
                .iter()
                .find(|w| w.name.starts_with(rule))
                .and_then(|w| w.match_conditions.as_ref()?.iter().find(|c| c.name == name))
                .map(|c| c.expression.clone())
        };
        let namespaces = condition("not-privileged", "vnamespace").unwrap_or_default();
        assert!(
            namespaces.contains(r"request.userInfo.username.matches('^ops-.*@example\\.com$')"),
            "{namespaces}"
        );
        assert!(
            namespaces.contains(r"g.matches('platform\'s')"),
            "{namespaces}"
        );
        assert!(
            namespaces.contains("request.name.matches('^openshift-.*')"),
            "{namespaces}"
        );
        let pods = condition("not-privileged", "vtenantpolicy").unwrap_or_default();
        assert!(
            pods.contains("request.namespace.matches('^openshift-.*')"),
            "{pods}"
        );
        assert_eq!(
            condition("not-privileged", "vtenantquota"),
            None,
            "the quota holds for everyone"
        );
        assert!(webhooks.iter().all(|w| {
            w.client_config
                .ca_bundle
                .as_ref()
                .is_some_and(|b| b.0 == b"CA")
        }));
        assert_eq!(
            condition("not-privileged", "vtenant."),
            condition("not-privileged", "vquota")
        );
    }
}
