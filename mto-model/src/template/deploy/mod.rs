//! The template instance machine: what an instance's target namespaces
//! should hold, compared with what they hold, as one decision.
//!
//! Rules (README, "Templates"):
//! - A TemplateInstance targets its own namespace; a cluster instance every
//!   namespace its selector matches and that is not terminating.
//! - Everything is rendered first, for every target namespace; a namespace
//!   whose rendering fails, or where an object of the same name exists that
//!   this instance did not deploy, gets nothing applied (its problem is in
//!   the status and an event) while the other namespaces go on. Nothing is
//!   deleted on doubt: a failed namespace keeps what it had.
//! - Objects are applied in dependency order ([`super::order`]), removed in
//!   the reverse order.
//! - `sync: false`: what is missing is created; nothing existing is ever
//!   changed. `sync: true`: a Template or parameter change re-applies the
//!   objects whose rendering changed (their digest annotation tells) and
//!   removes the objects the rendering no longer has; an object someone
//!   edited is put back, except ServiceAccounts (the cluster adds to them)
//!   and objects labelled `multi-tenant-operator/ignore-resource-updates`,
//!   which are only re-created when deleted.
//! - A namespace that stops being targeted loses what the instance put
//!   there; an instance deleted removes everything it deployed, then lets
//!   go of its finalizer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;

use crate::Timestamp;
use crate::action::{Action, Decision, FinalizerEdit, Patch, Reason, Requeue};
use crate::api::{Template, TemplateInstanceStatus};
use crate::labels::{
    IGNORE_RESOURCE_UPDATES_LABEL, TEMPLATE_DIGEST_ANNOTATION, TEMPLATE_INSTANCE_ANNOTATION,
    TEMPLATE_INSTANCE_FINALIZER, deployed_by,
};
use crate::machine::Phase;
use crate::view::{Object, ObjectRef, Observed as _, Snapshot};

use super::{Instance, RenderError};

/// Where a template instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TemplatePhase {
    /// Its Template does not exist (yet); nothing is changed.
    Pending,
    /// Putting a new rendering in place, or waiting for the kinds it
    /// deploys to be listed.
    Rendering,
    /// Every target namespace holds the current rendering.
    Applied,
    /// Putting back what someone changed or deleted.
    Drifted,
    /// Some namespace cannot get the rendering; the others have it.
    Failed,
    /// Deleted: removing what it deployed.
    Removing,
    /// Everything it deployed is gone, and so is it.
    Gone,
}

impl Phase for TemplatePhase {
    const ALL: &'static [TemplatePhase] = &[
        TemplatePhase::Pending,
        TemplatePhase::Rendering,
        TemplatePhase::Applied,
        TemplatePhase::Drifted,
        TemplatePhase::Failed,
        TemplatePhase::Removing,
        TemplatePhase::Gone,
    ];
    const INITIAL: TemplatePhase = TemplatePhase::Pending;
    const TRANSITIONS: &'static [(TemplatePhase, TemplatePhase)] = {
        use TemplatePhase::{Applied, Drifted, Failed, Gone, Pending, Removing, Rendering};
        &[
            (Pending, Rendering),
            (Pending, Applied),
            (Pending, Failed),
            (Pending, Removing),
            (Rendering, Applied),
            (Rendering, Failed),
            (Rendering, Pending),
            (Rendering, Removing),
            (Applied, Rendering),
            (Applied, Drifted),
            (Applied, Failed),
            (Applied, Pending),
            (Applied, Removing),
            (Drifted, Applied),
            (Drifted, Rendering),
            (Drifted, Failed),
            (Drifted, Pending),
            (Drifted, Removing),
            (Failed, Rendering),
            (Failed, Applied),
            (Failed, Drifted),
            (Failed, Pending),
            (Failed, Removing),
            (Removing, Gone),
        ]
    };

    fn is_resting(self) -> bool {
        matches!(
            self,
            TemplatePhase::Pending
                | TemplatePhase::Applied
                | TemplatePhase::Failed
                | TemplatePhase::Gone
        )
    }

    fn name(self) -> &'static str {
        match self {
            TemplatePhase::Pending => "Pending",
            TemplatePhase::Rendering => "Rendering",
            TemplatePhase::Applied => "Applied",
            TemplatePhase::Drifted => "Drifted",
            TemplatePhase::Failed => "Failed",
            TemplatePhase::Removing => "Removing",
            TemplatePhase::Gone => "Gone",
        }
    }
}

/// A decision about a template instance.
pub type TemplateDecision = Decision<TemplatePhase>;

/// How long a failed instance waits before trying again when nothing it
/// reads changes (what is in its way going wakes it sooner).
pub const RETRY_FAILED: Duration = Duration::from_secs(600);

/// Kinds a template may not deploy: a template instantiates into
/// namespaces, and a cluster-scoped object would be shared by all of them.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
];

/// One object of a rendering, ready to apply.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The object, labelled and annotated as mto deploys it.
    pub object: Object,
    /// It as JSON, to compare with what is there.
    json: Value,
    /// Its digest.
    digest: String,
    /// What it is a copy of (`resources.resourceMappings`), if it is one.
    pub copy_of: Option<(super::Copied, String)>,
}

/// Why a namespace has no rendering.
#[derive(Clone, Debug, PartialEq)]
pub enum NotRendered {
    /// The Template, the instance or the chart's output is at fault.
    Invalid(Vec<RenderError>),
    /// The Template's chart has not been rendered for this namespace yet,
    /// or its last failure is old enough to try again.
    NeedsChart {
        /// What to render.
        request: Box<super::ChartRequest>,
        /// Why the last rendering failed, when this is a retry.
        failed: Option<RenderError>,
    },
}

impl From<Vec<RenderError>> for NotRendered {
    fn from(problems: Vec<RenderError>) -> Self {
        NotRendered::Invalid(problems)
    }
}

/// What one namespace should hold: its objects in apply order, or why it
/// cannot have them. A chart's objects are read from the rendering the
/// view has recorded for the namespace's request.
pub fn render_for(
    template: &Template,
    instance: &Instance<'_>,
    namespace: &str,
    snapshot: &Snapshot,
    now: Timestamp,
) -> Result<Vec<Rendered>, NotRendered> {
    let tenant = snapshot.tenant_of_namespace(namespace);
    let values = super::parameters(
        &template.spec.parameters,
        instance.parameters(),
        namespace,
        tenant,
    )?;
    let template_name = template.metadata.name.as_deref().unwrap_or_default();
    let (mut manifests, copies, chart) = match (
        super::render_manifests(&template.spec, &values),
        super::mappings::copies(&template.spec, instance, namespace, snapshot),
        super::helm::request(template_name, &template.spec, &values, namespace),
    ) {
        (Ok(manifests), Ok(copies), Ok(chart)) => (manifests, copies, chart),
        (manifests, copies, chart) => {
            let mut problems = manifests.err().unwrap_or_default();
            problems.extend(copies.err().unwrap_or_default());
            problems.extend(chart.err().unwrap_or_default());
            return Err(NotRendered::Invalid(problems));
        }
    };
    let first_chart = manifests.len();
    if let Some(request) = chart {
        let failed = |why: &str| {
            super::error(
                "resources.helm.chart",
                format!("{} does not render: {why}", request.chart_label()),
                "check the repository, chart name, version, credentials and values",
            )
        };
        match snapshot.chart(&request) {
            None => {
                return Err(NotRendered::NeedsChart {
                    request: Box::new(request),
                    failed: None,
                });
            }
            Some(rendering) => match &rendering.objects {
                Ok(objects) => manifests.extend(objects.iter().cloned()),
                // A failed rendering (a repository down, a version not
                // published yet) stands as long as a failed instance
                // waits, then is tried again.
                Err(why) if crate::time::after(rendering.at, RETRY_FAILED) <= now => {
                    let failed = failed(why);
                    return Err(NotRendered::NeedsChart {
                        request: Box::new(request),
                        failed: Some(failed),
                    });
                }
                Err(why) => return Err(NotRendered::Invalid(vec![failed(why)])),
            },
        }
    }
    let first_copy = manifests.len();
    let mut copied_from = Vec::with_capacity(copies.len());
    for (copy, copied, source) in copies {
        manifests.push(copy);
        copied_from.push((copied, source));
    }
    let key = instance.id().key();
    let mut problems = Vec::new();
    let mut rendered = Vec::new();
    for i in super::order::apply_order(&manifests) {
        let mut manifest = manifests[i].clone();
        let copy_of = i.checked_sub(first_copy).map(|c| copied_from[c].clone());
        let at = match &copy_of {
            Some((copied, source)) => format!("resources.resourceMappings ({copied:?} {source})"),
            None if i >= first_chart => format!(
                "resources.helm (the chart's {} {})",
                manifest["kind"].as_str().unwrap_or("object"),
                manifest["metadata"]["name"]
                    .as_str()
                    .unwrap_or("without a name")
            ),
            None => format!("resources.manifests[{i}]"),
        };
        let named = manifest["metadata"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        if manifest["apiVersion"].as_str().is_none()
            || manifest["kind"].as_str().is_none()
            || !named
        {
            problems.push(super::error(
                at,
                "not a Kubernetes object",
                "give apiVersion, kind and metadata.name (in the chart's templates)",
            ));
            continue;
        }
        let kind = manifest["kind"].as_str().unwrap_or_default().to_owned();
        if CLUSTER_SCOPED.contains(&kind.as_str()) {
            problems.push(super::error(
                format!("{at}.kind"),
                format!("{kind} is cluster-scoped; a template deploys into namespaces"),
                "create it once, outside the Template",
            ));
            continue;
        }
        match manifest["metadata"]["namespace"].as_str() {
            None => {}
            Some(ns) if ns == namespace => {}
            Some(other) => {
                problems.push(super::error(
                    format!("{at}.metadata.namespace"),
                    format!("{other:?} is not the namespace the template is instantiated in"),
                    "remove metadata.namespace (or write ${NAMESPACE})",
                ));
                continue;
            }
        }
        if !matches!(
            manifest["metadata"]["annotations"],
            Value::Null | Value::Object(_)
        ) {
            problems.push(super::error(
                format!("{at}.metadata.annotations"),
                "not a map of names to values",
                "write annotations as `name: value` pairs",
            ));
            continue;
        }
        as_stored(&mut manifest);
        // Not labelled managed-by mto: that label marks what the tenant
        // controller keeps, and a template's RoleBinding is not its.
        let digest = crate::digest::digest(&manifest);
        let meta = &mut manifest["metadata"];
        meta["namespace"] = Value::String(namespace.to_owned());
        meta["annotations"][TEMPLATE_INSTANCE_ANNOTATION] = Value::String(key.clone());
        meta["annotations"][TEMPLATE_DIGEST_ANNOTATION] = Value::String(digest.clone());
        let object = match Object::from_json(manifest.clone()) {
            Ok(object) => object,
            Err(e) => {
                problems.push(super::error(
                    at,
                    format!("not a valid {kind}: {e}"),
                    "correct the manifest",
                ));
                continue;
            }
        };
        let json = object.to_json().unwrap_or(manifest);
        rendered.push(Rendered {
            object,
            json,
            digest,
            copy_of,
        });
    }
    if problems.is_empty() {
        Ok(rendered)
    } else {
        Err(NotRendered::Invalid(problems))
    }
}

/// A Secret's `stringData` written as the apiserver stores it, in `data`
/// (base64): what is applied is then what is read back, and the Secret
/// never looks edited. Anything else, or a `stringData` that is not a map
/// of strings, is left for the apiserver to judge.
fn as_stored(manifest: &mut Value) {
    if manifest["apiVersion"] != "v1" || manifest["kind"] != "Secret" {
        return;
    }
    let Some(Value::Object(strings)) = manifest.get("stringData") else {
        return;
    };
    let encoded: Option<serde_json::Map<String, Value>> = strings
        .iter()
        .map(|(key, value)| {
            let text = value.as_str()?;
            let bytes = k8s_openapi::ByteString(text.as_bytes().to_vec());
            Some((key.clone(), serde_json::to_value(bytes).ok()?))
        })
        .collect();
    let (Some(encoded), Some(object)) = (encoded, manifest.as_object_mut()) else {
        return;
    };
    let data = object
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Value::Object(data) = data else {
        return;
    };
    // As the apiserver does, stringData wins over data.
    data.extend(encoded);
    object.remove("stringData");
}

/// Whether `live` holds everything `desired` sets: maps key by key, lists
/// item by item, anything else equal. What the cluster adds (defaults,
/// status, its own metadata) is not a difference.
fn holds(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| holds(h, v))),
        (Value::Array(have), Value::Array(want)) => {
            have.len() == want.len() && have.iter().zip(want).all(|(h, w)| holds(h, w))
        }
        (have, want) => have == want,
    }
}

/// Whether `live` holds what the rendered `desired` sets: its body, and
/// its labels and annotations (the rest of the metadata is the cluster's).
fn holds_object(live: &Object, desired: &Value) -> bool {
    let meta = live.meta();
    let map_holds = |have: Option<&std::collections::BTreeMap<String, String>>, want: &Value| {
        want.as_object().is_none_or(|want| {
            want.iter().all(|(k, v)| {
                have.and_then(|h| h.get(k))
                    .is_some_and(|h| v.as_str() == Some(h.as_str()))
            })
        })
    };
    if !map_holds(meta.labels.as_ref(), &desired["metadata"]["labels"])
        || !map_holds(
            meta.annotations.as_ref(),
            &desired["metadata"]["annotations"],
        )
    {
        return false;
    }
    let body = |v: &Value| {
        v.as_object().map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<serde_json::Map<String, Value>>()
        })
    };
    let Some(want) = body(desired) else {
        return true;
    };
    match live {
        // What the view holds of a kind mto does not type is JSON already.
        Object::Dynamic(o) => holds(&o.data, &Value::Object(want)),
        typed => typed
            .to_json()
            .ok()
            .and_then(|j| body(&j))
            .is_some_and(|have| holds(&Value::Object(have), &Value::Object(want))),
    }
}

/// What the view says of one object mto would write.
enum Found<'a> {
    /// Nothing of that name.
    Missing,
    /// This instance deployed it.
    Ours(crate::view::MetaRef<'a>),
    /// Someone else's (or another instance's, named).
    Foreign(Option<String>),
}

fn find<'a>(snapshot: &'a Snapshot, target: &'a ObjectRef, key: &str) -> Found<'a> {
    match snapshot.metadata(target) {
        None => Found::Missing,
        Some(meta) => match deployed_by(meta) {
            Some(by) if by == key => Found::Ours(meta),
            other => Found::Foreign(other.map(str::to_owned)),
        },
    }
}

/// Why one namespace does not get the rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Held {
    /// The rendering fails, or something is in its way.
    Failed(Vec<RenderError>),
    /// A kind it deploys is not listed yet, or its chart not rendered:
    /// what it waits for.
    Waiting(String),
    /// It holds the current rendering; the chart is rendered again (the
    /// view's renderings start empty) to confirm it.
    Confirming,
}

/// Decides about `instance` from `snapshot` at `now`.
pub fn decide(instance: Instance<'_>, snapshot: &Snapshot, now: Timestamp) -> TemplateDecision {
    let id = instance.id();
    let key = id.key();
    let regarding = id.object_ref();
    let meta = instance.meta();
    let from = instance
        .status()
        .and_then(|s| s.phase.as_deref())
        .and_then(TemplatePhase::from_name)
        .unwrap_or(TemplatePhase::INITIAL);
    let deployed: Vec<ObjectRef> = snapshot.deployed_by(&id).cloned().collect();

    if meta.deletion_timestamp.is_some() {
        let mut actions = removals(snapshot, deployed.iter(), Reason::Remove);
        if actions.is_empty()
            && let Some(edit) = FinalizerEdit::of(meta, TEMPLATE_INSTANCE_FINALIZER, false)
        {
            actions.push(Action::Patch {
                target: regarding,
                patch: Patch::Finalizer(edit),
                reason: Reason::RemoveFinalizer,
            });
        }
        let phase = if actions.is_empty() {
            TemplatePhase::Gone
        } else {
            TemplatePhase::Removing
        };
        return Decision {
            from,
            phase,
            actions,
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }

    let mut actions = Vec::new();
    if let Some(edit) = FinalizerEdit::of(meta, TEMPLATE_INSTANCE_FINALIZER, true) {
        actions.push(Action::Patch {
            target: regarding.clone(),
            patch: Patch::Finalizer(edit),
            reason: Reason::AddFinalizer,
        });
    }
    let Some(template) = snapshot.get::<Template>("", instance.template()) else {
        let status = status_of(
            &instance,
            TemplatePhase::Pending,
            None,
            &Outcome {
                targets: 0,
                deployed: Vec::new(),
                held: BTreeMap::new(),
                missing_template: true,
                mapped: BTreeSet::new(),
            },
            now,
        );
        return finish(
            instance,
            from,
            TemplatePhase::Pending,
            actions,
            status,
            Requeue::OnChange,
        );
    };
    let template_hash = crate::digest::digest(&(&template.spec, instance.parameters()));
    let status_hash = instance.status().and_then(|s| s.template_hash.clone());

    let targets = targets(&instance, snapshot);
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    let mut writes = Vec::new();
    let mut wanted: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut mapped: BTreeSet<(super::Copied, String)> = BTreeSet::new();
    let mut charts: Vec<Action> = Vec::new();
    let mut asked: BTreeSet<String> = BTreeSet::new();
    for namespace in &targets {
        let rendered = match render_for(template, &instance, namespace, snapshot, now) {
            Ok(rendered) => rendered,
            Err(NotRendered::Invalid(problems)) => {
                held.insert(namespace.clone(), Held::Failed(problems));
                continue;
            }
            Err(NotRendered::NeedsChart { request, failed }) => {
                // What the namespace had stays until the rendering is here:
                // nothing it deployed is unwanted on doubt. A rendering the
                // namespace already holds (rendered before a restart) is
                // only confirmed, and a failure only retried: the status
                // stays as it is.
                let holds_it = status_hash.as_deref() == Some(template_hash.as_str())
                    && instance
                        .status()
                        .is_some_and(|s| s.deployed_namespaces.contains(namespace));
                let why = match failed {
                    Some(problem) => Held::Failed(vec![problem]),
                    None if holds_it => Held::Confirming,
                    None => Held::Waiting(format!("{} to be rendered", request.chart_label())),
                };
                held.insert(namespace.clone(), why);
                if asked.insert(request.digest()) {
                    charts.push(Action::RenderChart {
                        request,
                        regarding: regarding.clone(),
                    });
                }
                continue;
            }
        };
        let refs: Vec<ObjectRef> = rendered.iter().map(|r| r.object.object_ref()).collect();
        // What is there decides nothing until its kind is listed.
        if let Some(unlisted) = refs.iter().find(|r| !snapshot.is_listed(&r.kind)) {
            held.insert(
                namespace.clone(),
                Held::Waiting(format!(
                    "{} {} to be listed",
                    unlisted.kind.api_version(),
                    unlisted.kind.name()
                )),
            );
            wanted.extend(refs);
            continue;
        }
        wanted.extend(refs.iter().cloned());
        let found: Vec<Found<'_>> = refs.iter().map(|t| find(snapshot, t, &key)).collect();
        let in_the_way: Vec<RenderError> = refs
            .iter()
            .zip(&found)
            .filter_map(|(target, found)| match found {
                Found::Foreign(by) => Some(super::error(
                    target.to_string(),
                    match by {
                        Some(other) => format!("already deployed by {other}"),
                        None => "exists and was not deployed by this instance".into(),
                    },
                    "delete or rename the object there, or leave it out of the Template",
                )),
                _ => None,
            })
            .collect();
        if !in_the_way.is_empty() {
            held.insert(namespace.clone(), Held::Failed(in_the_way));
            continue;
        }
        mapped.extend(rendered.iter().filter_map(|r| r.copy_of.clone()));
        for ((one, target), found) in rendered.into_iter().zip(&refs).zip(&found) {
            let reason = match found {
                Found::Missing => Some(Reason::Create),
                Found::Foreign(_) => None,
                Found::Ours(live_meta) => {
                    let live_digest = live_meta
                        .annotations()
                        .and_then(|a| a.get(TEMPLATE_DIGEST_ANNOTATION));
                    let ignored = live_meta
                        .labels()
                        .is_some_and(|l| l.contains_key(IGNORE_RESOURCE_UPDATES_LABEL));
                    let never_reverted = target.kind.name() == "ServiceAccount";
                    let drifted = || {
                        snapshot
                            .object(target)
                            .is_none_or(|live| !holds_object(&live, &one.json))
                    };
                    let changed = live_digest != Some(&one.digest);
                    // A copy follows its source whatever `sync` says.
                    let follows = one.copy_of.is_some() && changed;
                    let repair = follows
                        || (instance.sync()
                            && !ignored
                            && (changed || (!never_reverted && drifted())));
                    repair.then_some(Reason::Drift)
                }
            };
            if let Some(reason) = reason {
                writes.push(Action::Apply {
                    object: one.object,
                    reason,
                });
            }
        }
    }
    // What the instance deployed and no longer wants: in a namespace no
    // longer targeted always; in a targeted one only when synced, and
    // never in one held (no deletion on doubt).
    let unwanted = deployed.iter().filter(|target| {
        let namespace = target.namespace.as_deref().unwrap_or_default();
        if !targets.contains(namespace) {
            return true;
        }
        instance.sync() && !held.contains_key(namespace) && !wanted.contains(*target)
    });
    writes.extend(removals(snapshot, unwanted, Reason::Remove));

    let confirming = held.values().any(|h| *h == Held::Confirming);
    if confirming && let Some(previous) = instance.status() {
        // What a namespace being confirmed had copied, it still has.
        let secrets = previous
            .mapped_secrets
            .iter()
            .map(|s| (super::Copied::Secret, s));
        let maps = previous
            .mapped_configmaps
            .iter()
            .map(|s| (super::Copied::ConfigMap, s));
        mapped.extend(secrets.chain(maps).map(|(c, s)| (c, s.clone())));
    }
    held.retain(|_, h| *h != Held::Confirming);
    let outcome = Outcome {
        targets: targets.len(),
        deployed: targets
            .iter()
            .filter(|n| !held.contains_key(*n))
            .cloned()
            .collect(),
        held,
        missing_template: false,
        mapped,
    };
    let phase = if outcome.held.values().any(|h| matches!(h, Held::Failed(_))) {
        TemplatePhase::Failed
    } else if !outcome.held.is_empty() {
        TemplatePhase::Rendering
    } else if writes.is_empty() {
        TemplatePhase::Applied
    } else {
        // Repairs, when the rendering is the one in place and every write
        // lands in a namespace that already had it.
        let status = instance.status();
        let same_rendering =
            status.and_then(|s| s.template_hash.as_deref()) == Some(template_hash.as_str());
        let had_it = |a: &Action| {
            let namespace = a.target().namespace.unwrap_or_default();
            status.is_some_and(|s| s.deployed_namespaces.contains(&namespace))
        };
        if same_rendering
            && writes.iter().all(had_it)
            && matches!(from, TemplatePhase::Applied | TemplatePhase::Drifted)
        {
            TemplatePhase::Drifted
        } else {
            TemplatePhase::Rendering
        }
    };
    actions.extend(charts);
    actions.extend(writes);
    let status = status_of(&instance, phase, Some(template_hash), &outcome, now);
    let requeue = if phase == TemplatePhase::Failed {
        Requeue::After(RETRY_FAILED)
    } else {
        Requeue::OnChange
    };
    finish(instance, from, phase, actions, status, requeue)
}

/// The namespaces an instance targets, sorted: a TemplateInstance's own,
/// a cluster instance's every namespace its selector matches; never one
/// terminating.
pub fn targets(instance: &Instance<'_>, snapshot: &Snapshot) -> BTreeSet<String> {
    let open = |n: &Namespace| n.metadata.deletion_timestamp.is_none();
    match instance.selector() {
        None => instance
            .meta()
            .namespace
            .iter()
            .filter(|ns| snapshot.namespace(ns).is_some_and(open))
            .cloned()
            .collect(),
        Some(selector) => snapshot
            .shelf::<Namespace>()
            .iter()
            .filter(|n| open(n))
            .filter(|n| crate::selector::matches(selector, n.metadata.labels.as_ref()))
            .filter_map(|n| n.metadata.name.clone())
            .collect(),
    }
}

/// Deletes of `objects`, workloads first and what they need last, each
/// only of the object observed (its uid).
fn removals<'a>(
    snapshot: &Snapshot,
    objects: impl Iterator<Item = &'a ObjectRef>,
    reason: Reason,
) -> Vec<Action> {
    let mut objects: Vec<&ObjectRef> = objects.collect();
    objects.sort_by_key(|r| (std::cmp::Reverse(super::order::rank(r.kind.name())), *r));
    objects
        .into_iter()
        .map(|target| Action::Delete {
            target: target.clone(),
            uid: snapshot
                .metadata(target)
                .and_then(|m| m.uid().map(str::to_owned)),
            reason,
        })
        .collect()
}

/// What the decision found, for the status.
struct Outcome {
    targets: usize,
    deployed: Vec<String>,
    held: BTreeMap<String, Held>,
    missing_template: bool,
    /// The sources copied into the namespaces that got the rendering.
    mapped: BTreeSet<(super::Copied, String)>,
}

/// The status for what was found.
fn status_of(
    instance: &Instance<'_>,
    phase: TemplatePhase,
    template_hash: Option<String>,
    outcome: &Outcome,
    now: Timestamp,
) -> TemplateInstanceStatus {
    let previous = instance.status();
    let conditions_before = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let generation = instance.meta().generation;
    let failed: Vec<String> = outcome
        .held
        .iter()
        .filter_map(|(ns, h)| match h {
            Held::Failed(problems) => Some(format!(
                "namespace {ns}: {}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Held::Waiting(_) | Held::Confirming => None,
        })
        .collect();
    let waiting: Vec<String> = outcome
        .held
        .iter()
        .filter_map(|(ns, h)| match h {
            Held::Waiting(what) => Some(format!("namespace {ns}: waiting for {what}")),
            Held::Failed(_) | Held::Confirming => None,
        })
        .collect();
    let (ok, reason, message) = if outcome.missing_template {
        (
            false,
            "TemplateNotFound",
            format!(
                "Template {} does not exist: create it, or correct spec.template",
                instance.template()
            ),
        )
    } else if !failed.is_empty() {
        (false, "DeployFailed", first_few(&failed))
    } else if !waiting.is_empty() {
        (false, "Waiting", first_few(&waiting))
    } else {
        (
            true,
            "Deployed",
            format!("deployed into {} namespaces", outcome.deployed.len()),
        )
    };
    let deployed_condition = crate::conditions::condition(
        conditions_before,
        "Deployed",
        ok,
        reason,
        message.clone(),
        generation,
        now,
    );
    let ready = crate::conditions::condition(
        conditions_before,
        "Ready",
        ok,
        reason,
        message.clone(),
        generation,
        now,
    );
    TemplateInstanceStatus {
        phase: Some(phase.name().to_owned()),
        observed_generation: generation,
        conditions: vec![ready, deployed_condition],
        status: Some(if ok { "Deployed" } else { "Failed" }.to_owned()),
        message: (!ok).then_some(message),
        reason: (!ok).then(|| reason.to_owned()),
        template_hash: template_hash.or_else(|| previous.and_then(|s| s.template_hash.clone())),
        mapped_secrets: mapped_of(outcome, super::Copied::Secret),
        mapped_configmaps: mapped_of(outcome, super::Copied::ConfigMap),
        deployed_namespaces: outcome.deployed.clone(),
        namespace_count: i64::try_from(outcome.targets).ok(),
    }
}

/// The first three of `lines`, and how many more: a status message stays
/// readable over a thousand namespaces.
fn first_few(lines: &[String]) -> String {
    let shown = lines
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(" | ");
    match lines.len().saturating_sub(3) {
        0 => shown,
        more => format!("{shown} | and {more} more namespaces"),
    }
}

/// The sources of one kind copied, `namespace/name`.
fn mapped_of(outcome: &Outcome, kind: super::Copied) -> Vec<String> {
    outcome
        .mapped
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, source)| source.clone())
        .collect()
}

/// The decision, with the status written last when it changed and
/// warnings for the conditions that turned False.
fn finish(
    instance: Instance<'_>,
    from: TemplatePhase,
    phase: TemplatePhase,
    mut actions: Vec<Action>,
    status: TemplateInstanceStatus,
    requeue: Requeue,
) -> TemplateDecision {
    let events = crate::conditions::write_status(
        &instance.id().object_ref(),
        instance.status(),
        status,
        |s| instance.with_status(s),
        &mut actions,
    );
    Decision {
        from,
        phase,
        actions,
        events,
        requeue,
    }
}

#[cfg(test)]
mod tests;
