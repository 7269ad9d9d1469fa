//! The order a rendering is applied in: what others depend on first
//! (CRDs, ServiceAccounts, Secrets, ConfigMaps, RBAC), workloads last; the
//! reverse when it is removed.

use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;

/// Where a kind stands: objects of a lower rank come first.
pub(crate) fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" => 2,
        "Secret" | "ConfigMap" => 3,
        "Role" | "ClusterRole" => 4,
        "RoleBinding" | "ClusterRoleBinding" => 5,
        "ResourceQuota" | "LimitRange" | "NetworkPolicy" => 6,
        "PersistentVolumeClaim" | "Service" => 7,
        _ => 8,
    }
}

/// The group a CRD defines, when `object` is one.
fn defined_group(object: &Value) -> Option<&str> {
    (object["kind"] == "CustomResourceDefinition")
        .then(|| object["spec"]["group"].as_str())
        .flatten()
}

/// The group of `object`'s apiVersion (empty for the core group).
fn group_of(object: &Value) -> &str {
    object["apiVersion"]
        .as_str()
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(group, _)| group)
}

/// The dependency graph of `objects`: an edge from each object to every
/// object that needs it (a lower rank, or a CRD and the objects of the
/// group it defines).
#[must_use]
pub fn dependencies(objects: &[Value]) -> DiGraph<usize, ()> {
    let mut graph = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..objects.len()).map(|i| graph.add_node(i)).collect();
    for (a, first) in objects.iter().enumerate() {
        for (b, then) in objects.iter().enumerate() {
            if a == b {
                continue;
            }
            let kind = |o: &Value| rank(o["kind"].as_str().unwrap_or_default());
            let by_rank = kind(first) < kind(then);
            let by_crd = defined_group(first).is_some_and(|g| g == group_of(then))
                && defined_group(then).is_none();
            if by_rank || by_crd {
                graph.add_edge(nodes[a], nodes[b], ());
            }
        }
    }
    graph
}

/// The indexes of `objects` in the order to apply them: every object after
/// what it needs, and otherwise in the Template's order.
#[must_use]
pub fn apply_order(objects: &[Value]) -> Vec<usize> {
    let graph = dependencies(objects);
    // Kahn's algorithm, taking the earliest ready object each time, so the
    // order is stable: the Template's own order among equals.
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| {
            graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: std::collections::BTreeSet<usize> =
        (0..objects.len()).filter(|i| waiting[*i] == 0).collect();
    let mut order = Vec::with_capacity(objects.len());
    while let Some(next) = ready.pop_first() {
        order.push(next);
        for then in graph.neighbors_directed(NodeIndex::new(next), petgraph::Direction::Outgoing) {
            let i = then.index();
            waiting[i] -= 1;
            if waiting[i] == 0 {
                ready.insert(i);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(api_version: &str, kind: &str) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": kind.to_lowercase()}})
    }

    #[test]
    fn what_others_need_comes_first_and_equals_keep_their_order() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com"}});
        let objects = vec![
            object("apps/v1", "Deployment"),
            object("example.com/v1", "Widget"),
            object("v1", "ConfigMap"),
            object("v1", "ServiceAccount"),
            crd,
            object("rbac.authorization.k8s.io/v1", "RoleBinding"),
            object("v1", "Secret"),
        ];
        let kinds: Vec<&str> = apply_order(&objects)
            .into_iter()
            .map(|i| objects[i]["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "ServiceAccount",
                "ConfigMap",
                "Secret",
                "RoleBinding",
                "Deployment",
                "Widget"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn the_order_holds_every_object_once_after_all_it_needs(
            kinds in proptest::collection::vec(proptest::sample::select(vec![
                "Deployment", "ConfigMap", "Secret", "ServiceAccount", "Role",
                "RoleBinding", "Service", "NetworkPolicy", "Namespace", "Widget",
            ]), 0..12)
        ) {
            let objects: Vec<Value> = kinds.iter().map(|k| object("v1", k)).collect();
            let order = apply_order(&objects);
            let mut seen = order.clone();
            seen.sort_unstable();
            proptest::prop_assert_eq!(seen, (0..objects.len()).collect::<Vec<_>>());
            let graph = dependencies(&objects);
            for edge in graph.raw_edges() {
                let at = |n: NodeIndex| order.iter().position(|i| *i == n.index());
                proptest::prop_assert!(at(edge.source()) < at(edge.target()));
            }
        }
    }
}
