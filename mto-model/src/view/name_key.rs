//! [`NameKey`]: a name as the key of a tree of thousands.

use std::cmp::Ordering;

use compact_str::CompactString;

/// A name as the key of the view's large trees (the namespaces' records,
/// the tenants, their intakes), ordered as the name is.
///
/// A search among 50,000 names compares the one sought with some sixteen
/// keys, and names alike for their first bytes (`acme-payments-dev`,
/// `acme-payments-prod`) made each comparison a call to `memcmp`: a
/// tenth of a simulated run went there. The first 16 bytes, read as two
/// big-endian integers, decide nearly every comparison in two integer
/// compares; the whole name decides the rest. The name is inline up to
/// 24 bytes, as before.
///
/// The order is the name's byte order: a name shorter than 16 bytes is
/// padded with zeros, so where it ends before another, its head is no
/// greater, and the whole names break the tie.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NameKey {
    /// Two words, not a `u128`: its 16-byte alignment would make every
    /// key 48 bytes where this is 40.
    head: [u64; 2],
    name: CompactString,
}

impl NameKey {
    /// The key of `name`.
    pub(crate) fn new(name: &str) -> NameKey {
        let mut bytes = [0_u8; 16];
        let len = name.len().min(16);
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        let (high, low) = bytes.split_at(8);
        NameKey {
            head: [word(high), word(low)],
            name: CompactString::from(name),
        }
    }

    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        self.name.as_str()
    }
}

fn word(bytes: &[u8]) -> u64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(bytes);
    u64::from_be_bytes(word)
}

impl Ord for NameKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| self.name.cmp(&other.name))
    }
}

impl PartialOrd for NameKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::NameKey;

    proptest! {
        /// Keys sort as their names do, whatever the names hold: short,
        /// long, alike for 16 bytes and more, with zero bytes.
        #[test]
        fn keys_sort_as_names_do(
            a in "[a-c\\x00-]{0,20}",
            b in "[a-c\\x00-]{0,20}",
            shared in "[a-z0-9-]{0,18}",
        ) {
            let (a, b) = (format!("{shared}{a}"), format!("{shared}{b}"));
            prop_assert_eq!(NameKey::new(&a).cmp(&NameKey::new(&b)), a.cmp(&b));
            prop_assert_eq!(NameKey::new(&a) == NameKey::new(&b), a == b);
            let key = NameKey::new(&a);
            prop_assert_eq!(key.as_str(), a.as_str());
        }
    }
}
