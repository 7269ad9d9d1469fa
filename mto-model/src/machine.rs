//! Explicit lifecycles: a phase enum and one transition table per machine.
//!
//! A phase change that is not in the table is a bug. The tables export to a
//! petgraph graph so tests can prove that every phase is reachable and every
//! non-terminal phase can reach a resting one, and docs draw the machines
//! from the same source.

use std::fmt::Debug;
use std::hash::Hash;

use petgraph::graphmap::DiGraphMap;
use petgraph::visit::{Bfs, Reversed};

/// A lifecycle phase with its transition table.
pub trait Phase: Copy + Eq + Ord + Hash + Debug + 'static {
    /// Every phase, in a fixed order.
    const ALL: &'static [Self];
    /// Where every object starts.
    const INITIAL: Self;
    /// The allowed changes, `(from, to)`. Staying in a phase is always allowed.
    const TRANSITIONS: &'static [(Self, Self)];

    /// A phase the machine may stay in indefinitely without work pending.
    fn is_resting(self) -> bool;

    /// The name shown in status and logs.
    fn name(self) -> &'static str;

    /// The phase of this name.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

/// Whether `from → to` is in the table (or no change).
#[must_use]
pub fn allowed<P: Phase>(from: P, to: P) -> bool {
    from == to || P::TRANSITIONS.contains(&(from, to))
}

/// The transition table as a directed graph.
#[must_use]
pub fn graph<P: Phase>() -> DiGraphMap<P, ()> {
    let mut g = DiGraphMap::new();
    for p in P::ALL {
        g.add_node(*p);
    }
    for (from, to) in P::TRANSITIONS {
        g.add_edge(*from, *to, ());
    }
    g
}

/// Phases that cannot be reached from [`Phase::INITIAL`]. Empty for a sound table.
#[must_use]
pub fn unreachable<P: Phase>() -> Vec<P> {
    let g = graph::<P>();
    let mut seen = std::collections::BTreeSet::new();
    let mut bfs = Bfs::new(&g, P::INITIAL);
    while let Some(p) = bfs.next(&g) {
        seen.insert(p);
    }
    P::ALL
        .iter()
        .copied()
        .filter(|p| !seen.contains(p))
        .collect()
}

/// Phases from which no resting phase can be reached. Empty for a sound table.
#[must_use]
pub fn stuck<P: Phase>() -> Vec<P> {
    let g = graph::<P>();
    let reversed = Reversed(&g);
    let mut can_rest = std::collections::BTreeSet::new();
    for rest in P::ALL.iter().copied().filter(|p| p.is_resting()) {
        let mut bfs = Bfs::new(reversed, rest);
        while let Some(p) = bfs.next(reversed) {
            can_rest.insert(p);
        }
    }
    P::ALL
        .iter()
        .copied()
        .filter(|p| !can_rest.contains(p))
        .collect()
}

/// The machine in Graphviz dot, resting phases drawn double.
#[must_use]
pub fn to_dot<P: Phase>(title: &str) -> String {
    let mut out = format!("digraph {title:?} {{\n  rankdir=LR;\n");
    for p in P::ALL {
        let shape = if p.is_resting() {
            "doublecircle"
        } else {
            "circle"
        };
        out.push_str(&format!("  {:?} [shape={shape}];\n", p.name()));
    }
    for (from, to) in P::TRANSITIONS {
        out.push_str(&format!("  {:?} -> {:?};\n", from.name(), to.name()));
    }
    out.push_str("}\n");
    out
}

/// The machine as a Mermaid state diagram (GitHub renders it), resting
/// phases marked.
#[must_use]
pub fn to_mermaid<P: Phase>() -> String {
    let mut out = String::from("```mermaid\nstateDiagram-v2\n");
    out.push_str(&format!("    [*] --> {}\n", P::INITIAL.name()));
    for (from, to) in P::TRANSITIONS {
        out.push_str(&format!("    {} --> {}\n", from.name(), to.name()));
    }
    for p in P::ALL.iter().filter(|p| p.is_resting()) {
        out.push_str(&format!("    note right of {}: resting\n", p.name()));
    }
    out.push_str("```\n");
    out
}

/// Asserts the table is sound; for each machine's tests.
#[cfg(test)]
pub(crate) fn assert_sound<P: Phase>() {
    assert!(
        unreachable::<P>().is_empty(),
        "unreachable phases: {:?}",
        unreachable::<P>()
    );
    assert!(
        stuck::<P>().is_empty(),
        "phases that cannot rest: {:?}",
        stuck::<P>()
    );
    for p in P::ALL {
        assert_eq!(P::from_name(p.name()), Some(*p), "names must round-trip");
    }
    for (from, to) in P::TRANSITIONS {
        assert_ne!(from, to, "self-transitions are implicit");
    }
}
