//! Objects of one kind, by namespace then name.

use std::collections::BTreeMap;
use std::sync::Arc;

use compact_str::CompactString;

use crate::apply::Ownership;

/// The objects of one kind, by namespace (empty for cluster-scoped kinds),
/// then name, each with what mto's field manager owns of its labels and
/// annotations.
///
/// Keys are stored inline (names up to 24 bytes, which is nearly all):
/// a lookup among tens of thousands of namespaces then compares bytes in
/// the tree's own nodes instead of following a pointer per comparison.
#[derive(Clone, Debug)]
pub struct Shelf<K> {
    by_namespace: BTreeMap<CompactString, BTreeMap<CompactString, Held<K>>>,
    len: usize,
}

/// An object as a shelf holds it.
#[derive(Clone, Debug)]
struct Held<K> {
    object: Arc<K>,
    ownership: Ownership,
}

impl<K> Default for Shelf<K> {
    fn default() -> Self {
        Shelf {
            by_namespace: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<K> Shelf<K> {
    /// An object by namespace (empty for cluster-scoped kinds) and name.
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<K>> {
        Some(&self.by_namespace.get(namespace)?.get(name)?.object)
    }

    /// What mto owns of an object's labels and annotations, by namespace
    /// (empty for cluster-scoped kinds) and name; nothing for an object
    /// the shelf does not hold.
    #[must_use]
    pub fn ownership(&self, namespace: &str, name: &str) -> &Ownership {
        self.by_namespace
            .get(namespace)
            .and_then(|objects| objects.get(name))
            .map_or(&Ownership::NONE, |held| &held.ownership)
    }

    /// A cluster-scoped object by name.
    #[must_use]
    pub fn named(&self, name: &str) -> Option<&Arc<K>> {
        self.get("", name)
    }

    /// The cluster-scoped objects whose names start with `prefix`, by name.
    pub fn named_from<'a, 'p>(
        &'a self,
        prefix: &'p str,
    ) -> impl Iterator<Item = &'a Arc<K>> + use<'a, 'p, K> {
        let from = (
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        );
        self.by_namespace
            .get("")
            .into_iter()
            .flat_map(move |m| m.range::<str, _>(from))
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(_, held)| &held.object)
    }

    /// The objects in one namespace, by name.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &Arc<K>> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|held| &held.object)
    }

    /// The namespaces holding objects of the kind.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.by_namespace.keys().map(CompactString::as_str)
    }

    /// Every object, by namespace then name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<K>> {
        self.by_namespace
            .values()
            .flat_map(BTreeMap::values)
            .map(|held| &held.object)
    }

    /// Every object's namespace and name, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_namespace
            .iter()
            .flat_map(|(ns, m)| m.keys().map(move |name| (ns.as_str(), name.as_str())))
    }

    /// How many objects.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn insert(
        &mut self,
        namespace: &str,
        name: &str,
        object: Arc<K>,
        ownership: Ownership,
    ) -> Option<Arc<K>> {
        let held = Held { object, ownership };
        let objects = match self.by_namespace.get_mut(namespace) {
            Some(objects) => objects,
            None => self
                .by_namespace
                .entry(CompactString::from(namespace))
                .or_default(),
        };
        let before = match objects.get_mut(name) {
            Some(slot) => Some(std::mem::replace(slot, held)),
            None => objects.insert(CompactString::from(name), held),
        }
        .map(|held| held.object);
        if before.is_none() {
            self.len += 1;
        }
        before
    }

    pub(crate) fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let objects = self.by_namespace.get_mut(namespace)?;
        let gone = objects.remove(name)?.object;
        if objects.is_empty() {
            self.by_namespace.remove(namespace);
        }
        self.len -= 1;
        Some(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_finds_exactly_the_names_that_start_with_it() {
        let mut shelf: Shelf<u8> = Shelf::default();
        for (i, name) in ["alpha", "alpha-a", "alpha-x-b", "alphabet-c", "beta-a"]
            .into_iter()
            .enumerate()
        {
            shelf.insert(
                "",
                name,
                Arc::new(u8::try_from(i).unwrap_or_default()),
                Ownership::NONE,
            );
        }
        shelf.insert("ns", "alpha-z", Arc::new(9), Ownership::NONE);
        let found: Vec<u8> = shelf.named_from("alpha-").map(|o| **o).collect();
        assert_eq!(found, [1, 2], "alpha-a and alpha-x-b; cluster-scoped only");
        assert_eq!(shelf.named_from("gamma-").count(), 0);
    }
}
