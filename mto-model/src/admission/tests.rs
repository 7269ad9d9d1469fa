use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::Timestamp;
use crate::action::Object;
use crate::apiserver::ApiServer;

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn put(c: &mut ApiServer, value: Value) {
    let object = Object::from_json(value).unwrap_or_else(|e| panic!("{e}"));
    c.put(object, now()).unwrap_or_else(|e| panic!("{e}"));
}

/// Quota `small`, tenant `alpha` (owner anna, group alpha-leads) holding
/// namespace `alpha-dev`, and an unclaimed namespace `free`.
fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mto-system"}}),
    );
    put(
        &mut c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"}, "spec": {}}),
    );
    put(
        &mut c,
        json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
            "spec": {"quota": "small", "accessControl": {"owners": {"users": ["anna"], "groups": ["alpha-leads"]}, "editors": {"users": ["ed"]}},
                     "namespaces": {"withTenantPrefix": ["dev"]}}
        }),
    );
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alpha-dev", "labels": {TENANT_LABEL: "alpha"}}}),
    );
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "free"}}),
    );
    put(
        &mut c,
        json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
            "metadata": {"name": "config", "namespace": "mto-system"},
            "spec": {"accessControl": {"privileged": {"groups": ["^platform-admins$"]}}}
        }),
    );
    c
}

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo {
        username: name.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn request(
    operation: Operation,
    who: UserInfo,
    object: Option<Value>,
    old: Option<Value>,
) -> AdmissionRequest {
    let any = object
        .as_ref()
        .or(old.as_ref())
        .cloned()
        .unwrap_or_default();
    let (group, version) = any["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .rsplit_once('/')
        .map_or(
            (
                "".to_owned(),
                any["apiVersion"].as_str().unwrap_or_default().to_owned(),
            ),
            |(g, v)| (g.to_owned(), v.to_owned()),
        );
    AdmissionRequest {
        operation,
        user: who,
        kind: Gvk {
            group,
            version,
            kind: any["kind"].as_str().unwrap_or_default().to_owned(),
        },
        name: any["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        namespace: any["metadata"]["namespace"].as_str().map(str::to_owned),
        subresource: None,
        object,
        old_object: old,
    }
}

fn denied(verdict: &Verdict) -> (Rule, String) {
    match verdict {
        Verdict::Denied { rule, message } => (*rule, message.clone()),
        Verdict::Allowed => panic!("allowed"),
    }
}

fn tenant_json(name: &str, quota: &str, prefixed: &[&str], unprefixed: &[&str]) -> Value {
    json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": name},
        "spec": {"quota": quota, "accessControl": {"owners": {"users": ["bo"]}},
                 "namespaces": {"withTenantPrefix": prefixed, "withoutTenantPrefix": unprefixed}}
    })
}

#[test]
fn a_tenant_needs_its_quota_and_namespaces_nobody_else_holds() {
    let c = cluster();
    let bo = || user("bo", &[]);
    let ok = admit(
        &request(
            Operation::Create,
            bo(),
            Some(tenant_json("beta", "small", &["dev"], &["free"])),
            None,
        ),
        c.snapshot(),
    );
    assert_eq!(ok, Verdict::Allowed);
    let missing = admit(
        &request(
            Operation::Create,
            bo(),
            Some(tenant_json("beta", "large", &[], &[])),
            None,
        ),
        c.snapshot(),
    );
    let (rule, message) = denied(&missing);
    assert_eq!(rule.name(), "vtenant");
    assert!(message.starts_with("Tenant/beta: spec.quota: Quota \"large\" does not exist (fix: create the Quota first, or name one of: small)"), "{message}");
    let taken = admit(
        &request(
            Operation::Update,
            bo(),
            Some(tenant_json("beta", "small", &[], &["alpha-dev"])),
            None,
        ),
        c.snapshot(),
    );
    let (_, message) = denied(&taken);
    assert!(
        message.contains("namespace \"alpha-dev\" belongs to tenant \"alpha\" (user bo;"),
        "{message}"
    );
    // The tenant's own namespaces are its own.
    let own = admit(
        &request(
            Operation::Update,
            bo(),
            Some(tenant_json("alpha", "small", &["dev"], &[])),
            None,
        ),
        c.snapshot(),
    );
    assert_eq!(own, Verdict::Allowed);
}

#[test]
fn a_quota_in_use_is_not_deleted_and_privileged_users_pass() {
    let c = cluster();
    let small = json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"}, "spec": {}});
    let verdict = admit(
        &request(
            Operation::Delete,
            user("bo", &[]),
            None,
            Some(small.clone()),
        ),
        c.snapshot(),
    );
    let (rule, message) = denied(&verdict);
    assert_eq!(rule, Rule::Quota);
    assert_eq!(
        message,
        "Quota/small: used by tenants alpha (user bo; fix: point those tenants at another Quota first)"
    );
    for admin in [
        user("root", &["system:masters"]),
        user("pat", &["platform-admins"]),
    ] {
        assert!(
            admit(
                &request(Operation::Delete, admin, None, Some(small.clone())),
                c.snapshot()
            )
            .allowed()
        );
    }
    let unused = json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "spare"}, "spec": {}});
    assert!(
        admit(
            &request(Operation::Delete, user("bo", &[]), None, Some(unused)),
            c.snapshot()
        )
        .allowed()
    );
}

#[test]
fn a_template_in_use_is_not_deleted() {
    let mut c = cluster();
    let template = json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "Template",
        "metadata": {"name": "baseline"}, "resources": {"manifests": []}});
    put(&mut c, template.clone());
    put(
        &mut c,
        json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "ClusterTemplateInstance",
            "metadata": {"name": "everywhere"}, "spec": {"template": "baseline", "selector": {}}}),
    );
    let delete = |c: &ApiServer| {
        admit(
            &request(
                Operation::Delete,
                user("bo", &[]),
                None,
                Some(template.clone()),
            ),
            c.snapshot(),
        )
    };
    let (rule, message) = denied(&delete(&c));
    assert_eq!(rule, Rule::Template);
    assert_eq!(
        message,
        "Template/baseline: used by ClusterTemplateInstance/everywhere (user bo; fix: delete those instances first, or point them at another Template)"
    );
    let instance =
        crate::view::ObjectRef::cluster(crate::view::Kind::ClusterTemplateInstance, "everywhere");
    c.delete(&instance, None, now()).expect("deleted");
    assert!(delete(&c).allowed(), "unused now");
}

#[test]
fn a_second_integration_config_is_refused() {
    let c = cluster();
    let second = json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig", "metadata": {"name": "other", "namespace": "mto-system"}, "spec": {}});
    let (rule, message) = denied(&admit(
        &request(Operation::Create, user("bo", &[]), Some(second), None),
        c.snapshot(),
    ));
    assert_eq!(rule.name(), "vintegrationconfig");
    assert!(
        message.contains("mto-system/config already configures mto"),
        "{message}"
    );
    let same = json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig", "metadata": {"name": "config", "namespace": "mto-system"}, "spec": {}});
    assert!(
        admit(
            &request(Operation::Update, user("bo", &[]), Some(same), None),
            c.snapshot()
        )
        .allowed()
    );
}

fn namespace_json(name: &str, tenant: Option<&str>) -> Value {
    match tenant {
        Some(t) => {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {TENANT_LABEL: t}}})
        }
        None => json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    }
}

#[test]
fn only_owners_put_namespaces_into_a_tenant_and_nobody_moves_them() {
    let c = cluster();
    let create = |who: UserInfo, tenant: Option<&str>| {
        admit(
            &request(
                Operation::Create,
                who,
                Some(namespace_json("alpha-qa", tenant)),
                None,
            ),
            c.snapshot(),
        )
    };
    let (rule, message) = denied(&create(user("bo", &[]), None));
    assert_eq!(rule.name(), "vnamespace");
    assert_eq!(
        message,
        "Cannot CREATE namespace alpha-qa without label stakater.com/tenant. User: bo"
    );
    assert!(
        create(user("anna", &[]), Some("alpha")).allowed(),
        "an owner"
    );
    assert!(
        create(user("lee", &["alpha-leads"]), Some("alpha")).allowed(),
        "an owners' group"
    );
    let (_, message) = denied(&create(user("ed", &[]), Some("alpha")));
    assert!(
        message.contains("only the tenant's owners may add namespaces to it. User: ed"),
        "an editor: {message}"
    );
    assert!(create(user("root", &["system:masters"]), None).allowed());
    let moved = admit(
        &request(
            Operation::Update,
            user("anna", &[]),
            Some(namespace_json("alpha-dev", Some("beta"))),
            Some(namespace_json("alpha-dev", Some("alpha"))),
        ),
        c.snapshot(),
    );
    let (_, message) = denied(&moved);
    assert!(
        message.starts_with("Cannot UPDATE namespace alpha-dev: it belongs to tenant \"alpha\""),
        "{message}"
    );
    let deleted_by_editor = admit(
        &request(
            Operation::Delete,
            user("ed", &[]),
            None,
            Some(namespace_json("alpha-dev", Some("alpha"))),
        ),
        c.snapshot(),
    );
    assert!(!deleted_by_editor.allowed());
    let deleted_by_owner = admit(
        &request(
            Operation::Delete,
            user("anna", &[]),
            None,
            Some(namespace_json("alpha-dev", Some("alpha"))),
        ),
        c.snapshot(),
    );
    assert!(deleted_by_owner.allowed());
    // Privileged namespaces are not tenants' business.
    let system = admit(
        &request(
            Operation::Create,
            user("bo", &[]),
            Some(namespace_json("kube-public", None)),
            None,
        ),
        c.snapshot(),
    );
    assert!(system.allowed(), "{system:?}");
}

fn binding(name: &str, managed: bool, subjects: Value) -> Value {
    let mut b = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": "alpha-dev"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": subjects,
    });
    if managed {
        b["metadata"]["labels"] =
            json!({"app.kubernetes.io/managed-by": "mto", TENANT_LABEL: "alpha"});
    }
    b
}

#[test]
fn a_binding_in_a_tenant_namespace_grants_only_the_tenants_own() {
    let c = cluster();
    let bind = |subjects: Value| {
        admit(
            &request(
                Operation::Create,
                user("anna", &[]),
                Some(binding("extra", false, subjects)),
                None,
            ),
            c.snapshot(),
        )
    };
    assert!(
        bind(json!([{"kind": "User", "name": "ed", "apiGroup": "rbac.authorization.k8s.io"}]))
            .allowed(),
        "an editor"
    );
    assert!(bind(json!([{"kind": "Group", "name": "alpha-leads", "apiGroup": "rbac.authorization.k8s.io"}])).allowed());
    assert!(
        bind(json!([{"kind": "ServiceAccount", "name": "ci", "namespace": "alpha-dev"}])).allowed(),
        "its own service account"
    );
    assert!(
        bind(json!([{"kind": "User", "name": "system:serviceaccount:alpha-dev:ci"}])).allowed()
    );
    let (rule, message) = denied(&bind(
        json!([{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]),
    ));
    assert_eq!(rule.name(), "vrolebinding");
    assert!(message.starts_with("Cannot CREATE RoleBinding alpha-dev/extra: User \"mallory\" is not a member of tenant \"alpha\". User: anna"), "{message}");
    let (_, message) = denied(&bind(
        json!([{"kind": "ServiceAccount", "name": "default", "namespace": "free"}]),
    ));
    assert!(
        message.contains("ServiceAccount \"default\" is not a member"),
        "{message}"
    );
}

#[test]
fn nobody_but_mto_changes_the_bindings_mto_manages() {
    let c = cluster();
    let managed = binding(
        "alpha-owner-admin",
        true,
        json!([{"kind": "User", "name": "anna"}]),
    );
    let (rule, message) = denied(&admit(
        &request(
            Operation::Delete,
            user("anna", &[]),
            None,
            Some(managed.clone()),
        ),
        c.snapshot(),
    ));
    assert_eq!(rule, Rule::RoleBinding);
    assert!(message.starts_with("Cannot DELETE RoleBinding alpha-dev/alpha-owner-admin: mto manages it for tenant \"alpha\""), "{message}");
    assert!(
        admit(
            &request(
                Operation::Delete,
                user("root", &["system:masters"]),
                None,
                Some(managed)
            ),
            c.snapshot()
        )
        .allowed()
    );
    let outside = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "anything", "namespace": "free"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "User", "name": "mallory"}],
    });
    assert!(
        admit(
            &request(Operation::Create, user("bo", &[]), Some(outside), None),
            c.snapshot()
        )
        .allowed(),
        "not a tenant namespace"
    );
}

/// Tenant alpha with every policy set.
fn with_policies() -> ApiServer {
    let mut c = cluster();
    put(
        &mut c,
        json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
            "spec": {"quota": "small", "accessControl": {"owners": {"users": ["anna"]}},
                     "namespaces": {"withTenantPrefix": ["dev"]},
                     "storageClasses": {"allowed": ["fast"]},
                     "ingressClasses": {"allowed": ["nginx"]},
                     "podPriorityClasses": {"allowed": []},
                     "serviceAccounts": {"denied": ["default"]},
                     "imageRegistries": {"allowed": ["registry.example.com", "ghcr.io/alpha"]},
                     "hostValidationConfig": {"allowedRegex": "^[a-z0-9-]+\\.alpha\\.example\\.com$", "denyWildcards": true}}
        }),
    );
    c
}

fn in_alpha(api_version: &str, kind: &str, spec: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "alpha-dev"}, "spec": spec})
}

#[test]
fn what_a_tenant_creates_keeps_to_its_policies() {
    let c = with_policies();
    let check = |object: Value| {
        admit(
            &request(Operation::Create, user("ed", &[]), Some(object), None),
            c.snapshot(),
        )
    };
    let pod = |image: &str, account: Option<&str>| {
        let mut spec = json!({"containers": [{"name": "c", "image": image}]});
        if let Some(a) = account {
            spec["serviceAccountName"] = json!(a);
        }
        spec
    };
    assert!(
        check(in_alpha(
            "v1",
            "Pod",
            pod("registry.example.com/web:1", Some("web"))
        ))
        .allowed()
    );
    let (rule, message) = denied(&check(in_alpha(
        "v1",
        "Pod",
        pod("docker.io/evil/miner", Some("web")),
    )));
    assert_eq!(rule.name(), "vtenantpolicy");
    assert!(message.starts_with("Cannot CREATE Pod alpha-dev/x: spec.containers[0].image: image \"docker.io/evil/miner\" is not from a registry the tenant may use"), "{message}");
    let (_, message) = denied(&check(in_alpha(
        "v1",
        "Pod",
        pod("ghcr.io/alpha/app:1", None),
    )));
    assert!(
        message.contains("spec.serviceAccountName: service account \"default\" is denied"),
        "no account is default: {message}"
    );
    let deployment = json!({"template": {"spec": pod("ghcr.io/other/app:1", Some("web"))}});
    let (_, message) = denied(&check(in_alpha("apps/v1", "Deployment", deployment)));
    assert!(
        message.contains("spec.template.spec.containers[0].image"),
        "{message}"
    );
    let cron = json!({"jobTemplate": {"spec": {"template": {"spec": pod("ghcr.io/alpha/job:1", Some("web"))}}}});
    assert!(
        check(in_alpha("batch/v1", "CronJob", cron)).allowed(),
        "an empty priority list allows every class"
    );
    let claim = |class: &str| {
        in_alpha(
            "v1",
            "PersistentVolumeClaim",
            json!({"storageClassName": class}),
        )
    };
    assert!(check(claim("fast")).allowed());
    let (_, message) = denied(&check(claim("slow")));
    assert!(message.contains("spec.storageClassName: storage class \"slow\" is not allowed for the tenant (allowed: fast)"), "{message}");
    let ingress = |class: &str, host: &str| {
        in_alpha(
            "networking.k8s.io/v1",
            "Ingress",
            json!({"ingressClassName": class, "rules": [{"host": host}]}),
        )
    };
    assert!(check(ingress("nginx", "shop.alpha.example.com")).allowed());
    assert!(!check(ingress("traefik", "shop.alpha.example.com")).allowed());
    let (_, message) = denied(&check(ingress("nginx", "shop.beta.example.com")));
    assert!(
        message.contains(
            "spec.rules[0].host: host \"shop.beta.example.com\" is not a host the tenant may use"
        ),
        "{message}"
    );
    assert!(
        !check(ingress("nginx", "*.alpha.example.com")).allowed(),
        "no wildcards"
    );
    // Outside tenant namespaces, and for privileged users, the policies do not apply.
    let mut outside = in_alpha("v1", "Pod", pod("docker.io/evil/miner", None));
    outside["metadata"]["namespace"] = json!("free");
    assert!(check(outside).allowed());
    let admin = admit(
        &request(
            Operation::Create,
            user("root", &["system:masters"]),
            Some(in_alpha(
                "v1",
                "PersistentVolumeClaim",
                json!({"storageClassName": "slow"}),
            )),
            None,
        ),
        c.snapshot(),
    );
    assert!(admin.allowed());
}

proptest! {
    /// One source of validation: the webhook refuses a Tenant for its spec
    /// exactly when `mto validate` does, with the same words.
    #[test]
    fn the_webhook_refuses_what_validate_refuses(
        name in "[a-z]{1,6}|[A-Z_]{1,4}",
        prefixed in proptest::collection::vec("[a-z]{1,5}|[A-Z_.]{1,3}", 0..3),
        owner in proptest::option::of("[a-z]{1,5}"),
    ) {
        let c = cluster();
        let mut value = tenant_json(&name, "small", &prefixed.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        if let Some(owner) = owner {
            value["spec"]["accessControl"]["owners"]["users"] = json!([owner]);
        }
        let typed: Tenant = serde_json::from_value(value.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let verdict = admit(&request(Operation::Create, user("bo", &[]), Some(value), None), c.snapshot());
        match typed.validate() {
            Ok(()) => prop_assert!(verdict.allowed(), "{:?}", verdict),
            Err(e) => {
                let (rule, message) = denied(&verdict);
                prop_assert_eq!(rule, Rule::Tenant);
                for problem in &e.errors {
                    prop_assert!(message.contains(&problem.to_string()), "{} lacks {}", message, problem);
                }
            }
        }
    }

    /// Deterministic, and every denial names a rule and the user.
    #[test]
    fn verdicts_are_deterministic_and_name_the_user(
        who in "[a-z]{1,5}",
        tenant in proptest::option::of(prop_oneof![Just("alpha"), Just("beta")]),
        op in prop_oneof![Just(Operation::Create), Just(Operation::Update), Just(Operation::Delete)],
    ) {
        let c = cluster();
        let object = namespace_json("alpha-x", tenant);
        let (new, old) = match op {
            Operation::Delete => (None, Some(object)),
            _ => (Some(object), None),
        };
        let req = request(op, user(&who, &[]), new, old);
        let first = admit(&req, c.snapshot());
        prop_assert_eq!(&first, &admit(&req, c.snapshot()));
        if let Verdict::Denied { message, .. } = &first {
            prop_assert!(message.contains(&format!("User: {who}")), "{}", message);
        }
    }
}

/// A pooled quota's status update, judged against what is observed:
/// the apiserver (a cluster admin) asks, and is still held to the pool.
#[test]
fn a_pooled_quota_update_is_held_to_the_tenants_total_whoever_asks() {
    let mut c = cluster();
    put(
        &mut c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"}, "spec": {"resourcequota": {"hard": {"pods": "10"}}}}),
    );
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alpha-prod", "labels": {TENANT_LABEL: "alpha"}}}),
    );
    let quota = |ns: &str, used: u32| {
        json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "tenant-quota", "namespace": ns, "resourceVersion": "5",
                         "labels": {"app.kubernetes.io/managed-by": "mto", TENANT_LABEL: "alpha"}},
            "spec": {"hard": {"pods": "10"}},
            "status": {"hard": {"pods": "10"}, "used": {"pods": used.to_string()}}
        })
    };
    let mut stored = quota("alpha-dev", 7);
    stored["metadata"]
        .as_object_mut()
        .map(|m| m.remove("resourceVersion"));
    put(&mut c, stored);
    let apiserver = user("system:apiserver", &["system:masters"]);
    let raise = |to: u32| AdmissionRequest {
        subresource: Some("status".into()),
        ..request(
            Operation::Update,
            apiserver.clone(),
            Some(quota("alpha-prod", to)),
            Some(quota("alpha-prod", 0)),
        )
    };
    assert_eq!(admit(&raise(3), c.snapshot()), Verdict::Allowed, "7 + 3");
    let Verdict::Denied { rule, message } = admit(&raise(4), c.snapshot()) else {
        panic!("7 + 4 is over 10");
    };
    assert_eq!(rule, Rule::TenantQuota);
    assert!(message.contains("pods: 7 used across its namespaces, 4 more requested in namespace alpha-prod, 10 allowed"), "{message}");
    let lower = AdmissionRequest {
        subresource: Some("status".into()),
        ..request(
            Operation::Update,
            apiserver.clone(),
            Some(quota("alpha-dev", 2)),
            Some(quota("alpha-dev", 7)),
        )
    };
    assert_eq!(admit(&lower, c.snapshot()), Verdict::Allowed, "lowering");
}

/// Until mto has put the tenant's quota into a new namespace, nothing
/// that would run there is admitted: it would escape the Quota.
#[test]
fn nothing_runs_in_a_tenant_namespace_before_its_quota_is_in_place() {
    let mut c = cluster();
    put(
        &mut c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"}, "spec": {"resourcequota": {"hard": {"pods": "10"}}}}),
    );
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "alpha-dev"},
                     "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1"}]}});
    let create = request(Operation::Create, user("anna", &[]), Some(pod), None);
    let Verdict::Denied { rule, message } = admit(&create, c.snapshot()) else {
        panic!("no quota in alpha-dev yet");
    };
    assert_eq!(rule, Rule::TenantQuota);
    assert!(message.contains("not in place"), "{message}");
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
               "metadata": {"name": "tenant-quota", "namespace": "alpha-dev", "labels": {"app.kubernetes.io/managed-by": "mto", TENANT_LABEL: "alpha"}},
               "spec": {"hard": {"pods": "10"}}}),
    );
    assert_eq!(admit(&create, c.snapshot()), Verdict::Allowed);
}

proptest! {
    /// A supervisor, a Quota or a template instance is refused by the
    /// webhook exactly when `mto validate` refuses its manifest, with
    /// every problem `mto validate` names.
    #[test]
    fn the_webhook_refuses_what_validate_refuses_of_every_kind(
        sleep in prop_oneof![Just("0 20 * * *"), Just("61 20 * * *"), Just("@nightly"), Just("")],
        zone in prop_oneof![Just("Europe/Berlin"), Just("Mars/Olympus"), Just("")],
        pods in prop_oneof![Just("10"), Just("-1"), Just("ten")],
        which in 0..4usize,
    ) {
        let c = cluster();
        let object = match which {
            0 => json!({"apiVersion": "hibernation.stakater.com/v1beta1", "kind": "ResourceSupervisor",
                        "metadata": {"name": "nightly", "namespace": "alpha-dev"},
                        "spec": {"schedule": {"sleepSchedule": sleep, "timeZone": zone}}}),
            1 => json!({"apiVersion": "hibernation.stakater.com/v1beta1", "kind": "ClusterResourceSupervisor",
                        "metadata": {"name": "nightly"},
                        "spec": {"namespaces": {"names": ["alpha-dev"]}, "schedule": {"sleepSchedule": sleep, "timeZone": zone}}}),
            2 => json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota",
                        "metadata": {"name": "medium"}, "spec": {"resourcequota": {"hard": {"pods": pods}}}}),
            _ => json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "TemplateGroupInstance",
                        "metadata": {"name": "shared"},
                        "spec": {"template": if sleep.is_empty() { "" } else { "networkpolicy" }, "selector": {"matchLabels": {"team": "alpha"}}}}),
        };
        let located = crate::manifest::parse(std::path::Path::new("x"), &object.to_string());
        let problems: Vec<String> = located
            .into_iter()
            .flat_map(|d| match d {
                Ok(l) => l.manifest.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
                Err(e) => vec![e.to_string()],
            })
            .collect();
        let verdict = admit(&request(Operation::Create, user("bo", &[]), Some(object), None), c.snapshot());
        if problems.is_empty() {
            prop_assert!(verdict.allowed(), "{:?}", verdict);
        } else {
            let (_, message) = denied(&verdict);
            for problem in &problems {
                prop_assert!(message.contains(problem.as_str()), "{} lacks {}", message, problem);
            }
        }
    }
}

#[test]
fn a_supervisor_with_a_schedule_that_never_fires_is_refused_as_validate_refuses_it() {
    let c = cluster();
    let supervisor = json!({"apiVersion": "hibernation.stakater.com/v1beta1", "kind": "ResourceSupervisor",
        "metadata": {"name": "nightly", "namespace": "alpha-dev"},
        "spec": {"schedule": {"sleepSchedule": "61 20 * * *", "timeZone": "Mars/Olympus"}}});
    let verdict = admit(
        &request(Operation::Create, user("bo", &[]), Some(supervisor), None),
        c.snapshot(),
    );
    let (rule, message) = denied(&verdict);
    assert_eq!(rule, Rule::Supervisor);
    assert!(
        message.starts_with("ResourceSupervisor/nightly: "),
        "{message}"
    );
    assert!(
        message.contains("Mars/Olympus") && message.contains("user bo"),
        "{message}"
    );
}

/// A claim that names its volume and no class has the volume's class.
#[test]
fn a_claim_bound_to_a_volume_keeps_to_the_storage_classes_by_the_volumes_class() {
    let mut c = cluster();
    put(
        &mut c,
        json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
            "spec": {"quota": "small", "accessControl": {"owners": {"users": ["anna"]}},
                     "namespaces": {"withTenantPrefix": ["dev"]}, "storageClasses": {"allowed": ["fast"]}}
        }),
    );
    for (name, class) in [("pv-slow", "slow"), ("pv-fast", "fast")] {
        put(
            &mut c,
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                   "spec": {"storageClassName": class, "capacity": {"storage": "1Gi"}}}),
        );
    }
    let claim = |volume: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data", "namespace": "alpha-dev"},
               "spec": {"volumeName": volume, "resources": {"requests": {"storage": "1Gi"}}}})
    };
    let ask = |volume: &str| {
        admit(
            &request(
                Operation::Create,
                user("anna", &[]),
                Some(claim(volume)),
                None,
            ),
            c.snapshot(),
        )
    };
    let (rule, message) = denied(&ask("pv-slow"));
    assert_eq!(rule, Rule::TenantPolicy);
    assert!(
        message.contains("spec.volumeName") && message.contains("\"slow\""),
        "{message}"
    );
    assert!(ask("pv-fast").allowed(), "{:?}", ask("pv-fast"));
}

/// The IntegrationConfig's `tenantPolicies.network`: node ports and the
/// host's ports and network are refused to tenant members while asked,
/// allowed when not, and never refused to privileged users.
#[test]
fn node_ports_and_host_ports_are_refused_to_tenants_when_the_config_says_so() {
    let mut c = cluster();
    let configure = |c: &mut ApiServer, disable: bool| {
        put(
            c,
            json!({
                "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
                "metadata": {"name": "config", "namespace": "mto-system"},
                "spec": {"accessControl": {"privileged": {"groups": ["^platform-admins$"]}},
                         "tenantPolicies": {"network": {"disableNodePortServices": disable, "disableHostPorts": disable}}}
            }),
        );
    };
    configure(&mut c, true);
    let check = |c: &ApiServer, who: UserInfo, object: Value| {
        admit(
            &request(Operation::Create, who, Some(object), None),
            c.snapshot(),
        )
    };
    let node_port = in_alpha(
        "v1",
        "Service",
        json!({"type": "NodePort", "ports": [{"port": 80}]}),
    );
    let balancer = in_alpha(
        "v1",
        "Service",
        json!({"type": "LoadBalancer", "ports": [{"port": 80}]}),
    );
    let quiet_balancer = in_alpha(
        "v1",
        "Service",
        json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]}),
    );
    let cluster_ip = in_alpha("v1", "Service", json!({"ports": [{"port": 80}]}));
    let host_port = in_alpha(
        "apps/v1",
        "Deployment",
        json!({"template": {"spec": {"containers": [{"name": "c", "image": "web", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}}),
    );
    let host_network = in_alpha(
        "v1",
        "Pod",
        json!({"hostNetwork": true, "containers": [{"name": "c", "image": "web"}]}),
    );
    let ed = || user("ed", &[]);
    for (object, field) in [
        (&node_port, "spec.type"),
        (&balancer, "spec.allocateLoadBalancerNodePorts"),
        (
            &host_port,
            "spec.template.spec.containers[0].ports[0].hostPort",
        ),
        (&host_network, "spec.hostNetwork"),
    ] {
        let (rule, message) = denied(&check(&c, ed(), object.clone()));
        assert_eq!(rule.name(), "vtenantpolicy");
        assert!(
            message.contains(field) && message.contains("fix:"),
            "{message}"
        );
        assert!(
            check(&c, user("root", &["platform-admins"]), object.clone()).allowed(),
            "privileged users pass"
        );
    }
    assert!(check(&c, ed(), quiet_balancer.clone()).allowed());
    assert!(check(&c, ed(), cluster_ip.clone()).allowed());
    configure(&mut c, false);
    for object in [&node_port, &balancer, &host_port, &host_network] {
        assert!(
            check(&c, ed(), object.clone()).allowed(),
            "not asked: {object}"
        );
    }
}
