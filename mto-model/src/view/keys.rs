//! What a change wakes: the objects whose controllers decide again.

/// An object a controller reconciles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A tenant, by name.
    Tenant(String),
    /// A sleep supervisor.
    Supervisor(SupervisorId),
    /// A template instance.
    Instance(InstanceId),
    /// A Template, guarded while instances use it.
    Template(String),
    /// The components mto deploys of its own (the console), as the
    /// IntegrationConfig asks.
    Pilot,
    /// A tenant's integrations (its Argo CD AppProject), by the name of
    /// its Extensions object.
    Extension(String),
    /// mto's objects in Vault, as the IntegrationConfig asks.
    Vault,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Tenant(name) => write!(f, "Tenant/{name}"),
            Key::Supervisor(id) => f.write_str(&id.key()),
            Key::Instance(id) => f.write_str(&id.key()),
            Key::Template(name) => write!(f, "Template/{name}"),
            Key::Pilot => f.write_str("Pilot"),
            Key::Extension(name) => write!(f, "Extensions/{name}"),
            Key::Vault => f.write_str("Vault"),
        }
    }
}

impl Key {
    /// The key as the journal and traces name it: a tenant's name, a
    /// supervisor's or instance's key, `Template/<name>`.
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Key::Tenant(name) => name.clone(),
            Key::Supervisor(id) => id.key(),
            Key::Instance(id) => id.key(),
            Key::Template(name) => format!("Template/{name}"),
            Key::Pilot => "Pilot".to_owned(),
            Key::Extension(name) => format!("Extensions/{name}"),
            Key::Vault => "Vault".to_owned(),
        }
    }
}

/// Whom a change concerns.
///
/// Nearly every change wakes one or two (the tenant of the namespace it
/// is in): the keys sit in a vector kept sorted and without repeats,
/// where a set's first node kept room for eleven, made twice a write
/// (by the apiserver's log and by the view that takes the change in).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Woken {
    keys: Vec<Key>,
    everyone: bool,
}

impl Woken {
    /// Nobody.
    #[must_use]
    pub fn none() -> Woken {
        Woken::default()
    }

    /// Every tenant and supervisor: a change everyone's decision reads.
    #[must_use]
    pub fn everyone() -> Woken {
        Woken {
            keys: Vec::new(),
            everyone: true,
        }
    }

    /// Adds one.
    pub fn insert(&mut self, key: Key) {
        // Keys mostly come in order (a kind's readers are found walking
        // a sorted shelf): those go at the end.
        if self.keys.last().is_none_or(|last| *last < key) {
            self.keys.push(key);
        } else if let Err(at) = self.keys.binary_search(&key) {
            self.keys.insert(at, key);
        }
    }

    /// Adds an object's subject, if it has one.
    pub(crate) fn extend_subject(&mut self, key: Option<Key>) {
        if let Some(key) = key {
            self.insert(key);
        }
    }

    /// Adds a tenant.
    pub fn tenant(&mut self, name: &str) {
        self.insert(Key::Tenant(name.to_owned()));
    }

    /// Adds everyone `other` names.
    pub fn extend(&mut self, other: Woken) {
        self.everyone |= other.everyone;
        if self.keys.is_empty() {
            self.keys = other.keys;
        } else {
            for key in other.keys {
                self.insert(key);
            }
        }
    }

    /// Takes one out.
    pub fn remove(&mut self, key: &Key) {
        if let Ok(at) = self.keys.binary_search(key) {
            self.keys.remove(at);
        }
    }

    /// Whether everyone is concerned.
    #[must_use]
    pub fn is_everyone(&self) -> bool {
        self.everyone
    }

    /// Whether nobody is concerned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.everyone && self.keys.is_empty()
    }

    /// Those named one by one (beside [`Woken::is_everyone`]).
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The tenants named one by one.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| match k {
            Key::Tenant(name) => Some(name.as_str()),
            Key::Supervisor(_)
            | Key::Instance(_)
            | Key::Template(_)
            | Key::Pilot
            | Key::Extension(_)
            | Key::Vault => None,
        })
    }
}

/// Which supervisor: a ResourceSupervisor or a ClusterResourceSupervisor.
/// Its key ([`SupervisorId::key`]) is what sleeping workloads name in their
/// slept-by annotation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SupervisorId {
    /// A ResourceSupervisor.
    Namespaced {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A ClusterResourceSupervisor.
    Cluster {
        /// Its name.
        name: String,
    },
}

const NAMESPACED_KIND: &str = "ResourceSupervisor";
const CLUSTER_KIND: &str = "ClusterResourceSupervisor";

impl SupervisorId {
    /// Reads a key; `None` if it is not one.
    #[must_use]
    pub fn parse(key: &str) -> Option<SupervisorId> {
        let mut parts = key.split('/');
        match (parts.next()?, parts.next(), parts.next(), parts.next()) {
            (NAMESPACED_KIND, Some(namespace), Some(name), None) => Some(Self::Namespaced {
                namespace: namespace.into(),
                name: name.into(),
            }),
            (CLUSTER_KIND, Some(name), None, None) => Some(Self::Cluster { name: name.into() }),
            _ => None,
        }
    }

    /// `ResourceSupervisor/<namespace>/<name>` or `ClusterResourceSupervisor/<name>`.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Namespaced { namespace, name } => format!("{NAMESPACED_KIND}/{namespace}/{name}"),
            Self::Cluster { name } => format!("{CLUSTER_KIND}/{name}"),
        }
    }

    /// The supervisor object.
    #[must_use]
    pub fn object_ref(&self) -> super::ObjectRef {
        match self {
            Self::Namespaced { namespace, name } => {
                super::ObjectRef::namespaced(super::Kind::ResourceSupervisor, namespace, name)
            }
            Self::Cluster { name } => {
                super::ObjectRef::cluster(super::Kind::ClusterResourceSupervisor, name)
            }
        }
    }
}

/// Which template instance: a TemplateInstance, a ClusterTemplateInstance
/// or a TemplateGroupInstance. Its key ([`InstanceId::key`]) is what the
/// objects it deployed name in their template-instance annotation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceId {
    /// A TemplateInstance: one namespace, its own.
    Namespaced {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A ClusterTemplateInstance.
    Cluster {
        /// Its name.
        name: String,
    },
    /// A TemplateGroupInstance (a ClusterTemplateInstance by its older name).
    Group {
        /// Its name.
        name: String,
    },
}

const INSTANCE_KIND: &str = "TemplateInstance";
const CLUSTER_INSTANCE_KIND: &str = "ClusterTemplateInstance";
const GROUP_INSTANCE_KIND: &str = "TemplateGroupInstance";

impl InstanceId {
    /// Reads a key; `None` if it is not one.
    #[must_use]
    pub fn parse(key: &str) -> Option<InstanceId> {
        let mut parts = key.split('/');
        match (parts.next()?, parts.next(), parts.next(), parts.next()) {
            (INSTANCE_KIND, Some(namespace), Some(name), None) => Some(Self::Namespaced {
                namespace: namespace.into(),
                name: name.into(),
            }),
            (CLUSTER_INSTANCE_KIND, Some(name), None, None) => {
                Some(Self::Cluster { name: name.into() })
            }
            (GROUP_INSTANCE_KIND, Some(name), None, None) => {
                Some(Self::Group { name: name.into() })
            }
            _ => None,
        }
    }

    /// `TemplateInstance/<namespace>/<name>`, `ClusterTemplateInstance/<name>`
    /// or `TemplateGroupInstance/<name>`.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Namespaced { namespace, name } => format!("{INSTANCE_KIND}/{namespace}/{name}"),
            Self::Cluster { name } => format!("{CLUSTER_INSTANCE_KIND}/{name}"),
            Self::Group { name } => format!("{GROUP_INSTANCE_KIND}/{name}"),
        }
    }

    /// The instance object.
    #[must_use]
    pub fn object_ref(&self) -> super::ObjectRef {
        use super::{Kind, ObjectRef};
        match self {
            Self::Namespaced { namespace, name } => {
                ObjectRef::namespaced(Kind::TemplateInstance, namespace, name)
            }
            Self::Cluster { name } => ObjectRef::cluster(Kind::ClusterTemplateInstance, name),
            Self::Group { name } => ObjectRef::cluster(Kind::TemplateGroupInstance, name),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// One change to whom a change wakes.
    #[derive(Clone, Debug)]
    enum Wake {
        Insert(Key),
        Remove(Key),
        Extend(Vec<Key>),
    }

    fn key() -> impl proptest::strategy::Strategy<Value = Key> {
        use proptest::prelude::*;
        prop_oneof![
            "[a-d]{1,2}".prop_map(Key::Tenant),
            "[a-d]{1,2}".prop_map(Key::Template),
            Just(Key::Pilot),
            Just(Key::Vault),
        ]
    }

    fn wake() -> impl proptest::strategy::Strategy<Value = Wake> {
        use proptest::prelude::*;
        prop_oneof![
            key().prop_map(Wake::Insert),
            key().prop_map(Wake::Remove),
            proptest::collection::vec(key(), 0..6).prop_map(Wake::Extend),
        ]
    }

    proptest::proptest! {
        /// Whatever order keys come in, with repeats, removals and
        /// merges, the keys read back as a set holds them: sorted, once.
        #[test]
        fn woken_keys_are_a_set(wakes in proptest::collection::vec(wake(), 0..40)) {
            let mut woken = Woken::none();
            let mut set = BTreeSet::new();
            for wake in wakes {
                match wake {
                    Wake::Insert(key) => {
                        set.insert(key.clone());
                        woken.insert(key);
                    }
                    Wake::Remove(key) => {
                        set.remove(&key);
                        woken.remove(&key);
                    }
                    Wake::Extend(keys) => {
                        let mut other = Woken::none();
                        for key in keys {
                            set.insert(key.clone());
                            other.insert(key);
                        }
                        woken.extend(other);
                    }
                }
                proptest::prop_assert!(woken.keys().eq(set.iter()));
                proptest::prop_assert_eq!(woken.is_empty(), set.is_empty());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn a_key_reads_back_as_what_it_names(
            namespace in "[a-z][a-z0-9-]{0,12}",
            name in "[a-z][a-z0-9-]{0,12}",
        ) {
            let id = SupervisorId::Namespaced { namespace, name: name.clone() };
            proptest::prop_assert_eq!(SupervisorId::parse(&id.key()), Some(id));
            let cluster = SupervisorId::Cluster { name };
            proptest::prop_assert_eq!(SupervisorId::parse(&cluster.key()), Some(cluster));
        }
    }

    proptest::proptest! {
        #[test]
        fn an_instance_key_reads_back_as_what_it_names(
            namespace in "[a-z][a-z0-9-]{0,12}",
            name in "[a-z][a-z0-9-]{0,12}",
        ) {
            for id in [
                InstanceId::Namespaced { namespace: namespace.clone(), name: name.clone() },
                InstanceId::Cluster { name: name.clone() },
                InstanceId::Group { name: name.clone() },
            ] {
                proptest::prop_assert_eq!(InstanceId::parse(&id.key()), Some(id));
            }
        }
    }

    #[test]
    fn what_is_not_a_key_reads_as_nothing() {
        assert_eq!(InstanceId::parse("TemplateInstance/x"), None);
        assert_eq!(InstanceId::parse("ResourceSupervisor/a/b"), None);
        assert_eq!(SupervisorId::parse("Tenant/x"), None);
        assert_eq!(SupervisorId::parse("ResourceSupervisor/x"), None);
        assert_eq!(SupervisorId::parse("ClusterResourceSupervisor/a/b"), None);
    }
}
