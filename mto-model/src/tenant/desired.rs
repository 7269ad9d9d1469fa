//! What a tenant asks for, as objects mto would apply.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{LimitRangeSpec, Namespace, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};

use crate::api::{Sharing, Tenant};
use crate::claims::RequestedNamespace;
use crate::integration::{Integration, TenantRole};
use crate::labels::{
    ADOPTED_ANNOTATION, KIND_LABEL, LIMIT_RANGE_NAME, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    NETWORK_POLICY_NAME, RESOURCE_QUOTA_NAME, SANDBOX_USER_ANNOTATION, TENANT_LABEL,
};
use crate::names::sanitize_user;
use crate::quantity::{Granularity, Quantity};
use crate::view::{
    HeldMeta, LimitRange, ResourceQuota, RoleBinding, StringMap, SubjectFields as _,
};

/// The placeholder in sandbox metadata replaced by the sandbox's user.
pub const USERNAME_PLACEHOLDER: &str = "{{ TENANT.USERNAME }}";

/// The API group of roles, bindings and their subjects.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The subjects of each tenant role, sorted, once each, borrowed from the
/// members the view read from the tenant's spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RoleSubjects<'a> {
    pub(crate) owner: Vec<TenantSubject<'a>>,
    pub(crate) editor: Vec<TenantSubject<'a>>,
    pub(crate) viewer: Vec<TenantSubject<'a>>,
    /// Each role's subjects as bindings hold them, built for the first
    /// binding of the role a decision builds and shared by the rest.
    built: [OnceCell<Arc<[Subject]>>; 3],
}

impl<'a> RoleSubjects<'a> {
    pub(crate) fn of(members: &'a crate::claims::RoleMembers) -> RoleSubjects<'a> {
        let borrow = |role: &'a [crate::claims::Member]| {
            role.iter()
                .map(|m| TenantSubject {
                    kind: m.kind,
                    name: &m.name,
                })
                .collect()
        };
        RoleSubjects {
            owner: borrow(&members.owner),
            editor: borrow(&members.editor),
            viewer: borrow(&members.viewer),
            built: Default::default(),
        }
    }

    /// Where the subjects of `role`, built, are kept.
    fn built(&self, role: TenantRole) -> &OnceCell<Arc<[Subject]>> {
        let index = match role {
            TenantRole::Owner => 0,
            TenantRole::Editor => 1,
            TenantRole::Viewer => 2,
        };
        &self.built[index]
    }

    pub(crate) fn for_role(&self, role: TenantRole) -> &[TenantSubject<'a>] {
        match role {
            TenantRole::Owner => &self.owner,
            TenantRole::Editor => &self.editor,
            TenantRole::Viewer => &self.viewer,
        }
    }
}

/// A user or group of a tenant role, as a binding's subject, described
/// without building it. Ordered by kind, then name: the order of a
/// binding's subjects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TenantSubject<'a> {
    pub(crate) kind: &'static str,
    pub(crate) name: &'a str,
}

impl<'a> TenantSubject<'a> {
    pub(crate) fn user(name: &'a str) -> Self {
        TenantSubject { kind: "User", name }
    }

    fn build(&self) -> Subject {
        Subject {
            api_group: Some(RBAC_GROUP.into()),
            kind: self.kind.into(),
            name: self.name.into(),
            namespace: None,
        }
    }

    /// Whether a binding's subject is this one.
    fn is(&self, subject: &Subject) -> bool {
        subject.fields() == (Some(RBAC_GROUP), self.kind, self.name, None)
    }
}

impl crate::view::SubjectFields for TenantSubject<'_> {
    fn fields(&self) -> (Option<&str>, &str, &str, Option<&str>) {
        (Some(RBAC_GROUP), self.kind, self.name, None)
    }
}

/// Whether a binding's subjects are exactly `want`, in order.
pub(crate) fn has_subjects(have: Option<&[Subject]>, want: &[TenantSubject<'_>]) -> bool {
    have.is_some_and(|have| {
        have.len() == want.len() && want.iter().zip(have).all(|(want, have)| want.is(have))
    })
}

/// The subjects of a binding to build.
fn build_subjects<Built: FromIterator<Subject>>(subjects: &[TenantSubject<'_>]) -> Built {
    subjects.iter().map(TenantSubject::build).collect()
}

/// Labels every object mto manages for a tenant carries.
pub(crate) fn managed_labels(tenant: &str) -> BTreeMap<String, String> {
    managed_label_pairs(tenant)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
}

/// [`managed_labels`] of one tenant, built once and shared by every object
/// a decision builds for it: the objects of a tenant then hold one map,
/// where each held its own (a B-tree node of 544 bytes for two labels).
pub(crate) struct ManagedLabels<'a> {
    tenant: &'a str,
    built: OnceCell<Arc<StringMap>>,
}

impl<'a> ManagedLabels<'a> {
    /// The labels of `tenant`'s objects, not built yet.
    pub(crate) fn new(tenant: &'a str) -> Self {
        ManagedLabels {
            tenant,
            built: OnceCell::new(),
        }
    }

    /// The tenant they name.
    pub(crate) fn tenant(&self) -> &'a str {
        self.tenant
    }

    /// The labels, built on first asking.
    pub(crate) fn shared(&self) -> Arc<StringMap> {
        Arc::clone(
            self.built
                .get_or_init(|| Arc::new(managed_labels(self.tenant))),
        )
    }
}

/// [`managed_labels`], borrowed and in key order: what a digest of them
/// reads, with nothing allocated.
pub(crate) fn managed_label_pairs(tenant: &str) -> [(&str, &str); 2] {
    let mut pairs = [(MANAGED_BY_LABEL, MANAGED_BY_VALUE), (TENANT_LABEL, tenant)];
    pairs.sort_unstable_by_key(|(key, _)| *key);
    pairs
}

/// The labels and annotations a namespace gets from the layers of
/// metadata — the integration config's, then the tenant's common (or
/// sandbox) metadata, then `specific` metadata naming it — before what
/// mto sets over them per namespace ([`DesiredNamespace`]). Every plain
/// namespace of a tenant (not a sandbox, named in no `specific` entry)
/// has the same layers: a decision layers them once
/// ([`Layers::plain`]).
pub(crate) struct Layers<'a> {
    labels: BTreeMap<&'a str, Cow<'a, str>>,
    annotations: BTreeMap<&'a str, Cow<'a, str>>,
}

impl<'a> Layers<'a> {
    /// The layers of every plain namespace of `tenant`.
    pub(crate) fn plain(tenant: &'a Tenant, integration: &'a Integration) -> Layers<'a> {
        Layers::layered(tenant, integration, None, None)
    }

    /// The layers of `requested`, when they are its own: `None` for a
    /// plain namespace, whose layers are [`Layers::plain`].
    pub(crate) fn own(
        tenant: &'a Tenant,
        integration: &'a Integration,
        requested: &'a RequestedNamespace,
    ) -> Option<Layers<'a>> {
        let named = specific_to(tenant, &requested.name).next().is_some();
        (named || requested.sandbox_user.is_some()).then(|| {
            Layers::layered(
                tenant,
                integration,
                requested.sandbox_user.as_deref(),
                Some(&requested.name),
            )
        })
    }

    /// Metadata precedence: specific > tenant (common or sandbox) >
    /// integration config.
    fn layered(
        tenant: &'a Tenant,
        integration: &'a Integration,
        user: Option<&'a str>,
        name: Option<&str>,
    ) -> Layers<'a> {
        let meta = metadata(tenant);
        let mut labels = BTreeMap::new();
        let mut annotations = BTreeMap::new();
        let mut layer = |layer_labels: &'a BTreeMap<String, String>,
                         layer_annotations: &'a BTreeMap<String, String>| {
            let fill = |v: &'a String, label: bool| -> Cow<'a, str> {
                match user {
                    Some(u) if v.contains(USERNAME_PLACEHOLDER) => Cow::Owned(v.replace(
                        USERNAME_PLACEHOLDER,
                        &if label {
                            sanitize_user(u)
                        } else {
                            u.to_owned()
                        },
                    )),
                    _ => Cow::Borrowed(v),
                }
            };
            labels.extend(
                layer_labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), fill(v, true))),
            );
            annotations.extend(
                layer_annotations
                    .iter()
                    .map(|(k, v)| (k.as_str(), fill(v, false))),
            );
        };
        let general = if user.is_some() {
            [
                Some(&integration.sandbox_metadata),
                meta.and_then(|m| m.sandbox.as_ref()),
            ]
        } else {
            [
                Some(&integration.namespace_metadata),
                meta.and_then(|m| m.common.as_ref()),
            ]
        };
        for m in general.into_iter().flatten() {
            layer(&m.labels, &m.annotations);
        }
        for specific in name.into_iter().flat_map(|name| specific_to(tenant, name)) {
            layer(&specific.labels, &specific.annotations);
        }
        Layers {
            labels,
            annotations,
        }
    }
}

/// The tenant's namespace metadata, if it sets any.
fn metadata(tenant: &Tenant) -> Option<&crate::api::NamespaceMetadata> {
    tenant
        .spec
        .namespaces
        .as_ref()
        .and_then(|n| n.metadata.as_ref())
}

/// The tenant's `specific` metadata entries naming `namespace`, in order.
fn specific_to<'t>(
    tenant: &'t Tenant,
    namespace: &str,
) -> impl Iterator<Item = &'t crate::api::SpecificMetadata> {
    metadata(tenant)
        .into_iter()
        .flat_map(|m| m.specific.iter())
        .filter(move |specific| specific.namespaces.iter().any(|n| n == namespace))
}

/// The namespace mto applies: its [`Layers`], with mto's labels, the
/// tenant's and the kind's, and its annotations for adoption and the
/// sandbox's user set over them (they always win). Described without
/// being built: a decision that finds it in place (by its digest)
/// allocates nothing for it, and its namespaces share their layers.
pub(crate) struct DesiredNamespace<'l, 'a> {
    layers: &'l Layers<'a>,
    /// mto's labels, sorted; none for a namespace joined by its label.
    labels: ([(&'a str, &'a str); 3], usize),
    /// The annotations mto sets, sorted.
    annotations: ([(&'a str, &'a str); 2], usize),
}

impl<'l, 'a> DesiredNamespace<'l, 'a> {
    /// The value of one of its labels.
    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        match self.labels.0[..self.labels.1]
            .iter()
            .find(|(k, _)| *k == key)
        {
            Some((_, value)) => Some(value),
            None => self.layers.labels.get(key).map(|v| &**v),
        }
    }

    /// Its labels, in key order.
    fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        overlay(&self.layers.labels, &self.labels.0[..self.labels.1])
    }

    /// Its annotations, in key order.
    fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        overlay(
            &self.layers.annotations,
            &self.annotations.0[..self.annotations.1],
        )
    }

    /// The applied digest it will carry once applied
    /// ([`crate::view::digest_as_applied`]).
    pub(crate) fn digest(&self) -> NonZeroU64 {
        crate::view::digest_as_applied(|_| {}, self.labels(), self.annotations())
    }

    /// The object, named `name`.
    pub(crate) fn build(&self, name: &str) -> Namespace {
        let owned = |pairs: &mut dyn Iterator<Item = (&str, &str)>| -> BTreeMap<String, String> {
            pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
        };
        let annotations = owned(&mut self.annotations());
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(owned(&mut self.labels())),
                annotations: (!annotations.is_empty()).then_some(annotations),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// `base`'s pairs with `over`'s (sorted by key) set over them, in key
/// order: where both hold a key, `over`'s value.
fn overlay<'m>(
    base: &'m BTreeMap<&str, Cow<'_, str>>,
    over: &'m [(&str, &str)],
) -> impl Iterator<Item = (&'m str, &'m str)> {
    let mut base = base.iter().map(|(k, v)| (*k, &**v)).peekable();
    let mut over = over.iter().copied().peekable();
    std::iter::from_fn(move || match (base.peek(), over.peek()) {
        (Some(b), Some(o)) if b.0 < o.0 => base.next(),
        (Some(b), Some(o)) if b.0 == o.0 => {
            base.next();
            over.next()
        }
        (_, Some(_)) => over.next(),
        (Some(_), None) => base.next(),
        (None, None) => None,
    })
}

/// The namespace mto applies for `requested`, over `layers` (its own, or
/// the tenant's plain ones: [`Layers::own`]).
pub(crate) fn namespace<'l, 'a>(
    tenant: &'a Tenant,
    layers: &'l Layers<'a>,
    requested: &'a RequestedNamespace,
    adopted: bool,
) -> DesiredNamespace<'l, 'a> {
    let tenant_name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut labels = ([("", ""); 3], 0);
    if !requested.joined {
        let [first, second] = managed_label_pairs(tenant_name);
        labels = ([first, second, (KIND_LABEL, requested.kind.as_str())], 3);
        labels.0.sort_unstable_by_key(|(key, _)| *key);
    }
    let mut annotations = ([("", ""); 2], 0);
    if adopted {
        annotations.0[annotations.1] = (ADOPTED_ANNOTATION, "true");
        annotations.1 += 1;
    }
    if let Some(user) = requested.sandbox_user.as_deref() {
        annotations.0[annotations.1] = (SANDBOX_USER_ANNOTATION, user);
        annotations.1 += 1;
    }
    annotations.0[..annotations.1].sort_unstable_by_key(|(key, _)| *key);
    DesiredNamespace {
        layers,
        labels,
        annotations,
    }
}

/// A role binding the tenant asks for, described without building it, so a
/// decision that finds it in place allocates nothing for it.
pub(crate) struct DesiredBinding<'a> {
    pub(crate) role: TenantRole,
    pub(crate) cluster_role: &'a str,
    pub(crate) subjects: Cow<'a, [TenantSubject<'a>]>,
    /// Where the role's subjects, built, are shared from; `None` for
    /// subjects of this binding alone (a private sandbox's user).
    pub(crate) built: Option<&'a OnceCell<Arc<[Subject]>>>,
}

impl DesiredBinding<'_> {
    /// Its name: `<tenant>-<role>-<clusterrole>`.
    pub(crate) fn name(&self, tenant: &str) -> String {
        format!("{tenant}-{}-{}", self.role.name(), self.cluster_role)
    }

    /// Whether `name` is its name, compared without building it: a
    /// decision compares every binding of every namespace.
    pub(crate) fn is_named(&self, name: &str, tenant: &str) -> bool {
        name.strip_prefix(tenant)
            .and_then(|n| n.strip_prefix('-'))
            .and_then(|n| n.strip_prefix(self.role.name()))
            .and_then(|n| n.strip_prefix('-'))
            == Some(self.cluster_role)
    }

    /// Whether `observed` grants exactly this, labelled as mto's for `tenant`.
    pub(crate) fn matches(
        &self,
        observed: &RoleBinding,
        ownership: &crate::apply::Ownership,
        tenant: &str,
    ) -> bool {
        observed.role_ref.name == self.cluster_role
            && observed.role_ref.kind == "ClusterRole"
            && has_subjects(observed.subjects.as_deref(), &self.subjects)
            && ownership.has_managed_labels(tenant)
    }

    /// The applied digest of what [`DesiredBinding::build`] makes.
    pub(crate) fn digest(&self, tenant: &str) -> NonZeroU64 {
        binding_digest(tenant, self.cluster_role, &self.subjects)
    }

    /// The object to apply.
    pub(crate) fn build(&self, labels: &ManagedLabels<'_>, namespace: &str) -> RoleBinding {
        RoleBinding {
            metadata: HeldMeta::named(namespace, &self.name(labels.tenant()), labels.shared()),
            role_ref: RoleRef {
                api_group: RBAC_GROUP.into(),
                kind: "ClusterRole".into(),
                name: self.cluster_role.to_owned(),
            },
            subjects: Some(match self.built {
                Some(built) => Arc::clone(built.get_or_init(|| build_subjects(&self.subjects))),
                None => build_subjects(&self.subjects),
            }),
        }
    }
}

/// The applied digest of a binding mto makes for `tenant` of `subjects` to
/// a cluster role: labelled as mto's, no annotations.
fn binding_digest(tenant: &str, cluster_role: &str, subjects: &[TenantSubject<'_>]) -> NonZeroU64 {
    crate::view::digest_as_applied(
        |digest| {
            crate::view::digest_binding(
                digest,
                (RBAC_GROUP, "ClusterRole", cluster_role),
                Some(subjects),
            );
        },
        managed_label_pairs(tenant),
        [],
    )
}

/// The applied digest of [`namespace_creator_binding`]'s binding.
pub(crate) fn namespace_creator_binding_digest(
    tenant: &str,
    members: &crate::claims::RoleMembers,
) -> NonZeroU64 {
    binding_digest(
        tenant,
        NAMESPACE_CREATOR_ROLE,
        &RoleSubjects::of(members).owner,
    )
}

/// The role bindings of one namespace, given its labels (custom tenant
/// roles select namespaces by label), in `out` (emptied first: a decision
/// reuses one buffer for all its namespaces).
pub(crate) fn role_bindings<'a>(
    out: &mut Vec<DesiredBinding<'a>>,
    namespace: &DesiredNamespace<'_, '_>,
    requested: &'a RequestedNamespace,
    private_sandboxes: bool,
    subjects: &'a RoleSubjects<'a>,
    integration: &'a Integration,
) {
    out.clear();
    let roles = integration.roles_for(|key| namespace.label(key));
    for role in TenantRole::ALL {
        let (role_subjects, built): (Cow<'a, [TenantSubject<'a>]>, _) =
            match (requested.sandbox_user.as_deref(), private_sandboxes) {
                // A private sandbox belongs to its user alone, as owner.
                (Some(user), true) if role == TenantRole::Owner => {
                    (Cow::Owned(vec![TenantSubject::user(user)]), None)
                }
                (Some(_), true) => (Cow::Borrowed(&[]), None),
                _ => (
                    Cow::Borrowed(subjects.for_role(role)),
                    Some(subjects.built(role)),
                ),
            };
        if role_subjects.is_empty() {
            continue;
        }
        for cluster_role in roles.for_role(role) {
            out.push(DesiredBinding {
                role,
                cluster_role,
                subjects: role_subjects.clone(),
                built,
            });
        }
    }
}

/// The ClusterResourceSupervisor a tenant's `spec.hibernation` asks for
/// (named after the tenant, selecting its namespaces, UTC), if any.
pub(crate) fn tenant_supervisor(tenant: &Tenant) -> Option<crate::api::ClusterResourceSupervisor> {
    let h = tenant.spec.hibernation.as_ref()?;
    if h.sleep_schedule.trim().is_empty() {
        return None;
    }
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut supervisor = crate::api::ClusterResourceSupervisor::new(
        name,
        crate::api::ClusterResourceSupervisorSpec {
            namespaces: crate::api::NamespaceSelection {
                names: Vec::new(),
                label_selector: Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_labels: Some([(TENANT_LABEL.to_owned(), name.to_owned())].into()),
                        ..Default::default()
                    },
                ),
            },
            schedule: crate::api::SleepSchedule {
                sleep_schedule: h.sleep_schedule.clone(),
                wake_schedule: Some(h.wake_schedule.clone()).filter(|w| !w.trim().is_empty()),
                time_zone: None,
            },
            argocd: None,
        },
    );
    supervisor.metadata.labels = Some(managed_labels(name));
    Some(supervisor)
}

/// The ClusterTemplateInstances a tenant's `spec.templateInstances` asks
/// for: one per Template named (the first entry naming it), called
/// `<tenant>-<template>`, selecting the tenant's namespaces and, among
/// them, those the entry's selector matches.
pub(crate) fn tenant_template_instances(
    tenant: &Tenant,
) -> Vec<crate::api::ClusterTemplateInstance> {
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut out: BTreeMap<String, crate::api::ClusterTemplateInstance> = BTreeMap::new();
    for entry in &tenant.spec.template_instances {
        let instance_name = format!("{name}-{}", entry.spec.template);
        if out.contains_key(&instance_name) {
            continue;
        }
        let mut selector = entry.selector.clone().unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(TENANT_LABEL.to_owned(), name.to_owned());
        let mut instance = crate::api::ClusterTemplateInstance::new(
            &instance_name,
            crate::api::ClusterTemplateInstanceSpec {
                template: entry.spec.template.clone(),
                selector,
                sync: entry.spec.sync,
                parameters: entry.spec.parameters.clone(),
            },
        );
        instance.metadata.labels = Some(managed_labels(name));
        out.insert(instance_name, instance);
    }
    out.into_values().collect()
}

/// The ClusterRole that lets a tenant's owners ask for namespaces (shipped
/// with mto: `create` on namespaces).
pub(crate) const NAMESPACE_CREATOR_ROLE: &str = "mto-namespace-creator";

/// The name of the binding of a tenant's owners to
/// [`NAMESPACE_CREATOR_ROLE`].
#[must_use]
pub(crate) fn namespace_creator_binding_name(tenant: &str) -> String {
    format!("mto-namespace-creator-{tenant}")
}

/// Whether a binding's role is [`NAMESPACE_CREATOR_ROLE`], as
/// [`namespace_creator_binding`] refers to it.
pub(crate) fn is_namespace_creator_role(role: &RoleRef) -> bool {
    role.name == NAMESPACE_CREATOR_ROLE
        && role.kind == "ClusterRole"
        && role.api_group == RBAC_GROUP
}

/// The binding that lets the tenant's owners ask for namespaces; the
/// admission webhook lets them have only namespaces of tenants they own.
/// `None` when the tenant has no owners.
pub(crate) fn namespace_creator_binding(
    tenant: &str,
    subjects: &RoleSubjects<'_>,
) -> Option<k8s_openapi::api::rbac::v1::ClusterRoleBinding> {
    (!subjects.owner.is_empty()).then(|| k8s_openapi::api::rbac::v1::ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(namespace_creator_binding_name(tenant)),
            labels: Some(managed_labels(tenant)),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: "ClusterRole".into(),
            name: NAMESPACE_CREATOR_ROLE.into(),
        },
        subjects: Some(build_subjects(&subjects.owner)),
    })
}

/// Each namespace's ResourceQuota spec ([`quota_shares`]).
pub(crate) enum QuotaShares<'n, 't> {
    /// Pooled: every namespace holds the tenant's whole total (the
    /// apiserver holds each namespace to it, mto's webhook holds their
    /// sum).
    Whole(&'t Arc<ResourceQuotaSpec>),
    /// Split evenly: each namespace its share, by name.
    Split(BTreeMap<&'n str, Arc<ResourceQuotaSpec>>),
}

impl QuotaShares<'_, '_> {
    /// The spec of `namespace`'s quota, for a namespace the shares were
    /// made for.
    pub(crate) fn get(&self, namespace: &str) -> Option<&Arc<ResourceQuotaSpec>> {
        match self {
            QuotaShares::Whole(total) => Some(total),
            QuotaShares::Split(shares) => shares.get(namespace),
        }
    }
}

/// Each namespace's ResourceQuota spec. Pooled: the tenant's whole total,
/// borrowed. Split evenly: every resource split over the namespaces so
/// that the shares sum to exactly the tenant's total, the remainder going
/// one step at a time to the namespaces first by name (deterministic, and
/// stable while the set of namespaces is).
pub(crate) fn quota_shares<'n, 't>(
    total: &'t Arc<ResourceQuotaSpec>,
    sharing: Sharing,
    namespaces: &[&'n str],
) -> QuotaShares<'n, 't> {
    if sharing == Sharing::Pooled {
        return QuotaShares::Whole(total);
    }
    let mut by_name = namespaces.to_vec();
    by_name.sort_unstable();
    by_name.dedup();
    let parts = u32::try_from(by_name.len()).unwrap_or(u32::MAX);
    let mut hards: Vec<BTreeMap<String, K8sQuantity>> = vec![BTreeMap::new(); by_name.len()];
    for (resource, q) in total.hard.iter().flatten() {
        if parts == 1 {
            hards[0].insert(resource.clone(), q.clone());
            continue;
        }
        // Validation guarantees the quota parses before it is used.
        let whole = Quantity::parse(&q.0).unwrap_or_default();
        for (hard, part) in hards
            .iter_mut()
            .zip(whole.split(parts, Granularity::for_resource(resource)))
        {
            hard.insert(resource.clone(), K8sQuantity(part.to_string()));
        }
    }
    QuotaShares::Split(
        by_name
            .into_iter()
            .zip(hards)
            .map(|(ns, hard)| {
                let spec = ResourceQuotaSpec {
                    hard: total.hard.as_ref().map(|_| hard),
                    scopes: total.scopes.clone(),
                    scope_selector: total.scope_selector.clone(),
                };
                (ns, Arc::new(spec))
            })
            .collect(),
    )
}

/// The ResourceQuota holding one namespace's share: the share itself, not
/// a copy (a pooled tenant's namespaces all hold its Quota's total).
pub(crate) fn resource_quota(
    labels: &ManagedLabels<'_>,
    namespace: &str,
    share: &Arc<ResourceQuotaSpec>,
) -> ResourceQuota {
    ResourceQuota {
        metadata: HeldMeta::named(namespace, RESOURCE_QUOTA_NAME, labels.shared()),
        spec: Some(Arc::clone(share)),
        status: None,
    }
}

/// The NetworkPolicy keeping other tenants out of a tenant namespace:
/// every pod in it takes traffic only from the tenant's own namespaces
/// and from namespaces of no tenant (ingress controllers, monitoring,
/// the cluster's own). Egress is left alone, so DNS resolves.
pub(crate) fn network_policy(tenant: &str, namespace: &str) -> NetworkPolicy {
    let from = |selector: LabelSelector| NetworkPolicyPeer {
        namespace_selector: Some(selector),
        ..Default::default()
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(NETWORK_POLICY_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(managed_labels(tenant)),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![
                    from(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            TENANT_LABEL.to_owned(),
                            tenant.to_owned(),
                        )])),
                        ..Default::default()
                    }),
                    from(LabelSelector {
                        match_expressions: Some(vec![LabelSelectorRequirement {
                            key: TENANT_LABEL.to_owned(),
                            operator: "DoesNotExist".to_owned(),
                            values: None,
                        }]),
                        ..Default::default()
                    }),
                ]),
                ports: None,
            }]),
            egress: None,
        }),
    }
}

/// The LimitRange mto keeps in `namespace` of `tenant`, holding the
/// Quota's own `spec`, not a copy.
pub(crate) fn limit_range(
    labels: &ManagedLabels<'_>,
    namespace: &str,
    spec: &Arc<LimitRangeSpec>,
) -> LimitRange {
    LimitRange {
        metadata: HeldMeta::named(namespace, LIMIT_RANGE_NAME, labels.shared()),
        spec: Some(Arc::clone(spec)),
    }
}

/// The applied digest of the ResourceQuota holding `share`
/// ([`resource_quota`]).
pub(crate) fn resource_quota_digest(tenant: &str, share: &ResourceQuotaSpec) -> NonZeroU64 {
    crate::view::digest_as_applied(
        |digest| crate::view::digest_quota_spec(digest, Some(share)),
        managed_label_pairs(tenant),
        [],
    )
}

/// Per-resource values of a quota object, by value.
pub(crate) fn quota_values(rq: Option<&ResourceQuota>) -> BTreeMap<String, Quantity> {
    rq.and_then(|rq| rq.spec.as_ref())
        .and_then(|s| s.hard.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Quantity::parse(&v.0).unwrap_or_default()))
        .collect()
}

/// Whether two quantity maps hold the same values.
pub(crate) fn same_quantities(
    a: Option<&BTreeMap<String, K8sQuantity>>,
    b: Option<&BTreeMap<String, K8sQuantity>>,
) -> bool {
    let empty = BTreeMap::new();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| quantities_equal(v, w)))
}

/// Whether every value of `want` is in `have`, by value.
pub(crate) fn carries_quantities(
    want: Option<&BTreeMap<String, K8sQuantity>>,
    have: Option<&BTreeMap<String, K8sQuantity>>,
) -> bool {
    want.into_iter().flatten().all(|(k, v)| {
        have.and_then(|h| h.get(k))
            .is_some_and(|w| quantities_equal(v, w))
    })
}

fn quantities_equal(a: &K8sQuantity, b: &K8sQuantity) -> bool {
    a.0 == b.0 || matches!((Quantity::parse(&a.0), Quantity::parse(&b.0)), (Ok(x), Ok(y)) if x == y)
}
