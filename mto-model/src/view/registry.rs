//! The one list of the kinds mto reads and writes.
//!
//! [`registry!`] turns the list into [`Kind`], [`Object`], the view's
//! shelves ([`Objects`]) and the dispatch from a kind or an object to the
//! generic code that handles it ([`KindVisitor`], [`ObjectVisitor`]). What
//! a kind means to mto (what a change to it wakes, what of it the view
//! keeps, which of its fields mto applies) is its [`Typed`] impl, one file
//! per kind in `view/kinds/`.
//!
//! Adding a typed kind: one line below and its file in `view/kinds/`.
//! The line says where the view keeps the kind's objects: `apart`, on a
//! shelf of its own; `in_record`, in each namespace's record, for kinds
//! every tenant namespace holds a few of (a decision then finds a
//! namespace's objects by one lookup); `record_namespace`, the Namespace
//! each record is of.
//! A kind mto does not type (what a template deploys) needs neither: it
//! travels as a [`DynamicObject`] under [`Kind::Dynamic`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
pub use kube::core::DynamicObject;
use kube::core::TypeMeta;

use super::shelf::{Held, Names, PlaceMut, Shelf, ShelfMut, Stock, Vacant};
use super::{MetaRef, StringMap, Typed};

/// A group, version and kind, for kinds mto does not type.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    /// The API group; empty for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
}

impl Gvk {
    /// From an `apiVersion` (`group/version`, or `version` for the core
    /// group) and a kind.
    #[must_use]
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `group/version`, or `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn of(object: &DynamicObject) -> Gvk {
        object
            .types
            .as_ref()
            .map(|t| Gvk::from_api_version(&t.api_version, &t.kind))
            .unwrap_or_default()
    }
}

/// Where the registry keeps a typed kind: implemented by `registry!` for
/// every kind in its list.
pub trait Stored:
    kube::Resource<DynamicType = ()>
    + Clone
    + PartialEq
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Its kind.
    const KIND: Kind;
    /// Whether its objects live in a namespace.
    const NAMESPACED: bool;
    /// Whether the operator watches it (and its view holds it).
    const WATCHED: bool;
    /// Its objects.
    fn shelf(objects: &Objects) -> Shelf<'_, Self>;
    /// Its objects, to change.
    #[doc(hidden)]
    fn shelf_mut(objects: &mut Objects) -> ShelfMut<'_, Self>;
    /// The object, as any object.
    fn wrap(object: Arc<Self>) -> Object;
    /// The object, if `object` is of this kind.
    fn unwrap(object: &Object) -> Option<&Arc<Self>>;
    /// The object, if it is of this kind, taken out of the enum.
    fn into_typed(object: Object) -> Option<Arc<Self>>;
}

/// Code generic over the typed kinds, run for one kind.
pub trait KindVisitor {
    /// What a visit returns.
    type Output;
    /// Visits typed kind `K`.
    fn typed<K: Typed>(&mut self) -> Self::Output;
    /// Visits a kind mto does not type.
    fn dynamic(&mut self, gvk: &Gvk) -> Self::Output;
}

/// Code generic over the typed kinds, run for one object.
pub trait ObjectVisitor {
    /// What a visit returns.
    type Output;
    /// Visits an object of typed kind `K`.
    fn typed<K: Typed>(&mut self, object: Arc<K>) -> Self::Output;
    /// Visits an object of a kind mto does not type.
    fn dynamic(&mut self, object: Arc<DynamicObject>) -> Self::Output;
}

/// Something done to an object in place, by its kind: it may take the
/// object's body when nothing else holds it.
pub trait ObjectVisitorMut {
    /// What a visit returns.
    type Output;
    /// Visits an object of typed kind `K`.
    fn typed<K: Typed>(&mut self, object: &mut Arc<K>) -> Self::Output;
    /// Visits an object of a kind mto does not type.
    fn dynamic(&mut self, object: &mut Arc<DynamicObject>) -> Self::Output;
}

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) in $field:ident, $scope:ident, $watch:ident, $place:ident; )*) => {
        /// A kind of object mto reads or writes.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
            /// A kind mto does not type: what templates deploy.
            Dynamic(Gvk),
        }

        impl Kind {
            /// Every typed kind, in the registry's order.
            pub const TYPED: &'static [Kind] = &[$( Kind::$variant, )*];

            /// The kind's name as Kubernetes spells it.
            #[must_use]
            pub fn name(&self) -> &str {
                match self {
                    $( Kind::$variant => stringify!($variant), )*
                    Kind::Dynamic(gvk) => &gvk.kind,
                }
            }

            /// Runs `visitor` for this kind.
            pub fn visit<V: KindVisitor>(&self, visitor: &mut V) -> V::Output {
                match self {
                    $( Kind::$variant => visitor.typed::<$ty>(), )*
                    Kind::Dynamic(gvk) => visitor.dynamic(gvk),
                }
            }
        }

        /// Runs `visitor` for every typed kind, in the registry's order.
        pub fn visit_typed<V: KindVisitor<Output = ()>>(visitor: &mut V) {
            $( visitor.typed::<$ty>(); )*
        }

        /// An object of any kind, shared: the view and the in-memory
        /// apiserver hold the same object until one of them changes it.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Object {
            $( $(#[$doc])* $variant(Arc<$ty>), )*
            /// An object of a kind mto does not type.
            Dynamic(Arc<DynamicObject>),
        }

        impl Object {
            /// Its kind.
            #[must_use]
            pub fn kind(&self) -> Kind {
                match self {
                    $( Object::$variant(_) => Kind::$variant, )*
                    Object::Dynamic(o) => Kind::Dynamic(Gvk::of(o)),
                }
            }

            /// Its metadata.
            #[must_use]
            pub fn meta(&self) -> &ObjectMeta {
                match self {
                    $( Object::$variant(o) => kube::Resource::meta(&**o), )*
                    Object::Dynamic(o) => &o.metadata,
                }
            }

            /// Its metadata as the model reads it ([`Typed::meta_ref`]).
            #[must_use]
            pub fn meta_ref(&self) -> MetaRef<'_> {
                match self {
                    $( Object::$variant(o) => o.meta_ref(), )*
                    Object::Dynamic(o) => MetaRef::from(&o.metadata),
                }
            }

            /// Its labels behind the `Arc` the objects of a tenant share
            /// ([`Typed::shared_labels`]).
            #[must_use]
            pub fn shared_labels(&self) -> Option<Arc<StringMap>> {
                match self {
                    $( Object::$variant(o) => o.shared_labels(), )*
                    Object::Dynamic(_) => None,
                }
            }

            /// Holds its metadata compact again after a change through
            /// [`Object::meta_mut`] ([`Typed::settle_meta`]); an object
            /// something else holds too is left as it is.
            pub fn settle_meta(&mut self, like: Option<&Arc<StringMap>>) {
                match self {
                    $( Object::$variant(o) => {
                        if let Some(o) = Arc::get_mut(o) {
                            o.settle_meta(like);
                        }
                    } )*
                    Object::Dynamic(_) => {}
                }
            }

            /// Its metadata, to change (the object is copied if shared).
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $( Object::$variant(o) => kube::Resource::meta_mut(Arc::make_mut(o)), )*
                    Object::Dynamic(o) => &mut Arc::make_mut(o).metadata,
                }
            }

            /// Runs `visitor` for this object.
            pub fn visit<V: ObjectVisitor>(self, visitor: &mut V) -> V::Output {
                match self {
                    $( Object::$variant(o) => visitor.typed::<$ty>(o), )*
                    Object::Dynamic(o) => visitor.dynamic(o),
                }
            }

            /// Runs `visitor` on this object in place.
            pub fn visit_mut<V: ObjectVisitorMut>(&mut self, visitor: &mut V) -> V::Output {
                match self {
                    $( Object::$variant(o) => visitor.typed::<$ty>(o), )*
                    Object::Dynamic(o) => visitor.dynamic(o),
                }
            }

            /// The object as JSON, with its `apiVersion` and `kind`: the
            /// body of a server-side apply.
            pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
                let (mut value, api_version, kind) = match self {
                    $( Object::$variant(o) => (
                        serde_json::to_value(&**o)?,
                        <$ty as kube::Resource>::api_version(&()).into_owned(),
                        <$ty as kube::Resource>::kind(&()).into_owned(),
                    ), )*
                    Object::Dynamic(o) => return serde_json::to_value(&**o),
                };
                if let Some(map) = value.as_object_mut() {
                    map.insert("apiVersion".into(), api_version.into());
                    map.insert("kind".into(), kind.into());
                }
                Ok(value)
            }

            /// Reads an object from JSON: a typed one when its `apiVersion`
            /// and `kind` are in the registry, else a dynamic one.
            pub fn from_json(value: serde_json::Value) -> Result<Object, serde_json::Error> {
                let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                let (api_version, kind) = (text("apiVersion"), text("kind"));
                $(
                    if api_version == <$ty as kube::Resource>::api_version(&())
                        && kind == <$ty as kube::Resource>::kind(&())
                    {
                        return Ok(Object::$variant(Arc::new(serde_json::from_value(value)?)));
                    }
                )*
                let mut object: DynamicObject = serde_json::from_value(value)?;
                object.types.get_or_insert_with(|| TypeMeta { api_version, kind });
                Ok(Object::Dynamic(Arc::new(object)))
            }
        }

        $(
            impl From<$ty> for Object {
                fn from(object: $ty) -> Object {
                    Object::$variant(Arc::new(object))
                }
            }
        )*

        /// Every object a view or apiserver holds: each kind kept apart
        /// on its shelf, or counted here and kept in the namespaces'
        /// records.
        #[derive(Clone, Debug, Default)]
        pub struct Objects {
            $( pub(crate) $field: registry!(@apart $place $ty), )*
            pub(crate) records: BTreeMap<super::name_key::NameKey, Record>,
            pub(crate) dynamic: BTreeMap<Gvk, Stock<DynamicObject>>,
        }

        /// A namespace and its objects of the kinds kept in records (the
        /// slot of a kind kept apart is empty and takes no room).
        #[derive(Clone, Debug, Default)]
        pub(crate) struct Record {
            $( $field: registry!(@record $place $ty), )*
        }

        impl Record {
            /// Whether it holds nothing: neither the namespace nor any
            /// object in it.
            pub(crate) fn is_vacant(&self) -> bool {
                true $( && Vacant::is_vacant(&self.$field) )*
            }
        }

        $(
            impl Stored for $ty {
                const KIND: Kind = Kind::$variant;
                const NAMESPACED: bool = registry!(@namespaced $scope);
                const WATCHED: bool = registry!(@watched $watch);
                fn shelf(objects: &Objects) -> Shelf<'_, Self> {
                    registry!(@shelf $place objects $field)
                }
                fn shelf_mut(objects: &mut Objects) -> ShelfMut<'_, Self> {
                    registry!(@shelf_mut $place objects $field)
                }
                fn wrap(object: Arc<Self>) -> Object {
                    Object::$variant(object)
                }
                fn unwrap(object: &Object) -> Option<&Arc<Self>> {
                    match object {
                        Object::$variant(o) => Some(o),
                        _ => None,
                    }
                }
                fn into_typed(object: Object) -> Option<Arc<Self>> {
                    match object {
                        Object::$variant(o) => Some(o),
                        _ => None,
                    }
                }
            }
        )*
    };
    (@apart apart $ty:ty) => { Stock<$ty> };
    (@apart in_record $ty:ty) => { usize };
    (@apart record_namespace $ty:ty) => { usize };
    (@record apart $ty:ty) => { () };
    (@record in_record $ty:ty) => { Names<$ty> };
    (@record record_namespace $ty:ty) => { Option<Held<$ty>> };
    (@shelf apart $objects:ident $field:ident) => { Shelf::apart(&$objects.$field) };
    (@shelf in_record $objects:ident $field:ident) => {
        Shelf::in_records(&$objects.records, |r| &r.$field, $objects.$field)
    };
    (@shelf record_namespace $objects:ident $field:ident) => {
        Shelf::record_namespaces(&$objects.records, |r| r.$field.as_ref(), $objects.$field)
    };
    (@shelf_mut apart $objects:ident $field:ident) => { ShelfMut(PlaceMut::Apart(&mut $objects.$field)) };
    (@shelf_mut in_record $objects:ident $field:ident) => {
        ShelfMut(PlaceMut::InRecords {
            records: &mut $objects.records,
            names: |r| &mut r.$field,
            len: &mut $objects.$field,
        })
    };
    (@shelf_mut record_namespace $objects:ident $field:ident) => {
        ShelfMut(PlaceMut::RecordNamespaces {
            records: &mut $objects.records,
            namespace: |r| &mut r.$field,
            len: &mut $objects.$field,
        })
    };
    (@namespaced namespaced) => { true };
    (@namespaced cluster) => { false };
    (@watched watched) => { true };
    (@watched unwatched) => { false };
}

registry! {
    /// `tenantoperator.stakater.com/v1beta3` Tenant, cluster-scoped.
    Tenant(crate::api::Tenant) in tenants, cluster, watched, apart;
    /// `tenantoperator.stakater.com/v1beta1` Quota, cluster-scoped.
    Quota(crate::api::Quota) in quotas, cluster, watched, apart;
    /// `tenantoperator.stakater.com/v1beta1` IntegrationConfig.
    IntegrationConfig(crate::api::IntegrationConfig) in integration_configs, namespaced, watched, apart;
    /// `v1` Namespace, cluster-scoped.
    Namespace(k8s_openapi::api::core::v1::Namespace) in namespaces, cluster, watched, record_namespace;
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding(crate::view::RoleBinding) in role_bindings, namespaced, watched, in_record;
    /// `rbac.authorization.k8s.io/v1` ClusterRoleBinding, cluster-scoped.
    ClusterRoleBinding(k8s_openapi::api::rbac::v1::ClusterRoleBinding) in cluster_role_bindings, cluster, watched, apart;
    /// `v1` ResourceQuota.
    ResourceQuota(crate::view::ResourceQuota) in resource_quotas, namespaced, watched, in_record;
    /// `v1` LimitRange.
    LimitRange(crate::view::LimitRange) in limit_ranges, namespaced, watched, in_record;
    /// The NetworkPolicy mto keeps in each tenant namespace when tenants are kept apart.
    NetworkPolicy(k8s_openapi::api::networking::v1::NetworkPolicy) in network_policies, namespaced, watched, in_record;
    /// `v1` PersistentVolume, cluster-scoped: a bound claim's storage class.
    PersistentVolume(k8s_openapi::api::core::v1::PersistentVolume) in persistent_volumes, cluster, watched, apart;
    /// `hibernation.stakater.com/v1beta1` ResourceSupervisor.
    ResourceSupervisor(crate::api::ResourceSupervisor) in resource_supervisors, namespaced, watched, apart;
    /// `hibernation.stakater.com/v1beta1` ClusterResourceSupervisor, cluster-scoped.
    ClusterResourceSupervisor(crate::api::ClusterResourceSupervisor) in cluster_resource_supervisors, cluster, watched, apart;
    /// `apps/v1` Deployment.
    Deployment(k8s_openapi::api::apps::v1::Deployment) in deployments, namespaced, watched, apart;
    /// `apps/v1` StatefulSet.
    StatefulSet(k8s_openapi::api::apps::v1::StatefulSet) in stateful_sets, namespaced, watched, apart;
    /// `templates.stakater.com/v1alpha1` Template, cluster-scoped.
    Template(crate::api::Template) in templates, cluster, watched, apart;
    /// `templates.stakater.com/v1alpha1` TemplateInstance.
    TemplateInstance(crate::api::TemplateInstance) in template_instances, namespaced, watched, apart;
    /// `templates.stakater.com/v1alpha1` ClusterTemplateInstance, cluster-scoped.
    ClusterTemplateInstance(crate::api::ClusterTemplateInstance) in cluster_template_instances, cluster, watched, apart;
    /// `templates.stakater.com/v1alpha1` TemplateGroupInstance, cluster-scoped.
    TemplateGroupInstance(crate::api::TemplateGroupInstance) in template_group_instances, cluster, watched, apart;
    /// A tenant's integrations: its Argo CD AppProject.
    Extensions(crate::api::Extensions) in extensions, cluster, watched, apart;
    /// `coordination.k8s.io/v1` Lease: the operator's leader election.
    Lease(k8s_openapi::api::coordination::v1::Lease) in leases, namespaced, unwatched, apart;
}

impl Kind {
    /// The API group; empty for the core group.
    #[must_use]
    pub fn group(&self) -> Cow<'_, str> {
        struct Group;
        impl KindVisitor for Group {
            type Output = Cow<'static, str>;
            fn typed<K: Typed>(&mut self) -> Cow<'static, str> {
                Cow::Owned(K::group(&()).into_owned())
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Cow<'static, str> {
                Cow::Owned(gvk.group.clone())
            }
        }
        self.visit(&mut Group)
    }

    /// `group/version`, or `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        struct ApiVersion;
        impl KindVisitor for ApiVersion {
            type Output = String;
            fn typed<K: Typed>(&mut self) -> String {
                K::api_version(&()).into_owned()
            }
            fn dynamic(&mut self, gvk: &Gvk) -> String {
                gvk.api_version()
            }
        }
        self.visit(&mut ApiVersion)
    }

    /// Whether objects of the kind live in a namespace; `None` for a kind
    /// mto does not type (discovery knows).
    #[must_use]
    pub fn namespaced(&self) -> Option<bool> {
        struct Namespaced;
        impl KindVisitor for Namespaced {
            type Output = Option<bool>;
            fn typed<K: Typed>(&mut self) -> Option<bool> {
                Some(K::NAMESPACED)
            }
            fn dynamic(&mut self, _: &Gvk) -> Option<bool> {
                None
            }
        }
        self.visit(&mut Namespaced)
    }

    /// Whether the operator watches the kind.
    #[must_use]
    pub fn watched(&self) -> bool {
        struct Watched;
        impl KindVisitor for Watched {
            type Output = bool;
            fn typed<K: Typed>(&mut self) -> bool {
                K::WATCHED
            }
            fn dynamic(&mut self, _: &Gvk) -> bool {
                false
            }
        }
        self.visit(&mut Watched)
    }

    /// The typed kind of this name, if the registry has one.
    #[must_use]
    pub fn typed(name: &str) -> Option<Kind> {
        Kind::TYPED.iter().find(|k| k.name() == name).cloned()
    }

    /// The kinds the operator watches.
    pub fn watched_kinds() -> impl Iterator<Item = &'static Kind> {
        Kind::TYPED.iter().filter(|k| k.watched())
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Object {
    /// Which object this is.
    #[must_use]
    pub fn object_ref(&self) -> super::ObjectRef {
        let meta = self.meta_ref();
        super::ObjectRef {
            kind: self.kind(),
            namespace: meta.namespace().map(str::to_owned),
            name: meta.name().unwrap_or_default().to_owned(),
        }
    }

    /// The object as `K`, if it is one.
    #[must_use]
    pub fn typed<K: Typed>(&self) -> Option<&K> {
        K::unwrap(self).map(|o| &**o)
    }
}
