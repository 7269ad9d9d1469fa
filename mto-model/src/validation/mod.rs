//! Field-path errors: every problem of a manifest at once, each with the
//! field, what is wrong and how to fix it.

use std::fmt;

/// One problem in one field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldError {
    /// Where, as a path from the object root (`spec.namespaces.withTenantPrefix[2]`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.path, self.problem, self.fix)
    }
}

/// Every problem found in one object. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    /// The problems, in the order of the fields.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects problems while a validator walks an object.
#[derive(Clone, Debug, Default)]
pub struct Problems {
    errors: Vec<FieldError>,
}

impl Problems {
    /// Records a problem.
    pub fn push(
        &mut self,
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errors.push(FieldError {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems recorded so far.
    #[must_use]
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                errors: self.errors,
            })
        }
    }
}

/// A manifest mto can check without a cluster.
pub trait Validate {
    /// Every problem at once, or `Ok`.
    fn validate(&self) -> Result<(), ValidationErrors>;
}

mod hibernation;
mod integration;
mod quota;
pub(crate) mod template;
mod tenant;

use std::collections::BTreeMap;

use crate::names::{label_value_problem, qualified_name_problem};

/// Checks label and annotation maps under `path` (`…labels`, `…annotations`).
fn validate_metadata(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    path: &str,
    problems: &mut Problems,
) {
    for (key, value) in labels {
        // Sandbox values hold the user placeholder; check them as substituted.
        let value = &value.replace(crate::tenant::USERNAME_PLACEHOLDER, "user");
        let at = format!("{path}.labels[{key}]");
        if let Some(p) = qualified_name_problem(key) {
            problems.push(
                &at,
                format!("label key {p}"),
                "use a key like `example.com/name` or `name`",
            );
        }
        if let Some(p) = label_value_problem(value) {
            problems.push(
                &at,
                format!("label value {value:?} {p}"),
                "use at most 63 letters, digits, '-', '_' or '.', or move it to annotations",
            );
        }
        // MTO's own reference configuration writes `stakater.com/kind:
        // sandbox` in sandbox metadata: the value mto sets there anyway.
        let restates_sandbox_kind = key == crate::labels::KIND_LABEL
            && value == "sandbox"
            && (path.ends_with(".sandbox") || path.ends_with(".sandboxes"));
        if (key == crate::labels::TENANT_LABEL || key == crate::labels::KIND_LABEL)
            && !restates_sandbox_kind
        {
            problems.push(
                &at,
                format!("{key} is set by mto"),
                "remove this label; mto sets it on every tenant namespace",
            );
        }
    }
    for key in annotations.keys() {
        if let Some(p) = qualified_name_problem(key) {
            problems.push(
                format!("{path}.annotations[{key}]"),
                format!("annotation key {p}"),
                "use a key like `example.com/name` or `name`",
            );
        }
    }
}

/// Checks that every pattern compiles.
fn validate_regexes(patterns: &[String], path: &str, problems: &mut Problems) {
    for (i, pattern) in patterns.iter().enumerate() {
        if let Err(e) = regex::Regex::new(pattern) {
            problems.push(
                format!("{path}[{i}]"),
                format!(
                    "{pattern:?} is not a regular expression: {}",
                    error_summary(&e.to_string())
                ),
                "fix the pattern (for a prefix match write `^kube-.*`)",
            );
        }
    }
}

/// The line of a multi-line error message that says what is wrong: the
/// regex crate prints the pattern, a caret under the problem, then
/// `error: <what>`; other errors are one line.
pub(crate) fn error_summary(text: &str) -> &str {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find_map(|l| l.strip_prefix("error:"))
        .map(str::trim)
        .or_else(|| lines().next_back())
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_summary_is_the_line_that_says_what_is_wrong() {
        // Built at run time, as a user's pattern is.
        let pattern = String::from("(unclosed");
        let e = regex::Regex::new(&pattern)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.lines().count() > 1, "{e}");
        assert_eq!(error_summary(&e), "unclosed group");
        assert_eq!(error_summary("one line"), "one line");
        assert_eq!(error_summary("first\n\nsecond\n"), "second");
    }
}
