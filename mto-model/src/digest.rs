//! A short, stable digest of what mto writes, kept in an annotation beside
//! it: the next decision compares digests instead of whole objects.

use std::hash::Hasher as _;

/// 16 hex digits of FNV-1a over `value`'s JSON. The same value always
/// gives the same digest (JSON keeps the order its maps were built in, and
/// mto builds them deterministically); it is not a cryptographic hash.
#[must_use]
pub fn digest(value: &impl serde::Serialize) -> String {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(serde_json::to_string(value).unwrap_or_default().as_bytes());
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn equal_values_digest_alike_and_a_change_shows(a in ".{0,40}", b in ".{0,40}") {
            let x = serde_json::json!({"data": {"a": a, "b": b}});
            proptest::prop_assert_eq!(digest(&x), digest(&x.clone()));
            let y = serde_json::json!({"data": {"a": b, "b": a}});
            proptest::prop_assert_eq!(digest(&x) == digest(&y), x == y);
        }
    }
}
