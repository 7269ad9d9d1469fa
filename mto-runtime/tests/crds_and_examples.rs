//! The checked-in CRDs match the code; every example is valid for mto and
//! for its CRD's schema; the `mto` command reports bad input clearly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mto_model::manifest::Manifest;
use mto_runtime::cli::files::read_manifests as read_file;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn checked_in_crds_match_the_code() {
    let generated: BTreeMap<String, String> = mto_runtime::cli::crds::render()
        .expect("render")
        .into_iter()
        .collect();
    let dir = repo().join("deploy/crds");
    let on_disk: BTreeMap<String, String> = yaml_files(&dir)
        .into_iter()
        .map(|p| {
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::fs::read_to_string(&p).expect("read"),
            )
        })
        .collect();
    assert_eq!(
        on_disk.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "deploy/crds is stale: run `cargo run -p mto-runtime -- crds --out deploy/crds`"
    );
    for (name, yaml) in &generated {
        assert!(
            on_disk.get(name) == Some(yaml),
            "deploy/crds/{name} is stale: run `cargo run -p mto-runtime -- crds --out deploy/crds`"
        );
    }
}

#[test]
fn the_shipped_webhook_configuration_is_what_mto_renders() {
    let rendered = mto_runtime::cli::webhooks::render("mto-system").expect("render");
    for file in [
        "deploy/operator/webhooks.yaml",
        "deploy/helm/mto/files/webhooks.yaml",
    ] {
        let on_disk = std::fs::read_to_string(repo().join(file)).expect("read");
        assert!(
            on_disk == rendered,
            "{file} is stale: run `cargo run -p mto-runtime -- webhooks > {file}`"
        );
    }
}

#[test]
fn examples_are_valid_manifests() {
    let files = yaml_files(&repo().join("deploy/examples"));
    assert!(files.len() >= 5, "examples missing");
    let mut kinds = std::collections::BTreeSet::new();
    for file in files {
        for doc in read_file(&file).expect("read") {
            let located = doc.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                located.manifest.problems(),
                Vec::new(),
                "{}: {}",
                located.location,
                located.manifest.describe()
            );
            kinds.insert(
                located
                    .manifest
                    .describe()
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    for kind in [
        "Tenant",
        "Quota",
        "IntegrationConfig",
        "ResourceSupervisor",
        "ClusterResourceSupervisor",
        "Template",
        "ClusterTemplateInstance",
    ] {
        assert!(kinds.contains(kind), "no {kind} example");
    }
}

/// The examples as the apiserver would see them, against the CRDs'
/// openAPIV3Schema. Kubernetes-only keywords (`x-kubernetes-*`,
/// `nullable`) are ignored by the JSON Schema validator, so this checks
/// types, required fields and shapes.
#[test]
fn examples_conform_to_the_crd_schemas() {
    let mut schemas = BTreeMap::new();
    for crd in mto_model::api::crds() {
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("schema");
            let schema = serde_json::to_value(schema).expect("schema json");
            schemas.insert(
                (
                    format!("{}/{}", crd.spec.group, version.name),
                    crd.spec.names.kind.clone(),
                ),
                schema,
            );
        }
    }
    for file in yaml_files(&repo().join("deploy/examples")) {
        let text = std::fs::read_to_string(&file).expect("read");
        for doc in text.split("\n---\n") {
            let value: serde_json::Value = serde_norway::from_str(doc).expect("yaml");
            let key = (
                value["apiVersion"].as_str().unwrap_or_default().to_owned(),
                value["kind"].as_str().unwrap_or_default().to_owned(),
            );
            let schema = schemas
                .get(&key)
                .unwrap_or_else(|| panic!("{}: no CRD for {key:?}", file.display()));
            let validator = jsonschema::validator_for(schema).expect("compile schema");
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
        }
    }
}

#[test]
fn schema_rejects_a_wrong_type() {
    let crd = mto_model::api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == "Tenant")
        .expect("tenant crd");
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref()),
    )
    .expect("json");
    let bad = serde_json::json!({"apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "x"}, "spec": {"namespaces": {"withTenantPrefix": "dev"}}});
    assert!(
        !jsonschema::validator_for(&schema)
            .expect("compile")
            .is_valid(&bad)
    );
}

/// `mto plan` of manifests that name no Helm chart.
fn plan_without_charts(
    manifests: &[mto_model::manifest::Manifest],
) -> mto_runtime::cli::plan::Plan {
    let no_charts =
        |request: &mto_model::template::ChartRequest| mto_model::template::ChartRendering {
            at: mto_model::Timestamp::UNIX_EPOCH,
            objects: Err(format!("{request}: no chart expected here")),
        };
    mto_runtime::cli::plan::plan(manifests, mto_model::Timestamp::UNIX_EPOCH, &no_charts)
        .expect("plan")
}

/// A plan's room for decisions grows with the tenants: 6,000 tenants take
/// 12,000 decisions to settle (everything, then the status), more than any
/// fixed limit chosen for small files.
#[test]
fn plan_of_thousands_of_tenants_settles_every_tenant() {
    let tenants = 6_000;
    let yaml: String = (0..tenants)
        .map(|i| format!("---\napiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata:\n  name: t{i}\nspec:\n  accessControl:\n    owners:\n      users: [owner-{i}@example.com]\n  namespaces:\n    withTenantPrefix: [dev]\n"))
        .collect();
    let manifests: Vec<_> = mto_model::manifest::parse(std::path::Path::new("many.yaml"), &yaml)
        .into_iter()
        .map(|d| d.expect("doc").manifest)
        .collect();
    let plan = plan_without_charts(&manifests);
    assert_eq!(plan.tenants.len(), tenants);
    assert!(plan.tenants.iter().all(|t| t.phase == "Active"));
}

#[test]
fn plan_of_the_examples_settles_every_tenant() {
    let mut manifests = Vec::new();
    for file in yaml_files(&repo().join("deploy/examples")) {
        manifests.extend(
            read_file(&file)
                .expect("read")
                .into_iter()
                .map(|d| d.expect("doc").manifest),
        );
    }
    let plan = plan_without_charts(&manifests);
    let phases: Vec<(&str, &str)> = plan
        .tenants
        .iter()
        .map(|t| (t.name.as_str(), t.phase.as_str()))
        .collect();
    assert_eq!(
        phases,
        [("alpha", "Active"), ("beta", "Active"), ("gamma", "Active")]
    );
    let text = plan.render_text();
    assert!(
        text.contains("RoleBinding/alpha-prod/alpha-editor-view  ClusterRole view"),
        "custom roles apply in production:\n{text}"
    );
    assert!(text.contains("ResourceQuota/alpha-dev/tenant-quota  pods=33 requests.cpu=2667m requests.memory=5461Mi"), "{text}");
    // What the template instances would put into the tenants' namespaces:
    // the pull secret copied first, then what needs it.
    assert!(
        text.contains("ClusterTemplateInstance/tenant-baseline → alpha-dev\n  + Secret/alpha-dev/registry-pull\n  + NetworkPolicy/alpha-dev/default-deny-ingress"),
        "{text}"
    );
    assert_eq!(
        plan.templates.len(),
        text.matches("ClusterTemplateInstance/tenant-baseline → ")
            .count(),
        "one rendering per matching namespace"
    );
    let yaml = plan.render_yaml().expect("yaml");
    assert!(
        yaml.contains("kind: Namespace")
            && yaml.contains("apiVersion: rbac.authorization.k8s.io/v1")
    );
    assert!(
        manifests
            .iter()
            .any(|m| matches!(m, Manifest::IntegrationConfig(_)))
    );
}

fn mto(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mto"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run mto");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_version_names_the_release_and_the_commit() {
    let (ok, out, _) = mto(&["--version"]);
    assert!(ok);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let expected = format!(
        "mto {} (commit {})\n",
        env!("CARGO_PKG_VERSION"),
        commit.as_deref().unwrap_or("unknown")
    );
    // The build runs again whenever HEAD moves.
    assert_eq!(out, expected);
}

#[test]
fn the_helm_chart_is_versioned_with_the_binary() {
    let chart =
        std::fs::read_to_string(repo().join("deploy/helm/mto/Chart.yaml")).expect("Chart.yaml");
    let field = |name: &str| {
        chart
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    assert_eq!(field("version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        field("appVersion").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let changelog = std::fs::read_to_string(repo().join("CHANGELOG.md")).expect("CHANGELOG.md");
    assert!(
        changelog.contains(&format!("## {}", env!("CARGO_PKG_VERSION"))),
        "CHANGELOG.md has a section for this version"
    );
}

#[test]
fn validate_reports_every_problem_with_file_line_and_field() {
    let (ok, _, err) = mto(&["validate", "mto-runtime/tests/data/invalid.yaml"]);
    assert!(!ok, "must exit non-zero");
    for expected in [
        // Each problem on the line of its own field.
        "invalid.yaml:4: Tenant/Team_A: metadata.name:",
        "invalid.yaml:8: Tenant/Team_A: spec.namespaces.withTenantPrefix[1]: namespace \"Team_A-dev\"",
        "invalid.yaml:12: Tenant/Team_A: spec.namespaces.metadata.common.labels[stakater.com/tenant]: stakater.com/tenant is set by mto",
        "invalid.yaml:21: ResourceSupervisor/nightly: spec.schedule.sleepSchedule: \"0 25 * * *\" is not a valid cron expression: hour 25 is out of range: use 0-23",
        "invalid.yaml:22: ResourceSupervisor/nightly: spec.schedule.timeZone: \"Moon/Base\" is not an IANA time zone",
        "invalid.yaml:29: spec.namespace: unknown field of tenantoperator.stakater.com/v1beta3/Tenant",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn validate_accepts_the_examples_and_crds_prints_them_all() {
    let examples: Vec<String> = yaml_files(&repo().join("deploy/examples"))
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(examples.iter().map(String::as_str));
    let (ok, out, err) = mto(&args);
    assert!(ok, "{err}");
    assert!(out.contains("manifests valid"));
    let (ok, out, _) = mto(&["crds"]);
    assert!(ok);
    assert_eq!(
        out.matches("kind: CustomResourceDefinition").count(),
        mto_model::api::crds().len()
    );
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let (ok, _, err) = mto(&["validate", "no/such/file.yaml"]);
    assert!(!ok);
    assert!(err.contains("no/such/file.yaml"), "{err}");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    for args in [
        &["crds"][..],
        &[
            "plan",
            "deploy/examples/tenant-alpha.yaml",
            "--output",
            "yaml",
        ][..],
    ] {
        // The read end is closed before mto writes a byte, so every write
        // meets a closed pipe, as under `mto crds | head -1`.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_mto"))
            .args(args)
            .current_dir(repo())
            .stdout(writer)
            .output()
            .expect("run mto");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "mto {args:?}: {err}");
        assert!(!err.contains("panicked"), "mto {args:?}: {err}");
    }
}

#[test]
fn manifests_in_mtos_shapes_validate_and_plan() {
    let files: Vec<String> = yaml_files(&repo().join("mto-runtime/tests/data/mto-shapes"))
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(files.len() >= 8, "one file per kind at least: {files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = mto(&args);
    assert!(ok, "{err}");
    assert!(out.contains("manifests valid"), "{out}");
    args[0] = "plan";
    let (ok, out, err) = mto(&args);
    assert!(ok, "{err}");
    assert!(out.contains("Tenant shapes-bluesky → Active"), "{out}");
    // Sandboxes where MTO puts them, for users named by e-mail address.
    for sandbox in [
        "shapes-bluesky-anna-aurora-sandbox",
        "shapes-bluesky-anthony-aurora-sandbox",
        "shapes-bluesky-john-aurora-sandbox",
    ] {
        assert!(
            out.contains(&format!("+ Namespace/{sandbox} ")),
            "{sandbox}:\n{out}"
        );
    }
    // Pooled, as MTO's quotas are: every one of the six namespaces may
    // use both load balancers, the webhook holds the tenant to two.
    assert_eq!(out.matches("services.loadbalancers=2").count(), 6, "{out}");
}

#[test]
fn every_mistake_is_refused_naming_its_field_and_fix() {
    for (file, expected) in [
        (
            "label-value-not-a-string.yaml",
            "label-value-not-a-string.yaml:11: spec.namespaces.metadata.common.labels.monitored: invalid type: boolean `true`, expected a string (fix: quote the value",
        ),
        (
            "capitalised-spec.yaml",
            "capitalised-spec.yaml:5: Spec: unknown field of tenantoperator.stakater.com/v1beta1/Quota; the apiserver rejects it (fix: field names start with a lowercase letter: write `spec`)",
        ),
        (
            "template-fields-under-spec.yaml",
            "template-fields-under-spec.yaml:6: spec.resources: unknown field of templates.stakater.com/v1alpha1/Template; the apiserver rejects it (fix: resources and parameters are top-level fields of a Template",
        ),
        (
            "cron-hour-out-of-range.yaml",
            "cron-hour-out-of-range.yaml:8: ResourceSupervisor/mistake-cron: spec.schedule.sleepSchedule: \"0 24 * * *\" is not a valid cron expression: hour 24 is out of range: use 0-23",
        ),
        (
            "parameter-default-fails-validation.yaml",
            "parameter-default-fails-validation.yaml:7: Template/mistake-parameter: parameters[0].value: the default \"three\" does not match its own validation",
        ),
        (
            "argocd-without-namespace.yaml",
            "argocd-without-namespace.yaml:6: ClusterResourceSupervisor/mistake-argocd: spec.argocd.namespace: \"\" must not be empty (fix: name the namespace Argo CD runs in",
        ),
        (
            "defined-twice.yaml",
            "defined-twice.yaml:7: Quota/mistake-twice is defined twice, first at",
        ),
    ] {
        let path = format!("mto-runtime/tests/data/mistakes/{file}");
        for command in ["validate", "plan"] {
            let (ok, _, err) = mto(&[command, &path]);
            assert!(!ok, "mto {command} {file} must exit non-zero");
            assert!(
                err.contains(expected),
                "mto {command} {file}: missing {expected:?} in:\n{err}"
            );
        }
    }
}

#[test]
fn older_manifests_point_to_migrate_and_migrate_into_manifests_that_plan() {
    let older: Vec<String> = yaml_files(&repo().join("mto-runtime/tests/data/older"))
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["validate"];
    args.extend(older.iter().map(String::as_str));
    let (ok, _, err) = mto(&args);
    assert!(!ok);
    assert!(
        err.contains("tenantoperator.stakater.com/v1beta2 Tenant is an older version mto reads only through `mto migrate` (fix: run `mto migrate"),
        "{err}"
    );
    args[0] = "migrate";
    let (ok, migrated, changes) = mto(&args);
    assert!(ok, "{changes}");
    assert!(
        changes.contains("spec.owners → spec.accessControl.owners"),
        "{changes}"
    );
    let dir = std::env::temp_dir().join(format!("mto-migrated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("migrated.yaml");
    std::fs::write(&file, &migrated).expect("write");
    let quota = repo().join("mto-runtime/tests/data/mto-shapes/quotas.yaml");
    let (file, quota) = (file.display().to_string(), quota.display().to_string());
    let (ok, out, err) = mto(&["validate", &file]);
    assert!(ok, "{err}\n{migrated}");
    assert!(out.contains("5 manifests valid"), "{out}");
    let (ok, out, err) = mto(&["plan", &file, &quota]);
    assert!(ok, "{err}");
    assert!(out.contains("Tenant older-bluesky → Active"), "{out}");
    assert!(
        out.contains("+ Namespace/older-bluesky-anna-aurora-sandbox "),
        "{out}"
    );
    // Migrating what mto serves changes nothing.
    let (ok, again, changes) = mto(&["migrate", &file]);
    assert!(ok && changes.is_empty(), "{changes}");
    assert_eq!(again, migrated, "migrating twice is migrating once");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mto_admit_decides_the_shipped_reviews_as_the_webhook_would() {
    for (review, allowed, expected) in [
        (
            "namespace-without-tenant.yaml",
            false,
            "\"message\": \"Cannot CREATE namespace scratch without label stakater.com/tenant. User: bo@example.com\"",
        ),
        ("namespace-by-owner.yaml", true, "\"allowed\": true"),
        ("quota-in-use.yaml", false, "\"reason\": \"vquota\""),
    ] {
        let path = format!("deploy/examples/admission/{review}");
        let (ok, out, err) = mto(&["admit", "--state", "deploy/examples/", &path]);
        assert_eq!(ok, allowed, "{review}: {out}{err}");
        assert!(
            out.contains(expected),
            "{review}: missing {expected:?} in {out}"
        );
        assert!(
            out.contains("\"uid\": \"2b0f7c59-1b4a-4b7e-8d0c-4f1e9a1c000"),
            "{out}"
        );
    }
    // A malformed review is an error that says what is wrong, not a verdict.
    let (ok, _, err) = mto(&[
        "admit",
        "--state",
        "deploy/examples/",
        "deploy/examples/quotas.yaml",
    ]);
    assert!(!ok);
    assert!(err.contains("not one JSON or YAML document"), "{err}");
    let (ok, _, err) = mto(&[
        "admit",
        "--state",
        "deploy/examples/",
        "deploy/examples/integration-config.yaml",
    ]);
    assert!(!ok);
    assert!(
        err.contains("not an AdmissionReview the apiserver sends: apiVersion/kind"),
        "{err}"
    );
}
