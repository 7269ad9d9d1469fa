//! `mto admit`: one AdmissionReview decided offline, against the cluster
//! state in manifest files, by the same function the webhook runs.

use mto_model::admission::review::{Review, ReviewError, answer, read_review};
use mto_model::admission::{Verdict, admit};
use mto_model::view::Observed;
use serde_json::Value;

/// Why a review could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The text is not one JSON or YAML document.
    #[error(
        "not one JSON or YAML document: {0} (fix: give the AdmissionReview the apiserver would send, alone in its file)"
    )]
    Unreadable(String),
    /// It reads, but is no AdmissionReview.
    #[error("{0}")]
    Review(#[from] ReviewError),
}

/// The review in JSON or YAML text.
pub fn read(text: &str) -> Result<Review, AdmitError> {
    let value: Value = serde_json::from_str(text)
        .or_else(|_| serde_norway::from_str(text))
        .map_err(|e: serde_norway::Error| AdmitError::Unreadable(e.to_string()))?;
    Ok(read_review(&value)?)
}

/// Decides `review` against `observed`: the answering review, and the
/// verdict it carries.
pub fn decide(review: &Review, observed: &impl Observed) -> (Value, Verdict) {
    let verdict = admit(&review.request, observed);
    (answer(&review.uid, &verdict), verdict)
}
