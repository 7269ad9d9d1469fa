//! The tenant policies of a Tenant (`storageClasses`, `ingressClasses`,
//! `podPriorityClasses`, `serviceAccounts.denied`, `imageRegistries`,
//! `hostValidationConfig`) on what is created in its namespaces, with
//! MTO's semantics: a field absent turns its check off, present and empty
//! allows everything, a list allows only what it names.

use serde_json::Value;

use crate::api::{AllowList, NetworkTenantPolicies, Tenant};

/// The kinds whose pods the policies reach, and where their pod spec is.
fn pod_spec<'a>(group: &str, kind: &str, object: &'a Value) -> Option<&'a Value> {
    let spec = &object["spec"];
    let found = match (group, kind) {
        ("", "Pod") => spec,
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            &spec["template"]["spec"]
        }
        ("batch", "CronJob") => &spec["jobTemplate"]["spec"]["template"]["spec"],
        _ => return None,
    };
    found.is_object().then_some(found)
}

/// What the tenant's policies refuse in `object` (of `group`/`kind`), as
/// `(field, problem, fix)`; `None` when they allow it. `bound_class`: the
/// storage class of the volume a claim names, if it names one.
pub(super) fn refusal(
    tenant: &Tenant,
    network: &NetworkTenantPolicies,
    group: &str,
    kind: &str,
    object: &Value,
    bound_class: Option<&str>,
) -> Option<(String, String, String)> {
    let spec = &tenant.spec;
    if let Some(refused) = network_refusal(network, group, kind, object) {
        return Some(refused);
    }
    if let Some(pod) = pod_spec(group, kind, object) {
        let at = pod_path(group, kind);
        if let Some(registries) = &spec.image_registries
            && !registries.allowed.is_empty()
        {
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                for (i, container) in pod[list].as_array().into_iter().flatten().enumerate() {
                    let image = container["image"].as_str().unwrap_or_default();
                    if !registries.allowed.iter().any(|r| from_registry(image, r)) {
                        return Some((
                            format!("{at}.{list}[{i}].image"),
                            format!("image {image:?} is not from a registry the tenant may use ({})", registries.allowed.join(", ")),
                            "pull the image from one of those registries, or ask for the registry to be added to the Tenant's imageRegistries".into(),
                        ));
                    }
                }
            }
        }
        let class = pod["priorityClassName"].as_str().unwrap_or_default();
        if let Some(problem) = not_allowed(spec.pod_priority_classes.as_ref(), class) {
            return Some((
                format!("{at}.priorityClassName"),
                format!("priority class {class:?} {problem}"),
                "use one of the Tenant's podPriorityClasses".into(),
            ));
        }
        let account = pod["serviceAccountName"]
            .as_str()
            .filter(|a| !a.is_empty())
            .unwrap_or("default");
        if spec
            .service_accounts
            .as_ref()
            .is_some_and(|s| s.denied.iter().any(|d| d == account))
        {
            return Some((
                format!("{at}.serviceAccountName"),
                format!("service account {account:?} is denied to the tenant"),
                "run as another service account".into(),
            ));
        }
        return None;
    }
    match (group, kind) {
        ("", "PersistentVolumeClaim") => {
            // The claim's own class, else the class of the volume it names.
            let own = object["spec"]["storageClassName"]
                .as_str()
                .filter(|c| !c.is_empty());
            let (field, class) = match (own, bound_class) {
                (Some(class), _) => ("spec.storageClassName", class),
                (None, Some(class)) => (
                    "spec.volumeName (its PersistentVolume's storageClassName)",
                    class,
                ),
                (None, None) => ("spec.storageClassName", ""),
            };
            not_allowed(spec.storage_classes.as_ref(), class).map(|problem| {
                (
                    field.into(),
                    format!("storage class {class:?} {problem}"),
                    "use one of the Tenant's storageClasses".into(),
                )
            })
        }
        ("networking.k8s.io", "Ingress") => {
            let class = object["spec"]["ingressClassName"]
                .as_str()
                .unwrap_or_default();
            if let Some(problem) = not_allowed(spec.ingress_classes.as_ref(), class) {
                return Some((
                    "spec.ingressClassName".into(),
                    format!("ingress class {class:?} {problem}"),
                    "use one of the Tenant's ingressClasses".into(),
                ));
            }
            let hosts = spec.host_validation_config.as_ref()?;
            for (i, rule) in object["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(host) = rule["host"].as_str() else {
                    continue;
                };
                let by_regex = hosts
                    .allowed_regex
                    .as_deref()
                    .and_then(|r| regex::Regex::new(r).ok())
                    .is_some_and(|r| r.is_match(host));
                let listed = hosts.allowed.iter().any(|h| h == host);
                let open = hosts.allowed.is_empty() && hosts.allowed_regex.is_none();
                let problem = if hosts.deny_wildcards && host.starts_with('*') {
                    Some("is a wildcard, which the tenant may not use")
                } else if !(open || listed || by_regex) {
                    Some("is not a host the tenant may use")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Some((
                        format!("spec.rules[{i}].host"),
                        format!("host {host:?} {problem}"),
                        "use a host the Tenant's hostValidationConfig allows".into(),
                    ));
                }
            }
            None
        }
        _ => None,
    }
}

/// Where the pod spec of `group`/`kind` is, as a field path.
fn pod_path(group: &str, kind: &str) -> &'static str {
    match (group, kind) {
        ("", "Pod") => "spec",
        ("batch", "CronJob") => "spec.jobTemplate.spec.template.spec",
        _ => "spec.template.spec",
    }
}

/// What the IntegrationConfig's `tenantPolicies.network` refuses: node
/// ports (NodePort Services, LoadBalancers that allocate them) and the
/// host's ports or network in pods.
fn network_refusal(
    network: &NetworkTenantPolicies,
    group: &str,
    kind: &str,
    object: &Value,
) -> Option<(String, String, String)> {
    if network.disable_host_ports
        && let Some(pod) = pod_spec(group, kind, object)
    {
        let at = pod_path(group, kind);
        if pod["hostNetwork"] == true {
            return Some((
                format!("{at}.hostNetwork"),
                "pods of tenants may not use the host's network".into(),
                "remove hostNetwork; expose the pod through a Service".into(),
            ));
        }
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for (i, container) in pod[list].as_array().into_iter().flatten().enumerate() {
                for (j, port) in container["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if port["hostPort"].as_i64().is_some_and(|p| p > 0) {
                        return Some((
                            format!("{at}.{list}[{i}].ports[{j}].hostPort"),
                            format!("host port {} may not be used by tenants", port["hostPort"]),
                            "remove hostPort; expose the port through a Service".into(),
                        ));
                    }
                }
            }
        }
    }
    if network.disable_node_port_services && (group, kind) == ("", "Service") {
        let service = &object["spec"];
        match service["type"].as_str() {
            Some("NodePort") => {
                return Some((
                    "spec.type".into(),
                    "NodePort Services may not be made by tenants".into(),
                    "use type ClusterIP and an Ingress".into(),
                ));
            }
            Some("LoadBalancer") if service["allocateLoadBalancerNodePorts"] != false => {
                return Some((
                    "spec.allocateLoadBalancerNodePorts".into(),
                    "a LoadBalancer that allocates node ports may not be made by tenants".into(),
                    "set spec.allocateLoadBalancerNodePorts: false, or use type ClusterIP and an Ingress".into(),
                ));
            }
            _ => {}
        }
    }
    None
}

/// Why `name` is not in the allow list, if it is not.
fn not_allowed(list: Option<&AllowList>, name: &str) -> Option<String> {
    let list = list?;
    if list.allowed.is_empty() || list.allowed.iter().any(|a| a == name) {
        return None;
    }
    Some(format!(
        "is not allowed for the tenant (allowed: {})",
        list.allowed.join(", ")
    ))
}

/// Whether `image` comes from `registry` (a host, with an optional path
/// prefix); `""` stands for images named without a registry.
fn from_registry(image: &str, registry: &str) -> bool {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if registry.is_empty() {
        return !has_registry;
    }
    has_registry
        && image
            .strip_prefix(registry.trim_end_matches('/'))
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_match_by_host_and_path_prefix() {
        assert!(from_registry(
            "registry.example.com/web:1",
            "registry.example.com"
        ));
        assert!(from_registry("ghcr.io/example/app:2", "ghcr.io/example"));
        assert!(!from_registry("ghcr.io/other/app:2", "ghcr.io/example"));
        assert!(!from_registry(
            "registry.example.com.evil.io/web",
            "registry.example.com"
        ));
        assert!(from_registry("nginx:1.27", ""), "no registry");
        assert!(
            from_registry("library/nginx", ""),
            "a Docker Hub path is no registry"
        );
        assert!(!from_registry("quay.io/nginx", ""));
        assert!(from_registry("localhost:5000/app", "localhost:5000"));
    }
}
