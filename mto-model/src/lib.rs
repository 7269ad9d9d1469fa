//! mto's pure core.
//!
//! API types, the explicit state machines of every lifecycle, the planners
//! that turn what a controller observes into actions, and validation. Nothing
//! here performs I/O, reads a clock or draws a random number: time is an
//! argument ([`Timestamp`]) and every decision is a value. `mto-runtime` runs
//! these decisions against a real cluster, `mto-sim` against a simulated one.

pub mod api;

/// An instant in time, as the model receives it from its caller.
pub type Timestamp = k8s_openapi::jiff::Timestamp;
pub mod access;
pub mod action;
pub mod admission;
pub mod apiserver;
pub mod apply;
pub mod claims;
mod conditions;
pub mod digest;
pub mod driver;
pub mod extensions;
pub mod fuzzing;
pub mod hibernation;
pub mod integration;
pub mod invariants;
pub mod labels;
pub mod lease;
pub mod machine;
pub mod manifest;
pub mod migrate;
pub mod names;
pub mod namespace;
pub mod pilot;
pub mod quantity;
pub mod selector;
pub mod showback;
pub mod template;
pub mod tenant;
pub mod time;
pub mod validation;
pub mod vault;
pub mod view;
