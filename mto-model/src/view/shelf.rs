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
    by_namespace: BTreeMap<CompactString, Names<K>>,
    len: usize,
}

/// An object as a shelf holds it.
#[derive(Clone, Debug)]
struct Held<K> {
    object: Arc<K>,
    ownership: Ownership,
}

/// The objects of one namespace, by name. Nearly every namespace holds a
/// handful of objects of a kind (three role bindings, one quota): those
/// sit in a vector of their exact size, where a tree's first node would
/// keep room for eleven (some 900 bytes for one object, 36 MB over the
/// 15,000 namespaces of 5,000 tenants). Past [`Names::FEW`], a tree.
#[derive(Clone, Debug)]
enum Names<K> {
    Few(Vec<(CompactString, Held<K>)>),
    Many(BTreeMap<CompactString, Held<K>>),
}

impl<K> Names<K> {
    /// The most objects kept in a vector; inserting among them moves at
    /// most this many entries.
    const FEW: usize = 16;

    fn get(&self, name: &str) -> Option<&Held<K>> {
        match self {
            Names::Few(few) => few
                .binary_search_by(|(n, _)| n.as_str().cmp(name))
                .ok()
                .map(|at| &few[at].1),
            Names::Many(many) => many.get(name),
        }
    }

    fn insert(&mut self, name: &str, held: Held<K>) -> Option<Held<K>> {
        match self {
            Names::Few(few) => match few.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
                Ok(at) => Some(std::mem::replace(&mut few[at].1, held)),
                Err(_) if few.len() == Self::FEW => {
                    let mut many: BTreeMap<_, _> = std::mem::take(few).into_iter().collect();
                    many.insert(CompactString::from(name), held);
                    *self = Names::Many(many);
                    None
                }
                Err(at) => {
                    few.reserve_exact(1);
                    few.insert(at, (CompactString::from(name), held));
                    None
                }
            },
            Names::Many(many) => match many.get_mut(name) {
                Some(slot) => Some(std::mem::replace(slot, held)),
                None => many.insert(CompactString::from(name), held),
            },
        }
    }

    fn remove(&mut self, name: &str) -> Option<Held<K>> {
        match self {
            Names::Few(few) => {
                let at = few.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
                let (_, gone) = few.remove(at);
                few.shrink_to_fit();
                Some(gone)
            }
            Names::Many(many) => many.remove(name),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Names::Few(few) => few.is_empty(),
            Names::Many(many) => many.is_empty(),
        }
    }

    /// The objects whose names sort at or after `from`, by name.
    fn from<'a>(&'a self, from: &str) -> impl Iterator<Item = (&'a str, &'a Held<K>)> + use<'a, K> {
        let (few, many) = match self {
            Names::Few(few) => {
                let at = few.partition_point(|(n, _)| n.as_str() < from);
                (&few[at..], None)
            }
            Names::Many(many) => (
                &[][..],
                Some(many.range::<str, _>((
                    std::ops::Bound::Included(from),
                    std::ops::Bound::Unbounded,
                ))),
            ),
        };
        few.iter().map(|(name, held)| (name.as_str(), held)).chain(
            many.into_iter()
                .flatten()
                .map(|(name, held)| (name.as_str(), held)),
        )
    }

    /// Every object, by name.
    fn iter(&self) -> impl Iterator<Item = (&str, &Held<K>)> {
        self.from("")
    }
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
    fn held(&self, namespace: &str, name: &str) -> Option<&Held<K>> {
        self.by_namespace.get(namespace)?.get(name)
    }

    /// An object by namespace (empty for cluster-scoped kinds) and name.
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<K>> {
        Some(&self.held(namespace, name)?.object)
    }

    /// An object by namespace (empty for cluster-scoped kinds) and name,
    /// with what mto owns of its labels and annotations: one lookup for
    /// both.
    #[must_use]
    pub fn owned(&self, namespace: &str, name: &str) -> Option<(&Arc<K>, &Ownership)> {
        self.held(namespace, name)
            .map(|held| (&held.object, &held.ownership))
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
        self.by_namespace
            .get("")
            .into_iter()
            .flat_map(move |names| names.from(prefix))
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(_, held)| &held.object)
    }

    /// The objects in one namespace, by name.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &Arc<K>> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flat_map(Names::iter)
            .map(|(_, held)| &held.object)
    }

    /// The objects in one namespace, by name, each with its name and what
    /// mto owns of its labels and annotations.
    pub fn owned_in(&self, namespace: &str) -> impl Iterator<Item = (&str, &Arc<K>, &Ownership)> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flat_map(Names::iter)
            .map(|(name, held)| (name, &held.object, &held.ownership))
    }

    /// The namespaces holding objects of the kind.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.by_namespace.keys().map(CompactString::as_str)
    }

    /// Every object, by namespace then name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<K>> {
        self.by_namespace
            .values()
            .flat_map(Names::iter)
            .map(|(_, held)| &held.object)
    }

    /// Every object, by namespace then name, with what mto owns of it.
    pub fn iter_owned(&self) -> impl Iterator<Item = (&Arc<K>, &Ownership)> {
        self.by_namespace
            .values()
            .flat_map(Names::iter)
            .map(|(_, held)| (&held.object, &held.ownership))
    }

    /// Every object's namespace and name, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_namespace
            .iter()
            .flat_map(|(ns, names)| names.iter().map(move |(name, _)| (ns.as_str(), name)))
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
        let names = match self.by_namespace.get_mut(namespace) {
            Some(names) => names,
            None => self
                .by_namespace
                .entry(CompactString::from(namespace))
                .or_insert(Names::Few(Vec::new())),
        };
        let before = names.insert(name, held).map(|held| held.object);
        if before.is_none() {
            self.len += 1;
        }
        before
    }

    pub(crate) fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let names = self.by_namespace.get_mut(namespace)?;
        let gone = names.remove(name)?.object;
        if names.is_empty() {
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

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    /// Edits of a shelf: put (namespace, name, value), or remove. Up to 40
    /// names a namespace, so that some outgrow a vector.
    fn edits() -> impl Strategy<Value = Vec<(bool, u8, u8, u8)>> {
        prop::collection::vec(
            (prop::bool::weighted(0.7), 0u8..3, 0u8..40, any::<u8>()),
            0..200,
        )
    }

    fn place(ns: u8, name: u8) -> (String, String) {
        let namespace = if ns == 0 {
            String::new()
        } else {
            format!("ns-{ns}")
        };
        (namespace, format!("object-{name}"))
    }

    proptest! {
        /// Whatever was put and removed, the shelf holds what an ordered
        /// map of the same edits holds, finds it by place, by namespace and
        /// by prefix, and walks it by namespace then name.
        #[test]
        fn a_shelf_holds_what_an_ordered_map_of_the_same_edits_holds(edits in edits()) {
            let mut shelf: Shelf<u8> = Shelf::default();
            let mut model: BTreeMap<(String, String), u8> = BTreeMap::new();
            for (put, ns, name, value) in edits {
                let (namespace, name) = place(ns, name);
                if put {
                    let before = shelf.insert(&namespace, &name, Arc::new(value), Ownership::NONE);
                    let expected = model.insert((namespace, name), value);
                    prop_assert_eq!(before.map(|b| *b), expected);
                } else {
                    let gone = shelf.remove(&namespace, &name);
                    prop_assert_eq!(gone.map(|g| *g), model.remove(&(namespace, name)));
                }
            }
            prop_assert_eq!(shelf.len(), model.len());
            prop_assert_eq!(shelf.is_empty(), model.is_empty());
            let walked: Vec<((String, String), u8)> = shelf
                .keys()
                .zip(shelf.iter())
                .map(|((ns, name), v)| ((ns.to_owned(), name.to_owned()), **v))
                .collect();
            let expected: Vec<((String, String), u8)> = model.clone().into_iter().collect();
            prop_assert_eq!(walked, expected);
            for ns in 0..3 {
                for name in 0..40 {
                    let (namespace, name) = place(ns, name);
                    prop_assert_eq!(
                        shelf.get(&namespace, &name).map(|v| **v),
                        model.get(&(namespace.clone(), name.clone())).copied()
                    );
                }
                let namespace = place(ns, 0).0;
                let in_namespace: Vec<u8> = shelf.in_namespace(&namespace).map(|v| **v).collect();
                let expected: Vec<u8> = model
                    .iter()
                    .filter(|((n, _), _)| *n == namespace)
                    .map(|(_, v)| *v)
                    .collect();
                prop_assert_eq!(in_namespace, expected);
            }
            let namespaces: Vec<&str> = shelf.namespaces().collect();
            let expected: BTreeSet<&str> = model.keys().map(|(ns, _)| ns.as_str()).collect();
            prop_assert_eq!(namespaces, expected.into_iter().collect::<Vec<_>>());
            let prefixed: Vec<u8> = shelf.named_from("object-1").map(|v| **v).collect();
            let expected: Vec<u8> = model
                .iter()
                .filter(|((ns, name), _)| ns.is_empty() && name.starts_with("object-1"))
                .map(|(_, v)| *v)
                .collect();
            prop_assert_eq!(prefixed, expected);
        }
    }
}
