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

/// A digest of what mto applied to an object, as it stands: the labels
/// and annotations mto's field manager owns, with their values, and what
/// the tenant planner compares of the kind's body. The view takes it when
/// it takes an object in ([`crate::apply::Ownership::applied`]); a
/// decision computes it the same way from what a tenant asks for. Equal
/// digests mean the object is in place, and the decision compares one
/// number instead of walking the object's labels, subjects and spec, each
/// a first touch of memory at 10,000 tenants. Unequal ones prove nothing
/// (another manager's labels, a quantity spelled another way): the full
/// comparison decides.
///
/// SipHash with fixed keys: the model reads no randomness, so a digest is
/// the same in every run of the simulator. Digests never leave the process
/// (the view takes them in, the planner compares them); writing an object
/// whose digest matches the desired one without being it means finding a
/// 64-bit second preimage, not something a tenant can do by trying.
#[derive(Clone, Debug, Default)]
pub struct AppliedDigest(Gathered);

/// SipHash fed in few calls: a digest's many short writes (each string,
/// its end marker, each count) gather in a buffer and reach the hasher
/// together. SipHash reads its input as one stream, so the digest is the
/// one the writes would give one by one; each call into the hasher costs
/// more than the few bytes most of them carry.
#[derive(Clone, Debug)]
struct Gathered {
    hasher: std::hash::DefaultHasher,
    pending: [u8; Gathered::PENDING],
    len: usize,
}

impl Gathered {
    /// Enough for most digests whole: a handful of labels and names.
    const PENDING: usize = 192;
}

impl Default for Gathered {
    fn default() -> Self {
        Gathered {
            hasher: std::hash::DefaultHasher::default(),
            pending: [0; Gathered::PENDING],
            len: 0,
        }
    }
}

impl std::hash::Hasher for Gathered {
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() > Gathered::PENDING - self.len {
            self.hasher.write(&self.pending[..self.len]);
            self.len = 0;
            if bytes.len() > Gathered::PENDING {
                self.hasher.write(bytes);
                return;
            }
        }
        self.pending[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn finish(&self) -> u64 {
        let mut hasher = self.hasher.clone();
        hasher.write(&self.pending[..self.len]);
        hasher.finish()
    }
}

impl AppliedDigest {
    /// Feeds a string, its end marked.
    pub fn str(&mut self, value: &str) {
        std::hash::Hash::hash(value, &mut self.0);
    }

    /// Feeds an optional string; absent and empty differ.
    pub fn opt_str(&mut self, value: Option<&str>) {
        std::hash::Hash::hash(&value, &mut self.0);
    }

    /// Feeds an optional integer; absent and zero differ.
    pub fn opt_int(&mut self, value: Option<i64>) {
        std::hash::Hash::hash(&value, &mut self.0);
    }

    /// Feeds the length of what follows, so that lists end where they do.
    pub fn count(&mut self, count: usize) {
        self.0.write_usize(count);
    }

    /// Feeds a map of strings, in its order (sorted: a `BTreeMap`'s).
    pub fn pairs<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut count = 0_usize;
        for (key, value) in pairs {
            self.str(key);
            self.str(value);
            count += 1;
        }
        self.0.write_usize(count);
    }

    /// Feeds a map of quantities by value: `1Gi` and `1024Mi` alike.
    pub fn quantities(
        &mut self,
        quantities: Option<
            &std::collections::BTreeMap<
                String,
                k8s_openapi::apimachinery::pkg::api::resource::Quantity,
            >,
        >,
    ) {
        self.0.write_u8(u8::from(quantities.is_some()));
        for (resource, quantity) in quantities.into_iter().flatten() {
            self.str(resource);
            match crate::quantity::Quantity::parse(&quantity.0) {
                Ok(value) => {
                    self.0.write_u8(1);
                    self.0.write_i128(value.nanos());
                }
                Err(_) => {
                    self.0.write_u8(2);
                    self.str(&quantity.0);
                }
            }
        }
        self.0
            .write_usize(quantities.map_or(0, std::collections::BTreeMap::len));
    }

    /// Feeds a value by its JSON, for parts compared whole.
    pub fn json(&mut self, value: &impl serde::Serialize) {
        self.str(&serde_json::to_string(value).unwrap_or_default());
    }

    /// The digest. Never zero, so that an object's optional digest takes
    /// no more room than the digest.
    #[must_use]
    pub fn finish(&self) -> std::num::NonZeroU64 {
        std::num::NonZeroU64::new(self.0.finish()).unwrap_or(std::num::NonZeroU64::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Writes gathered before they reach the hasher give the digest
        /// they give one by one, however they fall across the buffer.
        #[test]
        fn gathered_writes_digest_as_the_writes_one_by_one(
            writes in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..40)
        ) {
            use std::hash::Hasher as _;
            let mut gathered = Gathered::default();
            let mut direct = std::hash::DefaultHasher::default();
            for write in &writes {
                gathered.write(write);
                direct.write(write);
                proptest::prop_assert_eq!(gathered.finish(), direct.finish());
            }
        }

        #[test]
        fn equal_values_digest_alike_and_a_change_shows(a in ".{0,40}", b in ".{0,40}") {
            let x = serde_json::json!({"data": {"a": a, "b": b}});
            proptest::prop_assert_eq!(digest(&x), digest(&x.clone()));
            let y = serde_json::json!({"data": {"a": b, "b": a}});
            proptest::prop_assert_eq!(digest(&x) == digest(&y), x == y);
        }
    }
}
