//! A deleted tenant: its namespaces released or purged, then its finalizer
//! comes off.

use super::plan::{Planner, is_adopted, mto_owns_tenant_label};
use super::status::{status, status_write};
use super::{Decision, TenantPhase};
use crate::Timestamp;
use crate::action::{Action, FinalizerEdit, Kind, MergePatch, ObjectRef, Patch, Reason, Requeue};
use crate::api::Tenant;
use crate::claims::TenantState;
use crate::labels::{KIND_LABEL, TENANT_FINALIZER, TENANT_LABEL, is_managed_for};
use crate::view::Observed;

pub(super) fn terminate(
    tenant: &Tenant,
    name: &str,
    state: TenantState,
    observed: &impl Observed,
    now: Timestamp,
) -> Decision {
    let from = state.phase;
    if !state.finalized {
        // Nothing of mto's holds the tenant back; Kubernetes removes it.
        return Decision {
            from,
            phase: TenantPhase::Terminating,
            actions: Vec::new(),
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }
    let purge = tenant
        .spec
        .namespaces
        .as_ref()
        .and_then(|n| n.on_delete_purge_namespaces)
        .unwrap_or(false);
    let mut planner = Planner::new(tenant, name, observed);
    let status = status(
        tenant,
        state.said,
        TenantPhase::Terminating,
        &planner.findings,
        &[],
        now,
    );
    if let Some(status) = status {
        planner.actions.push(status_write(name, status));
    }
    let status_writes = planner.actions.len();
    let owned: Vec<&str> = observed.tenant_namespaces(name).collect();
    for ns in owned {
        let Some((namespace, ownership)) =
            observed.owned::<k8s_openapi::api::core::v1::Namespace>("", ns)
        else {
            continue;
        };
        if namespace.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if purge && !is_adopted(ownership, name) {
            let target = ObjectRef::cluster(Kind::Namespace, ns);
            planner.actions.push(Action::Delete {
                target,
                uid: namespace.metadata.uid.clone(),
                reason: Reason::Purge,
            });
        } else {
            planner.release(namespace, ownership);
            if !mto_owns_tenant_label(namespace, ownership) {
                // A tenant label mto did not set would hand the namespace to
                // any future tenant of the same name.
                planner.actions.push(Action::Patch {
                    target: ObjectRef::cluster(Kind::Namespace, ns),
                    patch: Patch::Merge(MergePatch {
                        labels: [
                            (TENANT_LABEL.to_owned(), None),
                            (KIND_LABEL.to_owned(), None),
                        ]
                        .into(),
                        ..MergePatch::default()
                    }),
                    reason: Reason::Release,
                });
            }
        }
    }
    // The supervisor of spec.hibernation goes with the tenant (its
    // finalizer wakes its workloads first).
    if let Some(supervisor) = observed
        .cluster_resource_supervisor(name)
        .filter(|c| is_managed_for(&c.metadata, name) && c.metadata.deletion_timestamp.is_none())
    {
        planner.actions.push(Action::Delete {
            target: ObjectRef::cluster(Kind::ClusterResourceSupervisor, name),
            uid: supervisor.metadata.uid.clone(),
            reason: Reason::Remove,
        });
    }
    // So do the instances of its spec.templateInstances (their finalizer
    // removes what they deployed first).
    for instance in observed
        .tenant_template_instances(name)
        .into_iter()
        .filter(|i| i.metadata.deletion_timestamp.is_none())
    {
        planner.actions.push(Action::Delete {
            target: ObjectRef::cluster(
                Kind::ClusterTemplateInstance,
                instance.metadata.name.clone().unwrap_or_default(),
            ),
            uid: instance.metadata.uid.clone(),
            reason: Reason::Remove,
        });
    }
    // So does its owners' grant to ask for namespaces.
    let binding = super::desired::namespace_creator_binding_name(name);
    if let Some(grant) = observed
        .cluster_role_binding(&binding)
        .filter(|b| is_managed_for(&b.metadata, name))
    {
        planner.actions.push(Action::Delete {
            target: ObjectRef::cluster(Kind::ClusterRoleBinding, &binding),
            uid: grant.metadata.uid.clone(),
            reason: Reason::Remove,
        });
    }
    let mut actions = planner.actions;
    if actions.len() == status_writes {
        // Everything is released or purging: let the tenant go.
        actions.extend(
            FinalizerEdit::of(&tenant.metadata, TENANT_FINALIZER, false).map(|patch| {
                Action::Patch {
                    target: ObjectRef::cluster(Kind::Tenant, name),
                    patch: Patch::Finalizer(patch),
                    reason: Reason::RemoveFinalizer,
                }
            }),
        );
    }
    Decision {
        from,
        phase: TenantPhase::Terminating,
        actions,
        events: Vec::new(),
        requeue: Requeue::OnChange,
    }
}
