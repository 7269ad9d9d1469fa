//! Schemas for fields that hold arbitrary Kubernetes objects.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object of any shape whose unknown fields the apiserver must keep.
pub(crate) fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A list of objects of any shape (rendered manifests).
pub(crate) fn free_form_objects(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true
        }
    })
}
