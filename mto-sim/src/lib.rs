//! A deterministic simulated Kubernetes cluster that runs mto's machines.
//!
//! A [`Scenario`](scenario::Scenario) describes the cluster at the start,
//! what users do over time, the faults to inject, the duration and the seed;
//! [`Sim`](sim::Sim) runs mto-model's decisions against a simulated
//! apiserver ([`Store`](store::Store)) on a virtual clock, checks every
//! invariant of DESIGN.md after every step, and reports what happened. The
//! same seed gives the same trace.

pub mod scenario;
pub mod sim;
pub mod store;
