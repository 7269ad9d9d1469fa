//! A deterministic simulated Kubernetes cluster that runs mto's operator.
//!
//! A [`Scenario`](scenario::Scenario) describes the cluster at the start,
//! what users do over time, the faults to inject, the duration and the seed;
//! [`Sim`](sim::Sim) runs the operator's own loop (the model's view, driver
//! and decisions) against the model's in-memory apiserver on a virtual
//! clock: watch events arrive late, get lost, are re-listed; replicas
//! crash, lose their network and elect leaders. It checks every invariant
//! of DESIGN.md after every step and reports what happened. The same seed
//! gives the same trace.

pub mod scenario;
pub mod sim;
