//! A Tenant converted between `v1beta2` and `v1beta3` as one object, for
//! an apiserver serving both versions (a CRD conversion webhook): what one
//! version has no field for travels in an annotation, so converting there
//! and back gives the object that was sent.
//!
//! Unlike [`migrate`](super::migrate), which rewrites files once and may
//! split a tenant into two objects (its Argo CD settings into
//! `Extensions`), a conversion keeps one object and loses nothing.

use serde_json::{Map, Value, json};

use super::{MigrateError, TENANT_V1BETA2, TENANT_V1BETA3, object};

/// The annotation holding what the other version of a Tenant has a field
/// for and this one has not: `{"v1beta2": {...}}` on a `v1beta3` object,
/// `{"v1beta3": {...}}` on a `v1beta2` one.
pub const CONVERSION_ANNOTATION: &str = "tenantoperator.stakater.com/conversion";

/// The fields of a `v1beta3` spec that `v1beta2` has as they are.
const SHARED: [&str; 3] = ["quota", "hibernation", "templateInstances"];

/// `tenant` (a Tenant of either version) as `to_api_version`.
pub fn convert_tenant(tenant: Value, to_api_version: &str) -> Result<Value, MigrateError> {
    let from = tenant["apiVersion"].as_str().unwrap_or_default().to_owned();
    match (from.as_str(), to_api_version) {
        (f, t) if f == t => Ok(tenant),
        (TENANT_V1BETA2, TENANT_V1BETA3) => up(tenant),
        (TENANT_V1BETA3, TENANT_V1BETA2) => down(tenant),
        (f, t) => Err(MigrateError::Shape {
            field: "apiVersion".into(),
            problem: format!("cannot convert a Tenant from {f:?} to {t:?}"),
        }),
    }
}

/// Takes this version's entry out of the conversion annotation.
pub(super) fn take_stash(
    root: &mut Map<String, Value>,
    version: &str,
) -> Result<Map<String, Value>, MigrateError> {
    let Some(annotations) = root
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return Ok(Map::new());
    };
    let Some(text) = annotations.remove(CONVERSION_ANNOTATION) else {
        return Ok(Map::new());
    };
    if annotations.is_empty()
        && let Some(meta) = root.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("annotations");
    }
    let parsed: Value = serde_json::from_str(text.as_str().unwrap_or_default()).map_err(|e| {
        MigrateError::Shape {
            field: format!("metadata.annotations[{CONVERSION_ANNOTATION}]"),
            problem: format!("not the JSON mto writes there: {e}"),
        }
    })?;
    object(
        parsed.get(version).cloned().unwrap_or(Value::Null),
        CONVERSION_ANNOTATION,
    )
}

/// Puts what the other version holds and this one cannot into the annotation.
fn put_stash(root: &mut Map<String, Value>, version: &str, stash: Map<String, Value>) {
    if stash.is_empty() {
        return;
    }
    let text = json!({ version: stash }).to_string();
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(CONVERSION_ANNOTATION.into(), Value::String(text));
        }
    }
}

fn insert_nonempty(map: &mut Map<String, Value>, key: &str, value: Map<String, Value>) {
    if !value.is_empty() {
        map.insert(key.into(), Value::Object(value));
    }
}

fn up(tenant: Value) -> Result<Value, MigrateError> {
    let mut root = object(tenant, "")?;
    let restored = take_stash(&mut root, "v1beta3")?;
    let old = object(root.remove("spec").unwrap_or(Value::Null), "spec")?;
    let mut spec = Map::new();
    let mut access = Map::new();
    let mut namespaces = Map::new();
    let mut metadata = Map::new();
    let mut v1beta2_only = Map::new();
    for (field, value) in old {
        match field.as_str() {
            "owners" | "editors" | "viewers" => {
                access.insert(field, value);
            }
            "sandboxConfig" => {
                namespaces.insert("sandboxes".into(), value);
            }
            "namespaces" => {
                namespaces.extend(object(value, "spec.namespaces")?);
            }
            "commonMetadata" => {
                metadata.insert("common".into(), value);
            }
            "sandboxMetadata" => {
                metadata.insert("sandbox".into(), value);
            }
            "specificMetadata" => {
                metadata.insert("specific".into(), value);
            }
            "onDelete" => {
                let mut on_delete = object(value, "spec.onDelete")?;
                if let Some(clean) = on_delete.remove("cleanNamespaces") {
                    namespaces.insert("onDeletePurgeNamespaces".into(), clean);
                }
                insert_nonempty(&mut v1beta2_only, "onDelete", on_delete);
            }
            "argocd" => {
                v1beta2_only.insert(field, value);
            }
            _ => {
                spec.insert(field, value);
            }
        }
    }
    insert_nonempty(&mut namespaces, "metadata", metadata);
    insert_nonempty(&mut spec, "accessControl", access);
    insert_nonempty(&mut spec, "namespaces", namespaces);
    // What v1beta3 had and v1beta2 could not hold, back in its place.
    spec.extend(restored);
    put_stash(&mut root, "v1beta2", v1beta2_only);
    root.insert("apiVersion".into(), json!(TENANT_V1BETA3));
    root.insert("spec".into(), Value::Object(spec));
    Ok(Value::Object(root))
}

fn down(tenant: Value) -> Result<Value, MigrateError> {
    let mut root = object(tenant, "")?;
    let restored = take_stash(&mut root, "v1beta2")?;
    let new = object(root.remove("spec").unwrap_or(Value::Null), "spec")?;
    let mut spec = Map::new();
    let mut v1beta3_only = Map::new();
    for (field, value) in new {
        match field.as_str() {
            "accessControl" => {
                spec.extend(object(value, "spec.accessControl")?);
            }
            "namespaces" => {
                let mut namespaces = object(value, "spec.namespaces")?;
                if let Some(sandboxes) = namespaces.remove("sandboxes") {
                    spec.insert("sandboxConfig".into(), sandboxes);
                }
                if let Some(purge) = namespaces.remove("onDeletePurgeNamespaces") {
                    spec.insert("onDelete".into(), json!({ "cleanNamespaces": purge }));
                }
                if let Some(metadata) = namespaces.remove("metadata") {
                    for (part, value) in object(metadata, "spec.namespaces.metadata")? {
                        let name = match part.as_str() {
                            "common" => "commonMetadata",
                            "sandbox" => "sandboxMetadata",
                            "specific" => "specificMetadata",
                            _ => {
                                return Err(MigrateError::Shape {
                                    field: format!("spec.namespaces.metadata.{part}"),
                                    problem: "not a field of v1beta3".into(),
                                });
                            }
                        };
                        spec.insert(name.into(), value);
                    }
                }
                insert_nonempty(&mut spec, "namespaces", namespaces);
            }
            f if SHARED.contains(&f) => {
                spec.insert(field, value);
            }
            _ => {
                v1beta3_only.insert(field, value);
            }
        }
    }
    for (field, value) in restored {
        match (field.as_str(), spec.get_mut("onDelete")) {
            ("onDelete", Some(Value::Object(on_delete))) => {
                on_delete.extend(object(value, "spec.onDelete")?);
            }
            _ => {
                spec.insert(field, value);
            }
        }
    }
    put_stash(&mut root, "v1beta3", v1beta3_only);
    root.insert("apiVersion".into(), json!(TENANT_V1BETA2));
    root.insert("spec".into(), Value::Object(spec));
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-z]{1,6}", 0..3)
    }

    fn subjects() -> impl Strategy<Value = Option<Value>> {
        proptest::option::of((names(), names()).prop_map(|(users, groups)| {
            let mut s = Map::new();
            if !users.is_empty() {
                s.insert("users".into(), json!(users));
            }
            if !groups.is_empty() {
                s.insert("groups".into(), json!(groups));
            }
            Value::Object(s)
        }))
    }

    fn labels() -> impl Strategy<Value = Option<Value>> {
        proptest::option::of(
            proptest::collection::btree_map("[a-z]{1,5}", "[a-z]{1,5}", 1..3)
                .prop_map(|l| json!({ "labels": l })),
        )
    }

    /// A v1beta3 tenant using any of its fields, v1beta2's and its own.
    fn v1beta3() -> impl Strategy<Value = Value> {
        (
            (subjects(), subjects(), subjects()),
            (
                names(),
                proptest::option::of(any::<(bool, bool)>()),
                proptest::option::of(any::<bool>()),
            ),
            (labels(), labels(), proptest::option::of("[a-z]{1,6}")),
            (
                proptest::option::of(names()),
                proptest::option::of("[a-z ]{1,10}"),
                proptest::option::of("[a-z]{1,6}"),
            ),
        )
            .prop_map(
                |(
                    (owners, editors, viewers),
                    (prefixed, sandboxes, purge),
                    (common, sandbox, specific),
                    (storage, desc, quota),
                )| {
                    let mut spec = Map::new();
                    let mut access = Map::new();
                    for (role, s) in [
                        ("owners", owners),
                        ("editors", editors),
                        ("viewers", viewers),
                    ] {
                        if let Some(s) = s {
                            access.insert(role.into(), s);
                        }
                    }
                    insert_nonempty(&mut spec, "accessControl", access);
                    let mut namespaces = Map::new();
                    if !prefixed.is_empty() {
                        namespaces.insert("withTenantPrefix".into(), json!(prefixed));
                    }
                    if let Some((enabled, private)) = sandboxes {
                        namespaces.insert(
                            "sandboxes".into(),
                            json!({"enabled": enabled, "private": private}),
                        );
                    }
                    if let Some(purge) = purge {
                        namespaces.insert("onDeletePurgeNamespaces".into(), json!(purge));
                    }
                    let mut metadata = Map::new();
                    if let Some(c) = common {
                        metadata.insert("common".into(), c);
                    }
                    if let Some(s) = sandbox {
                        metadata.insert("sandbox".into(), s);
                    }
                    if let Some(ns) = specific {
                        metadata.insert(
                            "specific".into(),
                            json!([{"namespaces": [ns], "labels": {"a": "b"}}]),
                        );
                    }
                    insert_nonempty(&mut namespaces, "metadata", metadata);
                    insert_nonempty(&mut spec, "namespaces", namespaces);
                    if let Some(allowed) = storage {
                        spec.insert("storageClasses".into(), json!({"allowed": allowed}));
                    }
                    if let Some(desc) = desc {
                        spec.insert("desc".into(), json!(desc));
                    }
                    if let Some(quota) = quota {
                        spec.insert("quota".into(), json!(quota));
                    }
                    json!({
                        "apiVersion": TENANT_V1BETA3, "kind": "Tenant",
                        "metadata": {"name": "t", "annotations": {"kept": "yes"}},
                        "spec": spec,
                    })
                },
            )
    }

    /// A v1beta2 tenant using any of its fields, Argo CD's too.
    fn v1beta2() -> impl Strategy<Value = Value> {
        (
            subjects(),
            proptest::option::of(any::<(bool, bool)>()),
            proptest::option::of((proptest::option::of(any::<bool>()), proptest::option::of(any::<bool>()))),
            proptest::option::of(names()),
            labels(),
        )
            .prop_map(|(owners, sandbox, on_delete, repos, common)| {
                let mut spec = Map::new();
                if let Some(o) = owners {
                    spec.insert("owners".into(), o);
                }
                if let Some((enabled, private)) = sandbox {
                    spec.insert("sandboxConfig".into(), json!({"enabled": enabled, "private": private}));
                }
                if let Some((clean_ns, clean_project)) = on_delete {
                    let mut d = Map::new();
                    if let Some(c) = clean_ns {
                        d.insert("cleanNamespaces".into(), json!(c));
                    }
                    if let Some(c) = clean_project {
                        d.insert("cleanAppProject".into(), json!(c));
                    }
                    insert_nonempty(&mut spec, "onDelete", d);
                }
                if let Some(repos) = repos {
                    spec.insert("argocd".into(), json!({"sourceRepos": repos}));
                }
                if let Some(c) = common {
                    spec.insert("commonMetadata".into(), c);
                }
                json!({"apiVersion": TENANT_V1BETA2, "kind": "Tenant", "metadata": {"name": "t"}, "spec": spec})
            })
    }

    /// JSON of any shape, with the keys a Tenant has, so that conversion
    /// meets the wrong types in the right places.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z{}\":]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            let keys = prop_oneof![
                Just("spec"),
                Just("metadata"),
                Just("annotations"),
                Just("apiVersion"),
                Just("namespaces"),
                Just("metadata"),
                Just("onDelete"),
                Just("accessControl"),
                Just("sandboxConfig"),
                Just(CONVERSION_ANNOTATION),
                Just("v1beta2"),
                Just("v1beta3"),
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                proptest::collection::btree_map(keys, inner, 0..5).prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        /// What the apiserver sends may be anything: conversion answers,
        /// it never panics.
        #[test]
        fn conversion_of_any_json_answers(mut value in any_json(), up in any::<bool>()) {
            let (from, to) = if up { (TENANT_V1BETA2, TENANT_V1BETA3) } else { (TENANT_V1BETA3, TENANT_V1BETA2) };
            if let Some(o) = value.as_object_mut() {
                o.insert("apiVersion".into(), json!(from));
            }
            let _ = convert_tenant(value.clone(), to);
            let _ = super::super::migrate(value);
        }

        #[test]
        fn a_v1beta3_tenant_survives_the_trip_through_v1beta2(tenant in v1beta3()) {
            let down = convert_tenant(tenant.clone(), TENANT_V1BETA2).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(down["apiVersion"].as_str(), Some(TENANT_V1BETA2));
            let back = convert_tenant(down, TENANT_V1BETA3).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, tenant);
        }

        #[test]
        fn a_v1beta2_tenant_survives_the_trip_through_v1beta3(tenant in v1beta2()) {
            let up = convert_tenant(tenant.clone(), TENANT_V1BETA3).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // What v1beta3 reads of it is a valid v1beta3 tenant.
            let typed: Result<crate::api::Tenant, _> = serde_json::from_value(up.clone());
            prop_assert!(typed.is_ok(), "{:?}", typed.err());
            let back = convert_tenant(up, TENANT_V1BETA2).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, tenant);
        }
    }

    #[test]
    fn fields_one_version_lacks_travel_in_the_annotation() {
        let tenant = json!({
            "apiVersion": TENANT_V1BETA2, "kind": "Tenant", "metadata": {"name": "t"},
            "spec": {"owners": {"users": ["a"]}, "argocd": {"sourceRepos": ["https://git.example.com/r"]}},
        });
        let up = convert_tenant(tenant, TENANT_V1BETA3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(up["spec"]["accessControl"]["owners"]["users"][0], "a");
        let stash = up["metadata"]["annotations"][CONVERSION_ANNOTATION]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<Value>(stash).ok(),
            Some(json!({"v1beta2": {"argocd": {"sourceRepos": ["https://git.example.com/r"]}}}))
        );
    }
}
