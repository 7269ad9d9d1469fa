//! Where the view keeps its objects, and [`Shelf`], what a reader sees of
//! one kind.
//!
//! A namespace's own objects of the kinds every tenant namespace holds
//! (its role bindings, quota, limit range, network policy) are kept in
//! the namespace's [`Record`], beside the Namespace itself: a decision
//! finds all of them by one lookup among the namespaces, where a shelf
//! per kind made it one search of each kind's tree, each a handful of
//! cache misses at 50,000 namespaces. Every other kind (cluster-scoped,
//! sparse, or not typed by mto) is kept apart, in a [`Stock`] of its own.
//! The registry says which kind is kept where; readers never ask.

use std::collections::BTreeMap;
use std::sync::Arc;

use compact_str::CompactString;

use super::name_key::NameKey;
use super::registry::Record;
use crate::apply::Ownership;

/// The namespaces' records, by namespace name.
pub(crate) type Records = BTreeMap<NameKey, Record>;

/// An object as the view holds it.
#[derive(Clone, Debug)]
pub(crate) struct Held<K> {
    object: Arc<K>,
    ownership: Ownership,
}

/// The objects of one namespace, by name. Nearly every namespace holds a
/// handful of objects of a kind (three role bindings, one quota): those
/// sit in a vector of their exact size, where a tree's first node would
/// keep room for eleven (some 900 bytes for one object, 36 MB over the
/// 15,000 namespaces of 5,000 tenants). Past [`Names::FEW`], a tree.
#[derive(Clone, Debug)]
pub(crate) enum Names<K> {
    Few(Vec<(CompactString, Held<K>)>),
    Many(BTreeMap<NameKey, Held<K>>),
}

impl<K> Default for Names<K> {
    fn default() -> Self {
        Names::Few(Vec::new())
    }
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
            Names::Many(many) => many.get(&NameKey::new(name)),
        }
    }

    fn insert(&mut self, name: &str, held: Held<K>) -> Option<Held<K>> {
        match self {
            Names::Few(few) => match few.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
                Ok(at) => Some(std::mem::replace(&mut few[at].1, held)),
                Err(_) if few.len() == Self::FEW => {
                    let mut many: BTreeMap<_, _> = std::mem::take(few)
                        .into_iter()
                        .map(|(name, held)| (NameKey::new(&name), held))
                        .collect();
                    many.insert(NameKey::new(name), held);
                    *self = Names::Many(many);
                    None
                }
                Err(at) => {
                    few.reserve_exact(1);
                    few.insert(at, (CompactString::from(name), held));
                    None
                }
            },
            Names::Many(many) => many.insert(NameKey::new(name), held),
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
            Names::Many(many) => many.remove(&NameKey::new(name)),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Names::Few(few) => few.is_empty(),
            Names::Many(many) => many.is_empty(),
        }
    }

    /// The objects whose names sort at or after `from`, by name; all of
    /// them for `None`, found without a search.
    fn from<'a>(
        &'a self,
        from: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, &'a Held<K>)> + use<'a, K> {
        let (few, many) = match (self, from) {
            (Names::Few(few), None) => (&few[..], None),
            (Names::Few(few), Some(from)) => {
                let at = few.partition_point(|(n, _)| n.as_str() < from);
                (&few[at..], None)
            }
            (Names::Many(many), None) => (&[][..], Some(Walk2::A(many.iter()))),
            (Names::Many(many), Some(from)) => {
                (&[][..], Some(Walk2::B(many.range(NameKey::new(from)..))))
            }
        };
        few.iter().map(|(name, held)| (name.as_str(), held)).chain(
            many.into_iter()
                .flatten()
                .map(|(name, held)| (name.as_str(), held)),
        )
    }

    /// Every object, by name.
    fn iter(&self) -> impl Iterator<Item = (&str, &Held<K>)> {
        self.from(None)
    }
}

/// Whether a record's slot for one kind holds nothing: a record goes when
/// all its slots do.
pub(crate) trait Vacant {
    fn is_vacant(&self) -> bool;
}

/// The slot of a kind kept apart: always vacant.
impl Vacant for () {
    fn is_vacant(&self) -> bool {
        true
    }
}

impl<K> Vacant for Names<K> {
    fn is_vacant(&self) -> bool {
        self.is_empty()
    }
}

impl<K> Vacant for Option<Held<K>> {
    fn is_vacant(&self) -> bool {
        self.is_none()
    }
}

/// The objects of one kind kept apart, by namespace (empty for
/// cluster-scoped kinds), then name: cluster-scoped kinds, sparse
/// namespaced ones, and each kind mto does not type.
///
/// Keys are [`NameKey`]s, stored inline: a lookup among tens of
/// thousands of namespaces compares integers in the tree's own nodes
/// instead of following a pointer to call `memcmp` per comparison.
#[derive(Clone, Debug)]
pub(crate) struct Stock<K> {
    by_namespace: BTreeMap<NameKey, Names<K>>,
    len: usize,
}

impl<K> Default for Stock<K> {
    fn default() -> Self {
        Stock {
            by_namespace: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<K> Stock<K> {
    /// What a reader sees of it.
    pub(crate) fn shelf(&self) -> Shelf<'_, K> {
        Shelf::apart(self)
    }

    pub(crate) fn insert(
        &mut self,
        namespace: &str,
        name: &str,
        object: Arc<K>,
        ownership: Ownership,
    ) -> Option<Arc<K>> {
        ShelfMut(PlaceMut::Apart(self)).insert(namespace, name, object, ownership)
    }

    pub(crate) fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let key = NameKey::new(namespace);
        let names = self.by_namespace.get_mut(&key)?;
        let gone = names.remove(name)?.object;
        if names.is_empty() {
            self.by_namespace.remove(&key);
        }
        self.len -= 1;
        Some(gone)
    }
}

/// The objects of one kind, by namespace (empty for cluster-scoped kinds),
/// then name, each with what mto's field manager owns of its labels and
/// annotations; wherever the kind is kept.
pub struct Shelf<'a, K> {
    place: Place<'a, K>,
}

/// Where a kind is kept.
enum Place<'a, K> {
    /// On its own.
    Apart(&'a Stock<K>),
    /// In each namespace's record.
    InRecords {
        records: &'a Records,
        names: fn(&Record) -> &Names<K>,
        len: usize,
    },
    /// As the namespace each record is of.
    RecordNamespaces {
        records: &'a Records,
        namespace: fn(&Record) -> Option<&Held<K>>,
        len: usize,
    },
}

impl<K> Clone for Shelf<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Shelf<'_, K> {}

impl<K> Clone for Place<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Place<'_, K> {}

impl<K> std::fmt::Debug for Shelf<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shelf").field("len", &self.len()).finish()
    }
}

impl<'a, K> Shelf<'a, K> {
    pub(crate) fn apart(stock: &'a Stock<K>) -> Self {
        Shelf {
            place: Place::Apart(stock),
        }
    }

    pub(crate) fn in_records(
        records: &'a Records,
        names: fn(&Record) -> &Names<K>,
        len: usize,
    ) -> Self {
        Shelf {
            place: Place::InRecords {
                records,
                names,
                len,
            },
        }
    }

    pub(crate) fn record_namespaces(
        records: &'a Records,
        namespace: fn(&Record) -> Option<&Held<K>>,
        len: usize,
    ) -> Self {
        Shelf {
            place: Place::RecordNamespaces {
                records,
                namespace,
                len,
            },
        }
    }

    /// The objects of one namespace, where they sit by name; `None` for a
    /// kind kept as the records' namespaces.
    fn names(self, namespace: &str) -> Option<&'a Names<K>> {
        match self.place {
            Place::Apart(stock) => stock.by_namespace.get(&NameKey::new(namespace)),
            Place::InRecords { records, names, .. } => {
                records.get(&NameKey::new(namespace)).map(names)
            }
            Place::RecordNamespaces { .. } => None,
        }
    }

    fn held(self, namespace: &str, name: &str) -> Option<&'a Held<K>> {
        match self.place {
            Place::RecordNamespaces {
                records,
                namespace: own,
                ..
            } if namespace.is_empty() => own(records.get(&NameKey::new(name))?),
            _ => self.names(namespace)?.get(name),
        }
    }

    /// The objects of one namespace, by name.
    fn held_in(self, namespace: &str) -> impl Iterator<Item = (&'a str, &'a Held<K>)> + use<'a, K> {
        match self.place {
            Place::RecordNamespaces {
                records,
                namespace: own,
                ..
            } => Walk2::B(
                namespace
                    .is_empty()
                    .then_some(records)
                    .into_iter()
                    .flatten()
                    .filter_map(move |(name, record)| Some((name.as_str(), own(record)?))),
            ),
            _ => Walk2::A(self.names(namespace).into_iter().flat_map(Names::iter)),
        }
    }

    /// Every object, by namespace then name.
    fn walk(self) -> impl Iterator<Item = (&'a str, &'a str, &'a Held<K>)> + use<'a, K> {
        match self.place {
            Place::Apart(stock) => Walk::A(stock.by_namespace.iter().flat_map(|(ns, names)| {
                names
                    .iter()
                    .map(move |(name, held)| (ns.as_str(), name, held))
            })),
            Place::InRecords { records, names, .. } => {
                Walk::B(records.iter().flat_map(move |(ns, record)| {
                    names(record)
                        .iter()
                        .map(move |(name, held)| (ns.as_str(), name, held))
                }))
            }
            Place::RecordNamespaces {
                records, namespace, ..
            } => {
                Walk::C(records.iter().filter_map(move |(name, record)| {
                    Some(("", name.as_str(), namespace(record)?))
                }))
            }
        }
    }

    /// The objects of `namespace`, through its record when the kind is
    /// kept in records and the record was found already.
    fn names_through(self, namespace: &str, record: Option<&'a Record>) -> Option<&'a Names<K>> {
        match self.place {
            Place::InRecords { names, .. } => record.map(names),
            _ => self.names(namespace),
        }
    }

    /// The object `name` in `namespace`, with what mto owns of it, through
    /// the namespace's record found already.
    pub(crate) fn owned_through(
        self,
        namespace: &str,
        record: Option<&'a Record>,
        name: &str,
    ) -> Option<(&'a Arc<K>, &'a Ownership)> {
        let held = self.names_through(namespace, record)?.get(name)?;
        Some((&held.object, &held.ownership))
    }

    /// The objects in `namespace`, by name, each with its name and what mto
    /// owns of it, through the namespace's record found already.
    pub(crate) fn owned_in_through(
        self,
        namespace: &str,
        record: Option<&'a Record>,
    ) -> impl Iterator<Item = (&'a str, &'a Arc<K>, &'a Ownership)> + use<'a, K> {
        self.names_through(namespace, record)
            .into_iter()
            .flat_map(Names::iter)
            .map(|(name, held)| (name, &held.object, &held.ownership))
    }

    /// The object `namespace`'s record is of, with what mto owns of it;
    /// for a kind kept otherwise, the cluster-scoped object of that name.
    pub(crate) fn record_namespace(
        self,
        namespace: &str,
        record: Option<&'a Record>,
    ) -> Option<(&'a Arc<K>, &'a Ownership)> {
        let held = match self.place {
            Place::RecordNamespaces { namespace: own, .. } => record.and_then(own),
            _ => self.held("", namespace),
        }?;
        Some((&held.object, &held.ownership))
    }

    /// An object by namespace (empty for cluster-scoped kinds) and name.
    #[must_use]
    pub fn get(self, namespace: &str, name: &str) -> Option<&'a Arc<K>> {
        Some(&self.held(namespace, name)?.object)
    }

    /// An object by namespace (empty for cluster-scoped kinds) and name,
    /// with what mto owns of its labels and annotations: one lookup for
    /// both.
    #[must_use]
    pub fn owned(self, namespace: &str, name: &str) -> Option<(&'a Arc<K>, &'a Ownership)> {
        self.held(namespace, name)
            .map(|held| (&held.object, &held.ownership))
    }

    /// A cluster-scoped object by name.
    #[must_use]
    pub fn named(self, name: &str) -> Option<&'a Arc<K>> {
        self.get("", name)
    }

    /// The cluster-scoped objects whose names start with `prefix`, by name.
    pub fn named_from<'p>(
        self,
        prefix: &'p str,
    ) -> impl Iterator<Item = &'a Arc<K>> + use<'a, 'p, K> {
        let from = match self.place {
            Place::RecordNamespaces {
                records, namespace, ..
            } => Walk2::B(
                records
                    .range(NameKey::new(prefix)..)
                    .filter_map(move |(name, record)| Some((name.as_str(), namespace(record)?))),
            ),
            _ => Walk2::A(
                self.names("")
                    .into_iter()
                    .flat_map(move |names| names.from(Some(prefix))),
            ),
        };
        from.take_while(move |(name, _)| name.starts_with(prefix))
            .map(|(_, held)| &held.object)
    }

    /// The objects in one namespace, by name.
    pub fn in_namespace(self, namespace: &str) -> impl Iterator<Item = &'a Arc<K>> + use<'a, K> {
        self.held_in(namespace).map(|(_, held)| &held.object)
    }

    /// The objects in one namespace, by name, each with its name and what
    /// mto owns of its labels and annotations.
    pub fn owned_in(
        self,
        namespace: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Arc<K>, &'a Ownership)> + use<'a, K> {
        self.held_in(namespace)
            .map(|(name, held)| (name, &held.object, &held.ownership))
    }

    /// Every object, by namespace then name.
    pub fn iter(self) -> impl Iterator<Item = &'a Arc<K>> + use<'a, K> {
        self.walk().map(|(_, _, held)| &held.object)
    }

    /// Every object, by namespace then name, with what mto owns of it.
    pub fn iter_owned(self) -> impl Iterator<Item = (&'a Arc<K>, &'a Ownership)> + use<'a, K> {
        self.walk()
            .map(|(_, _, held)| (&held.object, &held.ownership))
    }

    /// Every object's namespace and name, in order.
    pub fn keys(self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a, K> {
        self.walk().map(|(ns, name, _)| (ns, name))
    }

    /// How many objects.
    #[must_use]
    pub fn len(self) -> usize {
        match self.place {
            Place::Apart(stock) => stock.len,
            Place::InRecords { len, .. } | Place::RecordNamespaces { len, .. } => len,
        }
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A kind's objects wherever it is kept, to change (the view's and the
/// in-memory apiserver's own business).
pub struct ShelfMut<'a, K>(pub(crate) PlaceMut<'a, K>);

/// Where a kind is kept, to change.
pub(crate) enum PlaceMut<'a, K> {
    /// On its own.
    Apart(&'a mut Stock<K>),
    /// In each namespace's record.
    InRecords {
        records: &'a mut Records,
        names: fn(&mut Record) -> &mut Names<K>,
        len: &'a mut usize,
    },
    /// As the namespace each record is of.
    RecordNamespaces {
        records: &'a mut Records,
        namespace: fn(&mut Record) -> &mut Option<Held<K>>,
        len: &'a mut usize,
    },
}

impl<K> ShelfMut<'_, K> {
    /// Puts an object; returns the one it replaces.
    pub(crate) fn insert(
        self,
        namespace: &str,
        name: &str,
        object: Arc<K>,
        ownership: Ownership,
    ) -> Option<Arc<K>> {
        let held = Held { object, ownership };
        let (before, len) = match self.0 {
            PlaceMut::Apart(stock) => (
                made(&mut stock.by_namespace, namespace).insert(name, held),
                &mut stock.len,
            ),
            PlaceMut::InRecords {
                records,
                names,
                len,
            } => (names(made(records, namespace)).insert(name, held), len),
            PlaceMut::RecordNamespaces {
                records,
                namespace: own,
                len,
            } => {
                debug_assert!(namespace.is_empty(), "a namespace is cluster-scoped");
                (own(made(records, name)).replace(held), len)
            }
        };
        if before.is_none() {
            *len += 1;
        }
        before.map(|held| held.object)
    }

    /// Removes an object; returns it.
    pub(crate) fn remove(self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let (records, key, gone, len) = match self.0 {
            PlaceMut::Apart(stock) => return stock.remove(namespace, name),
            PlaceMut::InRecords {
                records,
                names,
                len,
            } => {
                let key = NameKey::new(namespace);
                let gone = names(records.get_mut(&key)?).remove(name)?;
                (records, key, gone, len)
            }
            PlaceMut::RecordNamespaces {
                records,
                namespace: own,
                len,
            } => {
                if !namespace.is_empty() {
                    return None;
                }
                let key = NameKey::new(name);
                let gone = own(records.get_mut(&key)?).take()?;
                (records, key, gone, len)
            }
        };
        if records.get(&key).is_some_and(Record::is_vacant) {
            records.remove(&key);
        }
        *len -= 1;
        Some(gone.object)
    }
}

/// What `map` keeps under `namespace` (a record, or a stock's names),
/// made if there is none.
fn made<'m, V: Default>(map: &'m mut BTreeMap<NameKey, V>, namespace: &str) -> &'m mut V {
    map.entry(NameKey::new(namespace)).or_default()
}

/// One of a few iterators of the same items.
enum Walk<A, B, C> {
    A(A),
    B(B),
    C(C),
}

/// One of two iterators of the same items.
type Walk2<A, B> = Walk<A, B, std::iter::Empty<<A as Iterator>::Item>>;

impl<A, B, C> Iterator for Walk<A, B, C>
where
    A: Iterator,
    B: Iterator<Item = A::Item>,
    C: Iterator<Item = A::Item>,
{
    type Item = A::Item;

    fn next(&mut self) -> Option<A::Item> {
        match self {
            Walk::A(a) => a.next(),
            Walk::B(b) => b.next(),
            Walk::C(c) => c.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_finds_exactly_the_names_that_start_with_it() {
        let mut stock: Stock<u8> = Stock::default();
        for (i, name) in ["alpha", "alpha-a", "alpha-x-b", "alphabet-c", "beta-a"]
            .into_iter()
            .enumerate()
        {
            stock.insert(
                "",
                name,
                Arc::new(u8::try_from(i).unwrap_or_default()),
                Ownership::NONE,
            );
        }
        stock.insert("ns", "alpha-z", Arc::new(9), Ownership::NONE);
        let shelf = stock.shelf();
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
            let mut stock: Stock<u8> = Stock::default();
            let mut model: BTreeMap<(String, String), u8> = BTreeMap::new();
            for (put, ns, name, value) in edits {
                let (namespace, name) = place(ns, name);
                if put {
                    let before = stock.insert(&namespace, &name, Arc::new(value), Ownership::NONE);
                    let expected = model.insert((namespace, name), value);
                    prop_assert_eq!(before.map(|b| *b), expected);
                } else {
                    let gone = stock.remove(&namespace, &name);
                    prop_assert_eq!(gone.map(|g| *g), model.remove(&(namespace, name)));
                }
            }
            let shelf = stock.shelf();
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
            let namespaces: BTreeSet<&str> = stock.by_namespace.keys().map(NameKey::as_str).collect();
            let expected: BTreeSet<&str> = model.keys().map(|(ns, _)| ns.as_str()).collect();
            prop_assert_eq!(namespaces, expected, "no namespace kept empty");
            let prefixed: Vec<u8> = shelf.named_from("object-1").map(|v| **v).collect();
            let expected: Vec<u8> = model
                .iter()
                .filter(|((ns, name), _)| ns.is_empty() && name.starts_with("object-1"))
                .map(|(_, v)| *v)
                .collect();
            prop_assert_eq!(prefixed, expected);
        }
    }

    mod placements {
        //! The same edits through the registry, for a kind of each
        //! placement: Namespaces (each the head of its record), RoleBindings
        //! (kept in their namespace's record) and Deployments (apart).

        use std::collections::BTreeMap;

        use crate::view::RoleBinding;
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::Namespace;
        use proptest::prelude::*;

        use crate::apply::Ownership;
        use crate::view::{Objects, Typed};

        type Model = BTreeMap<(String, String), String>;

        /// An edit: which kind (0 Namespace, 1 RoleBinding, 2 Deployment),
        /// put or remove, namespace, name, value.
        fn edits() -> impl Strategy<Value = Vec<(u8, bool, u8, u8, u8)>> {
            prop::collection::vec(
                (
                    0u8..3,
                    prop::bool::weighted(0.7),
                    0u8..4,
                    0u8..20,
                    any::<u8>(),
                ),
                0..300,
            )
        }

        fn edit<K: Typed + Default>(
            objects: &mut Objects,
            model: &mut Model,
            put: bool,
            (namespace, name): (String, String),
            value: u8,
        ) -> Result<(), TestCaseError> {
            if put {
                let mut object = K::default();
                let meta = kube::Resource::meta_mut(&mut object);
                meta.name = Some(name.clone());
                meta.namespace = (!namespace.is_empty()).then(|| namespace.clone());
                meta.resource_version = Some(value.to_string());
                let before = K::shelf_mut(objects).insert(
                    &namespace,
                    &name,
                    std::sync::Arc::new(object),
                    Ownership::NONE,
                );
                let expected = model.insert((namespace, name), value.to_string());
                prop_assert_eq!(
                    before.and_then(|b| b.meta_ref().resource_version().map(str::to_owned)),
                    expected
                );
            } else {
                let gone = K::shelf_mut(objects).remove(&namespace, &name);
                let expected = model.remove(&(namespace, name));
                prop_assert_eq!(
                    gone.and_then(|g| g.meta_ref().resource_version().map(str::to_owned)),
                    expected
                );
            }
            Ok(())
        }

        fn value<K: Typed>(object: &K) -> String {
            object.meta().resource_version.clone().unwrap_or_default()
        }

        /// The shelf of `K` reads exactly what `model` holds, every way a
        /// reader asks.
        fn agrees<K: Typed>(
            objects: &Objects,
            model: &Model,
            namespaces: &[String],
        ) -> Result<(), TestCaseError> {
            let shelf = K::shelf(objects);
            prop_assert_eq!(shelf.len(), model.len(), "{} counted", K::KIND);
            prop_assert_eq!(shelf.is_empty(), model.is_empty());
            let walked: Vec<(String, String, String)> = shelf
                .keys()
                .zip(shelf.iter())
                .map(|((ns, name), o)| (ns.to_owned(), name.to_owned(), value(&**o)))
                .collect();
            let expected: Vec<(String, String, String)> = model
                .iter()
                .map(|((ns, name), v)| (ns.clone(), name.clone(), v.clone()))
                .collect();
            prop_assert_eq!(&walked, &expected, "{} walked in order", K::KIND);
            prop_assert_eq!(shelf.iter_owned().count(), model.len());
            for ((ns, name), v) in model {
                prop_assert_eq!(shelf.get(ns, name).map(|o| value(&**o)), Some(v.clone()));
                prop_assert!(shelf.owned(ns, name).is_some());
            }
            for ns in namespaces {
                prop_assert_eq!(shelf.get(ns, "absent"), None);
                let within: Vec<(String, String)> = shelf
                    .owned_in(ns)
                    .map(|(name, o, _)| (name.to_owned(), value(&**o)))
                    .collect();
                let expected: Vec<(String, String)> = model
                    .iter()
                    .filter(|((n, _), _)| n == ns)
                    .map(|((_, name), v)| (name.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(&within, &expected, "{} in {:?}", K::KIND, ns);
                prop_assert_eq!(shelf.in_namespace(ns).count(), expected.len());
            }
            for prefix in ["ns-1", "ns-", "x"] {
                let found: Vec<String> = shelf.named_from(prefix).map(|o| value(&**o)).collect();
                let expected: Vec<String> = model
                    .iter()
                    .filter(|((ns, name), _)| ns.is_empty() && name.starts_with(prefix))
                    .map(|(_, v)| v.clone())
                    .collect();
                prop_assert_eq!(found, expected, "{} named from {}", K::KIND, prefix);
            }
            Ok(())
        }

        proptest! {
            /// Whatever was put and removed, each kind reads what an
            /// ordered map of its edits holds, wherever the registry keeps
            /// it, and a namespace has a record exactly while it or an
            /// object in it is held.
            #[test]
            fn each_kind_reads_the_same_wherever_it_is_kept(edits in edits()) {
                let mut objects = Objects::default();
                let (mut namespaces, mut bindings, mut deployments) =
                    (Model::new(), Model::new(), Model::new());
                let namespace = |n: u8| if n == 0 { String::new() } else { format!("ns-{n}") };
                for (kind, put, ns, name, v) in edits {
                    let name = format!("{}{name}", if name % 2 == 0 { "ns-" } else { "x-" });
                    match kind {
                        0 => edit::<Namespace>(&mut objects, &mut namespaces, put, (String::new(), format!("ns-{ns}")), v)?,
                        1 => edit::<RoleBinding>(&mut objects, &mut bindings, put, (namespace(ns.max(1)), name), v)?,
                        _ => edit::<Deployment>(&mut objects, &mut deployments, put, (namespace(ns), name), v)?,
                    }
                }
                let all: Vec<String> = (0..4).map(namespace).collect();
                agrees::<Namespace>(&objects, &namespaces, &all)?;
                agrees::<RoleBinding>(&objects, &bindings, &all)?;
                agrees::<Deployment>(&objects, &deployments, &all)?;
                let recorded: Vec<String> = objects.records.keys().map(ToString::to_string).collect();
                let mut expected: Vec<String> = namespaces
                    .keys()
                    .map(|(_, name)| name.clone())
                    .chain(bindings.keys().map(|(ns, _)| ns.clone()))
                    .collect();
                expected.sort();
                expected.dedup();
                prop_assert_eq!(recorded, expected, "a record per namespace held or holding");
            }
        }
    }
}
