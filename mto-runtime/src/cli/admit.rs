//! `mto admit`: one AdmissionReview decided offline, against the cluster
//! state in manifest files, by the same function the webhook runs.

use kube::core::DynamicObject;
use kube::core::admission::{self, AdmissionResponse, AdmissionReview};
use mto_model::admission::{AdmissionRequest, Operation, UserInfo, Verdict, admit};
use mto_model::view::{Gvk, Observed};

/// Why a review could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The text is neither JSON nor YAML of an AdmissionReview.
    #[error(
        "not an AdmissionReview: {0} (fix: give apiVersion admission.k8s.io/v1, kind AdmissionReview and a request with uid, kind, operation and userInfo)"
    )]
    Unreadable(String),
    /// The review carries no request.
    #[error("the AdmissionReview has no request (fix: add the request the apiserver would send)")]
    NoRequest,
}

/// The review read from JSON or YAML text.
pub fn read_review(text: &str) -> Result<AdmissionReview<DynamicObject>, AdmitError> {
    serde_json::from_str(text)
        .or_else(|_| serde_norway::from_str(text))
        .map_err(|e: serde_norway::Error| AdmitError::Unreadable(e.to_string()))
}

/// The model's request from the apiserver's.
pub fn request_of(
    request: &admission::AdmissionRequest<DynamicObject>,
) -> Result<AdmissionRequest, AdmitError> {
    let operation = match request.operation {
        admission::Operation::Create => Operation::Create,
        admission::Operation::Update => Operation::Update,
        admission::Operation::Delete => Operation::Delete,
        admission::Operation::Connect => Operation::Update,
    };
    let value = |o: &Option<DynamicObject>| -> Result<Option<serde_json::Value>, AdmitError> {
        o.as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| AdmitError::Unreadable(e.to_string()))
    };
    Ok(AdmissionRequest {
        operation,
        user: UserInfo {
            username: request.user_info.username.clone().unwrap_or_default(),
            groups: request.user_info.groups.clone().unwrap_or_default(),
        },
        kind: Gvk {
            group: request.kind.group.clone(),
            version: request.kind.version.clone(),
            kind: request.kind.kind.clone(),
        },
        name: request.name.clone(),
        namespace: request.namespace.clone(),
        subresource: request.sub_resource.clone(),
        object: value(&request.object)?,
        old_object: value(&request.old_object)?,
    })
}

/// Decides `review` against `observed`: the response review, and the
/// verdict it carries.
pub fn decide(
    review: AdmissionReview<DynamicObject>,
    observed: &impl Observed,
) -> Result<(AdmissionReview<DynamicObject>, Verdict), AdmitError> {
    let request: admission::AdmissionRequest<DynamicObject> =
        review.try_into().map_err(|_| AdmitError::NoRequest)?;
    let verdict = admit(&request_of(&request)?, observed);
    Ok((respond(&request, &verdict), verdict))
}

/// The review that answers `request` with `verdict`.
pub fn respond(
    request: &admission::AdmissionRequest<DynamicObject>,
    verdict: &Verdict,
) -> AdmissionReview<DynamicObject> {
    let response = AdmissionResponse::from(request);
    match verdict {
        Verdict::Allowed => response.into_review(),
        Verdict::Denied { rule, message } => {
            let mut denied = response.deny(message);
            // The message stays MTO's words; the rule travels as the reason.
            denied.result.reason = rule.name().to_owned();
            denied.into_review()
        }
    }
}
