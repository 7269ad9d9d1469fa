//! The `admission.k8s.io/v1` AdmissionReview on the wire: the request
//! read from it, the answer written as one. Read here, in one place, for
//! the webhook, `mto admit` and the fuzzer alike.

use serde_json::{Value, json};

use super::{AdmissionRequest, Operation, UserInfo, Verdict};
use crate::view::Gvk;

/// A review's request, with the uid its answer must carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    /// The request's uid.
    pub uid: String,
    /// The request.
    pub request: AdmissionRequest,
}

/// Why a review does not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an AdmissionReview the apiserver sends: {field}: {problem} (fix: {fix})")]
pub struct ReviewError {
    /// The field at fault.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
    /// How to mend it.
    pub fix: String,
}

fn error(field: &str, problem: &str, fix: &str) -> ReviewError {
    ReviewError {
        field: field.to_owned(),
        problem: problem.to_owned(),
        fix: fix.to_owned(),
    }
}

/// A string field of `object`, required.
fn text<'a>(object: &'a Value, at: &str, field: &str) -> Result<&'a str, ReviewError> {
    match &object[field] {
        Value::String(s) => Ok(s),
        Value::Null => Err(error(
            &format!("{at}.{field}"),
            "missing",
            "give it, as the apiserver does",
        )),
        _ => Err(error(
            &format!("{at}.{field}"),
            "not a string",
            "give a string",
        )),
    }
}

/// A string field of `object`, optional.
fn optional_text(object: &Value, at: &str, field: &str) -> Result<Option<String>, ReviewError> {
    match &object[field] {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(error(
            &format!("{at}.{field}"),
            "not a string",
            "give a string",
        )),
    }
}

/// Reads an `admission.k8s.io/v1` AdmissionReview.
pub fn read_review(review: &Value) -> Result<Review, ReviewError> {
    if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
        return Err(error(
            "apiVersion/kind",
            &format!("{} {}", review["apiVersion"], review["kind"]),
            "give apiVersion admission.k8s.io/v1 and kind AdmissionReview (admissionReviewVersions: [v1])",
        ));
    }
    let request = &review["request"];
    if !request.is_object() {
        return Err(error(
            "request",
            "missing",
            "add the request the apiserver would send",
        ));
    }
    let at = "request";
    let uid = text(request, at, "uid")?.to_owned();
    let operation = match text(request, at, "operation")? {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        // A CONNECT (exec, port-forward) changes nothing mto judges.
        "CONNECT" => Operation::Update,
        other => {
            return Err(error(
                "request.operation",
                &format!("{other:?} is no operation"),
                "give CREATE, UPDATE, DELETE or CONNECT",
            ));
        }
    };
    let kind = &request["kind"];
    if !kind.is_object() {
        return Err(error(
            "request.kind",
            "missing",
            "give the object's group, version and kind",
        ));
    }
    let user = &request["userInfo"];
    let groups = match &user["groups"] {
        Value::Null => Vec::new(),
        Value::Array(groups) => groups
            .iter()
            .map(|g| {
                g.as_str().map(str::to_owned).ok_or_else(|| {
                    error(
                        "request.userInfo.groups",
                        "not a list of strings",
                        "give group names",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(error(
                "request.userInfo.groups",
                "not a list",
                "give a list of group names",
            ));
        }
    };
    let object = |field: &str| match &request[field] {
        Value::Null => Ok(None),
        o @ Value::Object(_) => Ok(Some(o.clone())),
        _ => Err(error(
            &format!("request.{field}"),
            "not an object",
            "give the object as JSON",
        )),
    };
    Ok(Review {
        uid,
        request: AdmissionRequest {
            operation,
            user: UserInfo {
                username: optional_text(user, "request.userInfo", "username")?.unwrap_or_default(),
                groups,
            },
            kind: Gvk {
                group: optional_text(kind, "request.kind", "group")?.unwrap_or_default(),
                version: text(kind, "request.kind", "version")?.to_owned(),
                kind: text(kind, "request.kind", "kind")?.to_owned(),
            },
            name: optional_text(request, at, "name")?.unwrap_or_default(),
            namespace: optional_text(request, at, "namespace")?,
            subresource: optional_text(request, at, "subResource")?,
            object: object("object")?,
            old_object: object("oldObject")?,
        },
    })
}

/// The AdmissionReview answering request `uid` with `verdict`: a refusal
/// carries its message and, as its reason, the rule's name.
#[must_use]
pub fn answer(uid: &str, verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Allowed => refusal_or_not(uid, None),
        Verdict::Denied { rule, message } => refusal_or_not(uid, Some((rule.name(), message))),
    }
}

/// The AdmissionReview refusing request `uid` for a `reason` that is no
/// rule (the webhook cannot decide yet, say).
#[must_use]
pub fn refuse(uid: &str, reason: &str, message: &str) -> Value {
    refusal_or_not(uid, Some((reason, message)))
}

fn refusal_or_not(uid: &str, refusal: Option<(&str, &str)>) -> Value {
    let response = match refusal {
        None => json!({"uid": uid, "allowed": true}),
        Some((reason, message)) => json!({
            "uid": uid,
            "allowed": false,
            "status": {"status": "Failure", "code": 403, "reason": reason, "message": message}
        }),
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Rule;

    fn review() -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-1", "operation": "UPDATE",
                "kind": {"group": "", "version": "v1", "kind": "ResourceQuota"},
                "resource": {"group": "", "version": "v1", "resource": "resourcequotas"},
                "subResource": "status", "name": "tenant-quota", "namespace": "alpha-dev",
                "userInfo": {"username": "system:apiserver", "groups": ["system:masters"]},
                "object": {"kind": "ResourceQuota"}, "oldObject": {"kind": "ResourceQuota"}
            }
        })
    }

    #[test]
    fn a_review_reads_as_the_apiserver_writes_it() {
        let read = read_review(&review()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.uid, "u-1");
        let r = read.request;
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(r.kind.kind, "ResourceQuota");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.namespace.as_deref(), Some("alpha-dev"));
        assert_eq!(r.user.groups, ["system:masters"]);
        assert!(r.object.is_some() && r.old_object.is_some());
    }

    #[test]
    fn what_is_wrong_is_named_with_its_field() {
        let mut no_uid = review();
        no_uid["request"]["uid"] = Value::Null;
        let e = read_review(&no_uid)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("request.uid: missing"), "{e}");
        let mut bad_groups = review();
        bad_groups["request"]["userInfo"]["groups"] = json!("admins");
        let e = read_review(&bad_groups)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("request.userInfo.groups: not a list"), "{e}");
        let e = read_review(
            &json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("admissionReviewVersions: [v1]"), "{e}");
    }

    #[test]
    fn an_answer_carries_the_uid_and_a_refusal_its_rule() {
        let denied = answer(
            "u-1",
            &Verdict::Denied {
                rule: Rule::Namespace,
                message: "no".into(),
            },
        );
        assert_eq!(denied["response"]["uid"], "u-1");
        assert_eq!(denied["response"]["allowed"], false);
        assert_eq!(denied["response"]["status"]["reason"], "vnamespace");
        assert_eq!(denied["response"]["status"]["code"], 403);
        assert_eq!(
            answer("u-2", &Verdict::Allowed)["response"]["allowed"],
            true
        );
    }
}
