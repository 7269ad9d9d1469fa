use std::collections::BTreeMap;

use compact_str::CompactString;

use super::{Problems, Validate, ValidationErrors, validate_metadata};
use crate::api::{Tenant, TenantSpec};
use crate::names::{dns_label_problem, dns_subdomain_problem, sandbox_namespace, tenant_prefixed};

impl Validate for Tenant {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut problems = Problems::default();
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if let Some(p) = dns_label_problem(name) {
            problems.push("metadata.name", format!("tenant name {name:?} {p}"), "tenant names prefix namespace names, so use a DNS label: lowercase letters, digits and '-', at most 63");
        }
        validate_spec(name, &self.spec, &mut problems);
        problems.finish()
    }
}

/// The field that asks for a namespace, spelled out only when a problem
/// names it: a tenant without problems formats no paths.
#[derive(Clone, Copy)]
enum AskedBy {
    WithTenantPrefix(usize),
    WithoutTenantPrefix(usize),
    /// A user of `spec.accessControl.<role>.users` given a sandbox.
    Sandbox(&'static str, usize),
}

impl std::fmt::Display for AskedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AskedBy::WithTenantPrefix(i) => write!(f, "spec.namespaces.withTenantPrefix[{i}]"),
            AskedBy::WithoutTenantPrefix(i) => {
                write!(f, "spec.namespaces.withoutTenantPrefix[{i}]")
            }
            AskedBy::Sandbox(role, i) => write!(f, "spec.accessControl.{role}.users[{i}]"),
        }
    }
}

fn validate_spec(tenant: &str, spec: &TenantSpec, problems: &mut Problems) {
    if let Some(quota) = &spec.quota
        && let Some(p) = dns_subdomain_problem(quota)
    {
        problems.push(
            "spec.quota",
            format!("quota name {quota:?} {p}"),
            "name an existing Quota object",
        );
    }
    if let Some(ac) = &spec.access_control {
        for (role, subjects) in [
            ("owners", &ac.owners),
            ("editors", &ac.editors),
            ("viewers", &ac.viewers),
        ] {
            let Some(subjects) = subjects else { continue };
            for (kind, names) in [("users", &subjects.users), ("groups", &subjects.groups)] {
                for (i, n) in names.iter().enumerate() {
                    if n.trim().is_empty() {
                        problems.push(
                            format!("spec.accessControl.{role}.{kind}[{i}]"),
                            "is empty",
                            "remove the entry or give a name",
                        );
                    }
                }
            }
        }
    }
    // Every namespace the tenant asks for, with the field that asks for it,
    // so a clash names both places.
    let mut requested: BTreeMap<CompactString, AskedBy> = BTreeMap::new();
    let mut request = |ns: CompactString, path: AskedBy, problems: &mut Problems| {
        if let Some(first) = requested.get(&ns) {
            problems.push(
                path.to_string(),
                format!("namespace {ns:?} is already requested by {first}"),
                "list each namespace once",
            );
        } else {
            requested.insert(ns, path);
        }
    };
    if let Some(namespaces) = &spec.namespaces {
        for (i, short) in namespaces.with_tenant_prefix.iter().enumerate() {
            let path = AskedBy::WithTenantPrefix(i);
            let full = tenant_prefixed(tenant, short);
            if let Some(p) = dns_label_problem(short) {
                problems.push(
                    path.to_string(),
                    format!("{short:?} {p}"),
                    "use lowercase letters, digits and '-'",
                );
            } else if let Some(p) = dns_label_problem(&full) {
                problems.push(
                    path.to_string(),
                    format!("namespace {full:?} {p}"),
                    format!(
                        "shorten the name to at most {} characters or the tenant name",
                        62usize.saturating_sub(tenant.len())
                    ),
                );
            } else {
                request(full, path, problems);
            }
        }
        for (i, name) in namespaces.without_tenant_prefix.iter().enumerate() {
            let path = AskedBy::WithoutTenantPrefix(i);
            if let Some(p) = dns_label_problem(name) {
                problems.push(
                    path.to_string(),
                    format!("{name:?} {p}"),
                    "use lowercase letters, digits and '-', at most 63",
                );
            } else {
                request(name.into(), path, problems);
            }
        }
        if namespaces.sandboxes.as_ref().is_some_and(|s| s.enabled) {
            let ac = spec.access_control.as_ref();
            for (role, subjects) in [
                ("owners", ac.and_then(|a| a.owners.as_ref())),
                ("editors", ac.and_then(|a| a.editors.as_ref())),
            ] {
                for (i, user) in subjects.iter().flat_map(|s| s.users.iter()).enumerate() {
                    let path = AskedBy::Sandbox(role, i);
                    let sandbox = sandbox_namespace(tenant, user);
                    if let Some(p) = dns_label_problem(&sandbox) {
                        problems.push(
                            path.to_string(),
                            format!("sandbox namespace {sandbox:?} for user {user:?} {p}"),
                            "shorten the tenant name or disable sandboxes",
                        );
                    } else if !requested.contains_key(sandbox.as_str()) || role == "owners" {
                        // A user who is both owner and editor gets one sandbox.
                        requested.entry(sandbox.into()).or_insert(path);
                    }
                }
            }
        }
        if let Some(meta) = &namespaces.metadata {
            if let Some(common) = &meta.common {
                validate_metadata(
                    &common.labels,
                    &common.annotations,
                    "spec.namespaces.metadata.common",
                    problems,
                );
            }
            if let Some(sandbox) = &meta.sandbox {
                validate_metadata(
                    &sandbox.labels,
                    &sandbox.annotations,
                    "spec.namespaces.metadata.sandbox",
                    problems,
                );
            }
            for (i, specific) in meta.specific.iter().enumerate() {
                let at = format!("spec.namespaces.metadata.specific[{i}]");
                validate_metadata(&specific.labels, &specific.annotations, &at, problems);
                // A namespace named here need not be in the tenant's lists:
                // one that joins by its tenant label gets the metadata too.
                for (j, ns) in specific.namespaces.iter().enumerate() {
                    if let Some(p) = dns_label_problem(ns) {
                        problems.push(
                            format!("{at}.namespaces[{j}]"),
                            format!("{ns:?} is not a namespace name: {p}"),
                            "use the namespace's full name",
                        );
                    }
                }
            }
        }
    }
    for (field, list) in [
        ("storageClasses", &spec.storage_classes),
        ("ingressClasses", &spec.ingress_classes),
        ("podPriorityClasses", &spec.pod_priority_classes),
    ] {
        for (i, class) in list.iter().flat_map(|l| l.allowed.iter()).enumerate() {
            if let Some(p) = dns_subdomain_problem(class) {
                problems.push(
                    format!("spec.{field}.allowed[{i}]"),
                    format!("class name {class:?} {p}"),
                    "use the class's object name",
                );
            }
        }
    }
    if let Some(hosts) = &spec.host_validation_config
        && let Some(re) = &hosts.allowed_regex
    {
        super::validate_regexes(
            std::slice::from_ref(re),
            "spec.hostValidationConfig.allowedRegex",
            problems,
        );
    }
    if let Some(h) = &spec.hibernation {
        for (field, expr) in [
            ("sleepSchedule", &h.sleep_schedule),
            ("wakeSchedule", &h.wake_schedule),
        ] {
            let path = format!("spec.hibernation.{field}");
            if expr.trim().is_empty() {
                problems.push(
                    path,
                    "is empty",
                    "give both sleepSchedule and wakeSchedule as 5-field cron expressions",
                );
            } else if let Err(e) = crate::hibernation::schedule::Cron::parse(expr) {
                problems.push(
                    path,
                    e.to_string(),
                    "use standard 5-field cron: minute hour day-of-month month day-of-week",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        AccessControl, Metadata, NamespaceMetadata, Namespaces, Sandboxes, SpecificMetadata,
        Subjects,
    };

    fn tenant(name: &str, spec: TenantSpec) -> Tenant {
        Tenant::new(name, spec)
    }

    fn paths(t: &Tenant) -> Vec<String> {
        t.validate()
            .err()
            .map(|e| e.errors.into_iter().map(|e| e.path).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_minimal_tenant_is_valid() {
        assert_eq!(
            tenant(
                "alpha",
                TenantSpec {
                    quota: Some("small".into()),
                    ..Default::default()
                }
            )
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn a_namespace_asked_for_twice_names_both_fields() {
        let spec = TenantSpec {
            namespaces: Some(Namespaces {
                with_tenant_prefix: vec!["dev".into()],
                without_tenant_prefix: vec!["alpha-dev".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let errors = tenant("alpha", spec)
            .validate()
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "spec.namespaces.withoutTenantPrefix[0]");
        assert_eq!(
            errors[0].problem,
            "namespace \"alpha-dev\" is already requested by spec.namespaces.withTenantPrefix[0]"
        );
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let spec = TenantSpec {
            quota: Some("Small Quota".into()),
            namespaces: Some(Namespaces {
                with_tenant_prefix: vec!["dev".into(), "Dev".into(), "dev".into(), "x".repeat(60)],
                without_tenant_prefix: vec!["alpha-dev".into()],
                metadata: Some(NamespaceMetadata {
                    common: Some(Metadata {
                        labels: [("stakater.com/tenant".to_string(), "other".to_string())].into(),
                        ..Default::default()
                    }),
                    specific: vec![SpecificMetadata {
                        // Joined by its label, not from the lists: fine.
                        namespaces: vec!["Not_A_Name".into(), "joined-by-label".into()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            paths(&tenant("alpha", spec)),
            [
                "spec.quota",
                "spec.namespaces.withTenantPrefix[1]",
                "spec.namespaces.withTenantPrefix[2]",
                "spec.namespaces.withTenantPrefix[3]",
                "spec.namespaces.withoutTenantPrefix[0]",
                "spec.namespaces.metadata.common.labels[stakater.com/tenant]",
                "spec.namespaces.metadata.specific[0].namespaces[0]",
            ]
        );
    }

    #[test]
    fn errors_say_how_to_fix() {
        let t = tenant(
            "alpha",
            TenantSpec {
                namespaces: Some(Namespaces {
                    with_tenant_prefix: vec!["x".repeat(60)],
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let err = t.validate().unwrap_err();
        assert!(err.errors[0].problem.contains("at most 63"), "{err}");
        assert!(err.errors[0].fix.contains("57"), "{err}");
    }

    #[test]
    fn tenant_name_must_be_a_dns_label() {
        assert_eq!(
            paths(&tenant("Alpha_Team", TenantSpec::default())),
            ["metadata.name"]
        );
    }

    #[test]
    fn sandbox_names_are_checked() {
        let spec = TenantSpec {
            access_control: Some(AccessControl {
                owners: Some(Subjects {
                    users: vec!["a".repeat(60)],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            namespaces: Some(Namespaces {
                sandboxes: Some(Sandboxes {
                    enabled: true,
                    private: false,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            paths(&tenant("alpha", spec)),
            ["spec.accessControl.owners.users[0]"]
        );
    }
}
