//! A Template that instances use is not deleted out from under them. The
//! admission webhook refuses such a delete (`vtemplate`); without it, a
//! finalizer holds the Template while any instance that is not itself
//! being deleted names it, and its status says which.
//!
//! The finalizer is on while instances use the Template and off while none
//! does, so a Template nobody uses is deleted at once. An instance being
//! deleted does not hold it: removing what an instance deployed needs only
//! what it deployed, not its Template.

use crate::Timestamp;
use crate::action::{Action, Decision, FinalizerEdit, Patch, Reason, Requeue};
use crate::api::{Template, TemplateStatus};
use crate::labels::TEMPLATE_IN_USE_FINALIZER;
use crate::machine::Phase;
use crate::view::{InstanceId, Kind, ObjectRef, Snapshot};

use super::Instance;

/// Where a Template's protection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GuardPhase {
    /// No instance uses it; no finalizer.
    Unused,
    /// Instances use it; the finalizer is on.
    InUse,
    /// Deleted while instances use it: held until they are gone.
    Held,
    /// Deleted, and nothing uses it: the finalizer comes off.
    Released,
}

impl Phase for GuardPhase {
    const ALL: &'static [GuardPhase] = &[
        GuardPhase::Unused,
        GuardPhase::InUse,
        GuardPhase::Held,
        GuardPhase::Released,
    ];
    const INITIAL: GuardPhase = GuardPhase::Unused;
    const TRANSITIONS: &'static [(GuardPhase, GuardPhase)] = {
        use GuardPhase::{Held, InUse, Released, Unused};
        &[
            (Unused, InUse),
            (Unused, Held),
            (Unused, Released),
            (InUse, Unused),
            (InUse, Held),
            (InUse, Released),
            (Held, Released),
        ]
    };

    fn is_resting(self) -> bool {
        true
    }

    fn name(self) -> &'static str {
        match self {
            GuardPhase::Unused => "Unused",
            GuardPhase::InUse => "InUse",
            GuardPhase::Held => "Held",
            GuardPhase::Released => "Released",
        }
    }
}

/// A decision about a Template's protection.
pub type GuardDecision = Decision<GuardPhase>;

/// The instances that use the Template `name` and are not being deleted.
#[must_use]
pub fn users(snapshot: &Snapshot, name: &str) -> Vec<InstanceId> {
    snapshot
        .instances_of(name)
        .into_iter()
        .filter(|id| {
            Instance::find(snapshot, id).is_some_and(|i| i.meta().deletion_timestamp.is_none())
        })
        .collect()
}

/// Decides about `template`'s finalizer and status from `snapshot`.
pub fn guard(template: &Template, snapshot: &Snapshot, now: Timestamp) -> GuardDecision {
    let meta = &template.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    let regarding = ObjectRef::cluster(Kind::Template, name);
    let from = template
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .and_then(GuardPhase::from_name)
        .unwrap_or(GuardPhase::INITIAL);
    let users = users(snapshot, name);
    let deleting = meta.deletion_timestamp.is_some();
    let (phase, keep) = match (deleting, users.is_empty()) {
        (false, true) => (GuardPhase::Unused, false),
        (false, false) => (GuardPhase::InUse, true),
        (true, false) => (GuardPhase::Held, true),
        (true, true) => (GuardPhase::Released, false),
    };
    let mut actions = Vec::new();
    let (deletable, reason, message) = match phase {
        GuardPhase::Unused | GuardPhase::Released => {
            (true, "Unused", "no instance uses it".to_owned())
        }
        GuardPhase::InUse => (
            false,
            "InUse",
            "instances use it: deleting it waits until none does".to_owned(),
        ),
        GuardPhase::Held => {
            let named: Vec<String> = users.iter().take(3).map(InstanceId::key).collect();
            let more = users.len().saturating_sub(3);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            (
                false,
                "DeletionWaits",
                format!(
                    "deletion waits for the instances using it: {}{tail} (delete them, or point them at another Template)",
                    named.join(", ")
                ),
            )
        }
    };
    // Status before the finalizer comes off: once it is off the Template
    // may be gone, and a status write would fail.
    if phase != GuardPhase::Released {
        let previous = template.status.as_ref();
        let condition = crate::conditions::condition(
            previous
                .map(|s| s.conditions.as_slice())
                .unwrap_or_default(),
            "Deletable",
            deletable,
            reason,
            message,
            meta.generation,
            now,
        );
        let status = TemplateStatus {
            phase: Some(phase.name().to_owned()),
            observed_generation: meta.generation,
            conditions: vec![condition],
        };
        let events = crate::conditions::write_status(
            &regarding,
            previous,
            status,
            |status| {
                let mut written = template.clone();
                written.status = Some(status);
                written.into()
            },
            &mut actions,
        );
        if let Some(edit) = FinalizerEdit::of(meta, TEMPLATE_IN_USE_FINALIZER, keep) {
            actions.insert(
                0,
                Action::Patch {
                    target: regarding,
                    patch: Patch::Finalizer(edit),
                    reason: if keep {
                        Reason::AddFinalizer
                    } else {
                        Reason::RemoveFinalizer
                    },
                },
            );
        }
        return Decision {
            from,
            phase,
            actions,
            events,
            requeue: Requeue::OnChange,
        };
    }
    if let Some(edit) = FinalizerEdit::of(meta, TEMPLATE_IN_USE_FINALIZER, false) {
        actions.push(Action::Patch {
            target: regarding,
            patch: Patch::Finalizer(edit),
            reason: Reason::RemoveFinalizer,
        });
    }
    Decision {
        from,
        phase,
        actions,
        events: Vec::new(),
        requeue: Requeue::OnChange,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::apiserver::ApiServer;

    fn now() -> Timestamp {
        "2026-12-02T10:00:00Z".parse().expect("time")
    }

    fn put(c: &mut ApiServer, value: serde_json::Value) {
        let object = crate::view::Object::from_json(value).expect("object");
        c.put(object, now()).unwrap_or_else(|e| panic!("{e}"));
    }

    fn cluster() -> ApiServer {
        let mut c = ApiServer::default();
        put(
            &mut c,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
        );
        put(
            &mut c,
            json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "Template",
                   "metadata": {"name": "basics"},
                   "resources": {"manifests": [{"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "hello"}}]}}),
        );
        c
    }

    fn instance(c: &mut ApiServer, name: &str) {
        put(
            c,
            json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "TemplateInstance",
                   "metadata": {"name": name, "namespace": "team"},
                   "spec": {"template": "basics"}}),
        );
    }

    fn instance_ref(name: &str) -> ObjectRef {
        ObjectRef::namespaced(Kind::TemplateInstance, "team", name)
    }

    fn template(c: &ApiServer) -> Option<&Template> {
        c.snapshot().get::<Template>("", "basics")
    }

    /// Decides and carries out, for the Template and every instance, until
    /// nothing is left to do.
    fn settle(c: &mut ApiServer) {
        for _ in 0..20 {
            let mut actions = Vec::new();
            if let Some(t) = template(c) {
                let decision = guard(t, c.snapshot(), now());
                assert!(crate::machine::allowed(decision.from, decision.phase));
                actions.extend(decision.actions);
            }
            for id in c.snapshot().instance_ids().collect::<Vec<_>>() {
                if let Some(i) = Instance::find(c.snapshot(), &id) {
                    actions.extend(super::super::decide(i, c.snapshot(), now()).actions);
                }
            }
            if actions.is_empty() {
                return;
            }
            for action in &actions {
                // A write made stale by an earlier one is decided again.
                let _ = c.execute(action, now());
            }
        }
        panic!("did not settle");
    }

    fn phase(c: &ApiServer) -> Option<String> {
        template(c)?.status.as_ref()?.phase.clone()
    }

    #[test]
    fn the_machine_is_sound() {
        crate::machine::assert_sound::<GuardPhase>();
    }

    #[test]
    fn a_template_in_use_is_held_until_its_last_instance_goes() {
        let mut c = cluster();
        settle(&mut c);
        assert_eq!(phase(&c).as_deref(), Some("Unused"));
        instance(&mut c, "one");
        instance(&mut c, "two");
        settle(&mut c);
        assert_eq!(phase(&c).as_deref(), Some("InUse"));
        let finalizers = template(&c).and_then(|t| t.metadata.finalizers.clone());
        assert_eq!(finalizers, Some(vec![TEMPLATE_IN_USE_FINALIZER.to_owned()]));

        let target = ObjectRef::cluster(Kind::Template, "basics");
        c.delete(&target, None, now()).expect("marked for deletion");
        settle(&mut c);
        let held = template(&c).expect("held by its finalizer");
        let condition = &held.status.as_ref().expect("status").conditions[0];
        assert_eq!(condition.reason, "DeletionWaits");
        assert!(
            condition.message.contains("TemplateInstance/team/one")
                && condition.message.contains("TemplateInstance/team/two"),
            "{}",
            condition.message
        );
        let hello = ObjectRef::namespaced(
            Kind::Dynamic(crate::view::Gvk::from_api_version("v1", "ConfigMap")),
            "team",
            "hello",
        );
        assert!(
            c.snapshot().object(&hello).is_some(),
            "the instances keep working"
        );

        c.delete(&instance_ref("one"), None, now())
            .expect("deleted");
        settle(&mut c);
        assert!(template(&c).is_some(), "two still uses it");
        c.delete(&instance_ref("two"), None, now())
            .expect("deleted");
        settle(&mut c);
        assert!(
            template(&c).is_none(),
            "the last user gone, the Template goes"
        );
        assert!(c.snapshot().object(&hello).is_none());
    }

    #[test]
    fn a_template_nobody_uses_is_deleted_at_once() {
        let mut c = cluster();
        instance(&mut c, "one");
        settle(&mut c);
        c.delete(&instance_ref("one"), None, now())
            .expect("deleted");
        settle(&mut c);
        assert_eq!(phase(&c).as_deref(), Some("Unused"));
        assert!(
            template(&c)
                .expect("kept")
                .metadata
                .finalizers
                .iter()
                .flatten()
                .all(|f| f != TEMPLATE_IN_USE_FINALIZER)
        );
        c.delete(&ObjectRef::cluster(Kind::Template, "basics"), None, now())
            .expect("deleted");
        assert!(template(&c).is_none());
    }

    #[derive(Clone, Debug)]
    enum Step {
        Create(u8),
        Delete(u8),
        DeleteTemplate,
        Settle,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..3).prop_map(Step::Create),
            (0u8..3).prop_map(Step::Delete),
            Just(Step::DeleteTemplate),
            Just(Step::Settle),
        ]
    }

    proptest! {
        /// Whatever people do, in any order and interleaved with decisions:
        /// at rest the Template is gone only if it was deleted and no
        /// instance the guard had seen uses it, and it is there with the
        /// finalizer whenever one does. (An instance made and its Template
        /// deleted before the guard decides is the webhook's to refuse.)
        #[test]
        fn a_template_is_never_gone_while_an_instance_uses_it(steps in prop::collection::vec(step(), 1..12)) {
            let mut c = cluster();
            let mut deleted = false;
            // The users the guard has decided about while the Template stood.
            let mut seen = std::collections::BTreeSet::new();
            let settle_and_see = |c: &mut ApiServer, seen: &mut std::collections::BTreeSet<InstanceId>| {
                if template(c).is_some() {
                    seen.extend(users(c.snapshot(), "basics"));
                }
                settle(c);
            };
            for s in steps {
                match s {
                    Step::Create(i) => instance(&mut c, &format!("i{i}")),
                    Step::Delete(i) => {
                        let _ = c.delete(&instance_ref(&format!("i{i}")), None, now());
                        seen.retain(|id| !matches!(id, InstanceId::Namespaced { name, .. } if *name == format!("i{i}")));
                    }
                    Step::DeleteTemplate => {
                        deleted = true;
                        let _ = c.delete(&ObjectRef::cluster(Kind::Template, "basics"), None, now());
                    }
                    Step::Settle => settle_and_see(&mut c, &mut seen),
                }
            }
            settle_and_see(&mut c, &mut seen);
            let using = users(c.snapshot(), "basics");
            let used = !using.is_empty();
            match template(&c) {
                None => {
                    prop_assert!(deleted);
                    let lost = using.iter().any(|id| seen.contains(id));
                    prop_assert!(!lost, "an instance lost its Template");
                }
                Some(t) => {
                    prop_assert!(!deleted || used, "deleted and unused, yet kept");
                    let guarded = t.metadata.finalizers.iter().flatten().any(|f| f == TEMPLATE_IN_USE_FINALIZER);
                    prop_assert_eq!(guarded, used);
                }
            }
        }
    }
}
