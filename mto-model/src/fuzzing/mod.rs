//! The bodies of the fuzz targets in `fuzz/`, here so their corpora also
//! run as ordinary tests (`tests/fuzz_corpus.rs`) without a nightly
//! toolchain. Each takes the fuzzer's raw bytes, exactly as the target
//! does, so a corpus file is replayed as the fuzzer saw it.

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};

use crate::hibernation::schedule::{Cron, Hibernation};
use crate::manifest::parse;
use crate::quantity::Quantity;

pub mod cluster;

/// Reads the bytes as manifests and validates each; must never panic.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for doc in parse(Path::new("fuzz.yaml"), text).into_iter().flatten() {
        let _ = doc.manifest.problems();
        if let crate::manifest::Manifest::Tenant(t) = &doc.manifest {
            let _ = crate::claims::requested_namespaces(t);
        }
    }
}

/// Parses the bytes as a quantity; what parses must print and parse back
/// to the same value.
pub fn quantity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Quantity::parse(text) {
        assert_eq!(
            Quantity::parse(&q.to_string()),
            Ok(q),
            "round trip of {text:?}"
        );
    }
}

/// Parses the bytes as a 5-field cron expression; must never panic.
pub fn cron(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Cron::parse(text);
    }
}

/// A sleep schedule and two instants, as the fuzzer draws them.
#[derive(Arbitrary, Debug)]
struct ScheduleInput {
    sleep: String,
    wake: Option<String>,
    /// An IANA zone by index, or any text.
    zone: Zone,
    /// Seconds after 2026-01-01, within a few years either way.
    at: i32,
    since: i32,
}

#[derive(Arbitrary, Debug)]
enum Zone {
    None,
    Known(u16),
    Text(String),
}

/// Compiles a schedule in an arbitrary zone and asks it when it sleeps:
/// never a panic, and a next transition really changes the state.
pub fn schedule(data: &[u8]) {
    let Ok(input) = ScheduleInput::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let zone = match input.zone {
        Zone::None => None,
        Zone::Known(i) => {
            let zones = chrono_tz::TZ_VARIANTS;
            Some(zones[usize::from(i) % zones.len()].name().to_owned())
        }
        Zone::Text(t) => Some(t),
    };
    let schedule = crate::api::SleepSchedule {
        sleep_schedule: input.sleep,
        wake_schedule: input.wake,
        time_zone: zone,
    };
    let Ok(compiled) = Hibernation::compile(&schedule) else {
        return;
    };
    let base = 1_767_225_600_i64;
    let instant = |offset: i32| {
        crate::Timestamp::from_second(base + i64::from(offset) * 8)
            .unwrap_or(crate::Timestamp::UNIX_EPOCH)
    };
    let (at, since) = (instant(input.at), instant(input.since));
    let now = compiled.state_at(at, since);
    if let Some(next) = compiled.next_transition(at, since) {
        assert!(next > at, "{schedule:?}: next {next} not after {at}");
        assert_ne!(
            compiled.state_at(next, since),
            now,
            "{schedule:?}: nothing changes at {next}"
        );
    }
}

/// Reads the bytes as a JSON admission request (`operation`, `user`,
/// `groups`, `apiVersion`, `kind`, `name`, `namespace`, `object`,
/// `oldObject`) and decides it against a small cluster; then converts and
/// migrates the object as a Tenant. None of it may panic, and a denial
/// names the user.
pub fn admission(data: &[u8]) {
    use crate::admission::{AdmissionRequest, Operation, UserInfo, Verdict, admit};
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    // An AdmissionReview as the apiserver sends it, or the request's
    // fields at the top level (the older seeds).
    let review = crate::admission::review::read_review(&value);
    if let Err(e) = &review {
        assert!(!e.field.is_empty() && !e.fix.is_empty(), "{e}");
    }
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let operation = match value["operation"].as_str() {
        Some("DELETE") => Operation::Delete,
        Some("UPDATE") => Operation::Update,
        _ => Operation::Create,
    };
    let groups = value["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    let request = AdmissionRequest {
        operation,
        user: UserInfo {
            username: text("user"),
            groups,
        },
        kind: crate::view::Gvk::from_api_version(&text("apiVersion"), &text("kind")),
        name: text("name"),
        namespace: value["namespace"].as_str().map(str::to_owned),
        subresource: value["subresource"].as_str().map(str::to_owned),
        object: value.get("object").cloned(),
        old_object: value.get("oldObject").cloned(),
    };
    let request = review.map_or(request, |r| r.request);
    let cluster = admission_cluster();
    let verdict = admit(&request, cluster.snapshot());
    assert_eq!(
        verdict,
        admit(&request, cluster.snapshot()),
        "deterministic"
    );
    if let Verdict::Denied { message, .. } = &verdict {
        assert!(!message.is_empty());
    }
    if let Some(object) = value.get("object") {
        for to in [
            "tenantoperator.stakater.com/v1beta2",
            "tenantoperator.stakater.com/v1beta3",
        ] {
            let _ = crate::migrate::convert_tenant(object.clone(), to);
        }
        let _ = crate::migrate::migrate(object.clone());
    }
}

/// Tenant `alpha` (owner anna) with namespace `alpha-dev`, quota `small`,
/// policies on registries and storage classes.
fn admission_cluster() -> crate::apiserver::ApiServer {
    static CLUSTER: std::sync::LazyLock<crate::apiserver::ApiServer> = std::sync::LazyLock::new(
        || {
            let mut c = crate::apiserver::ApiServer::default();
            for object in [
                serde_json::json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota", "metadata": {"name": "small"}, "spec": {}}),
                serde_json::json!({"apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
                    "spec": {"quota": "small", "accessControl": {"owners": {"users": ["anna"]}}, "namespaces": {"withTenantPrefix": ["dev"]},
                             "storageClasses": {"allowed": ["fast"]}, "imageRegistries": {"allowed": ["registry.example.com"]}}}),
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alpha-dev", "labels": {crate::labels::TENANT_LABEL: "alpha"}}}),
            ] {
                if let Ok(object) = crate::action::Object::from_json(object) {
                    let _ = c.put(object, crate::Timestamp::UNIX_EPOCH);
                }
            }
            c
        },
    );
    CLUSTER.clone()
}
